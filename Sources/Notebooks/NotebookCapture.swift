// What a running cell shows (its text, tables and figures, echoed or written to files), the names
// a group of cells mentions, and the short time format of cell logs.
import Language
import Bindings
import Plot

/// Collects what one running cell shows: its text and its figures (echoed or written).
final class NotebookCapture {
    var text = ""
    var tables: [OutputTable] = []

    /// Writes a value's display to the cell's output; a table with rows is also kept as a table.
    func show(_ v: Value, in session: Session) {
        let shown = display(v) + "\n"
        guard case .table(let t) = v, !t.rows.isEmpty else { session.output(shown); return }
        let start = text.utf8.count
        session.output(shown)
        // Only when the text landed here (session.output is this capture's while the cell runs).
        if text.utf8.count == start + shown.utf8.count {
            tables.append(OutputTable(start: start, length: shown.utf8.count, view: TableView(t)))
        }
    }

    var figures: [(id: ObjectIdentifier, png: [UInt8])] = []
    private var objects: [FigureObject] = []

    /// The figure as a PNG for the document (once per figure value and cell).
    func add(_ figure: FigureObject) {
        let id = ObjectIdentifier(figure)
        guard !figures.contains(where: { $0.id == id }) else { return }
        guard let png = try? figure.figure.encoded(as: .png, dpi: 100, source: nil, timestamp: false) else { return }
        objects.append(figure)
        figures.append((id, png))
    }

    nonisolated(unsafe) private static var active: [ObjectIdentifier: [NotebookCapture]] = [:]
    private static let lock = NotebookLock()

    /// Routes written figures here, once (captures are pushed from parallel runs: assigning the
    /// shared closure on every push raced).
    private static let hook: Void = { FigureObject.written = { figureWritten($0, session: $1) } }()

    static func push(_ c: NotebookCapture, for session: Session) -> ObjectIdentifier {
        _ = hook
        let key = ObjectIdentifier(session)
        lock.locked { active[key, default: []].append(c) }
        return key
    }

    static func pop(_ key: ObjectIdentifier, for session: Session) {
        lock.locked {
            active[key]?.removeLast()
            if active[key]?.isEmpty == true { active[key] = nil }
        }
    }

    /// Called when a figure is written to a file (`save`, `file=`): a rendered notebook shows
    /// it under the cell that wrote it.
    static func figureWritten(_ figure: FigureObject, session: Session) {
        let capture = lock.locked { active[ObjectIdentifier(session)]?.last }
        capture?.add(figure)
    }
}

/// The names a group of cells mentions (conservatively: every identifier token).
enum NotebookNames {
    static func used(in cells: [NotebookCell]) -> Set<String> {
        var names = Set<String>()
        func collect(_ tokens: [Token]) {
            for t in tokens {
                if t.kind == .name { names.insert(t.text) }
                if t.kind == .string {
                    for p in t.pieces { if case .code(let inner, _, _) = p { collect(inner) } }
                }
            }
        }
        for c in cells { collect(Lexer.tokenize(c.text).tokens) }
        return names
    }
}

/// "40 ms", "1.4 s", "12 s", "2 min 5 s".
func formatSeconds(_ s: Double) -> String {
    if s < 1 { return "\(Int((s * 1000).rounded())) ms" }
    if s < 10 { return String(format1: s) + " s" }
    if s < 120 { return "\(Int(s.rounded())) s" }
    return "\(Int(s) / 60) min \(Int(s) % 60) s"
}

extension String {
    /// One decimal: 0.4, 3.0.
    init(format1 x: Double) {
        let tenths = Int((x * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}

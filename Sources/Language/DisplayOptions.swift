// How numbers and tables read: the significant digits of numbers and how many rows a table shows
// in full, set per session with `options(digits=6, rows=20)`, and the formatting they drive (one
// number; a table's column of numbers with one count of decimals, as pandas prints; counts with
// thousands separators; "–" for a missing value). Saved data (CSV, safetensors) keeps every digit.
import FileIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The display settings of a session (`options()` shows them).
public struct DisplayOptions: Equatable, Sendable {
    /// Significant digits of numbers that are not whole.
    public var digits = 4
    /// A table with more rows than this shows its first and last rows and how many it left out.
    public var rows = 60
    public init() {}

    public static let digitsRange = 1...15
    public static let minRows = 2

    /// The options of the session running on this thread; the defaults when none is.
    public static var current: DisplayOptions {
        guard let raw = pthread_getspecific(key) else { return DisplayOptions() }
        return Unmanaged<Session>.fromOpaque(raw).takeUnretainedValue().displayOptions
    }

    /// Makes `session`'s options the current ones on this thread while `body` runs.
    static func using<T>(_ session: Session, _ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, Unmanaged.passUnretained(session).toOpaque())
        defer { pthread_setspecific(key, previous) }
        return try body()
    }

    nonisolated(unsafe) private static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()
}

/// How a table shows a missing value (nil), and the model display a layer without parameters.
public let missingText = "–"

// MARK: - Numbers

/// A number the way prune shows it: whole numbers as they are (`3`, `60000`), others to the
/// session's significant digits (`0.6667`, `3.142`, `1.235e-05`), `nan`, `inf`.
public func formatNumber(_ x: Double) -> String { formatNumber(x, digits: DisplayOptions.current.digits) }

/// `formatNumber` with `digits` significant digits: fixed notation, trailing zeros dropped, from
/// 1e-4 up to 1e15; scientific outside (as `%g` writes it).
public func formatNumber(_ x: Double, digits: Int) -> String {
    if let s = nonFinite(x) { return s }
    if x == x.rounded(.towardZero) && Swift.abs(x) < 1e15 { return String(Int64(x)) }
    let a = Swift.abs(x)
    if a < 1e-4 || a >= 1e15 { return cFormat("%.\(digits)g", x) }
    return trimmedZeros(cFormat("%.\(fixedDecimals(a, digits: digits))f", x))
}

func nonFinite(_ x: Double) -> String? {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x < 0 ? "-inf" : "inf" }
    return nil
}

/// Decimals that show `a` (> 0) to `digits` significant digits in fixed notation.
func fixedDecimals(_ a: Double, digits: Int) -> Int {
    guard a > 0, a.isFinite else { return 0 }
    return Swift.max(0, digits - 1 - Int(log10(a).rounded(.down)))
}

/// `0.5000` → `0.5`, `2.000` → `2`.
func trimmedZeros(_ s: String) -> String {
    guard s.contains(".") else { return s }
    var t = Substring(s)
    while t.hasSuffix("0") { t = t.dropLast() }
    if t.hasSuffix(".") { t = t.dropLast() }
    return String(t)
}

/// `printf`-style formatting of one double (no Foundation in this target).
public func cFormat(_ format: String, _ x: Double) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    let n = withVaList([x]) { vsnprintf(&buf, buf.count, format, $0) }
    guard n >= 0 else { return String(x) }
    return String(decoding: buf.prefix(Swift.min(Int(n), buf.count - 1)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Fixed-notation text with thousands separators in its whole part: `1234567.5` → `1,234,567.5`.
func grouped(_ s: String) -> String {
    let negative = s.hasPrefix("-")
    let body = negative ? s.dropFirst() : Substring(s)
    let dot = body.firstIndex(of: ".") ?? body.endIndex
    guard let whole = Int(body[..<dot]) else { return s }
    return (negative ? "-" : "") + thousands(whole) + body[dot...]
}

/// One format for a column of numbers, so that its decimal points line up (as pandas prints a
/// DataFrame): whole numbers as counts with thousands separators; otherwise one number of
/// decimals, the fewest that give every value the significant digits asked for (the whole part
/// grouped in thousands too: samples per second read 1,477,025); scientific
/// notation for all when a value is under 1e-4 or from 1e15 up, or they span eight decades.
public struct NumberColumn {
    enum Style: Equatable { case whole, fixed(Int), scientific(Int) }
    let style: Style

    public init(_ xs: [Double], digits: Int) {
        let finite = xs.filter(\.isFinite)
        if finite.allSatisfy({ $0 == $0.rounded(.towardZero) && Swift.abs($0) < 1e15 }) { style = .whole; return }
        let magnitudes = finite.map { Swift.abs($0) }.filter { $0 > 0 }
        let lo = magnitudes.min() ?? 1, hi = magnitudes.max() ?? 1
        if lo < 1e-4 || hi >= 1e15 || hi / lo >= 1e8 {
            // The mantissa decimals the value needing most needs (trailing zeros dropped).
            let m = finite.map { x -> Int in
                let s = cFormat("%.\(digits - 1)e", x)
                let mantissa = s.split(separator: "e").first.map(String.init) ?? s
                let t = trimmedZeros(mantissa)
                return t.firstIndex(of: ".").map { t.distance(from: $0, to: t.endIndex) - 1 } ?? 0
            }.max() ?? 0
            style = .scientific(m)
        } else {
            let d = finite.filter { $0 != 0 }.map { x -> Int in
                let t = trimmedZeros(cFormat("%.\(fixedDecimals(Swift.abs(x), digits: digits))f", x))
                return t.firstIndex(of: ".").map { t.distance(from: $0, to: t.endIndex) - 1 } ?? 0
            }.max() ?? 0
            style = .fixed(d)
        }
    }

    public func format(_ x: Double) -> String {
        if let s = nonFinite(x) { return s }
        let x = x == 0 ? 0 : x  // not "-0.000"
        switch style {
        case .whole: return thousands(Int(x))
        case .fixed(let d): return grouped(cFormat("%.\(d)f", x))
        case .scientific(let m): return cFormat("%.\(m)e", x)
        }
    }
}

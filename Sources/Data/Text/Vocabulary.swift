// Vocabulary: a BERT-style vocab.txt (one word piece per line, the line number is its id), and
// where the default one comes from (the MiniLM model package's folder).
import Engine
import FileIO

/// Word pieces and their ids, read from a `vocab.txt`.
///
///     let vocab = try Vocabulary(file: "model/vocab.txt")
///     vocab.id(of: "[CLS]")    // 101 in BERT uncased
public struct Vocabulary: Sendable {
    /// The pieces in id order.
    public let tokens: [String]
    /// Where the vocabulary was read from ("" when built in memory).
    public let path: String
    private let ids: [String: Int]
    /// The longest piece, in Unicode scalars (word-piece matching never tries longer ones).
    let longestPiece: Int

    /// A vocabulary from pieces in id order. A repeated piece maps to its last id, as the
    /// reference tokenizers do.
    public init(tokens: [String], path: String = "") throws {
        guard !tokens.isEmpty else { throw DataError("vocabulary \(path.isEmpty ? "" : path + " ")is empty") }
        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { ids[t] = i }
        self.tokens = tokens
        self.path = path
        self.ids = ids
        self.longestPiece = tokens.map(\.unicodeScalars.count).max() ?? 0
    }

    /// Reads `vocab.txt`: UTF-8, one piece per line (trailing whitespace and "\r" dropped).
    public init(file path: String) throws {
        try InputFile.check(path)
        let bytes = try WholeFile.readAll(path)
        InputFiles.read(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DataError("\(path) is not UTF-8 text, so it is not a vocab.txt")
        }
        // Split scalars, not Characters: "\r\n" is one Character.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var s = line
            while let last = s.last, last.properties.isWhitespace { s = s.dropLast() }
            return String(String.UnicodeScalarView(s))
        }
        if lines.last == "" { lines.removeLast() }
        try self.init(tokens: lines, path: path)
    }

    /// The number of pieces.
    public var count: Int { tokens.count }

    /// The id of `piece`, or nil when it is not in the vocabulary.
    public func id(of piece: String) -> Int? { ids[piece] }

    /// The id of a piece the tokenizer cannot do without (`[UNK]`, `[CLS]`, …).
    func required(_ piece: String) throws -> Int {
        guard let i = ids[piece] else {
            throw DataError("vocabulary \(path.isEmpty ? "" : path + " ")has no \(piece) token; a BERT vocab.txt lists [PAD], [UNK], [CLS] and [SEP]")
        }
        return i
    }
}

extension Vocabulary {
    /// The environment variable naming a vocab.txt (or a model folder holding one) to use
    /// instead of the MiniLM package's.
    public static let environmentVariable = "PRUNE_VOCAB"

    /// The default vocabulary's path: `$PRUNE_VOCAB`, else the vocab.txt of the installed
    /// MiniLM package (`ModelPackage.minilm`).
    public static func defaultPath() throws -> String {
        if let env = ModelPackage.environment(environmentVariable) { return env }
        return try ModelPackage.minilm.file("vocab.txt")
    }

    /// The vocabulary at `path` (a vocab.txt, or a model folder holding one; nil: `defaultPath`),
    /// read once per path and kept.
    public static func named(_ path: String? = nil) throws -> Vocabulary {
        var file = try path ?? defaultPath()
        if Directories.isDirectory(file) { file += "/vocab.txt" }
        InputFiles.read(file)
        return try cache.value(for: file) { try Vocabulary(file: file) }
    }

    private static let cache = LoadCache<Vocabulary>()
}

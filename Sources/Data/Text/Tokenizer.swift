// The WordPiece tokenizer of BERT uncased, as the reference (Hugging Face `tokenizers`,
// BertNormalizer + BertPreTokenizer + WordPiece, the tokenizer.json all-MiniLM-L6-v2 ships):
//   1. the special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]) written literally in the text are
//      kept whole; the text between them goes through steps 2–6;
//   2. cleaning: NUL, U+FFFD and control/format characters go, whitespace becomes a space;
//   3. CJK ideographs get a space on either side (each is its own word);
//   4. accents go (NFD, then non-spacing marks dropped), then everything is lower-cased;
//   5. split at whitespace; every punctuation character is a word of its own;
//   6. each word becomes word pieces by greedy longest match ("un", "##aff", "##able"); a word
//      longer than 100 characters, or one the pieces cannot cover, becomes [UNK].
// The reference classifies characters with Unicode 8.0 tables (its `unicode_categories` crate),
// so characters assigned later count as letters here too; see `Tokenizer.category`.
@_spi(_Unicode) import Swift   // String._nfd: canonical decomposition without Foundation
import Engine

/// Text to BERT token ids.
///
///     let tok = try Tokenizer(vocabulary: try Vocabulary(file: "vocab.txt"))
///     tok.pieces("Unaffable café!")          // ["una", "##ffa", "##ble", "cafe", "!"]
///     let e = tok.encode("Unaffable café!", length: 8)
///     e.ids     // [101, 14477, 20961, 3468, 7668, 999, 102, 0]
///     e.mask    // [1, 1, 1, 1, 1, 1, 1, 0]
public struct Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    /// Ids of the special pieces.
    public let padID: Int, unknownID: Int, clsID: Int, sepID: Int
    /// Words longer than this many characters become [UNK] (BERT: 100).
    public var maxWordCharacters = 100
    /// Special tokens recognised when written literally in the text (those the vocabulary has).
    let specials: [(scalars: [Unicode.Scalar], id: Int)]

    public init(vocabulary: Vocabulary) throws {
        // Datasets store ids as floats, exact up to 2^24.
        guard vocabulary.count <= 1 << 24 else {
            throw DataError("vocabulary \(vocabulary.path) has \(vocabulary.count) pieces; token ids are stored as floats, so at most 16777216 are supported")
        }
        self.vocabulary = vocabulary
        padID = try vocabulary.required("[PAD]")
        unknownID = try vocabulary.required("[UNK]")
        clsID = try vocabulary.required("[CLS]")
        sepID = try vocabulary.required("[SEP]")
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { s in
            vocabulary.id(of: s).map { (Array(s.unicodeScalars), $0) }
        }
    }

    /// The tokenizer of the vocabulary at `path` (a vocab.txt or a folder holding one), by
    /// default the MiniLM package's (see `Vocabulary.named`).
    public static func standard(vocabulary path: String? = nil) throws -> Tokenizer {
        try Tokenizer(vocabulary: try Vocabulary.named(path))
    }

    /// One encoded text: `ids` starts with [CLS] and has [SEP] after the last real piece, then
    /// [PAD] up to the length asked for; `mask` is 1 on real tokens (including [CLS] and [SEP]).
    public struct Encoding: Equatable, Sendable {
        public var ids: [Int]
        public var mask: [Int]
        /// Whether pieces were dropped to fit the length.
        public var truncated: Bool
    }

    /// `text` as ids: [CLS], its pieces, [SEP]. With `length`, pieces are cut so that the whole
    /// fits (the [SEP] is kept) and the rest is padded; `length` must be at least 2.
    public func encode(_ text: String, length: Int? = nil) throws -> Encoding {
        if let length, length < 2 {
            throw DataError("tokenizer: the length must be at least 2 ([CLS] and [SEP]), got \(length)")
        }
        var body = ids(text)
        var truncated = false
        if let length, body.count > length - 2 { body.removeLast(body.count - (length - 2)); truncated = true }
        var ids = [clsID] + body + [sepID]
        var mask = [Int](repeating: 1, count: ids.count)
        if let length, ids.count < length {
            mask += [Int](repeating: 0, count: length - ids.count)
            ids += [Int](repeating: padID, count: length - ids.count)
        }
        return Encoding(ids: ids, mask: mask, truncated: truncated)
    }

    /// Many texts as [N, length] float tensors of ids and of attention masks (1 real, 0 padding).
    public func encode(_ texts: [String], length: Int) throws -> (ids: Tensor, mask: Tensor) {
        let ids = try Tensor.empty([texts.count, length])
        let mask = try Tensor.empty([texts.count, length])
        for (row, text) in texts.enumerated() {
            let e = try encode(text, length: length)
            for j in 0..<length {
                ids.data[row * length + j] = Float(e.ids[j])
                mask.data[row * length + j] = Float(e.mask[j])
            }
        }
        return (ids, mask)
    }

    /// The ids of the word pieces of `text`, without [CLS]/[SEP].
    public func ids(_ text: String) -> [Int] {
        var out: [Int] = []
        for segment in segments(text) {
            switch segment {
            case .special(let id): out.append(id)
            case .text(let t):
                for word in words(t) { out += wordPieces(word) }
            }
        }
        return out
    }

    /// The word pieces of `text` as strings ("##" marks a piece that continues a word).
    public func pieces(_ text: String) -> [String] { ids(text).map { vocabulary.tokens[$0] } }

    // MARK: Steps

    enum Segment { case text([Unicode.Scalar]), special(Int) }

    /// Step 1: the text cut at literal special tokens (leftmost match, then the longest).
    func segments(_ text: String) -> [Segment] {
        let s = Array(text.unicodeScalars)
        var out: [Segment] = [], start = 0, i = 0
        while i < s.count {
            if s[i] == "[", let hit = specials.filter({ matches($0.scalars, in: s, at: i) }).max(by: { $0.scalars.count < $1.scalars.count }) {
                if start < i { out.append(.text(Array(s[start..<i]))) }
                out.append(.special(hit.id))
                i += hit.scalars.count
                start = i
            } else {
                i += 1
            }
        }
        if start < s.count { out.append(.text(Array(s[start...]))) }
        return out
    }

    private func matches(_ token: [Unicode.Scalar], in s: [Unicode.Scalar], at i: Int) -> Bool {
        i + token.count <= s.count && s[i..<i + token.count].elementsEqual(token)
    }

    /// Steps 2–5: the normalised words of a stretch of text.
    func words(_ text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        // 2–3: clean, space out CJK ideographs.
        var cleaned = String.UnicodeScalarView()
        for c in text {
            if c.value == 0 || c.value == 0xFFFD || Tokenizer.isControl(c) { continue }
            if Tokenizer.isWhitespace(c) { cleaned.append(" ") }
            else if Tokenizer.isCJK(c) { cleaned.append(" "); cleaned.append(c); cleaned.append(" ") }
            else { cleaned.append(c) }
        }
        // 4: strip accents, lower-case.
        var normal: [Unicode.Scalar] = []
        normal.reserveCapacity(cleaned.count)
        for c in String(cleaned)._nfd where !Tokenizer.isNonspacingMark(c) {
            let lower = c.properties.lowercaseMapping.unicodeScalars
            if lower.count == 1, let only = lower.first { normal.append(only) } else { normal += lower }
        }
        // 5: split at whitespace and punctuation.
        var words: [[Unicode.Scalar]] = [], word: [Unicode.Scalar] = []
        for c in normal {
            if c.properties.isWhitespace {
                if !word.isEmpty { words.append(word); word = [] }
            } else if Tokenizer.isPunctuation(c) {
                if !word.isEmpty { words.append(word); word = [] }
                words.append([c])
            } else {
                word.append(c)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }

    /// Step 6: greedy longest-match word pieces of one word, or [UNK].
    func wordPieces(_ word: [Unicode.Scalar]) -> [Int] {
        guard word.count <= maxWordCharacters else { return [unknownID] }
        var out: [Int] = [], start = 0
        while start < word.count {
            var end = min(word.count, start + vocabulary.longestPiece)
            var found: Int?
            while end > start {
                var piece = String.UnicodeScalarView()
                if start > 0 { piece.append(contentsOf: "##".unicodeScalars) }
                piece.append(contentsOf: word[start..<end])
                if let id = vocabulary.id(of: String(piece)) { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            out.append(id)
            start = end
        }
        return out
    }

    // MARK: Character classes

    /// Whether the reference's Unicode 8.0 tables know `c` (later characters fall outside its
    /// control, punctuation and mark categories).
    static func inUnicode8(_ c: Unicode.Scalar) -> Bool {
        guard let age = c.properties.age else { return false }
        return age.major < 8 || (age.major == 8 && age.minor == 0)
    }

    /// Control and format characters (Cc, Cf, Co, Cs), but not tab, newline and return.
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return inUnicode8(c)
        default: return false
        }
    }

    /// Unicode White_Space, plus tab, newline and return.
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        c == "\t" || c == "\n" || c == "\r" || c.properties.isWhitespace
    }

    /// ASCII punctuation and symbols (33–47, 58–64, 91–96, 123–126) and Unicode P* categories.
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return inUnicode8(c)
        default: return false
        }
    }

    static func isNonspacingMark(_ c: Unicode.Scalar) -> Bool {
        c.properties.generalCategory == .nonspacingMark && inUnicode8(c)
    }

    /// CJK Unified Ideographs and their extensions and compatibility blocks, with the
    /// reference's ranges (its Extension E range starts at U+2B920).
    static func isCJK(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }
}

/// The attention mask of padded token ids: 1 where the id is not `padID`, 0 where it is.
/// For a tokenized dataset, `attentionMask(dataset.images)`.
public func attentionMask(_ ids: Tensor, padID: Int = 0) -> Tensor {
    let out = Tensor.empty(like: ids)
    let pad = Float(padID)
    for i in 0..<ids.count { out.data[i] = ids.data[i] == pad ? 0 : 1 }
    return out
}

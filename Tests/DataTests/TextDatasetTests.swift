// Text datasets: the Debian package-section snapshot (sections, a split fixed by the package
// name, seeded few-label subsets) and labelled texts from the user's CSV files.
import Testing
import TestSupport
import FileIO
import Engine
@testable import Data

@Test func fnv1aMatchesTheStandardVectors() {
    // The FNV-1a 64-bit test vectors of the reference implementation (isthe.com/chongo/tech/comp/fnv).
    #expect(DebianPackages.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
    #expect(DebianPackages.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
    #expect(DebianPackages.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
}

@Test func debianSnapshotHasTheTopicalSectionsAndAStableSplit() throws {
    let all = try DebianPackages.packages(.all)
    let sections = try DebianPackages.sections()
    #expect(sections == ["admin", "comm", "database", "editors", "electronics", "games", "graphics", "hamradio",
                         "mail", "math", "net", "science", "sound", "text", "vcs", "video", "web"])
    #expect(all.count > 10_000)
    // Every text once; names unique.
    #expect(Set(all.map(\.text)).count == all.count)
    #expect(Set(all.map(\.name)).count == all.count)
    let train = try DebianPackages.packages(.train), test = try DebianPackages.packages(.test)
    #expect(train.count + test.count == all.count)
    #expect(Set(train.map(\.name)).isDisjoint(with: test.map(\.name)))
    // About a fifth in test, and every section on both sides.
    let fraction = Double(test.count) / Double(all.count)
    #expect(fraction > 0.17 && fraction < 0.23)
    #expect(Set(test.map(\.section)).count == sections.count)
    // The split depends on the name only: these packages sit where they always have.
    #expect(DebianPackages.isTest("zsh") == (DebianPackages.fnv1a64("zsh") % 5 == 0))
    let known = ["0ad": false, "mutt": true, "gnuchess": false, "gimp": false, "octave": false, "vim": false]
    for (name, inTest) in known {
        #expect(all.contains(where: { $0.name == name }), "\(name) is missing from the snapshot")
        #expect(DebianPackages.isTest(name) == inTest, "\(name)")
        #expect(test.contains(where: { $0.name == name }) == inTest, "\(name)")
    }
}

@Test(.enabled(if: installedVocabulary != nil, Comment(rawValue: vocabularyMissing)))
func debianDatasetIsTokenizedAndPerClassDrawsAreReproducible() throws {
    let tok = try Tokenizer(vocabulary: try #require(installedVocabulary))
    let test = try DebianPackages.load(.test, tokenizer: tok, length: 32)
    #expect(test.sampleShape == [32])
    #expect(test.classNames == (try DebianPackages.sections()))
    #expect(test.count == (try DebianPackages.packages(.test)).count)
    // Row 0: [CLS] first, one [SEP], ids inside the vocabulary, padding only after [SEP].
    let row = Array(test.images.array.prefix(32)).map(Int.init)
    #expect(row[0] == tok.clsID)
    #expect(row.filter { $0 == tok.sepID }.count == 1)
    #expect(row.allSatisfy { $0 >= 0 && $0 < tok.vocabulary.count })
    let first = try #require(DebianPackages.packages(.test).first)
    #expect(row == (try tok.encode(first.text, length: 32)).ids)
    #expect(Array(attentionMask(test.images).array.prefix(32)) == (try tok.encode(first.text, length: 32)).mask.map(Float.init))

    let a = try test.perClass(5, seed: 3), b = try test.perClass(5, seed: 3), c = try test.perClass(5, seed: 4)
    #expect(a.count == 5 * test.classes)
    #expect(a.classCounts().allSatisfy { $0 == 5 })
    #expect(a.images.array == b.images.array && a.labels == b.labels)
    #expect(a.images.array != c.images.array)
}

/// Writes `text` to a fresh file and returns its path (the caller removes the folder).
func writeCSV(_ text: String, in dir: String, name: String = "t.csv") throws -> String {
    let path = dir + "/" + name
    try WholeFile.write(text, to: path)
    return path
}

@Test func textCSVReadsNamesAndNumbers() throws {
    let dir = try makeDirectory()
    defer { removeDirectory(dir) }
    let named = try TextCSV.read(try writeCSV("id,review,stars\n1,\"good, really\",pos\n2,bad,neg\n3,fine,pos\n", in: dir),
                                 text: "review", label: "stars")
    #expect(named.texts == ["good, really", "bad", "fine"])
    #expect(named.classNames == ["neg", "pos"])
    #expect(named.labels == [1, 0, 1])
    let numbered = try TextCSV.read(try writeCSV("text,label\na,2\nb,0\n", in: dir, name: "n.csv"))
    #expect(numbered.labels == [2, 0])
    #expect(numbered.classNames == ["0", "1", "2"])

    let d = try Dataset.text(name: "t", texts: named.texts, labels: named.labels, classNames: named.classNames,
                             tokenizer: try tinyTokenizer(), length: 4)
    #expect(d.images.shape == [3, 4])
    #expect(d.classNames == ["neg", "pos"])
}

@Test func textCSVErrorsNameTheFileAndLine() throws {
    let dir = try makeDirectory()
    defer { removeDirectory(dir) }
    let cases: [(String, String, String)] = [
        ("", "text", "empty file"),
        ("text,label\n", "text", "no rows after the header"),
        ("text,stars\nx,1\n", "text", "no column 'label'; the columns are 'text', 'stars'"),
        ("body,label\nx,1\n", "text", "no column 'text'"),
        ("text,label\nx,1\ny,\n", "text", ":3: the label (column 'label') is empty"),
        ("text,label\nx,1\ny,1.5\n", "text", ":3: label '1.5' is not a class"),
        ("text,label\nx,1\ny,-1\n", "text", ":3: label '-1' is not a class"),
        ("text,label\nx,1,2\n", "text", ":2: 3 fields, but the header has 2"),
        ("text,label\n\"open,1\n", "text", ":2: a quoted field is not closed"),
    ]
    for (i, (content, column, message)) in cases.enumerated() {
        let path = try writeCSV(content, in: dir, name: "case\(i).csv")
        do {
            _ = try TextCSV.read(path, text: column)
            Issue.record("case \(i) was accepted: \(content.debugDescription)")
        } catch let e as DataError {
            #expect(e.message.contains(path), "\(e.message)")
            #expect(e.message.contains(message), "\(e.message)")
        }
    }
    do {
        _ = try TextCSV.read(dir + "/absent.csv")
        Issue.record("a missing file was accepted")
    } catch let e as FileError {  // the file layer's error names the file and the reason
        #expect(e.message.contains("absent.csv"))
    }
}

// A damaged or tampered cell cache: flipped bytes, truncation, missing and swapped blobs,
// figures and entries, forged outputs and forged function sources. Each must end as a cache
// miss with a warning (the cells run again and give the right result) or as the right result;
// never a silently wrong one, and never code that is not in the script.
import Foundation
import Testing
import Engine
import FileIO
@testable import Language
@testable import Bindings
@testable import Notebooks

private let notebook = """
    # %% Data
    net = mlp([4, 3])
    x = randn([8, 4])
    y = randn([8, 4])
    def score(m)
      return sum(abs(m.layers[1].weight))
    end
    print("made")
    # %% Figures
    t = table()
    add(t, x=1, y=2)
    add(t, x=2, y=1)
    plot(t, x="x", y="y")
    bar(t, x="x", y="y")
    # %% Result
    print(score(net), sum(x), sum(y))
    """

/// The last cell edited, so that the next render restores the state after the figures cell.
private let edited = notebook + "\nprint(\"edited\")"

/// The cache of a lab, with each entry's directory and parsed entry.json by cell number.
private struct CacheFiles {
    let cache: NotebookCache
    var entries: [Int: (dir: String, json: JSON)] = [:]

    init(_ lab: Lab) throws {
        cache = NotebookCache(directory: lab.dir + "/.prune-cache")
        for key in FS.list(cache.entriesDir) {
            let dir = cache.entriesDir + "/" + key
            let json = try JSON.parse(try String(contentsOfFile: dir + "/entry.json", encoding: .utf8))
            entries[try #require(json["cell"]?.int)] = (dir, json)
        }
    }

    func entry(_ cell: Int) throws -> (dir: String, json: JSON) { try #require(entries[cell]) }

    /// The blob file holding the value of a global stored after `cell`.
    func blob(of name: String, after cell: Int) throws -> String {
        let value = try #require(try entry(cell).json["state"]?["globals"]?[name])
        return cache.blobsDir + "/" + (try #require(value["blob"]?.string)) + ".safetensors"
    }
}

private func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
private func put(_ b: [UInt8], _ path: String) throws { try Data(b).write(to: URL(fileURLWithPath: path)) }

private func swapFiles(_ a: String, _ b: String) throws {
    let (x, y) = (try bytes(a), try bytes(b))
    try put(y, a)
    try put(x, b)
}

/// Renders `source` without any cache: the right result.
private func reference(_ source: String) throws -> NotebookResult {
    let lab = try Lab(source)
    return try lab.render(cache: false)
}

/// Renders the lab's notebook, damages its cache with `damage`, renders `source` again and
/// checks that the result equals an uncached render and that the log warned about the cache.
private func expectRecovery(from source: String = edited, sourceLocation: Testing.SourceLocation = #_sourceLocation,
                            _ damage: (Lab, CacheFiles) throws -> Void) throws {
    let lab = try Lab(notebook)
    let first = try lab.render()
    #expect(statuses(first) == [.ran, .ran, .ran], "first render: \(first.cells.compactMap(\.error)) \(lab.log)", sourceLocation: sourceLocation)
    try damage(lab, try CacheFiles(lab))
    try lab.write(source)
    let r = try lab.render()
    let recoveryLog = lab.log
    let right = try reference(source)
    #expect(!r.failed, sourceLocation: sourceLocation)
    #expect(r.cells.map(\.output) == right.cells.map(\.output), sourceLocation: sourceLocation)
    #expect(r.cells.map(\.figures) == right.cells.map(\.figures), sourceLocation: sourceLocation)
    #expect(r.cells[1].figures.count == 2, sourceLocation: sourceLocation)
    #expect(lab.log.contains { $0.hasPrefix("cache: ") }, "no warning in \(lab.log)", sourceLocation: sourceLocation)
    #expect(lab.printed.isEmpty, "the restore printed \(lab.printed)", sourceLocation: sourceLocation)
    // The damage is repaired: the next render takes everything from the cache again.
    let again = try lab.render()
    #expect(statuses(again) == [.cached, .cached, .cached], "\(recoveryLog) then \(lab.log)", sourceLocation: sourceLocation)
    #expect(again.cells.map(\.output) == right.cells.map(\.output), sourceLocation: sourceLocation)
}

@Suite struct NotebookCacheCorruptionTests {
    @Test func flippedBytesInAModelBlob() throws {
        try expectRecovery { _, files in
            let path = try files.blob(of: "net", after: 1)
            var b = try bytes(path)
            for i in stride(from: b.count - 50, to: b.count, by: 1) { b[i] ^= 0x5A }
            try put(b, path)
        }
    }

    @Test func flippedBytesInATensorBlob() throws {
        try expectRecovery { _, files in
            let path = try files.blob(of: "x", after: 2)
            var b = try bytes(path)
            b[b.count - 3] ^= 0x01
            try put(b, path)
        }
    }

    @Test func aTruncatedBlob() throws {
        try expectRecovery { _, files in
            let path = try files.blob(of: "net", after: 2)
            try put(Array(try bytes(path).dropLast(17)), path)
        }
    }

    @Test func aMissingBlob() throws {
        try expectRecovery { _, files in _ = unlink(try files.blob(of: "y", after: 2)) }
    }

    /// Two tensors of the same shape: swapped, each file is a valid blob of the wrong value.
    @Test func swappedBlobs() throws {
        try expectRecovery { _, files in try swapFiles(try files.blob(of: "x", after: 2), try files.blob(of: "y", after: 2)) }
    }

    @Test func flippedBytesInAFigure() throws {
        try expectRecovery(from: notebook) { _, files in
            let path = try files.entry(2).dir + "/fig-1.png"
            var b = try bytes(path)
            b[b.count / 2] ^= 0xFF
            try put(b, path)
        }
    }

    @Test func aMissingFigure() throws {
        try expectRecovery(from: notebook) { _, files in _ = unlink(try files.entry(2).dir + "/fig-2.png") }
    }

    @Test func swappedFigures() throws {
        try expectRecovery(from: notebook) { _, files in
            let dir = try files.entry(2).dir
            try swapFiles(dir + "/fig-1.png", dir + "/fig-2.png")
        }
    }

    @Test func aTruncatedEntry() throws {
        try expectRecovery(from: notebook) { _, files in
            let path = try files.entry(2).dir + "/entry.json"
            try put(Array(try bytes(path).prefix(200)), path)
        }
    }

    /// Two entries' directories trade places: each entry.json sits under another cell's key.
    @Test func swappedEntries() throws {
        try expectRecovery(from: notebook) { lab, files in
            let (a, b) = (try files.entry(2).dir, try files.entry(3).dir)
            #expect(rename(a, lab.dir + "/aside") == 0 && rename(b, a) == 0 && rename(lab.dir + "/aside", b) == 0)
        }
    }

    @Test func aForgedOutput() throws {
        try expectRecovery(from: notebook) { _, files in
            let path = try files.entry(1).dir + "/entry.json"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains("\"made\\n\""))
            try text.replacingOccurrences(of: "\"made\\n\"", with: "\"forged\\n\"").write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// The stored state claims a different definition of `score`, which would print and
    /// return another number if it ran.
    @Test func aForgedFunctionSource() throws {
        for cell in [1, 2] {
            try expectRecovery { _, files in
                let path = try files.entry(cell).dir + "/entry.json"
                let json = try files.entry(cell).json
                let forged = forgingFunctionSources(json, "print(\"foreign code ran\")\ndef score(m)\n  return 12345\nend")
                try (forged.text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            }
        }
    }

    /// A forger who also recomputes the checksum: the entry is used, its state restored, and
    /// the stored source ignored, since functions come from the script's own text.
    @Test func aForgedFunctionSourceWithItsChecksumRecomputed() throws {
        let lab = try Lab(notebook)
        _ = try lab.render()
        let files = try CacheFiles(lab)
        let (dir, json) = try files.entry(2)
        let forged = forgingFunctionSources(json, "print(\"foreign code ran\")\ndef score(m)\n  return 12345\nend")
        let unsealed = JSON.object((forged.pairs ?? []).filter { $0.0 != "checksum" })
        let resealed = JSON.object((unsealed.pairs ?? []) + [("checksum", .string(NotebookCache.checksum(unsealed)))])
        try (resealed.text + "\n").write(toFile: dir + "/entry.json", atomically: true, encoding: .utf8)
        try lab.write(edited)
        let r = try lab.render()
        #expect(statuses(r) == [.cached, .cached, .ran])
        #expect(lab.log.contains { $0.hasPrefix("restored the state after In [2]") }, "\(lab.log)")
        #expect(r.cells.map(\.output) == (try reference(edited)).cells.map(\.output))
        #expect(lab.printed.isEmpty, "\(lab.printed)")
    }
}

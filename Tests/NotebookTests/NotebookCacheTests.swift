// Rendering with the cell cache: unchanged notebooks re-run nothing, an edited cell re-runs
// from there, a touched input file invalidates the cells from the one that read it, errors stop
// the run but keep the document, values that cannot be stored only cost re-execution, the
// cache survives interrupted writes and stays within its bound; run(file, cell=n).
import FileIO
import Foundation
import Synchronization
import Testing
import TestSupport
import Engine
@testable import Language
@testable import Bindings
@testable import Notebooks

/// A notebook in a fresh temporary directory, rendered through NotebookRunner (also used by
/// NotebookCacheCorruptionTests).
final class Lab {
    let dir: String
    let file: String
    var log: [String] = []
    /// What the session printed outside the cells (the cells' own output is in the result).
    var printed = ""
    var maxBytes = 1 << 30

    init(_ source: String) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("prune-nb-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        file = dir + "/nb.prune"
        try write(source)
    }

    func write(_ source: String) throws { try source.write(toFile: file, atomically: true, encoding: .utf8) }

    func render(cache: Bool = true, settings: [String: String] = [:]) throws -> NotebookResult {
        let source = try String(contentsOfFile: file, encoding: .utf8)
        let session = testSession(output: { [unowned self] in self.printed += $0 }, settings: settings)
        log = []
        printed = ""
        let options = NotebookOptions(file: file, version: "test", useCache: cache, maxCacheBytes: maxBytes, log: { [unowned self] in self.log.append($0) })
        return NotebookRunner(source: source, session: session, options: options).render()
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }
}

func statuses(_ r: NotebookResult) -> [CellOutcome.Status] { r.cells.filter { $0.cell.kind == .code }.map(\.status) }

private let threeCells = """
    # %% [markdown]
    # A notebook
    # %% One
    a = randn([4])
    n = mlp([4, 3])
    print("one")
    # %% Two
    b = a * 2
    print("two")
    # %% Three
    print("three", sum(b) == 2 * sum(a), params(n))
    """

@Suite struct NotebookCacheTests {
    @Test func anUnchangedNotebookRunsNothingTheSecondTime() throws {
        let lab = try Lab(threeCells)
        let first = try lab.render()
        #expect(statuses(first) == [.ran, .ran, .ran])
        #expect(first.cells[3].output == "three true 15\n")
        let second = try lab.render()
        #expect(statuses(second) == [.cached, .cached, .cached])
        #expect(second.executed == 0)
        #expect(second.cells.map(\.output) == first.cells.map(\.output))
    }

    /// Other code in the process reseeding the process-wide generator while a notebook renders
    /// (tests run side by side) does not change what is cached: cells draw only from the
    /// session's generator. Before, that generator's state was part of every key, and this
    /// suite's neighbours now and then made an unchanged notebook run again.
    @Test func theProcessWideGeneratorIsNotPartOfTheKeys() throws {
        final class Flag: @unchecked Sendable { let stop = Atomic<Bool>(false), done = DispatchSemaphore(value: 0) }
        let flag = Flag()
        Thread.detachNewThread {
            var n: UInt64 = 1
            while !flag.stop.load(ordering: .relaxed) { RNG.global.reseed(n); n &+= 1; usleep(50) }
            flag.done.signal()
        }
        defer { flag.stop.store(true, ordering: .relaxed); flag.done.wait() }
        let lab = try Lab(threeCells)
        #expect(statuses(try lab.render()) == [.ran, .ran, .ran])
        #expect(statuses(try lab.render()) == [.cached, .cached, .cached])
    }

    @Test func editingTheLastCellRunsOnlyIt() throws {
        let lab = try Lab(threeCells)
        _ = try lab.render()
        try lab.write(threeCells + "\nprint(\"edited\", sum(b) == 2 * sum(a))")
        let r = try lab.render()
        #expect(statuses(r) == [.cached, .cached, .ran])
        #expect(r.cells[3].output == "three true 15\nedited true\n")
        #expect(lab.log.contains { $0.contains("restored the state after In [2]") }, "\(lab.log)")
    }

    @Test func editingTheFirstCellRunsEverything() throws {
        let lab = try Lab(threeCells)
        _ = try lab.render()
        try lab.write(threeCells.replacingOccurrences(of: "print(\"one\")", with: "print(\"one!\")"))
        #expect(statuses(try lab.render()) == [.ran, .ran, .ran])
    }

    @Test func settingsAndNoCacheChangeWhatRuns() throws {
        let lab = try Lab(threeCells)
        _ = try lab.render()
        #expect(statuses(try lab.render(settings: ["quick": "true"])) == [.ran, .ran, .ran])
        #expect(statuses(try lab.render(cache: false)) == [.ran, .ran, .ran])
        #expect(statuses(try lab.render()) == [.cached, .cached, .cached])
    }

    @Test func touchingAFileACellReadRerunsFromThatCell() throws {
        let lab = try Lab("")
        let data = lab.dir + "/w.safetensors"
        try Safetensors.save([(name: "w", tensor: Tensor(shape: [2], repeating: 1))], to: data)
        try lab.write("""
            # %% Setup
            k = 3
            # %% Read
            w = load("\(data)").w
            # %% Use
            print(sum(w) * k)
            """)
        #expect(statuses(try lab.render()) == [.ran, .ran, .ran])
        #expect(statuses(try lab.render()) == [.cached, .cached, .cached])
        // New contents (and a new modification time).
        try Safetensors.save([(name: "w", tensor: Tensor(shape: [2], repeating: 5))], to: data)
        let r = try lab.render()
        #expect(statuses(r) == [.cached, .ran, .ran])
        #expect(r.cells[2].output == "30\n")
    }

    @Test func aFailingCellStopsTheRunAndReportsItsLocation() throws {
        let lab = try Lab("# %% A\nx = 1\nprint(\"before\")\n# %% B\ny = x + nope\n# %% C\nprint(\"after\")\n")
        let r = try lab.render()
        #expect(r.failed)
        #expect(statuses(r) == [.ran, .failed, .notRun])
        #expect(r.cells[0].output == "before\n")
        let error = r.cells[1].error ?? ""
        #expect(error.contains("nb.prune:5:"), "\(error)")
        #expect(error.contains("nope"))
        // The cell before the error is cached; the failing one is not.
        #expect(statuses(try lab.render()) == [.cached, .failed, .notRun])
        let html = NotebookDocument.html(r, images: r.cells.map { _ in [] }, version: "test")
        #expect(html.contains("class=\"error\"") && html.contains("before"))
    }

    @Test func valuesThatCannotBeStoredOnlyCostReexecution() throws {
        let source = """
            # %% A
            t = table()
            add(t, x=1, y=2)
            add(t, x=2, y=3)
            fig = plot(t, x="x", y="y")
            # %% B
            v = 10
            # %% C
            print(fig.width, v)
            """
        let lab = try Lab(source)
        let r = try lab.render()
        #expect(statuses(r) == [.ran, .ran, .ran])
        #expect(r.cells[0].note?.contains("fig") == true)
        try lab.write(source + "\nprint(\"more\")")
        let again = try lab.render()
        // C needs fig, which no stored state holds: everything runs again.
        #expect(statuses(again) == [.ran, .ran, .ran])
        #expect(again.cells[2].output == "6.4 10\nmore\n")
        // A cell that does not need it is restored.
        try lab.write(source.replacingOccurrences(of: "print(fig.width, v)", with: "print(v)"))
        _ = try lab.render()
        try lab.write(source.replacingOccurrences(of: "print(fig.width, v)", with: "print(v + 1)"))
        let third = try lab.render()
        #expect(statuses(third) == [.cached, .cached, .ran])
        #expect(third.cells[2].output == "11\n")
    }

    @Test func figuresAppearUnderTheirCellAndComeBackFromTheCache() throws {
        let lab = try Lab("""
            # %% Plot
            t = table()
            add(t, x=1, y=2)
            add(t, x=2, y=1)
            plot(t, x="x", y="y")
            f = bar(t, x="x", y="y", file="\(FileManager.default.temporaryDirectory.path)/nb-bar-\(UUID().uuidString).png")
            """)
        let r = try lab.render()
        #expect(r.cells[0].figures.count == 2)
        #expect(r.cells[0].figures.allSatisfy { $0.starts(with: [0x89, 0x50, 0x4E, 0x47]) })
        let again = try lab.render()
        #expect(statuses(again) == [.cached])
        #expect(again.cells[0].figures == r.cells[0].figures)
    }

    @Test func aCacheLeftByAKilledRunStillWorks() throws {
        let lab = try Lab(threeCells)
        _ = try lab.render()
        let cache = NotebookCache(directory: lab.dir + "/.prune-cache")
        // What a kill can leave: a half-built entry, a temporary blob, a truncated entry file.
        try FileManager.default.createDirectory(atPath: cache.tmpDir + "/abc-1-2", withIntermediateDirectories: true)
        try "partial".write(toFile: cache.tmpDir + "/abc-1-2/entry.json", atomically: false, encoding: .utf8)
        try "x".write(toFile: cache.blobsDir + "/.deadbeef.safetensors.tmp-1-2", atomically: false, encoding: .utf8)
        let entries = FS.list(cache.entriesDir)
        #expect(entries.count == 3)
        let victim = cache.entriesDir + "/" + entries[0] + "/entry.json"
        let text = try String(contentsOfFile: victim, encoding: .utf8)
        try String(text.prefix(text.count / 2)).write(toFile: victim, atomically: false, encoding: .utf8)
        let r = try lab.render()
        #expect(r.cells[3].output == "three true 15\n")
        #expect(!r.failed)
        // A blob gone missing: the state cannot be restored, so the cells run again.
        for b in FS.list(cache.blobsDir) where b.hasSuffix(".safetensors") { _ = unlink(cache.blobsDir + "/" + b) }
        try lab.write(threeCells + "\nprint(1)")
        let s = try lab.render()
        #expect(statuses(s) == [.ran, .ran, .ran])
        #expect(s.cells[3].output == "three true 15\n1\n")
    }

    @Test func theCacheStaysWithinItsBound() throws {
        let lab = try Lab("# %% A\nbig = randn([100000])\n# %% B\nbig2 = randn([100000])\n# %% C\nbig3 = randn([100000])\n")
        lab.maxBytes = 1_000_000
        _ = try lab.render()
        let cache = NotebookCache(directory: lab.dir + "/.prune-cache")
        #expect(cache.size <= 1_000_000)
        #expect(FS.list(cache.entriesDir).count < 3)
        #expect(try cache.clear() > 0)
        #expect(!FS.exists(cache.directory))
    }

    @Test func runRestoresTheStateBeforeACell() throws {
        let lab = try Lab(threeCells + "\ncount = 1")
        var out = ""
        let s = testSession(output: { out += $0 })
        // Cells are numbered among the code cells, as the document's In [n] (the Markdown cell is not one).
        try s.execute("run(\"\(lab.file)\", cell=3)", file: "<repl>")
        #expect(out == "three true 15\n")
        #expect(s.globals["count"] != nil)
        // Cached now: the cells before run again only if the cache is stale.
        _ = try lab.render()
        out = ""
        let t = testSession(output: { out += $0 })
        try t.execute("run(\"\(lab.file)\", cell=2)", file: "<repl>")
        #expect(out == "two\n")
        #expect(throws: ScriptError.self) { try t.execute("run(\"\(lab.file)\", cell=4)", file: "<repl>") }
        #expect(throws: ScriptError.self) { try t.execute("run(\"\(lab.file)\", cell=9)", file: "<repl>") }
        out = ""
        try t.execute("run(\"\(lab.file)\")", file: "<repl>")
        #expect(out == "one\ntwo\nthree true 15\n")
    }

    @Test func fileReadsAreRecordedPerThread() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fr-\(UUID().uuidString).safetensors").path
        try Safetensors.save([(name: "a", tensor: Tensor(shape: [1], repeating: 0))], to: path)
        let (_, files) = try InputFiles.collect { try Safetensors.load(path) }
        #expect(files == [path])
        let (_, none) = InputFiles.collect { 1 }
        #expect(none.isEmpty)
        InputFiles.read("/outside/any/recorder")
        let before = InputFiles.fingerprint(path)
        try Safetensors.save([(name: "a", tensor: Tensor(shape: [2], repeating: 0))], to: path)
        #expect(InputFiles.fingerprint(path) != before)
        #expect(InputFiles.fingerprint("/no/such/file") == "missing")
    }
}

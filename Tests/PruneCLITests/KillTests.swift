// SIGKILL at random moments while prune saves a checkpoint or renders a notebook, then one more
// save and render: no temporary file survives, every file is its old or its new version
// (never a torn one), and the cell cache stays within its bound.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Starts prune with `args` (output discarded) and returns the running process.
private func startPrune(_ args: [String]) throws -> Process {
    let p = Process()
    p.executableURL = pruneBinary()
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return p
}

/// Runs prune to the end; its exit status.
private func finish(_ args: [String]) throws -> Int32 {
    let p = try startPrune(args)
    p.waitUntilExit()
    return p.terminationStatus
}

/// Every path under `dir` (files and directories), relative to it.
private func tree(_ dir: String) -> [String] {
    (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).sorted()
}

/// Names of temporary files as prune makes them (`.NAME.prune-tmp-PID-HEX`, and the older
/// `.NAME.tmp-PID-HEX`).
private func isTemporary(_ path: String) -> Bool {
    let name = (path as NSString).lastPathComponent
    return name.hasPrefix(".") && (name.contains(".prune-tmp-") || name.range(of: #"\.tmp-[0-9]+-[0-9a-f]+$"#, options: .regularExpression) != nil)
}

/// Bytes in the files under `dir`.
private func treeBytes(_ dir: String) -> Int {
    tree(dir).reduce(0) { total, rel in
        var info = stat()
        guard lstat(dir + "/" + rel, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return total }
        return total + Int(info.st_size)
    }
}

@Suite(.serialized) struct KillTests {
    @Test func killedSavesAndRendersLeaveNothingBehind() throws {
        let dir = (try tempScript("", name: "unused") as NSString).deletingLastPathComponent
        let checkpoint = dir + "/runs/model.safetensors"
        try FileManager.default.createDirectory(atPath: dir + "/runs", withIntermediateDirectories: true)
        // A 16 MB checkpoint whose every value is the run's number.
        let save = dir + "/save.prune"
        try "w = zeros([2048, 2048]) + param(\"n\", 0)\nsave({w: w}, \"\(checkpoint)\")\n"
            .write(toFile: save, atomically: true, encoding: .utf8)
        // Each render stores a 12 MB blob under a new key; the cache may hold 40 MB.
        let notebook = dir + "/nb.prune"
        try """
            # %% Data
            n = param("n", 0)
            big = randn([3000000]) + n
            print("n", n)
            # %% Figure
            t = table()
            add(t, x=1, y=n)
            add(t, x=2, y=2)
            plot(t, x="x", y="y")
            # %% Done
            print("done", n)
            """.write(toFile: notebook, atomically: true, encoding: .utf8)
        let limitMB = 40
        func saveArgs(_ n: Int) -> [String] { [save, "--set", "n=\(n)"] }
        func renderArgs(_ n: Int) -> [String] {
            ["render", notebook, "-o", dir + "/nb.html", "--set", "n=\(n)", "--cache-size", "\(limitMB)", "-q"]
        }

        // How long an undisturbed run takes sets the range of the random moments.
        var t0 = Date()
        #expect(try finish(saveArgs(0)) == 0)
        let saveSeconds = Date().timeIntervalSince(t0)
        t0 = Date()
        #expect(try finish(renderArgs(0)) == 0)
        let renderSeconds = Date().timeIntervalSince(t0)

        var killed = 0
        var moments: [String] = []
        for i in 1...20 {
            let isSave = i % 2 == 1
            let delay = Double.random(in: 0...(isSave ? saveSeconds : renderSeconds) * 1.1)
            moments.append("\(isSave ? "save" : "render") killed at \(Int(delay * 1000)) ms")
            let p = try startPrune(isSave ? saveArgs(i) : renderArgs(i))
            usleep(UInt32(delay * 1_000_000))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); killed += 1 }
            p.waitUntilExit()
            // Between kills, what exists is whole: the checkpoint loads with one value throughout.
            if isSave {
                let check = try runPrune(["-e", "w = load(\"\(checkpoint)\").w\nprint(min(w) == max(w), shape(w))"])
                #expect(check.stdout == "true [2048, 2048]\n", "after \(moments.last ?? ""): \(check.stdout) \(check.stderr)")
            } else if FileManager.default.fileExists(atPath: dir + "/nb.html") {
                let html = (try? String(contentsOfFile: dir + "/nb.html", encoding: .utf8)) ?? ""
                #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"), "after \(moments.last ?? "")")
            }
        }
        #expect(killed >= 5, "too few runs were killed before they ended: \(moments)")

        #expect(try finish(saveArgs(100)) == 0)
        #expect(try finish(renderArgs(100)) == 0)
        let left = tree(dir).filter(isTemporary)
        #expect(left.isEmpty, "temporary files left: \(left); \(moments)")
        #expect(tree(dir + "/.prune-cache/tmp").isEmpty, "\(tree(dir + "/.prune-cache/tmp"))")
        let check = try runPrune(["-e", "w = load(\"\(checkpoint)\").w\nprint(min(w), max(w))"])
        #expect(check.stdout == "100 100\n", "\(check.stderr)")
        let html = (try? String(contentsOfFile: dir + "/nb.html", encoding: .utf8)) ?? ""
        #expect(html.contains("done 100") && html.hasSuffix("</html>\n"))
        let cacheBytes = treeBytes(dir + "/.prune-cache")
        #expect(cacheBytes <= limitMB << 20, "the cache holds \(cacheBytes >> 20) MB, over its \(limitMB) MB bound; \(moments)")
        try? FileManager.default.removeItem(atPath: dir)
    }
}

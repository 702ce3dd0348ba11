// The generated sbatch array script, against a golden file, and the Slurm options' checks.
import Testing
@testable import Sweeps
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SlurmScriptTests {
    static let golden: String = {
        let here = String(#filePath)
        return String(here[..<(here.lastIndex(of: "/") ?? here.endIndex)]) + "/golden/sweep.sbatch"
    }()

    @Test func arrayScriptMatchesTheGoldenFile() throws {
        var o = SlurmOptions()
        try o.set("partition", "main", what: "test")
        try o.set("time", "00:30:00", what: "test")
        try o.set("mem", "4G", what: "test")
        try o.set("cpus-per-task", "2", what: "test")
        try o.set("max-running", "3", what: "test")
        try o.set("sbatch", "--account=lab", what: "test")
        let text = SlurmBackend.script(directory: "/shared/sweeps/grid", binary: "/opt/prune/bin/prune", count: 12, options: o)
        let expected = try #require(readText(SlurmScriptTests.golden))
        #expect(text == expected)
    }

    @Test func foldersSlurmCannotNameAreRefused() {
        for d in ["/a b", "/a'b", "/a%b", "/a\"b"] {
            #expect { try SlurmBackend.checkFolder(d) } throws: { e in (e as? SweepError)?.message.contains("#SBATCH") == true }
        }
    }

    @Test func optionsAreChecked() {
        var o = SlurmOptions()
        for (k, v, message) in [("nodes", "2", "unknown Slurm setting 'nodes'"), ("cpus-per-task", "0", "cpus-per-task must be"),
                                ("max-running", "x", "max-running must be"), ("sbatch", "account=lab", "start with --"),
                                ("time", "", "needs a one-line value")] {
            #expect { try o.set(k, v, what: "--\(k)") } throws: { e in (e as? SweepError)?.message.contains(message) == true }
        }
    }
}

private func readText(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

// Script input that used to crash or exhaust the process (issue 25): each case must end with a
// clear located error (or succeed), never a signal, a fatal error or a hang.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs prune with a time limit; a run still going after `timeout` seconds is killed (and then
/// reports status -1).
func runPruneBounded(_ args: [String], env: [String: String] = [:], cwd: String? = nil, timeout: Double = 60) throws -> RunResult {
    let p = Process()
    p.executableURL = pruneBinary()
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prune-hard-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    var killed = false
    while p.isRunning {
        if Date() > deadline { kill(p.processIdentifier, SIGKILL); killed = true; break }
        usleep(20_000)
    }
    p.waitUntilExit()
    try out.close(); try err.close()
    let o = (try? Data(contentsOf: outURL)) ?? Data(), e = (try? Data(contentsOf: errURL)) ?? Data()
    let status: Int32 = killed ? -1 : (p.terminationReason == .uncaughtSignal ? -p.terminationStatus : p.terminationStatus)
    return RunResult(status: status, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Expects `code` (run with -e) to stop with a located error whose message contains `message`.
func expectLocatedError(_ code: String, _ message: String = "", env: [String: String] = [:],
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try runPruneBounded(["-e", code], env: env)
    #expect(r.status == 1, "\(code): status \(r.status)\nstderr: \(r.stderr.prefix(2000))", sourceLocation: sourceLocation)
    #expect(r.stderr.range(of: #":[0-9]+:[0-9]+: error: "#, options: .regularExpression) != nil,
            "\(code): no located error: \(r.stderr.prefix(2000))", sourceLocation: sourceLocation)
    #expect(!r.stderr.contains("<call>:0:0") && !r.stderr.contains("Fatal error"), "\(code): \(r.stderr.prefix(2000))", sourceLocation: sourceLocation)
    if !message.isEmpty {
        #expect(r.stderr.contains(message), "\(code): expected '\(message)' in: \(r.stderr.prefix(2000))", sourceLocation: sourceLocation)
    }
}

@Suite struct PruneHardening {
    @Test func deeplyNestedValuesAreFreedWithoutCrashing() throws {
        for code in ["x = []; for i in 1:200000 x = [x] end; 1",
                     "r = {a: 1}; for i in 1:200000 r = {a: r} end; 1",
                     "x = []; for i in 1:100000 x = [{a: x}] end; x = nil; 2",
                     "t = table(); for i in 1:100000 u = table(); add(u, a=t); t = u end; 3"] {
            let r = try runPruneBounded(["-e", code])
            #expect(r.status == 0, "\(code): status \(r.status)\nstderr: \(r.stderr.prefix(2000))")
        }
    }

    @Test func runOfItselfStopsAtTheCallDepthLimit() throws {
        let path = try tempScript("run(\"self.prune\")\n", name: "self.prune")
        let dir = (path as NSString).deletingLastPathComponent
        // run() resolves relative paths against the working directory: run the script from its folder.
        let s = try runPruneBounded(["self.prune"], cwd: dir)
        #expect(s.status == 1, "status \(s.status)\nstderr: \(s.stderr.prefix(2000))")
        #expect(s.stderr.contains("self.prune:1:1: error:"), "stderr: \(s.stderr.prefix(2000))")
        #expect(s.stderr.contains("nested calls"), "stderr: \(s.stderr.prefix(2000))")
    }

    @Test func hugeRangesAreRejectedBeforeExpanding() throws {
        let huge = "0:10^12"
        for code in ["sum(\(huge))", "mean(\(huge))", "max(\(huge))", "min(\(huge))", "zeros(\(huge))", "ones(\(huge))",
                     "randn(\(huge))", "rand(\(huge))", "mlp(\(huge))", "resnet(widths=\(huge))",
                     "fashion_mnist(\"train\", classes=\(huge))", "synthetic(shape=\(huge))",
                     "normalize(synthetic(classes=2, per_class=2, shape=[1, 2, 2]), mean=\(huge))",
                     "tensor(\(huge))"] {
            try expectLocatedError(code)
        }
    }

    @Test func operationOutputsAreSizeCheckedBeforeAllocating() throws {
        for code in ["zeros([100000, 1]) + zeros([1, 100000])", "zeros([100000, 1]) - zeros([1, 100000])",
                     "zeros([100000, 1]) * zeros([1, 100000])", "zeros([100000, 1]) > zeros([1, 100000])",
                     "zeros([100000, 1]) @ zeros([1, 100000])",
                     "sum(zeros([0, 100000, 100000]), axis=0)", "zeros([100000, 0]) @ zeros([0, 100000])",
                     "zeros([0, 10^14, 10^14])", "sum(zeros([0, 10^14, 10^14]), axis=0)",
                     "zeros([10^14, 0]) @ zeros([0, 10^14])", "x = zeros([0, 10^6]); x @ transpose(x)"] {
            try expectLocatedError(code)
        }
    }

    @Test func loadedSafetensorsShapesAreSizeChecked() throws {
        let header = #"{"w":{"dtype":"F32","shape":[0,100000,100000],"data_offsets":[0,0]}}"#
        var bytes = [UInt8](repeating: 0, count: 8)
        var n = UInt64(header.utf8.count)
        for i in 0..<8 { bytes[i] = UInt8(n & 0xff); n >>= 8 }
        bytes += Array(header.utf8)
        let path = try tempScript("", name: "zero.safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try expectLocatedError("w = load(\"\(path)\")\nsum(w[\"w\"], axis=0)")
    }

    @Test func stringAndFigureGrowthIsBounded() throws {
        try expectLocatedError("s = \"abcdefgh\"; for i in 1:40 s = str([s, s]) end", "too long")
        try expectLocatedError("p = hist(randn([10])); for i in 1:40 p = panels([p, p]) end", "panels")
    }

    @Test func scriptAndHistoryReadsAreBounded() throws {
        try expectLocatedError("run(\"/dev/zero\")", "run")
        let r = try runPruneBounded(["-q"], env: ["PRUNE_HISTORY": "/dev/zero"], timeout: 60)
        #expect(r.status == 0, "status \(r.status): \(r.stderr.prefix(2000))")
        let f = try runPruneBounded(["/dev/zero"], timeout: 60)
        #expect(f.status == 1 || f.status == 2, "status \(f.status): \(f.stderr.prefix(2000))")
        #expect(f.stderr.contains("/dev/zero"), "\(f.stderr.prefix(2000))")
    }

    @Test func plotsOfExtremeDataDoNotTrap() throws {
        for code in ["hist(ones([10]) * 1e20, file=\"/dev/null\")", "hist(ones([10]) * 1e300, bins=50)",
                     "t = table(); add(t, x=0, y=1); add(t, x=1e-310, y=2); plot(t, x=\"x\", y=\"y\", file=\"/dev/null\")",
                     "t = table(); add(t, x=-1e308, y=1); add(t, x=1e308, y=2); plot(t, x=\"x\", y=\"y\", file=\"/dev/null\")"] {
            let r = try runPruneBounded(["-e", code])
            #expect(r.status == 0 || (r.status == 1 && r.stderr.contains("error:")), "\(code): status \(r.status)\n\(r.stderr.prefix(2000))")
            #expect(!r.stderr.contains("Fatal error"), "\(code): \(r.stderr.prefix(2000))")
        }
    }
}

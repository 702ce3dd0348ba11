// End-to-end tests of the built `prune` binary.
import Foundation
import Testing

/// The binary under test: $PRUNE_BINARY (set by scripts/test), else the release build.
func pruneBinary() -> URL {
    if let p = ProcessInfo.processInfo.environment["PRUNE_BINARY"] { return URL(fileURLWithPath: p) }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for dir in [".build-test/release", ".build/release"] {
        let u = root.appendingPathComponent(dir).appendingPathComponent("prune")
        if FileManager.default.isExecutableFile(atPath: u.path) { return u }
    }
    return root.appendingPathComponent(".build/release/prune")
}

struct RunResult { var status: Int32; var stdout: String; var stderr: String }

/// Runs prune with `args`, `stdin` piped in and `env` added to the environment.
func runPrune(_ args: [String], stdin: String? = nil, env: [String: String] = [:]) throws -> RunResult {
    let p = Process()
    p.executableURL = pruneBinary()
    p.arguments = args
    if !env.isEmpty {
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
    }
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out; p.standardError = err; p.standardInput = inp
    try p.run()
    if let stdin { inp.fileHandleForWriting.write(stdin.data(using: .utf8) ?? Data()) }
    try inp.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

@Suite struct PruneBinary {
    @Test func binaryExists() {
        #expect(FileManager.default.isExecutableFile(atPath: pruneBinary().path), "build prune first: \(pruneBinary().path)")
    }

    @Test func printsVersion() throws {
        let r = try runPrune(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test func unknownDemoModelIsAClearError() throws {
        let r = try runPrune(["--demo", "alexnet"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("unknown model 'alexnet'"))
    }

    @Test func badOptionIsAUsageError() throws {
        let r = try runPrune(["--epochs", "many"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("epochs"))
    }

    @Test func missingDataIsAClearError() throws {
        let p = Process()
        p.executableURL = pruneBinary()
        p.arguments = ["--demo", "mlp", "--epochs", "1"]
        var env = ProcessInfo.processInfo.environment
        env["PRUNE_FASHION_MNIST"] = "/nonexistent/fashion"
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        #expect(e.contains("/nonexistent/fashion"))
    }

    @Test func demoTrainsAndReportsAccuracy() throws {
        let r = try runPrune(["--demo", "mlp", "--epochs", "1", "-q"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("epoch 1") }
        #expect(line != nil)
        let acc = line?.split(separator: " ").split(separator: "acc").last?.first.flatMap { Double($0) }
        #expect((acc ?? 0) > 0.80, "demo test accuracy in: \(line ?? "")")
    }
}

@Suite struct PruneInterrupt {
    /// Ctrl-C stops training after the current step; the process reports it and exits with 130.
    @Test func sigintStopsTrainingCleanly() throws {
        let p = Process()
        p.executableURL = pruneBinary()
        p.arguments = ["--demo", "cnn", "--epochs", "5", "-q"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        Thread.sleep(forTimeInterval: 4)   // past start-up and data loading, into training
        p.interrupt()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit, "the process exits normally, not killed by the signal")
        #expect(p.terminationStatus == 130)
        #expect(o.contains("interrupted"))
    }
}

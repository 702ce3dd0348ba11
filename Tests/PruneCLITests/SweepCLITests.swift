// `prune sweep` end to end: the local backend (gathering, reruns, failures, Ctrl-C), bad grids,
// sweep(...) in the language, and a real single-node Slurm cluster (scripts/slurm-up).
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A script for sweeps: reads keep, method and seed, records one row; method "bad" fails and
/// method "slow" runs until interrupted.
private let sweepScript = """
    keep = param("keep", 0.5)
    method = param("method", "magnitude")
    s = param("seed", 0)
    if method == "bad"
      undefined_builtin(1)
    end
    if method == "slow"
      while true
        keep = keep
      end
    end
    record(acc=keep * 10 + s, method_seen=method)
    """

private func csvRows(_ path: String) throws -> [[String]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
}

private func resultFiles(_ dir: String) -> [String] {
    let points = dir + "/points"
    let keys = (try? FileManager.default.contentsOfDirectory(atPath: points)) ?? []
    return keys.map { points + "/" + $0 + "/result.csv" }.filter { FileManager.default.fileExists(atPath: $0) }.sorted()
}

@Suite(.serialized) struct SweepCLITests {
    @Test func twelvePointsGatherRerunNothingAndRerunOnlyTheMissing() throws {
        let script = try tempScript(sweepScript, name: "grid.prune")
        let dir = (script as NSString).deletingLastPathComponent
        let out = dir + "/out"
        let args = ["sweep", script, "--grid", "method=magnitude,movement", "--grid", "keep=0.5,0.1,0.03", "--seeds", "2", "--jobs", "2", "--out", out]
        let first = try runPrune(args)
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(first.stdout.contains("12/12 points done; 12 rows"))
        let rows = try csvRows(out + "/results.csv")
        #expect(rows.first == ["method", "keep", "seed", "acc", "method_seen"])
        #expect(rows.count == 13)
        // Every point's settings are in its row, and the row is what that point recorded.
        var seen = Set<String>()
        for r in rows.dropFirst() {
            #expect(r[0] == r[4])
            let keep = try #require(Double(r[1])), seed = try #require(Double(r[2])), acc = try #require(Double(r[3]))
            #expect(abs(acc - (keep * 10 + seed)) < 1e-9)
            seen.insert(r[0] + r[1] + r[2])
        }
        #expect(seen.count == 12)

        // A second run runs nothing.
        let stamps = try resultFiles(out).map { try FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
        let second = try runPrune(args)
        #expect(second.status == 0)
        #expect(second.stderr.contains("12 of 12 points already done; running 0"))
        #expect(try resultFiles(out).map { try FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date } == stamps)

        // Deleting one result reruns only that point.
        let victim = try #require(resultFiles(out).first)
        try FileManager.default.removeItem(atPath: victim)
        let third = try runPrune(args)
        #expect(third.status == 0)
        #expect(third.stderr.contains("11 of 12 points already done; running 1"))
        #expect(FileManager.default.fileExists(atPath: victim))
        #expect(try csvRows(out + "/results.csv") == rows)

        // --force reruns everything.
        let forced = try runPrune(args + ["--force"])
        #expect(forced.status == 0)
        #expect(!forced.stderr.contains("already done"))
    }

    @Test func aFailingPointIsReportedAndTheOthersComplete() throws {
        let script = try tempScript(sweepScript, name: "fails.prune")
        let out = (script as NSString).deletingLastPathComponent + "/out"
        let r = try runPrune(["sweep", script, "--grid", "method=magnitude,bad,movement", "--seeds", "2", "--jobs", "2", "--out", out])
        #expect(r.status == 1)
        #expect(r.stdout.contains("4/6 points done, 2 failed; 4 rows"))
        #expect(r.stderr.contains("point 2 (method=bad seed=0) failed: exit status 1"))
        #expect(r.stderr.contains("undefined variable 'undefined_builtin'"), "the log's last lines: \(r.stderr)")
        #expect(try csvRows(out + "/results.csv").count == 5)
        // The failed points run again next time; the done ones do not.
        let again = try runPrune(["sweep", script, "--grid", "method=magnitude,bad,movement", "--seeds", "2", "--out", out])
        #expect(again.stderr.contains("4 of 6 points already done; running 2"))
    }

    @Test func badGridsFailBeforeAnythingRuns() throws {
        let script = try tempScript(sweepScript, name: "bad.prune")
        let out = (script as NSString).deletingLastPathComponent + "/out"
        for (args, message) in [
            (["--grid", "kepp=0.1"], "never reads param(\"kepp\") (it reads keep, method, seed) (did you mean 'keep'?)"),
            (["--grid", "keep="], "the value list of 'keep' is empty"),
            (["--grid", "keep"], "expected name=value1,value2"),
            (["--grid", "keep=1", "--seeds", "0"], "--seeds 0: the count must be between 1"),
            (["--grid", "keep=1", "--backend", "cloud"], "--backend must be local or slurm"),
        ] {
            let r = try runPrune(["sweep", script, "--out", out] + args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(args) created the sweep folder")
        }
    }

    @Test func ctrlCStopsTheWorkersAndKeepsFinishedPoints() throws {
        let script = try tempScript(sweepScript, name: "interrupt.prune")
        let out = (script as NSString).deletingLastPathComponent + "/out"
        let p = Process()
        p.executableURL = pruneBinary()
        p.arguments = ["sweep", script, "--grid", "method=magnitude,slow", "--seeds", "2", "--jobs", "2", "--out", out]
        p.standardOutput = Pipe(); p.standardError = Pipe()
        try p.run()
        // The two magnitude points finish; the slow ones then run until interrupted.
        let deadline = Date().addingTimeInterval(60)
        while resultFiles(out).count < 2 && Date() < deadline { usleep(50_000) }
        #expect(resultFiles(out).count == 2)
        usleep(300_000)
        kill(p.processIdentifier, SIGINT)
        let stopDeadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < stopDeadline { usleep(50_000) }
        #expect(!p.isRunning, "the sweep did not stop on SIGINT")
        if p.isRunning { p.terminate(); return }
        #expect(p.terminationStatus == 130)
        #expect(resultFiles(out).count == 2)
        // No worker is left behind, and the stopped points count as not run (not failed).
        let status = try runPrune(["sweep", "--status", out])
        #expect(status.stdout.contains("2 done, 0 failed, 2 not run"), "\(status.stdout)")
        let ps = try runShell("ps -eo args | grep -c '[i]nterrupt.prune' || true")
        #expect(ps.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func sweepInTheLanguageReturnsTheTable() throws {
        let script = try tempScript(sweepScript, name: "lang.prune")
        let dir = (script as NSString).deletingLastPathComponent
        let r = try runPrune(["-e", """
            t = sweep("\(script)", grid={keep: [0.5, 0.1], method: "movement"}, seeds=[3], jobs=2, out="\(dir)/o")
            len(t.rows)
            """])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("2\n"))
        let rows = try csvRows(dir + "/o/results.csv")
        #expect(rows == [["keep", "method", "seed", "acc", "method_seen"], ["0.5", "movement", "3", "8", "movement"], ["0.1", "movement", "3", "4", "movement"]])
        let bad = try runPrune(["-e", "sweep(\"\(script)\", grid={kepp: [1]})"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("error: sweep: grid kepp: "), "\(bad.stderr)")
    }

    @Test func recordWritesTheRowsAndRequiresOne() throws {
        let dir = (try tempScript("", name: "x.prune") as NSString).deletingLastPathComponent
        let ok = try runPrune(["-e", "t = table(); add(t, a=1); add(t, a=2, b=\"x\"); record(t); record(a=3)", "--record", dir + "/r.csv"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try String(contentsOfFile: dir + "/r.csv", encoding: .utf8) == "a,b\n1,\n2,x\n3,\n")
        let none = try runPrune(["-e", "1", "--record", dir + "/none.csv"])
        #expect(none.status == 1)
        #expect(none.stderr.contains("the script recorded no result"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/none.csv"))
        let wrong = try runPrune(["-e", "record(m=mlp([2, 2]))"])
        #expect(wrong.stderr.contains("record: column 'm' holds a model"))
    }

    @Test func aNotebookCellWithASweepRerunsWhenTheSweptScriptChanges() throws {
        let script = try tempScript(sweepScript, name: "swept.prune")
        let dir = (script as NSString).deletingLastPathComponent
        let notebook = dir + "/nb.prune"
        try """
            # %% Sweep
            t = sweep("\(script)", grid={keep: [0.5, 0.1]}, jobs=2, out="\(dir)/nbsweep")
            print(len(t.rows))
            """.write(toFile: notebook, atomically: true, encoding: .utf8)
        let first = try runPrune(["render", notebook, "-o", dir + "/nb.md"])
        #expect(first.status == 0, "\(first.stderr)")
        let cached = try runPrune(["render", notebook, "-o", dir + "/nb.md"])
        #expect(cached.stderr.contains("0 cells ran, 1 from the cache"), "\(cached.stderr)")
        try (sweepScript + "\n# edited\n").write(toFile: script, atomically: true, encoding: .utf8)
        let edited = try runPrune(["render", notebook, "-o", dir + "/nb.md"])
        #expect(edited.stderr.contains("1 cells ran") || edited.stderr.contains("1 cell ran"), "\(edited.stderr)")
        #expect(try String(contentsOfFile: dir + "/nbsweep/sweep.conf", encoding: .utf8).contains("swept.prune"))
    }

    /// A real single-node cluster, started by scripts/slurm-up (scripts/test runs it first). If
    /// it cannot start here, this fails with the daemons' own error.
    @Test func slurmRunsTheSweepAndGathersTheSameTableAsLocal() throws {
        let info = try runShell("sinfo -h -N -o '%N %T' 2>&1 || echo 'sinfo failed'")
        guard info.contains("idle") || info.contains("mixed") || info.contains("alloc") else {
            let logs = try runShell("tail -n 20 /var/tmp/prune-slurm/slurmctld.log /var/tmp/prune-slurm/slurmd.log 2>&1 || true")
            Issue.record("no Slurm node is up (scripts/slurm-up starts one): sinfo says: \(info)\n\(logs)")
            return
        }
        let script = try tempScript(sweepScript, name: "cluster.prune")
        let dir = (script as NSString).deletingLastPathComponent
        let grid = ["--grid", "method=magnitude,movement", "--grid", "keep=0.5,0.1,0.03"]
        let slurm = try runPrune(["sweep", script] + grid + ["--backend", "slurm", "--max-running", "2", "--out", dir + "/slurm"])
        #expect(slurm.status == 0, "stdout: \(slurm.stdout)\nstderr: \(slurm.stderr)")
        #expect(slurm.stderr.contains("submitted Slurm job"))
        let local = try runPrune(["sweep", script] + grid + ["--jobs", "2", "--out", dir + "/local"])
        #expect(local.status == 0)
        #expect(try csvRows(dir + "/slurm/results.csv") == csvRows(dir + "/local/results.csv"))
        #expect(try csvRows(dir + "/slurm/results.csv").count == 7)
        let sbatch = try String(contentsOfFile: dir + "/slurm/slurm/sweep.sbatch", encoding: .utf8)
        #expect(sbatch.contains("#SBATCH --array=0-5%2"))
        let status = try runPrune(["sweep", "--status", dir + "/slurm"])
        #expect(status.stdout.contains("6 done, 0 failed, 0 not run"))
        #expect(status.stdout.contains("Slurm job"))
    }
}

func runShell(_ command: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

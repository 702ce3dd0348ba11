// The grid: parsing --grid and --seeds, the points and their keys, and the check against the
// settings a script reads.
import Testing
import Language
import Bindings
import Notebooks
@testable import Sweeps

@Suite struct GridTests {
    @Test func parsesAxesAndSeeds() throws {
        let g = try SweepGrid.parse(grid: ["method=magnitude, movement", "keep=0.5,0.1,0.03"], seeds: "2")
        #expect(g.axes == [SweepAxis(name: "method", values: ["magnitude", "movement"]), SweepAxis(name: "keep", values: ["0.5", "0.1", "0.03"])])
        #expect(g.seeds == [0, 1])
        #expect(try SweepGrid.parseSeeds("0,5,7") == [0, 5, 7])
        let points = g.points(script: "x = param(\"keep\")", version: "1")
        #expect(points.count == 12)
        #expect(points[0].label == "method=magnitude keep=0.5 seed=0")
        #expect(points[1].label == "method=magnitude keep=0.5 seed=1")
        #expect(points[11].label == "method=movement keep=0.03 seed=1")
        #expect(Set(points.map(\.key)).count == 12)
    }

    @Test func keysDependOnScriptSettingsSeedAndVersion() throws {
        let g = try SweepGrid.parse(grid: ["keep=0.5"], seeds: "1")
        let a = g.points(script: "s", version: "1")[0].key
        #expect(g.points(script: "s", version: "1")[0].key == a)
        #expect(g.points(script: "s ", version: "1")[0].key != a)
        #expect(g.points(script: "s", version: "2")[0].key != a)
        #expect(try SweepGrid.parse(grid: ["keep=0.1"], seeds: "1").points(script: "s", version: "1")[0].key != a)
        #expect(try SweepGrid.parse(grid: ["keep=0.5"], seeds: "3").points(script: "s", version: "1")[1].key != a)
        // The order of the axes does not matter, only the settings.
        let ab = try SweepGrid.parse(grid: ["a=1", "b=2"], seeds: "1").points(script: "s", version: "1")[0].key
        let ba = try SweepGrid.parse(grid: ["b=2", "a=1"], seeds: "1").points(script: "s", version: "1")[0].key
        #expect(ab == ba)
    }

    @Test(arguments: [
        ("keep", "expected name=value1,value2"),
        ("keep=", "the value list of 'keep' is empty"),
        ("keep=0.5,,0.1", "an empty value"),
        ("1keep=0.5", "is not a setting name"),
        ("keep=0.5,0.5", "appears twice"),
        ("seed=1,2", "seeds are given by --seeds"),
    ])
    func badGridsSayWhy(spec: String, message: String) {
        #expect { _ = try SweepGrid.parse(grid: [spec], seeds: "1") } throws: { e in
            (e as? SweepError)?.message.contains(message) == true
        }
    }

    @Test func badSeedsAndDuplicateAxes() {
        for s in ["0", "-1", "a", "1,1", ""] {
            #expect(throws: SweepError.self) { _ = try SweepGrid.parseSeeds(s) }
        }
        #expect { _ = try SweepGrid.parse(grid: ["keep=1", "keep=2"], seeds: "1") } throws: { e in
            (e as? SweepError)?.message.contains("given twice") == true
        }
        #expect { _ = try SweepGrid.parse(grid: ["a=1,2,3,4,5,6,7,8,9,10", "b=1,2,3,4,5,6,7,8,9,10"], seeds: "1001") } throws: { e in
            (e as? SweepError)?.message.contains("more than") == true
        }
    }

    @Test func settingsTheScriptReads() throws {
        let read = try #require(SettingsRead.scan("""
            quick = param("quick", false)
            def f(x)
              return param("lr", 0.1) * x
            end
            for k in [param("keep", 0.5)]
              print("${param("inner")}")
            end
            """))
        #expect(read.names == ["quick", "lr", "keep", "inner"])
        #expect(read.complete)
        #expect(SettingsRead.scan("n = \"keep\"; param(n)")?.complete == false)
        #expect(SettingsRead.scan("g = param; g(\"keep\")")?.complete == false)
        #expect(SettingsRead.scan("run(\"other.prune\")")?.complete == false)
        #expect(SettingsRead.scan("x = (") == nil)
        // A script's own function called run is not the builtin that runs other scripts.
        #expect(SettingsRead.scan("def run(s)\n  return s\nend\nrepeat(run, seeds=2); param(\"k\")") == SettingsRead(names: ["k"], complete: true))

        let g = try SweepGrid.parse(grid: ["kepp=0.1"], seeds: "1")
        #expect { try g.check(against: read, script: "t.prune") } throws: { e in
            let m = (e as? SweepError)?.message ?? ""
            return m.contains("never reads param(\"kepp\")") && m.contains("did you mean 'keep'")
        }
        try SweepGrid.parse(grid: ["keep=0.1"], seeds: "1").check(against: read, script: "t.prune")
        // A script that computes setting names cannot be checked: any name passes.
        try g.check(against: SettingsRead(names: [], complete: false), script: "t.prune")
    }

    @Test func sweepFiles() throws {
        let f = try SweepFile.parse("""
            # a sweep
            script = t.prune
            seeds = 0,3
            jobs = 2
            [grid]
            method = magnitude, movement
            [slurm]
            partition = main
            max-running = 2
            sbatch = --account=lab
            """, file: "dir/t.sweep")
        #expect(f.script == "dir/t.prune")
        #expect(f.seeds == "0,3")
        #expect(f.jobs == 2)
        #expect(f.grid == [SweepAxis(name: "method", values: ["magnitude", "movement"])])
        #expect(f.slurm.partition == "main" && f.slurm.maxRunning == 2 && f.slurm.extra == ["--account=lab"])
        #expect { _ = try SweepFile.parse("script = t.prune\n[slurm]\nnodes = 3\n", file: "t.sweep") } throws: { e in
            (e as? SweepError)?.message.hasPrefix("t.sweep:3: unknown Slurm setting 'nodes'") == true
        }
        #expect { _ = try SweepFile.parse("seeds = 2\n", file: "t.sweep") } throws: { e in
            (e as? SweepError)?.message.contains("'script = FILE.prune' is missing") == true
        }
        #expect { _ = try SweepFile.parse("script = t.prune\n[grid]\nkeep =\n", file: "t.sweep") } throws: { e in
            (e as? SweepError)?.message.hasPrefix("t.sweep:3: --grid keep=: the value list") == true
        }
    }
}

// A sweep file: the grid, seeds and resources of a sweep kept beside the script, so the command
// line shrinks to `prune sweep grid.sweep`.
//
//     # tutorials/03-sparse-transfer.sweep
//     script = 03-sparse-transfer.prune      # relative to this file
//     seeds = 3
//     jobs = 2
//     backend = local                        # or slurm
//     out = sweeps/sparse-transfer
//
//     [grid]
//     method = magnitude, movement
//     keep = 0.5, 0.1, 0.03
//
//     [slurm]
//     partition = main
//     time = 00:30:00
//     cpus-per-task = 1
//     max-running = 4
import FileIO

/// A parsed sweep file; command-line flags override its values.
public struct SweepFile {
    public var script: String
    public var grid: [SweepAxis] = []
    public var seeds: String?
    public var jobs: Int?
    public var backend: String?
    public var out: String?
    public var slurm = SlurmOptions()

    /// Reads the sweep file at `path`.
    public static func load(_ path: String) throws -> SweepFile {
        let text: String
        do { text = String(decoding: try WholeFile.readAll(path), as: UTF8.self) } catch let e as FileError { throw SweepError(e.message) }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> SweepFile {
        let kv = try KeyValueFile.parse(text, file: file)
        let folder = file.contains("/") ? String(file[..<(file.lastIndex(of: "/") ?? file.endIndex)]) : "."
        guard let script = kv.value("script") else { throw SweepError("\(file): 'script = FILE.prune' is missing") }
        var result = SweepFile(script: script.hasPrefix("/") || folder == "." ? script : folder + "/" + script)
        for e in kv.entries {
            let at = "\(file):\(e.line)"
            switch (e.section, e.key) {
            case ("", "script"): break
            case ("", "seeds"): result.seeds = e.value
            case ("", "jobs"):
                guard let n = Int(e.value), n >= 1 else { throw SweepError("\(at): jobs must be a whole number ≥ 1") }
                result.jobs = n
            case ("", "backend"): result.backend = e.value
            case ("", "out"): result.out = e.value.hasPrefix("/") || folder == "." ? e.value : folder + "/" + e.value
            case ("grid", _):
                do { result.grid.append(try SweepAxis.parse("\(e.key)=\(e.value)")) } catch let err as SweepError {
                    throw SweepError("\(at): " + err.message)
                }
            case ("slurm", _): try result.slurm.set(e.key, e.value, what: at)
            case ("", _): throw SweepError("\(at): unknown setting '\(e.key)' (known: script, seeds, jobs, backend, out, and the [grid] and [slurm] sections)")
            default: throw SweepError("\(at): unknown section [\(e.section)] (known: [grid], [slurm])")
            }
        }
        return result
    }
}

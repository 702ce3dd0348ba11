// The cost of a paper figure: 8 series × 10 x values × 5 seeds (400 rows) aggregated into
// mean ± sd bands and rendered to PNG at the default 6.4 × 4.8 in and 150 dpi; median of runs.
import FileIO
import Engine
import NN
import Plot
#if canImport(Glibc)
import Glibc
#endif

/// Times the figure from table to PNG file and returns `plot 8x10x5_seeds_png_ms -<median>`:
/// negated, as scripts/bench keeps the largest value over repeats and strips the sign.
func plotBenchLine(runs: Int = 9) -> String {
    var x: [Double] = [], y: [Double] = [], series: [String] = []
    var state: UInt64 = 42
    for s in 0..<8 {
        for i in 0..<10 {
            for _ in 0..<5 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let noise = Double(state >> 11) / Double(1 << 53) - 0.5
                x.append(Double(i)); series.append("method \(s)")
                y.append(Double(s) + sin(Double(i) / 3) + 0.3 * noise)
            }
        }
    }
    let rows: [String: PlotColumn] = ["step": .numbers(x), "acc": .numbers(y), "method": .strings(series)]
    let path = "/tmp/prune-bench-plot-\(getpid()).png"
    defer { unlink(path) }
    var times: [Double] = []
    for _ in 0..<runs {
        let t0 = monotonicSeconds()
        do {
            let fig = try Figure.line(rows: rows, x: "step", y: "acc", by: "method", errorStyle: .band)
            try fig.write(to: path, source: "prune-bench", timestamp: false)
        } catch {
            return "plot 8x10x5_seeds_png_ms error: \(error)"
        }
        times.append((monotonicSeconds() - t0) * 1000)
    }
    times.sort()
    return "plot 8x10x5_seeds_png_ms -\(fmt(times[times.count / 2], 1))"
}

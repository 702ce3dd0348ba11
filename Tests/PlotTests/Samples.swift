// Sample figures of every kind, from deterministic data, shared by the golden-image, output
// and preview tests.
import Foundation
@testable import Plot

/// A tiny deterministic generator (so goldens do not depend on any library's random numbers).
struct LCG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    mutating func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    /// Approximately standard normal (sum of 12 uniforms).
    mutating func normal() -> Double { (0..<12).reduce(0) { acc, _ in acc + uniform() } - 6 }
}

enum Samples {
    static let methods = ["magnitude", "movement", "soft movement"]
    static let keeps = [0.5, 0.3, 0.1, 0.05, 0.03, 0.01]

    /// Accuracy against fraction kept, three methods × three seeds.
    static func sweep() -> [String: PlotColumn] {
        var rng = LCG(1)
        var keep: [Double] = [], acc: [Double] = [], method: [String] = [], seed: [Double] = []
        for (m, name) in methods.enumerated() {
            for k in keeps {
                for s in 0..<3 {
                    let base = 0.92 - (0.5 - Double(m) * 0.12) * pow(1 - k, 6) * (0.3 + 0.7 * (1 - k))
                    keep.append(k); method.append(name); seed.append(Double(s))
                    acc.append(base + 0.012 * rng.normal())
                }
            }
        }
        return ["keep": .numbers(keep), "acc": .numbers(acc), "method": .strings(method), "seed": .numbers(seed)]
    }

    static func line() throws -> Figure {
        try Figure.line(rows: sweep(), x: "keep", y: "acc", by: "method", logX: true,
                        title: "Pruning while fine-tuning", xLabel: "fraction of weights kept", yLabel: "test accuracy")
    }

    static func band() throws -> Figure {
        try Figure.line(rows: sweep(), x: "keep", y: "acc", by: "method", err: .se, errorStyle: .band, logX: true,
                        xLabel: "fraction of weights kept", yLabel: "test accuracy")
    }

    static func bar() throws -> Figure {
        let layers = ["embed.weight", "layers.0.attn.qkv", "layers.0.mlp.fc1", "layers.0.mlp.fc2", "layers.1.attn.qkv",
                      "layers.1.mlp.fc1", "layers.1.mlp.fc2", "head.weight"]
        var layer: [String] = [], sparsity: [Double] = [], method: [String] = []
        for (m, name) in ["magnitude", "movement"].enumerated() {
            for (i, l) in layers.enumerated() {
                layer.append(l); method.append(name)
                sparsity.append(0.5 + 0.4 * sin(Double(i) * 0.9 + Double(m)) * 0.5 + Double(m) * 0.1)
            }
        }
        return try Figure.bar(rows: ["layer": .strings(layer), "sparsity": .numbers(sparsity), "method": .strings(method)],
                              x: "layer", y: "sparsity", by: "method", title: "Per-layer sparsity")
    }

    static func histogram() throws -> Figure {
        var rng = LCG(2)
        let before = (0..<3000).map { _ in 0.05 * rng.normal() }
        let after = before.filter { abs($0) > 0.04 }.map { $0 * 1.1 }
        let movement = (0..<2000).map { _ in 0.03 * rng.normal() + 0.01 }
        return try Figure.histogram([("dense", before), ("magnitude", after), ("movement", movement)], bins: 40,
                                    title: "Weight distribution", xLabel: "weight")
    }

    static func scatter() throws -> Figure {
        var rng = LCG(3)
        var w: [Double] = [], score: [Double] = []
        for _ in 0..<4000 {
            let a = 0.05 * rng.normal()
            w.append(a); score.append(-a * 0.8 + 0.02 * rng.normal())
        }
        return try Figure.scatter(rows: ["weight": .numbers(w), "movement score": .numbers(score)], x: "weight",
                                  y: "movement score", title: "Weights vs movement scores")
    }

    static func heatmap() throws -> Figure {
        let rows = 24, cols = 32
        let m: [Float] = (0..<(rows * cols)).map { i in
            Float(sin(Double(i % cols) / 5) * cos(Double(i / cols) / 4))
        }
        return try Figure.heatmap(matrix: m, rows: rows, cols: cols, title: "fc2 weights", colorLabel: "weight")
    }

    static func mask() throws -> Figure {
        var rng = LCG(4)
        let m: [Float] = (0..<(30 * 30)).map { _ in rng.uniform() < 0.3 ? 1 : 0 }
        return try Figure.heatmap(matrix: m, rows: 30, cols: 30, title: "mask (30 % kept)")
    }

    static func images() throws -> Figure {
        let names = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
        let ims: [[Float]] = names.indices.map { k in
            (0..<(28 * 28)).map { i in
                let x = Double(i % 28) - 13.5, y = Double(i / 28) - 13.5
                let r = (x * x + y * y).squareRoot()
                return Float(max(0, min(1, 0.5 + 0.5 * sin(r / Double(2 + k) + Double(k)) - r / 40)))
            }
        }
        return try Figure.images(ims, width: 28, height: 28, captions: names, title: "Fashion-MNIST samples")
    }

    static func curves() throws -> Figure {
        var rng = LCG(5)
        var epoch: [Double] = [], loss: [Double] = [], acc: [Double] = [], opt: [String] = []
        for (m, name) in ["sgd", "adam"].enumerated() {
            for _ in 0..<3 {
                for e in 1...40 {
                    let t = Double(e)
                    epoch.append(t); opt.append(name)
                    loss.append(2.3 * exp(-t / (8 - 3 * Double(m))) + 0.25 + 0.03 * rng.normal())
                    acc.append(0.9 - 0.8 * exp(-t / (6 - 2 * Double(m))) + 0.01 * rng.normal())
                }
            }
        }
        return try Figure.curves(rows: ["epoch": .numbers(epoch), "loss": .numbers(loss), "accuracy": .numbers(acc),
                                        "optimizer": .strings(opt)], x: "epoch", y: ["loss", "accuracy"], by: "optimizer",
                                 title: "Training curves")
    }

    static func panels() throws -> Figure {
        var fig = try Figure.panels([line(), bar(), histogram(), mask()], rows: 2, cols: 2, title: "Summary")
        fig.width = 9; fig.height = 6.5
        return fig
    }

    /// The line sample with the dense model's accuracy as a dashed baseline.
    static func baseline() throws -> Figure {
        try Figure.line(rows: sweep(), x: "keep", y: "acc", by: "method", logX: true, title: "with a dense baseline",
                        xLabel: "fraction of weights kept", yLabel: "test accuracy",
                        references: [ReferenceLine(value: 0.93, label: "dense (0.93)")])
    }

    /// Weights against scores, kept and pruned points apart, the threshold dashed.
    static func scatterMask() throws -> Figure {
        var rng = LCG(7)
        let w = (0..<3000).map { _ in 0.05 * rng.normal() }
        let score = w.map { 8 * $0 + 0.3 * rng.normal() }
        let t = score.sorted()[2700]
        return try Figure.scatter(x: w, y: score, kept: score.map { $0 >= t },
                                  references: [ReferenceLine(value: t, label: "threshold")], title: "kept and pruned",
                                  xLabel: "weight", yLabel: "score")
    }

    /// Two groups ten times apart in size, one row each.
    static func histogramRows() throws -> Figure {
        var rng = LCG(8)
        let dense = (0..<5000).map { _ in 0.05 * rng.normal() }
        let kept = dense.filter { abs($0) > 0.06 }
        return try Figure.histogram([("dense", dense), ("kept", kept)], bins: 40, stack: true, title: "rows", xLabel: "weight")
    }

    /// Every sample's name (the golden file's base name).
    static let names = ["line", "band", "bar", "histogram", "scatter", "heatmap", "mask", "images", "curves", "panels",
                        "baseline", "scatter_mask", "histogram_rows"]

    static func figure(_ name: String) throws -> Figure {
        switch name {
        case "line": return try line()
        case "band": return try band()
        case "bar": return try bar()
        case "histogram": return try histogram()
        case "scatter": return try scatter()
        case "heatmap": return try heatmap()
        case "mask": return try mask()
        case "images": return try images()
        case "curves": return try curves()
        case "panels": return try panels()
        case "baseline": return try baseline()
        case "scatter_mask": return try scatterMask()
        case "histogram_rows": return try histogramRows()
        default: throw PlotError("no sample '\(name)'")
        }
    }

    /// The 8 series × 10 points × 5 seeds figure of the benchmark.
    static func benchmark() throws -> Figure {
        var rng = LCG(6)
        var x: [Double] = [], y: [Double] = [], g: [String] = []
        for s in 0..<8 { for i in 0..<10 { for _ in 0..<5 {
            x.append(Double(i)); g.append("series \(s)"); y.append(Double(s) + sin(Double(i) / 3) + 0.2 * rng.normal())
        } } }
        return try Figure.line(rows: ["x": .numbers(x), "y": .numbers(y), "g": .strings(g)], x: "x", y: "y", by: "g",
                               errorStyle: .band)
    }
}

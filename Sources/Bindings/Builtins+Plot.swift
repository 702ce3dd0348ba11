// Figure builtins: plot, bar, hist, scatter, heatmap, images, curves, panels (and save for
// figures): thin adapters from tables, tensors and datasets to the Plot library.
import Language
import Engine
import NN
import Data
import Plot
import Pruning

/// A figure value: the figure and, once written, its path.
public final class FigureObject: ScriptObject {
    public var figure: Figure
    public var path: String?
    init(_ figure: Figure) { self.figure = figure }
    /// Told of every figure written to a file (`save`, `file=`), with the session that wrote
    /// it: a rendered notebook shows the figure under the cell that wrote it.
    nonisolated(unsafe) public static var written: ((FigureObject, Session) -> Void)?
    public var scriptTypeName: String { "figure" }
    public var scriptDisplay: String {
        let size = "\(formatNumber(figure.width))×\(formatNumber(figure.height)) in, \(formatNumber(figure.dpi)) dpi"
        let head = "figure (\(figure.panels.count == 1 ? "1 panel" : "\(figure.panels.count) panels"), \(size))" + (path.map { " → \($0)" } ?? "")
        return head + "\n" + figure.preview()
    }
    public var scriptFieldNames: [String] { ["path", "title", "width", "height", "dpi", "panels", "legend", "xlabels", "ylabels"] }
    public func scriptField(_ name: String) -> Value? {
        func strings(_ xs: [String]) -> Value { .list(ListRef(xs.map { .string($0) })) }
        switch name {
        case "panels": return .number(Double(figure.panels.count))
        case "legend": return strings(figure.panels.flatMap(\.legendLabels))
        case "xlabels": return strings(figure.panels.map { $0.x.label ?? "" })
        case "ylabels": return strings(figure.panels.map { $0.y.label ?? "" })
        case "path": return path.map { .string($0) } ?? .nil_
        case "title": return figure.title.map { .string($0) } ?? .nil_
        case "width": return .number(figure.width)
        case "height": return .number(figure.height)
        case "dpi": return .number(figure.dpi)
        default: return nil
        }
    }
}

extension EngineArgs {
    /// A table's columns for the Plot library: numbers where every cell is a number (nil → NaN),
    /// text otherwise.
    static func columns(_ t: Table) -> [String: PlotColumn] {
        var out: [String: PlotColumn] = [:]
        for c in t.columns {
            let cells = t.rows.map { $0[c] ?? .nil_ }
            if cells.allSatisfy({ if case .number = $0 { return true }; if case .nil_ = $0 { return true }; return false }) {
                out[c] = .numbers(cells.map { if case .number(let x) = $0 { return x } else { return .nan } })
            } else {
                out[c] = .strings(cells.map { if case .string(let s) = $0 { return s } else { return displayRaw($0) } })
            }
        }
        return out
    }

    static func dispersion(_ args: CallArgs) throws -> Dispersion {
        if !args.has("err") { return .none }
        switch try args.choice("err", ["sd", "se"]) {
        case "se": return .se
        default: return .sd
        }
    }

    /// Dashed reference lines from `name=`: a number (labelled `label`) or a record of label →
    /// number, each labelled with its value, e.g. `baseline={dense: 0.926}` → "dense (0.926)".
    static func references(_ args: CallArgs, _ name: String, label: String,
                           _ orientation: ReferenceLine.Orientation = .horizontal) throws -> [ReferenceLine] {
        var pairs: [(String, Double)] = []
        switch args.value(name) {
        case .nil_: return []
        case .number(let v): pairs = [(label, v)]
        case .record(let r):
            for (k, v) in r.pairs {
                guard case .number(let x) = v else {
                    throw BuiltinError("\(args.builtin): argument '\(name)': '\(k)' must be a number, got \(v.typeName)")
                }
                pairs.append((k, x))
            }
            guard !pairs.isEmpty else { throw args.wrong(name, "a number or a record of label → number") }
        default: throw args.wrong(name, "a number or a record of label → number")
        }
        return try pairs.enumerated().map { i, p in
            guard p.1.isFinite else { throw BuiltinError("\(args.builtin): argument '\(name)': '\(p.0)' is \(formatNumber(p.1)), not a finite number") }
            return ReferenceLine(value: p.1, label: "\(p.0) (\(formatNumber(p.1)))", orientation: orientation, dash: i)
        }
    }

    static func floats(_ args: CallArgs, _ name: String) throws -> [Double] {
        try args.tensor(name).array.map(Double.init)
    }

    /// Applies size settings, writes `file=` when given, and wraps the figure.
    static func finish(_ figure: Figure, _ args: CallArgs) throws -> Value {
        var figure = figure
        if args.has("width") { figure.width = try args.number("width") }
        if args.has("height") { figure.height = try args.number("height") }
        guard figure.width > 0, figure.height > 0, figure.width <= 100, figure.height <= 100 else {
            throw BuiltinError("\(args.builtin): width and height are in inches, between 0 and 100")
        }
        let object = FigureObject(figure)
        if args.has("file") { try write(object, path: try args.string("file"), dpi: nil, args) }
        return .object(object)
    }

    static func write(_ object: FigureObject, path: String, dpi: Double?, _ args: CallArgs) throws {
        guard !path.isEmpty else { throw BuiltinError("\(args.builtin): the file name is empty") }
        if let dpi { guard dpi >= 10, dpi <= 2400 else { throw BuiltinError("\(args.builtin): dpi must be between 10 and 2400") } }
        Figure.software = "prune"
        let stamp = (args.session.settings["figure_timestamp"].map { $0 != "false" }) ?? true
        do {
            try object.figure.write(to: path, dpi: dpi, source: args.location, timestamp: stamp)
        } catch let e as PlotError {
            throw BuiltinError("\(args.builtin): \(e.message)")
        }
        object.path = path
        FigureObject.written?(object, args.session)
    }

    static func figureParams(_ extra: [BuiltinParam]) -> [BuiltinParam] {
        extra + [BuiltinParam("title", .nil_, "title"),
                 BuiltinParam("file", .nil_, "write the figure here (.png, .svg or .pdf)"),
                 BuiltinParam("width", .nil_, "width in inches (default 6.4)"),
                 BuiltinParam("height", .nil_, "height in inches (default 4.8)")]
    }

    static func figure(_ args: CallArgs, _ name: String) throws -> FigureObject {
        if case .object(let o) = args.value(name), let f = o as? FigureObject { return f }
        throw args.wrong(name, "a figure")
    }
}

extension Builtins {
    static let figures: [Builtin] = [
        Builtin("plot", EngineArgs.figureParams([
                    BuiltinParam("t", nil, "a table"), BuiltinParam("x", nil, "column for the x axis"),
                    BuiltinParam("y", nil, "column for the y axis"), BuiltinParam("by", .nil_, "column giving one series per value"),
                    BuiltinParam("err", .nil_, "\"sd\" or \"se\": mean ± sd or ± se over rows at the same x (seeds)"),
                    BuiltinParam("band", .bool(false), "shaded bands instead of error bars"),
                    BuiltinParam("logx", .bool(false), "log x axis"), BuiltinParam("logy", .bool(false), "log y axis"),
                    BuiltinParam("xlabel", .nil_, "x axis label"), BuiltinParam("ylabel", .nil_, "y axis label"),
                    BuiltinParam("baseline", .nil_, "a dashed reference line: a number, or a record such as {dense: 0.926}")]),
                topic: "figures", summary: "Lines with markers from a table: one series per value of `by`, mean ± sd/se over repeated rows.",
                help: "Rows with the same x (and by) are averaged; with err=, the spread over them is drawn and the legend states n, and the error bars of several series sit side by side. A few x values (8 at most) get a tick each; whole-number x (epochs) gets whole-number ticks. baseline= draws the dense model's accuracy (or any reference) as a dashed line with a legend entry. Returns a figure; file= writes it (PNG with DPI and source metadata, SVG or PDF).",
                example: "t = table()\nfor k in [0.5, 0.1]\n  add(t, keep=k, acc=1 - k / 2, method=\"magnitude\")\nend\nplot(t, x=\"keep\", y=\"acc\", by=\"method\", logx=true, baseline={dense: 0.99})") { args in
            let t = try args.table("t")
            let fig = try Figure.line(rows: EngineArgs.columns(t), x: try args.string("x"), y: try args.string("y"),
                                      by: try args.optionalString("by"), err: try EngineArgs.dispersion(args),
                                      errorStyle: try args.bool("band") ? .band : .bars, logX: try args.bool("logx"),
                                      logY: try args.bool("logy"), title: try args.optionalString("title"),
                                      xLabel: try args.optionalString("xlabel"), yLabel: try args.optionalString("ylabel"),
                                      references: try EngineArgs.references(args, "baseline", label: "baseline"))
            return try EngineArgs.finish(fig, args)
        },

        Builtin("bar", EngineArgs.figureParams([
                    BuiltinParam("t", nil, "a table, or a model (its per-layer sparsity)"), BuiltinParam("x", .nil_, "category column"),
                    BuiltinParam("y", .nil_, "value column"), BuiltinParam("by", .nil_, "column giving grouped bars"),
                    BuiltinParam("err", .nil_, "\"sd\" or \"se\" over repeated rows"), BuiltinParam("logy", .bool(false), "log y axis"),
                    BuiltinParam("xlabel", .nil_, "x axis label"), BuiltinParam("ylabel", .nil_, "y axis label")]),
                topic: "figures", summary: "Bars from a table (grouped by `by`), or a model's per-layer sparsity.",
                example: "net = mlp([784, 100, 50, 10])\nprune(net, pruner(\"magnitude\", keep=0.2))\nbar(net)") { args in
            let title = try args.optionalString("title")
            if case .object(let m as Module) = args.value("t") {
                let layers = Masks.report(m).layers
                let fig = try Figure.bar(labels: layers.map(\.name), values: layers.map(\.achieved), title: title ?? "sparsity per layer",
                                         xLabel: try args.optionalString("xlabel") ?? "layer",
                                         yLabel: try args.optionalString("ylabel") ?? "sparsity")
                return try EngineArgs.finish(fig, args)
            }
            let t = try args.table("t")
            guard args.has("x"), args.has("y") else { throw BuiltinError("bar: a table needs x= and y= columns") }
            let fig = try Figure.bar(rows: EngineArgs.columns(t), x: try args.string("x"), y: try args.string("y"),
                                     by: try args.optionalString("by"), err: try EngineArgs.dispersion(args),
                                     logY: try args.bool("logy"), title: title, xLabel: try args.optionalString("xlabel"),
                                     yLabel: try args.optionalString("ylabel"))
            return try EngineArgs.finish(fig, args)
        },

        Builtin("hist", EngineArgs.figureParams([
                    BuiltinParam("x", nil, "a tensor, a list of tensors, or a record of name → tensor (overlaid)"),
                    BuiltinParam("labels", .nil_, "names of the overlaid groups"), BuiltinParam("bins", .nil_, "number of bins"),
                    BuiltinParam("density", .nil_, "normalise to a density (default: when the groups' sizes differ more than threefold)"),
                    BuiltinParam("stack", .bool(false), "one panel per group, stacked in rows over the same x range"),
                    BuiltinParam("logy", .bool(false), "log y axis"),
                    BuiltinParam("nonzero", .bool(false), "leave out exact zeros (pruned weights)"),
                    BuiltinParam("xlabel", .nil_, "x axis label")]),
                topic: "figures", summary: "Histograms, overlaid with shared bins (e.g. weights before and after pruning).",
                help: "Several groups state their n in the legend. Groups of very different sizes (a dense layer and the tenth a pruned one keeps) are drawn as densities unless density=false; stack=true draws each group in its own row instead.",
                example: "w = randn([1000])\nhist({dense: w, kept: w[0:100]}, bins=40, stack=true)") { args in
            var groups: [(label: String, values: [Double])] = []
            switch args.value("x") {
            case .record(let r):
                for (k, v) in r.pairs {
                    guard case .object(let t as Tensor) = v else { throw BuiltinError("hist: '\(k)' is a \(v.typeName), not a tensor") }
                    groups.append((k, t.array.map(Double.init)))
                }
            case .list(let l) where l.items.contains(where: { if case .object(is Tensor) = $0 { return true } else { return false } }):
                for (i, v) in l.items.enumerated() {
                    guard case .object(let t as Tensor) = v else { throw BuiltinError("hist: item \(i) is a \(v.typeName), not a tensor") }
                    groups.append(("\(i)", t.array.map(Double.init)))
                }
            default:
                groups = [("", try EngineArgs.floats(args, "x"))]
            }
            if args.has("labels") {
                guard case .list(let l) = args.value("labels"), l.items.count == groups.count else {
                    throw BuiltinError("hist: labels must be a list of \(groups.count) names")
                }
                for i in groups.indices { groups[i].label = displayRaw(l.items[i]) }
            }
            if try args.bool("nonzero") { groups = groups.map { ($0.label, $0.values.filter { $0 != 0 }) } }
            let fig = try Figure.histogram(groups, bins: try args.optionalInt("bins"),
                                           density: args.has("density") ? try args.bool("density") : nil, stack: try args.bool("stack"),
                                           logY: try args.bool("logy"), title: try args.optionalString("title"),
                                           xLabel: try args.optionalString("xlabel"))
            return try EngineArgs.finish(fig, args)
        },

        Builtin("scatter", EngineArgs.figureParams([
                    BuiltinParam("x", nil, "a tensor (for a table, plot(t, x=, y=, by=))"), BuiltinParam("y", nil, "a tensor of the same size"),
                    BuiltinParam("alpha", .nil_, "marker opacity"), BuiltinParam("logx", .bool(false), "log x axis"),
                    BuiltinParam("logy", .bool(false), "log y axis"), BuiltinParam("xlabel", .nil_, "x axis label"),
                    BuiltinParam("ylabel", .nil_, "y axis label"),
                    BuiltinParam("mask", .nil_, "a 0/1 tensor of the same size: kept and pruned points in two colours"),
                    BuiltinParam("threshold", .nil_, "a dashed line at this y; true: the lowest kept y (needs mask=)")]),
                topic: "figures", summary: "Points of y against x, e.g. weights against movement scores.",
                help: "With mask=, pruned points are drawn in translucent grey under the kept ones, and the legend counts each. threshold= draws the pruning threshold on y; threshold=true takes it from the mask, when the mask keeps exactly the points at or above one y.",
                example: "w = randn([500])\ns = w * 2 + randn([500]) * 0.1\nscatter(w, s, mask=s >= 1, threshold=true, xlabel=\"weight\", ylabel=\"score\")") { args in
            let xs = try EngineArgs.floats(args, "x"), ys = try EngineArgs.floats(args, "y")
            guard xs.count == ys.count else { throw BuiltinError("scatter: x has \(xs.count) values but y has \(ys.count)") }
            var kept: [Bool]?
            if args.has("mask") {
                let m = try EngineArgs.floats(args, "mask")
                guard m.count == xs.count else { throw BuiltinError("scatter: argument 'mask' has \(m.count) values but x has \(xs.count)") }
                if let bad = m.first(where: { $0 != 0 && $0 != 1 }) {
                    throw BuiltinError("scatter: argument 'mask' must hold only 0 and 1, found \(formatNumber(bad))")
                }
                kept = m.map { $0 == 1 }
            }
            var lines: [ReferenceLine] = []
            switch args.value("threshold") {
            case .nil_, .bool(false): break
            case .bool(true):
                guard let kept else { throw BuiltinError("scatter: threshold=true takes the threshold from mask=, which is missing") }
                let keptY = ys.indices.filter { kept[$0] && ys[$0].isFinite }.map { ys[$0] }
                let prunedY = ys.indices.filter { !kept[$0] && ys[$0].isFinite }.map { ys[$0] }
                guard let t = keptY.min() else { throw BuiltinError("scatter: threshold=true needs at least one kept point") }
                if let above = prunedY.filter({ $0 > t }).max() {
                    throw BuiltinError("scatter: the mask is not one threshold on y (a pruned point has y \(formatNumber(above)), above the lowest kept y \(formatNumber(t))); give threshold= a number")
                }
                lines = [ReferenceLine(value: t, label: "threshold (\(cFormat("%.3g", t)))")]
            case .number(let t):
                guard t.isFinite else { throw BuiltinError("scatter: argument 'threshold' must be a finite number, got \(formatNumber(t))") }
                lines = [ReferenceLine(value: t, label: "threshold (\(formatNumber(t)))")]
            default: throw args.wrong("threshold", "a number or true")
            }
            let fig = try Figure.scatter(x: xs, y: ys, kept: kept, references: lines, logX: try args.bool("logx"), logY: try args.bool("logy"),
                                         alpha: args.has("alpha") ? try args.number("alpha") : nil,
                                         title: try args.optionalString("title"),
                                         xLabel: try args.optionalString("xlabel"), yLabel: try args.optionalString("ylabel"))
            return try EngineArgs.finish(fig, args)
        },

        Builtin("heatmap", EngineArgs.figureParams([
                    BuiltinParam("m", nil, "a matrix (a tensor; more axes are flattened into columns)"),
                    BuiltinParam("colormap", .string("auto"), "\"auto\" (diverging for signed data, two colours for a 0/1 mask), \"viridis\", \"diverging\", \"gray\" or \"binary\""),
                    BuiltinParam("label", .nil_, "colour bar label"),
                    BuiltinParam("xlabel", .nil_, "x axis label (default \"column\", or \"input unit\" for a mask)"),
                    BuiltinParam("ylabel", .nil_, "y axis label (default \"row\", or \"output unit\" for a mask)")]),
                topic: "figures", summary: "A matrix as colours with a colour bar: a mask, a weight matrix.",
                help: "A matrix of only 0 and 1 (a mask) is drawn in two colours, kept and pruned, with their shares in a legend instead of a colour bar; rows are output units and columns input units, as in a weight [out, in].",
                example: "net = mlp([784, 100, 10])\nprune(net, pruner(\"magnitude\", keep=0.1))\nheatmap(masks(net)[\"layers.1.weight\"], title=\"a mask: kept and pruned\")") { args in
            let t = try args.tensor("m")
            guard t.rank >= 1 else { throw BuiltinError("heatmap: needs a matrix, got a scalar") }
            let rows = t.rank == 1 ? 1 : t.shape[0], cols = t.count / max(rows, 1)
            let map: Colormap
            switch try args.choice("colormap", ["auto", "viridis", "diverging", "gray", "binary"]) {
            case "viridis": map = .viridis
            case "diverging": map = .diverging
            case "gray": map = .gray
            case "binary": map = .binary
            default: map = .auto
            }
            let fig = try Figure.heatmap(matrix: t.array, rows: rows, cols: cols, colormap: map, binary: map == .binary ? true : nil,
                                         title: try args.optionalString("title"),
                                         xLabel: try args.optionalString("xlabel"),
                                         yLabel: try args.optionalString("ylabel"),
                                         colorLabel: try args.optionalString("label"))
            return try EngineArgs.finish(fig, args)
        },

        Builtin("images", EngineArgs.figureParams([
                    BuiltinParam("x", nil, "a dataset, or a tensor of images [N, H, W] or [N, 1, H, W]"),
                    BuiltinParam("n", .number(16), "how many images"), BuiltinParam("cols", .nil_, "images per row")]),
                topic: "figures", summary: "A grid of images: dataset samples with their class names.",
                example: "images(fashion_mnist(\"test\", limit=100), n=8)") { args in
            let n = try args.int("n", in: 1...400)
            var pictures: [[Float]] = [], captions: [String] = []
            var h = 0, w = 0
            switch args.value("x") {
            case .object(let d as Dataset):
                let shape = d.sampleShape
                guard shape.count >= 2 else { throw BuiltinError("images: samples of shape \(describe(shape: shape)) are not images") }
                h = shape[shape.count - 2]; w = shape[shape.count - 1]
                for i in 0..<min(n, d.count) {
                    let base = d.images.data + i * d.sampleSize
                    pictures.append(Array(UnsafeBufferPointer(start: base, count: h * w)))
                    let label = d.labels[i]
                    captions.append(label < d.classNames.count ? d.classNames[label] : "\(label)")
                }
            default:
                let t = try args.tensor("x")
                guard t.rank >= 3 else { throw BuiltinError("images: needs [N, H, W] or [N, C, H, W], got \(describe(shape: t.shape))") }
                h = t.shape[t.rank - 2]; w = t.shape[t.rank - 1]
                let per = t.count / max(t.shape[0], 1)
                for i in 0..<min(n, t.shape[0]) { pictures.append(Array(UnsafeBufferPointer(start: t.data + i * per, count: h * w))) }
            }
            let fig = try Figure.images(pictures, width: w, height: h, captions: captions,
                                        cols: try args.optionalInt("cols"), title: try args.optionalString("title"))
            return try EngineArgs.finish(fig, args)
        },

        Builtin("curves", EngineArgs.figureParams([
                    BuiltinParam("history", nil, "a table from train (or any table with an epoch column)"),
                    BuiltinParam("y", .nil_, "columns to draw, one panel each; a list inside the list shares a panel (default: [[\"loss\", \"val_loss\"], [\"acc\", \"val_acc\"]], those present)"),
                    BuiltinParam("x", .nil_, "the x column (default: epoch, or step for history(p))"), BuiltinParam("by", .nil_, "column giving one series per value")]),
                topic: "figures", summary: "Training curves from train's history: loss and accuracy per epoch.",
                help: "By default the loss and the accuracy get a panel each, with the training and validation curves together in one panel (\"train\" and \"validation\"); axes are named in words (\"accuracy\", \"validation accuracy\") and whole-number epochs get whole-number ticks.",
                example: "h = train(mlp([784, 10]), fashion_mnist(\"train\", limit=1000), epochs=3)\ncurves(h)") { args in
            let t = try args.table("history")
            var ys: [[String]]
            if args.has("y") {
                switch args.value("y") {
                case .string(let s): ys = [[s]]
                case .list(let l):
                    ys = try l.items.map { v -> [String] in
                        switch v {
                        case .string(let s): return [s]
                        case .list(let inner):
                            return try inner.items.map { c in
                                guard case .string(let s) = c else { throw args.wrong("y", "column names, or lists of them (one list per panel)") }
                                return s
                            }
                        default: throw args.wrong("y", "column names, or lists of them (one list per panel)")
                        }
                    }
                default: throw args.wrong("y", "a column name or a list of them")
                }
                guard !ys.isEmpty, !ys.contains(where: \.isEmpty) else { throw BuiltinError("curves: argument 'y' names no columns") }
            } else {
                ys = [["loss", "val_loss"], ["acc", "val_acc"]].map { $0.filter { t.columns.contains($0) } }.filter { !$0.isEmpty }
                if ys.isEmpty && t.columns.contains("sparsity") { ys = [["sparsity"]] }  // a pruner's history(p)
            }
            let x = args.has("x") ? try args.string("x") : (!t.columns.contains("epoch") && t.columns.contains("step") ? "step" : "epoch")
            let fig = try Figure.curves(rows: EngineArgs.columns(t), x: x, groups: ys,
                                        by: try args.optionalString("by"), title: try args.optionalString("title"))
            return try EngineArgs.finish(fig, args)
        },

        Builtin("panels", EngineArgs.figureParams([
                    BuiltinParam("figs", nil, "a list of figures"), BuiltinParam("rows", .nil_, "rows of the grid"),
                    BuiltinParam("cols", .nil_, "columns of the grid"),
                    BuiltinParam("sharey", .bool(false), "one y range for every panel, so that heights compare")]),
                topic: "figures", summary: "Several figures as panels of one figure.",
                help: "Text is drawn larger in wide figures, so that a figure shrunk to a document's column stays readable.",
                example: "a = hist(randn([200]))\nb = hist(randn([200]) * 2)\npanels([a, b], cols=2, sharey=true)") { args in
            guard case .list(let l) = args.value("figs") else { throw args.wrong("figs", "a list of figures") }
            let figs = try l.items.enumerated().map { i, v -> Figure in
                guard case .object(let o) = v, let f = o as? FigureObject else { throw BuiltinError("panels: item \(i) is a \(v.typeName), not a figure") }
                return f.figure
            }
            let fig = try Figure.panels(figs, rows: try args.optionalInt("rows"), cols: try args.optionalInt("cols"),
                                        title: try args.optionalString("title"), sharey: try args.bool("sharey"))
            return try EngineArgs.finish(fig, args)
        },
    ]
}

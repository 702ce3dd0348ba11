// Model builtins: the ready architectures (mlp, cnn, lenet5, resnet, vit), their inspection
// (summary, params) and checkpoints (save, load).
import Language
import FileIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN
import Pruning
import Data

extension EngineArgs {
    /// The layer table of `model`: one row per layer that holds parameters or has no children,
    /// with its dotted name, type, parameter shapes and count, then the total.
    static func summaryText(_ model: Module) -> String {
        let rows = modelLayerRows(model)
        var lines = ["\(model.typeName)", String(alignedColumns(rows, rightAligned: [3], rule: true, indent: "  ").dropLast())]
        let prunable = Masks.report(model)
        lines.append("  total: \(thousands(model.parameterCount)) parameters (\(thousands(prunable.parameters)) prunable: Linear and Conv2d weights but the classifier)")
        if !model.namedGates().isEmpty {
            lines.append("  masks: \(model.namedGates().count), sparsity \(formatNumber(prunable.achieved)) (\(thousands(prunable.nonzeros)) non-zero)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Builtins {
    static let models: [Builtin] = [
        Builtin("mlp", [BuiltinParam("widths", nil, "layer widths, inputs first: [784, 300, 100, 10]"),
                        BuiltinParam("activation", .string("relu"), "relu, gelu, tanh or sigmoid")],
                topic: "models", summary: "A multi-layer perceptron over flattened inputs.",
                help: "mlp([784, 300, 100, 10]) is Flatten, Linear 784→300, ReLU, Linear 300→100, ReLU, Linear 100→10 (LeNet-300-100). Initialised from the session's random generator.",
                example: "net = mlp([784, 300, 100, 10])\nparams(net)") { args in
            let widths = try args.ints("widths")
            guard widths.count >= 2 else {
                throw BuiltinError("mlp: argument 'widths' needs at least two widths (inputs and outputs), got \(widths.count)")
            }
            if let bad = widths.first(where: { $0 < 1 || $0 > 1_000_000 }) {
                throw BuiltinError("mlp: argument 'widths' must hold widths between 1 and 1000000, got \(bad)")
            }
            var weights = 0
            for i in 0..<(widths.count - 1) { weights += widths[i] * widths[i + 1] }
            guard weights <= EngineArgs.maxElements else {
                throw BuiltinError("mlp: widths \(describe(shape: widths)) give \(thousands(weights)) weights, too many")
            }
            let kind = try args.choice("activation", ["relu", "gelu", "tanh", "sigmoid"])
            guard let activation = Activation.Kind(rawValue: kind) else { throw BuiltinError("mlp: unknown activation \(kind)") }
            return .model(try Models.mlp(widths, activation: activation, rng: args.session.rng))
        },

        Builtin("cnn", [BuiltinParam("classes", .number(10), "number of output classes")],
                topic: "models", summary: "The small CNN: conv 32 → pool → conv 64 → pool → FC 128 → FC classes.",
                help: "For 28×28 grey images. Initialised from the session's random generator.",
                example: "net = cnn()\nparams(net)") { args in
            .model(try Models.cnn(classes: try args.size("classes"), rng: args.session.rng))
        },

        Builtin("lenet5", [BuiltinParam("classes", .number(10), "number of output classes")],
                topic: "models", summary: "LeNet-5 (ReLU, max pooling) for 28×28 grey images.",
                help: "Two 5×5 convolutions (6 and 16 channels) and three linear layers 400→120→84→classes.",
                example: "net = lenet5()\nsummary(net)") { args in
            .model(try Models.lenet5(classes: try args.size("classes"), rng: args.session.rng))
        },

        Builtin("resnet", [BuiltinParam("classes", .number(10), "number of output classes"),
                           BuiltinParam("widths", .list(ListRef([.number(16), .number(32), .number(64)])), "channels of each stage"),
                           BuiltinParam("blocks", .number(1), "basic blocks per stage")],
                topic: "models", summary: "A small ResNet: a 3×3 stem, stages of basic blocks, global pooling, a linear classifier.",
                help: "Every stage after the first halves the resolution. Has batch normalisation, so train with batches of several samples.",
                example: "net = resnet(widths=[8, 16], blocks=1)\nparams(net)") { args in
            let classes = try args.size("classes")
            let widths = try args.ints("widths")
            guard !widths.isEmpty, widths.allSatisfy({ $0 >= 1 && $0 <= 1024 }) else {
                throw BuiltinError("resnet: argument 'widths' must be a non-empty list of widths between 1 and 1024, got \(describe(shape: widths))")
            }
            let blocks = try args.int("blocks", in: 1...64)
            return .model(try Models.resnet(classes: classes, widths: widths, blocks: blocks, rng: args.session.rng))
        },

        Builtin("vit", [BuiltinParam("classes", .number(10), "number of output classes"),
                        BuiltinParam("dim", .number(64), "embedding width"),
                        BuiltinParam("depth", .number(4), "number of transformer blocks"),
                        BuiltinParam("heads", .number(4), "attention heads (must divide dim)"),
                        BuiltinParam("patch", .number(7), "patch size (must divide 28)")],
                topic: "models", summary: "A tiny vision transformer over non-overlapping patches of 28×28 images.",
                help: "Patches → linear embedding + learned positions → pre-norm transformer blocks → LayerNorm → mean over tokens → linear classifier.",
                example: "net = vit(dim=32, depth=2, heads=2)\nparams(net)") { args in
            let classes = try args.size("classes")
            let dim = try args.int("dim", in: 1...1024)
            let depth = try args.int("depth", in: 1...64)
            let heads = try args.int("heads", in: 1...dim)
            guard dim % heads == 0 else { throw BuiltinError("vit: argument 'heads' (\(heads)) must divide 'dim' (\(dim))") }
            let patch = try args.int("patch", in: 1...28)
            guard 28 % patch == 0 else { throw BuiltinError("vit: argument 'patch' must divide the image size 28 (1, 2, 4, 7, 14 or 28), got \(patch)") }
            return .model(try Models.vit(classes: classes, patch: patch, dim: dim, depth: depth, heads: heads, rng: args.session.rng))
        },

        Builtin("summary", [BuiltinParam("net", nil, "a model")],
                topic: "models", summary: "Prints the layer table of a model: names, types, parameter shapes and counts, and the total.",
                example: "summary(mlp([784, 300, 100, 10]))") { args in
            args.session.write(EngineArgs.summaryText(try EngineArgs.model(args, "net")) + "\n")
            return .nil_
        },

        Builtin("params", [BuiltinParam("net", nil, "a model (or a tensor)")],
                topic: "models", summary: "The number of parameters of a model (or elements of a tensor).",
                example: "params(mlp([784, 300, 100, 10]))") { args in
            switch args.value("net") {
            case .object(let m as Module): return .number(Double(m.parameterCount))
            case .object(let t as Tensor): return .number(Double(t.count))
            default: throw args.wrong("net", "a model")
            }
        },

        Builtin("flops", [BuiltinParam("net", nil, "a model"),
                          BuiltinParam("data", nil, "a dataset whose first sample sets the input size")],
                topic: "models", summary: "Dense FLOPs per sample: 2 × the multiply-adds of the Linear and Conv2d layers (and basis layers' mixing).",
                help: "Counts every weight as if dense (masks do not lower it; compact(net) does). Runs one forward pass on the first sample of data.",
                example: "net = cnn(classes=5)\nflops(net, fashion_mnist(\"test\", limit=1))") { args in
            let net = try EngineArgs.model(args, "net")
            let data = try EngineArgs.dataset(args, "data")
            guard let first = data.makeBatches(size: 1, shuffle: false, rng: RNG(seed: 0)).first(where: { _ in true }) else {
                throw BuiltinError("flops: the dataset is empty")
            }
            return .number(Double(try CompactionCost.flops(net, sample: first.x)))
        },

        Builtin("save", [BuiltinParam("x", nil, "a model, a tensor, a record of tensors, a table, a figure or a diff"),
                         BuiltinParam("path", nil, "the file to write: .safetensors (a tensor also .npy or .png, a record also .npz), .csv for a table, .png, .svg or .pdf for a figure"),
                         BuiltinParam("dpi", .nil_, "a figure's resolution in PNG (default 150)"),
                         BuiltinParam("sparse", .bool(false), "a model: store each weight with a fixed mask as its kept values and their indices")],
                topic: "models", summary: "Saves a model, a tensor or a record of tensors to a safetensors file (or NumPy .npy/.npz), a table to CSV, or a figure to PNG/SVG/PDF.",
                help: "A model is saved with all its parameters and buffers under their dotted names; a tensor under the name \"tensor\" (or as a NumPy .npy array that numpy.load reads, or as a PNG image: [1 or 3, height, width] or [height, width] in [0, 1], as load reads one); a record under its keys (or as a NumPy .npz archive of float32 arrays); a table as CSV with a header row (text that would read back as a number is quoted). The file is written atomically. With sparse=true each weight whose mask is fixed is stored in compressed sparse row form (w.values, w.col_indices, w.crow_indices: the arguments of torch.sparse_csr_tensor, see docs/sparse-checkpoints.md), so a pruned model's file shrinks with its density; load(path, into=net) reads both forms. A diff (transfer(mode=\"diff\")) is saved alone, as the positions and values of its non-zeros in the same sparse form (plus its new head), and save returns the file's size in bytes; load(path) reads it back.",
                example: "net = mlp([784, 10])\nsave(net, \"/tmp/net.safetensors\")") { args in
            let path = try args.string("path")
            guard !path.isEmpty else { throw BuiltinError("save: argument 'path' is empty") }
            try EngineArgs.makeParent(of: path, "save")
            let sparse = try args.bool("sparse")
            if sparse, case .object(is Module) = args.value("x") {} else if sparse {
                throw BuiltinError("save: sparse=true is for models (their masked weights); got a \(args.value("x").typeName)")
            }
            let ext = EngineArgs.fileExtension(path)
            /// The file types `load` reads back for this kind of value.
            func expect(_ kind: String, _ types: [String]) throws {
                guard types.contains(ext) else {
                    throw BuiltinError("save: argument 'path' must end in \(orList(types)) for a \(kind); got \(ext.isEmpty ? "no extension" : ext)")
                }
            }
            switch args.value("x") {
            case .object(let m as Module):
                try expect("model", [".safetensors"])
                try Checkpoint.save(m, to: path, sparse: sparse)
            case .object(let t as Tensor):
                try expect("tensor", [".safetensors", ".npy", ".png"])
                switch ext {
                case ".npy": try NPY.write(t, to: path)
                case ".png": try PNGImage.write(t, to: path)
                default: try Safetensors.save([(name: "tensor", tensor: t)], metadata: ["producer": "prune"], to: path)
                }
            case .record(let r):
                try expect("record of tensors", [".safetensors", ".npz"])
                var tensors: [(name: String, tensor: Tensor)] = []
                for (k, v) in r.pairs {
                    guard case .object(let t as Tensor) = v else {
                        throw BuiltinError("save: a record is saved only when every field is a tensor; '\(k)' is a \(v.typeName)")
                    }
                    tensors.append((name: k, tensor: t))
                }
                if ext == ".npz" { try NPY.writeArchive(tensors, to: path) } else {
                    try Safetensors.save(tensors, metadata: ["producer": "prune"], to: path)
                }
            case .table(let t):
                guard path.lowercased().hasSuffix(".csv") else { throw BuiltinError("save: a table is saved as CSV; give a path ending in .csv") }
                try t.save(csv: path)
            case .object(let o as FigureObject):
                try EngineArgs.write(o, path: path, dpi: args.has("dpi") ? try args.number("dpi") : nil, args)
                return .object(o)
            case .object(let o as DiffObject):
                try expect("diff", [".safetensors"])
                return .number(Double(try o.diff.save(to: path)))
            default:
                throw args.wrong("x", "a model, a tensor, a record of tensors, a table, a figure or a diff")
            }
            return .nil_
        },

        Builtin("file_size", [BuiltinParam("path", nil, "a file")],
                topic: "models", summary: "The size of a file in bytes, e.g. what a saved model or diff costs to store.",
                example: "net = mlp([784, 10])\nsave(net, \"/tmp/net.safetensors\")\nfile_size(\"/tmp/net.safetensors\")") { args in
            let path = try args.string("path")
            var info = stat()
            guard stat(path, &info) == 0 else { throw BuiltinError("file_size: cannot read '\(path)': \(String(cString: strerror(errno)))") }
            return .number(Double(info.st_size))
        },
        Builtin("load", [BuiltinParam("path", nil, "a file: .safetensors, .csv, .npy, .npz or .png"),
                         BuiltinParam("into", .nil_, "a model to load the checkpoint into"),
                         BuiltinParam("rename", .nil_, "with into=: a record of name prefixes {\"0.\": \"layers.1.\"} or a function from a name in the file to the model's name"),
                         BuiltinParam("strict", .bool(true), "with into=: false skips tensors the file has and the model lacks (and the reverse), listing them")],
                topic: "models", summary: "Loads a file: a model checkpoint (rebuilt, or into a model), a CSV table, NumPy arrays or a PNG image.",
                help: "load(path) on a model saved by prune rebuilds the model (its architecture is in the file); on other safetensors files it returns a record of name → tensor, or the diff a file made by save(diff, path) holds. load(path, into=net) checks that every parameter and buffer of net is in the file with the right shape, then copies them in (nothing changes if a check fails) and returns net. A PyTorch state_dict saved with safetensors loads with rename= mapping its names onto net's (prefixes are replaced, the longest match first) and strict=false to skip what does not correspond. .csv gives a table, .npy a tensor, .npz a record of tensors, .png a tensor [channels, height, width] in [0, 1].",
                example: "net = mlp([784, 10])\nsave(net, \"/tmp/net.safetensors\")\nload(\"/tmp/net.safetensors\", into=net)") { args in
            let path = try args.string("path")
            let ext = EngineArgs.fileExtension(path)
            guard EngineArgs.loadable.contains(ext) else { throw EngineArgs.unsupported(path, "load", EngineArgs.loadable) }
            if ext != ".safetensors" {
                for name in ["into", "rename"] where args.has(name) {
                    throw BuiltinError("load: \(name)= is for model checkpoints (.safetensors); \(path.split(separator: "/").last.map(String.init) ?? path) is a \(ext) file")
                }
            }
            switch ext {
            case ".csv": return .table(try Table.load(csv: path))
            case ".npy": return .tensor(try NPY.read(path))
            case ".npz": return .record(RecordRef(try NPY.readArchive(path).map { ($0.name, .tensor($0.tensor)) }))
            case ".png": return .tensor(try EngineArgs.pngTensor(path))
            default: break
            }
            switch args.value("into") {
            case .nil_:
                if args.has("rename") { throw BuiltinError("load: rename= needs into= (the model to load into)") }
                let (tensors, integers, metadata) = try Safetensors.load(path, integers: true)
                if metadata["prune.kind"] == "diff" { return .object(DiffObject(try ModelDiff.load(path))) }
                if metadata[Checkpoint.architectureKey] != nil {
                    return .model(try Checkpoint.loadModel(from: path, rng: args.session.rng, warn: { args.session.warn("load: " + $0) }))
                }
                if let first = integers.first {
                    throw BuiltinError("load: '\(path)' holds integer tensors ('\(first.name)': a sparse checkpoint); load it into a model with into=")
                }
                return .record(RecordRef(tensors.map { ($0.name, .tensor($0.tensor)) }))
            case .object(let m as Module):
                let rename = try EngineArgs.renaming(args)
                var skipped = Checkpoint.Skipped()
                try Checkpoint.load(m, from: path, strict: try args.bool("strict"), rename: rename, skipped: { skipped = $0 },
                                    warn: { args.session.warn("load: " + $0) })
                if !skipped.unused.isEmpty {
                    args.session.write("load: skipped \(skipped.unused.count) tensor(s) of the file the model does not have: \(skipped.unused.joined(separator: ", "))\n")
                }
                if !skipped.missing.isEmpty {
                    args.session.write("load: \(skipped.missing.count) tensor(s) of the model are not in the file and keep their values: \(skipped.missing.joined(separator: ", "))\n")
                }
                return .model(m)
            default:
                throw args.wrong("into", "a model")
            }
        },
    ]
}

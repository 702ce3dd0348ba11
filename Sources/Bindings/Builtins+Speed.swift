// Speed builtins: compile (choose each masked layer's kernel for a batch size ahead of use) and
// speed (latency and throughput of a model dense, sparse and as chosen, layer by layer).
import Language
import Engine
import NN
import Data

extension EngineArgs {
    /// A batch of inputs for `net`: the first `batch` samples of `data=` when given, else
    /// uniform noise shaped for the first Linear ([in]) or Conv2d ([C, 28, 28]) layer.
    static func probeInput(_ args: CallArgs, net: Module, batch: Int) throws -> Tensor {
        if args.has("data") {
            let data = try dataset(args, "data")
            guard data.count > 0 else { throw BuiltinError("\(args.builtin): the dataset is empty") }
            let (x, _) = try data.gather((0..<batch).map { $0 % data.count })
            return x
        }
        for (_, m) in net.namedModules() {
            if let l = m as? Linear { return try Tensor.uniform([batch, l.inFeatures], rng: RNG(seed: 0)) }
            if let c = m as? Conv2d { return try Tensor.uniform([batch, c.inChannels, 28, 28], rng: RNG(seed: 0)) }
        }
        throw BuiltinError("\(args.builtin): the model has no Linear or Conv2d layer to size an input for; give data=")
    }

    /// Microseconds, rounded to a tenth.
    static func micros(_ seconds: Double?) -> Value { seconds.map { .number(($0 * 1e7).rounded() / 10) } ?? .nil_ }

    /// One table row per Linear/Conv2d layer: density, dense and sparse latency, the kernel
    /// chosen, throughput and dense-equivalent GFLOP/s at that choice.
    static func layerRows(_ choices: [SparseInference.LayerChoice], batch: Int, into table: Table) {
        for c in choices {
            let chosen = c.sparse ? c.sparseSeconds : c.denseSeconds
            table.add([("layer", .string(c.name)), ("type", .string(c.type)), ("density", .number((c.density * 1e4).rounded() / 1e4)),
                       ("dense_us", micros(c.denseSeconds)), ("sparse_us", micros(c.sparseSeconds)),
                       ("kernel", .string(c.denseSeconds != nil ? (c.sparse ? "sparse" : "dense")
                                          : c.density < 1 ? "dense (keeps over \(Int(SparseInference.maxDensity * 100))%)" : "dense (no fixed mask)")),
                       ("samples_per_s", chosen.map { .number((Double(batch) / $0).rounded()) } ?? .nil_),
                       ("gflops", chosen.map { .number((2 * c.denseMACs * Double(batch) / $0 / 1e8).rounded() / 10) } ?? .nil_)])
        }
    }
}

extension Builtins {
    static let speed: [Builtin] = [
        Builtin("compile", [BuiltinParam("net", nil, "a model"),
                            BuiltinParam("batch", .number(1), "the batch size to choose kernels for"),
                            BuiltinParam("data", .nil_, "a dataset to take the timing batch from (default: noise of the first layer's input shape)")],
                topic: "models", summary: "Chooses, for each masked Linear/Conv2d layer, the sparse or the dense kernel at a batch size, by timing both; returns the choices.",
                help: "Layers whose mask is fixed can compute with their kept weights only (compressed sparse rows on AVX-512 or AVX2; at batch 1 on AVX-512 a Linear layer reads them in blocks of sixteen rows instead). evaluate and accuracy do this by themselves, timing each layer's two kernels on first use at each batch size; compile does the timing ahead, on a batch of data= (or noise shaped for the first layer; Conv2d models are assumed 28×28). The choice is kept until the layer's mask changes. The table has one row per Linear/Conv2d layer: density, dense_us and sparse_us (microseconds per call at this batch), the kernel chosen, samples_per_s and gflops (dense-equivalent) at that kernel.",
                example: "net = mlp([784, 300, 10])\nprune(net, pruner(\"magnitude\", keep=0.05))\ncompile(net, batch=4)") { args in
            let net = try EngineArgs.model(args, "net")
            let batch = try args.int("batch", in: 1...100_000)
            let choices = try SparseInference.compile(net, input: try EngineArgs.probeInput(args, net: net, batch: batch))
            let table = Table()
            EngineArgs.layerRows(choices, batch: batch, into: table)
            return .table(table)
        },

        Builtin("speed", [BuiltinParam("net", nil, "a model"),
                          BuiltinParam("batch", .number(1), "the batch size"),
                          BuiltinParam("data", .nil_, "a dataset to take the batch from (default: noise of the first layer's input shape)")],
                topic: "models", summary: "Latency and throughput of a model at a batch size, dense and with its masked layers sparse: a table per layer and for the whole model.",
                help: "Runs compile(net, batch=) and then times the whole forward pass three ways, interleaved: every layer dense, every masked layer on the sparse kernel, and each layer as chosen. The rows are the Linear/Conv2d layers (as compile reports them) and a last row 'model' whose dense_us and sparse_us are the whole pass dense and all-sparse, kernel 'chosen', and samples_per_s and gflops (dense-equivalent multiply-adds ×2 per second) for the pass as chosen. Other layers (activations, pooling) count in the model row only. Without AVX-512, a Linear layer's own sparse time at batch 1 is by rows, whatever the input: skipping zero inputs (below 65% non-zero) comes on top, input by input, and shows in the model row only. Timings are the best of a few blocks of calls; on a busy machine they vary from run to run.",
                example: "net = mlp([784, 300, 10])\nprune(net, pruner(\"magnitude\", keep=0.05))\nspeed(net, batch=8)") { args in
            let net = try EngineArgs.model(args, "net")
            let batch = try args.int("batch", in: 1...100_000)
            let report = try SparseInference.speed(net, input: try EngineArgs.probeInput(args, net: net, batch: batch))
            let table = Table()
            EngineArgs.layerRows(report.layers, batch: batch, into: table)
            let masked = report.layers.filter { $0.denseSeconds != nil }
            table.add([("layer", .string("model")), ("type", .string(net.typeName)),
                       ("density", .number((report.layers.reduce(0) { $0 + $1.density * $1.denseMACs } / max(report.denseMACs, 1) * 1e4).rounded() / 1e4)),
                       ("dense_us", EngineArgs.micros(report.dense)), ("sparse_us", EngineArgs.micros(report.sparse)),
                       ("kernel", .string("chosen: \(masked.filter(\.sparse).count) of \(report.layers.count) sparse")),
                       ("samples_per_s", .number((Double(batch) / report.chosen).rounded())),
                       ("gflops", .number((2 * report.denseMACs * Double(batch) / report.chosen / 1e8).rounded() / 10))])
            return .table(table)
        },
    ]
}

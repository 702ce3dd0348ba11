// Speed from sparsity (prune-bench --sparse): inference throughput of the MLP 784-300-100-10 and
// the small CNN, trained briefly and pruned by magnitude (unstructured, every matrix to the same
// sparsity), dense against sparse kernels, at batch 1 and 128. Also the per-epoch time of
// frozen-mask fine-tuning of the MLP at 95% against dense training of the same pruned model
// (`sparse_train <metric> <value>` lines; `--sparse-train` runs those alone).
//
// Lines: `sparse <model> <sparsity%> <batch> <impl> <samples/s>` with impl prune_dense,
// prune_sparse (every masked layer on the sparse kernel) and prune_auto (each layer's timed
// choice, what evaluate uses). With --save-dir DIR the pruned models are also written there as
// DIR/<model>_<sparsity>.safetensors for scripts/bench_torch.py --sparse to time the same weights.
import Data
import Engine
import Kernels
import KernelsAVX512
import NN
import Pruning
#if canImport(Glibc)
import Glibc
#endif

let sparseLevels = [0, 50, 70, 80, 90, 95, 98]

func sparseBench(saveDir: String?, samples: Int?) throws {
    let train = try FashionMNIST.load(.train), test = try FashionMNIST.load(.test)
    emit("sparse", "path_\(SparseKernels.path)", 1)
    for name in workloads where name == "mlp" || name == "cnn" {
        // A short training run, so that magnitudes are those of a trained model.
        let trained = try makeModel(name)
        var config = TrainConfig(epochs: 1, batchSize: 128)
        config.maxSamplesPerEpoch = samples ?? (name == "mlp" ? 20_000 : 6_000)
        config.progress = false
        try fit(trained, on: train, optimizer: try Optimizer(.sgd(momentum: 0.9), parameters: trained.namedParameters(), lr: 0.05),
                config: config)
        if name == "mlp" { try frozenMaskEpochs(trained, train: train, samples: samples) }
        if CommandLine.arguments.contains("--sparse-train") { continue }     // the training epochs only
        for level in sparseLevels {
            let model = try trained.clone()
            if level > 0 {
                var pc = PrunerConfig(Magnitude.self, keep: 1 - Double(level) / 100)
                pc.scope = .layer
                try Pruner(pc).pruneOnce(model, data: nil)
            }
            model.eval()
            if let saveDir { try Checkpoint.save(model, to: "\(saveDir)/\(name)_\(level).safetensors") }
            for batch in [1, 128] {
                // Batch 1 cycles through 64 test images: the product over non-zero inputs takes
                // as long as the image has non-zero pixels, so one image would be one sample.
                let inputs = try (batch == 1 ? (0..<64).map { [$0] } : [Array(0..<batch)]).map { try test.gather($0).x }
                let modes: [SparseKernelChoice] = [.dense, .sparse, .auto]
                // The auto mode's first call times each layer; do it outside the timed blocks.
                _ = try GradMode.noGrad { try SparseInference.with(model, mode: .auto) { try model(inputs[0]) } }
                let seconds = try GradMode.noGrad {
                    // One scope per block: entering one checks every mask once, as evaluate does.
                    try interleavedSeconds(modes.map { mode in { n in
                        try SparseInference.with(model, mode: mode) { for i in 0..<n { _ = try model(inputs[i % inputs.count]) } }
                    } })
                }
                for (mode, s) in zip(modes, seconds) {
                    print("sparse \(name) \(level) \(batch) prune_\(mode.rawValue) \(Int((Double(batch) / s).rounded()))")
                }
                fflush(stdout)
            }
        }
    }
}

/// One epoch of fine-tuning the MLP pruned to 95% with its masks frozen, with the sparse
/// training kernels and densely, alternating, `rounds` times: the median of each round's ratio.
func frozenMaskEpochs(_ trained: Module, train: BatchSource, samples: Int?, rounds: Int = 3) throws {
    let pruned = try trained.clone()
    var pc = PrunerConfig(Magnitude.self, keep: 0.05)
    pc.scope = .layer
    try Pruner(pc).pruneOnce(pruned, data: nil)
    for (_, gate) in pruned.namedGates() { gate.frozen = true }
    var config = TrainConfig(epochs: 1, batchSize: 128)
    config.maxSamplesPerEpoch = samples
    config.progress = false
    let before = SparseInference.enabledByDefault
    defer { SparseInference.enabledByDefault = before }
    var dense: [Double] = [], sparse: [Double] = [], ratios: [Double] = []
    for round in 0...rounds {
        var seconds: [Bool: Double] = [:]
        for useSparse in round % 2 == 0 ? [false, true] : [true, false] {
            SparseInference.enabledByDefault = useSparse
            let model = try pruned.clone()
            let opt = try Optimizer(.sgd(momentum: 0.9), parameters: model.namedParameters(), lr: 0.01)
            seconds[useSparse] = try fit(model, on: train, optimizer: opt, config: config).epochs[0].seconds
        }
        guard round > 0, let d = seconds[false], let s = seconds[true] else { continue }     // round 0 warms up
        dense.append(d); sparse.append(s); ratios.append(d / s)
    }
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    emit("sparse_train", "mlp_95_frozen_epoch_dense_s", median(dense), digits: 3)
    emit("sparse_train", "mlp_95_frozen_epoch_sparse_s", median(sparse), digits: 3)
    emit("sparse_train", "mlp_95_frozen_epoch_speedup", median(ratios), digits: 2)
}

/// Where the sparse Linear's time goes (prune-bench --sparse-kernels): the MLP's first layer
/// (784 → 300) at 95% sparsity, its transposes and product at batch 128, and batch 1.
func sparseKernelCosts() throws {
    let rng = RNG(seed: 1)
    let nIn = 784, nOut = 300, batch = 128
    let w = try Tensor.uniform([nOut, nIn], low: -1, high: 1, rng: rng)
    for i in 0..<w.count where rng.uniform() > 0.05 { w.data[i] = 0 }
    guard let a = SparseMatrix(rows: nOut, cols: nIn, values: w.data) else { return }
    let x = try Tensor.uniform([batch, nIn], low: 0, high: 1, rng: rng)
    let xt = try Tensor.empty([nIn, batch]), yt = try Tensor.empty([nOut, batch]), y = try Tensor.empty([batch, nOut])
    let kernel = SparseKernels.rows
    let gt = try Tensor.uniform([nOut, batch], low: -1, high: 1, rng: rng), gw = try Tensor.empty([nOut, nIn])
    let names = ["transpose_in_128", "product_128", "transpose_out_128", "linear_128", "dense_gemm_128", "linear_1", "linear_1_avx2", "dense_gemv_1",
                 "weight_gradient_128"]
    let seconds = (try? interleavedSeconds([
        { n in for _ in 0..<n { transposeMatrix(x.data, rows: batch, cols: nIn, xt.data) } },
        { n in for _ in 0..<n { sparseProduct(a, xt.data, ldx: batch, n: batch, yt.data, ldy: batch, kernel: kernel) } },
        { n in for _ in 0..<n { transposeMatrix(yt.data, rows: nOut, cols: batch, y.data) } },
        { n in for _ in 0..<n { sparseLinear(a, x.data, batch: batch, bias: nil, y.data, kernel: kernel) } },
        { n in for _ in 0..<n { BLAS.gemm(transB: true, m: batch, n: nOut, k: nIn, x.data, w.data, y.data) } },
        { n in for _ in 0..<n { sparseLinear(a, x.data, batch: 1, bias: nil, y.data, kernel: kernel) } },
        { n in for _ in 0..<n { sparseLinear(a, x.data, batch: 1, bias: nil, y.data, kernel: sparseRows8) } },
        { n in for _ in 0..<n { BLAS.gemm(transB: true, m: 1, n: nOut, k: nIn, x.data, w.data, y.data) } },
        // A frozen-mask layer's weight gradient at its kept entries (gᵀ [out, B], xᵀ [in, B]).
        { n in for _ in 0..<n { sparseSampledProduct(a, gt.data, xt.data, length: batch, gw.data) } },
    ])) ?? []
    for (name, s) in zip(names, seconds) { emit("sparse_kernels", name + "_us", s * 1e6, digits: 2) }
    // Batch 1 by rows (a gather per entry) against by columns over the non-zero inputs only:
    // `input(i)` is the vector of call i.
    let at = a.transposed()
    func rowsAgainstColumns(_ tag: String, _ input: @escaping (Int) -> UnsafePointer<Float>) {
        let pair = (try? interleavedSeconds([
            { n in for i in 0..<n { sparseProduct(a, input(i), ldx: 1, n: 1, y.data, ldy: 1, kernel: kernel) } },
            { n in for i in 0..<n { sparseScatterProduct(columns: at, input(i), y.data) } },
        ])) ?? []
        guard pair.count == 2 else { return }
        emit("sparse_kernels", "rows_1_\(tag)_us", pair[0] * 1e6, digits: 2)
        emit("sparse_kernels", "columns_1_\(tag)_us", pair[1] * 1e6, digits: 2)
    }
    // Inputs with a given fraction of non-zeros.
    for fraction in [0.25, 0.5, 0.75, 1.0] {
        let v = try Tensor.uniform([nIn], low: 0.1, high: 1, rng: rng)
        for i in 0..<nIn where rng.uniform() >= Float(fraction) { v.data[i] = 0 }
        rowsAgainstColumns("nonzero\(Int(fraction * 100))") { _ in UnsafePointer(v.data) }
    }
    // 64 Fashion-MNIST test images in turn (where the non-zeros are changes from one call to
    // the next, as in use).
    let images = try FashionMNIST.load(.test).gather(Array(0..<64)).x
    emit("sparse_kernels", "images_nonzero_fraction", Double(countNonzero(images.data, images.count)) / Double(images.count), digits: 3)
    rowsAgainstColumns("images") { i in UnsafePointer(images.data + (i % 64) * nIn) }
    // Batch 1 in lane layout (SparseLanes.swift), rows grouped by count and in order, against
    // rows, on the same images. (On the benchmark MLP's first layer pruned by magnitude to 95%,
    // 1.5 µs grouped, 1.7 in order, 3.9 by rows: grouping takes its lanes per kept entry from
    // 3.8 to 2.5; a random mask, as here, gains little from it.)
    if AVX512.enabled, let lanes = SparseLaneMatrix(a), let plain = SparseLaneMatrix(a, sortRows: false) {
        emit("sparse_kernels", "lanes_padding", lanes.padding, digits: 2)
        emit("sparse_kernels", "lanes_padding_in_order", plain.padding, digits: 2)
        let bias = try Tensor.zeros([nOut])
        let three = (try? interleavedSeconds([
            { n in for i in 0..<n { sparseProduct(a, images.data + (i % 64) * nIn, ldx: 1, n: 1, y.data, ldy: 1, kernel: kernel) } },
            { n in for i in 0..<n { sparseLaneProduct(lanes, images.data + (i % 64) * nIn, bias: bias.data, y.data) } },
            { n in for i in 0..<n { sparseLaneProduct(plain, images.data + (i % 64) * nIn, bias: bias.data, y.data) } },
        ])) ?? []
        for (name, s) in zip(["rows_1_images_again", "lanes_1_images", "lanes_in_order_1_images"], three) {
            emit("sparse_kernels", name + "_us", s * 1e6, digits: 2)
        }
    }
}

// Speed from sparsity: Linear and Conv2d layers whose weight has a fixed mask compute with the
// kept weights only (Kernels/Sparse.swift), where that is faster.
//
// When: in evaluation mode, without recording, inside `SparseInference.with(model)` (`evaluate`
// opens one, so `accuracy` and `evaluate` get it without asking). Entering the scope checks each
// masked layer's compressed weight against its mask and re-reads the kept values (one pass over
// the mask, a gather of the kept weights), so weights or masks changed between scopes are never
// computed stale. Within the scope the model is not changed. Which kernel is faster depends on
// the density, the layer's shape and the batch size, so each layer times both on its first call
// at a batch size and remembers the winner for that size until its mask changes; `compile` does
// the timing ahead for a given batch. A Linear layer at batch 1 on AVX-512 computes from its kept
// weights in lane layout (Kernels/SparseLanes.swift), built on first use and refreshed with them.
// In a Sequential, a run of Linear layers that have chosen their sparse kernel, with the ReLUs
// between them, computes in one go (`LinearRun`, Layers+Sparse.swift): at batch > 1 the
// activations between them stay transposed, in each thread's scratch memory; at batch 1 the run
// takes dense Linear layers too.
//
// Frozen-mask training (a mask that is fixed and frozen, as when fine-tuning a model pruned
// upstream with the mask kept) runs Linear and Conv2d layers' forward pass and input gradient
// through the sparse kernels and computes the weight gradient only at kept entries, when the
// mask keeps at most `SparseInference.maxTrainingDensity` of the weights (Layers+Sparse.swift).
import FileIO
import Engine
import Kernels
import KernelsAVX512
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which kernel a masked layer computes with.
public enum SparseKernelChoice: String, Sendable, CaseIterable {
    /// The faster of the two, timed on first use at each batch size.
    case auto
    /// Always the sparse kernel (where the mask is fixed).
    case sparse
    /// Always the dense computation.
    case dense
}

/// A masked layer's compressed weight and the kernel choices made for it.
public final class SparseLayerState {
    /// The kept weights as [out, in] (a convolution's as [O, C·kh·kw]), when built.
    public internal(set) var matrix: SparseMatrix?
    /// A convolution's plan for its current image size.
    var conv: SparseConvPlan?
    /// The transpose, for the input gradient of frozen-mask training and a Linear's product
    /// over non-zero inputs at batch 1.
    var transposed: SparseMatrix? { transposedPair?.matrix }
    /// The transpose with, for each kept entry, its position there (to refresh its values).
    private var transposedPair: (matrix: SparseMatrix, order: [Int32])?

    /// The transpose of `matrix`, built on first use (`prepare` keeps its values current).
    func transposedMatrix() -> SparseMatrix? {
        guard let m = matrix else { return nil }
        if transposedPair == nil { transposedPair = m.transposedWithOrder() }
        return transposedPair?.matrix
    }
    /// The lane layout of `matrix` for a product with one vector (batch 1), built on first use
    /// where the CPU has AVX-512 (`prepare` keeps its values current).
    private var lanes: SparseLaneMatrix?

    /// `matrix` in lane layout (Kernels/SparseLanes.swift), or nil where there is no kernel for it.
    public func laneMatrix() -> SparseLaneMatrix? {
        guard AVX512.enabled, let m = matrix else { return nil }
        if lanes == nil { lanes = SparseLaneMatrix(m) }
        return lanes
    }
    /// Whether the kept values are finite, once checked since they were last read.
    private var finite: Bool?
    /// Whether `run` is timing the two kernels (then nothing input-dependent is taken).
    private(set) var timing = false
    /// Whether the layer is inside a `SparseInference.with` scope, and how it chooses there.
    var active = false
    var mode: SparseKernelChoice = .auto
    /// Batch size → whether the sparse kernel was the faster when timed.
    public internal(set) var choices: [Int: Bool] = [:]
    /// Batch size → seconds per call of the dense and of the sparse kernel, from that timing.
    public internal(set) var timings: [Int: (dense: Double, sparse: Double)] = [:]

    public init() {}

    /// Drops everything built (the mask is gone or no longer fixed).
    func clear() {
        matrix = nil; conv = nil; transposedPair = nil; lanes = nil; finite = nil; choices = [:]; timings = [:]
    }

    /// Aᵀ for `sparseScatterProduct` (built on first use), when every kept value is finite; nil
    /// while the kernels are being timed.
    func scatterColumns() -> SparseMatrix? {
        guard !timing, let m = matrix else { return nil }
        if finite == nil { finite = m.valuesAreFinite() }
        guard finite == true else { return nil }
        return transposedMatrix()
    }

    /// Builds or refreshes the compressed weight for `weight` seen as [rows, cols] behind
    /// `gate`. Returns whether a sparse kernel may stand in for the dense one: the mask is fixed
    /// and keeps at most `maxDensity` of the weights (any density when `mode` is `.sparse`).
    func prepare(weight: Tensor, gate: WeightGate?, rows: Int, cols: Int, mode: SparseKernelChoice,
                 maxDensity: Double = SparseInference.maxDensity) -> Bool {
        guard mode != .dense, let gate, gate.isFixed, gate.mask.count == rows * cols, weight.count == rows * cols else {
            if gate?.isFixed != true { clear() }
            return false
        }
        if let m = matrix, m.rows == rows, m.cols == cols, m.refreshValues(from: weight.data, matching: gate.mask.data) {
            conv?.followWeightValues()
            if let (t, order) = transposedPair { t.refreshValues(from: m, order: order) }
            lanes?.refreshValues(from: m)
            finite = nil
            return mode == .sparse || m.density <= maxDensity
        }
        clear()
        let kept = gate.mask.nonzeroCount
        guard mode == .sparse || Double(kept) <= maxDensity * Double(rows * cols),
              let m = SparseMatrix(rows: rows, cols: cols, values: weight.data, pattern: gate.mask.data) else { return false }
        matrix = m
        return true
    }

    /// Runs the kernel this state chooses for `batch`: the one `mode` names, or under `.auto`
    /// the one timed faster at this batch size (timing both now if this size is new).
    func run(batch: Int, dense: () throws -> Tensor, sparse: () throws -> Tensor) rethrows -> Tensor {
        switch mode {
        case .sparse: return try sparse()
        case .dense: return try dense()
        case .auto: break
        }
        if let useSparse = choices[batch] { return try useSparse ? sparse() : dense() }
        // Timed without the product over non-zero inputs, whose cost depends on the input: the
        // choice then holds for every input, and emptier ones only run faster than timed.
        timing = true
        defer { timing = false }
        // Once each to warm caches and buffers, then alternate: three rounds (one when a round
        // takes over 50 ms: a large batch on a slow kernel), more (up to twenty) while the
        // total is under two milliseconds; the best of each.
        var d = try dense(), s = try sparse()
        var bestDense = Double.infinity, bestSparse = Double.infinity
        let start = monotonicSeconds()
        var rounds = 0
        repeat {
            let t0 = monotonicSeconds()
            d = try dense()
            let t1 = monotonicSeconds()
            s = try sparse()
            let t2 = monotonicSeconds()
            bestDense = min(bestDense, t1 - t0); bestSparse = min(bestSparse, t2 - t1)
            rounds += 1
            let elapsed = monotonicSeconds() - start
            if rounds >= 20 || (rounds >= 3 && elapsed >= 0.002) || elapsed >= 0.05 { break }
        } while true
        choices[batch] = bestSparse < bestDense
        timings[batch] = (bestDense, bestSparse)
        return bestSparse < bestDense ? s : d
    }
}

/// Layers that can compute with a compressed weight: Linear and Conv2d.
public protocol SparseCapable: Module {
    /// The compressed weight and kernel choices.
    var sparse: SparseLayerState { get }
    /// The weight as the matrix the sparse kernels see: [out, in], or [O, C·kh·kw].
    var sparseShape: (rows: Int, cols: Int) { get }
    /// The weight parameter.
    var weight: Tensor { get }
    /// The bias parameter, if any.
    var bias: Tensor? { get }
}

extension SparseCapable {
    /// Prepares this layer's compressed weight for a scope; whether the layer may use it.
    func prepareSparse(mode: SparseKernelChoice) -> Bool {
        let (rows, cols) = sparseShape
        return sparse.prepare(weight: weight, gate: gates["weight"], rows: rows, cols: cols, mode: mode)
    }

    /// Whether this call may use the sparse kernel: inside a scope, evaluating, and recording
    /// nothing (the sparse inference kernels have no backward pass).
    func sparseInferenceApplies(_ inputs: @autoclosure () -> [Tensor?]) -> Bool {
        sparse.active && !training && !(GradMode.isEnabled && inputs().contains { $0?.requiresGrad == true })
    }

    /// Whether a call on `x` would run in evaluation mode and record nothing: what a pass that
    /// joins this layer with the next ones (a Sequential's runs) needs.
    func joinable(_ x: Tensor) -> Bool {
        !training && !(GradMode.isEnabled && (x.requiresGrad || weight.requiresGrad || bias?.requiresGrad == true))
    }

    /// For a joined pass on `x` (see `joinable`): whether the layer computes from its kept weights
    /// at this batch size, by its mode or its recorded choice; false where the sparse kernels do
    /// not apply; nil while the choice for this batch size is still to be timed (the layer then
    /// runs alone, which times it).
    func usesSparse(_ x: Tensor) -> Bool? {
        guard let batch = x.shape.first, sparse.matrix != nil, sparse.active, !sparse.timing, joinable(x) else { return false }
        switch sparse.mode {
        case .sparse: return true
        case .dense: return false
        case .auto: return sparse.choices[batch]
        }
    }
}

/// Sparse inference for a model's masked layers.
public enum SparseInference {
    /// The process-wide switch: off, every layer computes densely (PRUNE_NO_SPARSE=1 turns it
    /// off at start-up).
    nonisolated(unsafe) public static var enabledByDefault = getenv("PRUNE_NO_SPARSE") == nil
    /// A switch for the current task only, e.g. `SparseInference.$enabledHere.withValue(false) { … }`:
    /// tests compare the sparse and dense paths while other tests run beside them.
    @TaskLocal public static var enabledHere: Bool?
    /// Whether the sparse kernels may be used now.
    public static var enabled: Bool { enabledHere ?? enabledByDefault }
    /// Masks keeping more than this fraction of the weights are not timed: the dense kernel
    /// wins there on every shape measured (prune-bench --sparse: at 50% sparsity the sparse
    /// kernels take 1.1–2.8× the dense time, from 70% on they are faster).
    public static let maxDensity = 0.4
    /// Frozen masks keeping at most this fraction train through the sparse kernels (a training
    /// step runs three products, so the dense GEMMs win earlier than at inference; prune-bench
    /// --sparse measures the MLP's epoch both ways).
    public static let maxTrainingDensity = 0.25

    /// Runs `body` with the sparse kernels available to `model`'s masked layers under `mode`
    /// (timed choice by default). Nested scopes keep the outer scope's settings afterwards.
    public static func with<R>(_ model: Module, mode: SparseKernelChoice = .auto, _ body: () throws -> R) rethrows -> R {
        let layers = sparseLayers(of: model).map(\.1)
        let saved = layers.map { ($0.sparse.active, $0.sparse.mode) }
        for layer in layers {
            layer.sparse.active = enabled && layer.prepareSparse(mode: mode)
            layer.sparse.mode = mode
        }
        defer {
            for (layer, (active, mode)) in zip(layers, saved) { layer.sparse.active = active; layer.sparse.mode = mode }
        }
        return try body()
    }

    /// The layers of `model` that can compute sparsely, with their dotted paths.
    public static func sparseLayers(of model: Module) -> [(String, any SparseCapable)] {
        model.namedModules().compactMap { path, m in (m as? any SparseCapable).map { (path, $0) } }
    }

    /// One masked layer's kernel choice at a batch size, as `compile` and `speed` report it.
    public struct LayerChoice: Sendable {
        public var name: String, type: String
        /// Fraction of the weights kept by the fixed mask (1 for a layer without one).
        public var density: Double
        /// Multiply-adds per sample of the dense computation.
        public var denseMACs: Double
        /// Seconds per call of each kernel at this batch (nil where not timed).
        public var denseSeconds: Double?, sparseSeconds: Double?
        /// Whether the sparse kernel is used.
        public var sparse: Bool
    }

    /// Times every masked layer's two kernels on `input` (a batch, in evaluation mode, without
    /// recording) and fixes each layer's choice for that batch size; returns the choices.
    @discardableResult
    public static func compile(_ model: Module, input: Tensor) throws -> [LayerChoice] {
        let wasTraining = model.training
        model.eval()
        model.applyMasks()
        defer { model.train(wasTraining) }
        let batch = input.shape.first ?? 1
        for (_, layer) in sparseLayers(of: model) { layer.sparse.choices[batch] = nil }
        _ = try GradMode.noGrad { try with(model) { try model(input) } }
        return choices(model, batch: batch)
    }

    /// Each masked layer's choice recorded for `batch` (after `compile` or an evaluation).
    public static func choices(_ model: Module, batch: Int) -> [LayerChoice] {
        sparseLayers(of: model).map { name, layer in
            let (rows, cols) = layer.sparseShape
            let t = layer.sparse.timings[batch]
            let positions = Double(layer.positionsPerSample ?? 1)
            // A fixed mask keeping too much for the sparse kernel has no compressed weight.
            let fixed = layer.gates["weight"].flatMap { $0.isFixed && $0.mask.count > 0 ? $0.mask : nil }
            let density = layer.sparse.matrix?.density ?? fixed.map { Double($0.nonzeroCount) / Double($0.count) } ?? 1
            return LayerChoice(name: name, type: layer.typeName, density: density,
                               denseMACs: Double(rows * cols) * positions, denseSeconds: t?.dense, sparseSeconds: t?.sparse,
                               sparse: layer.sparse.choices[batch] ?? false)
        }
    }
}

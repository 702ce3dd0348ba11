// Compensation-aware pruning (CaP): after units of a layer are removed, the layer that reads
// them is refitted in closed form so that it reproduces, from the kept inputs only, what it
// computed from all of them on a few batches: with X the reader's inputs and K the kept ones,
//     W' = argmin ‖X·Wᵀ − X_K·W'ᵀ‖² + μ‖W'‖²  =  W·XᵀX_K·(X_KᵀX_K + μI)⁻¹
// (ridge least squares; no retraining). Readers that are Linear layers are refitted (an MLP's
// next layer, a CNN's first fully connected layer after the Flatten); convolutions that read
// removed channels are not supported yet and say so.
import Engine
import NN

public enum Compensation {
    /// The inputs of layer `index` of `model` over `batches` batches of `data` (evaluation mode),
    /// flattened to [samples, features].
    public static func inputs(of index: Int, in model: Sequential, data: BatchSource, batches: Int, batchSize: Int = 128) throws -> Tensor {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        var rows: [Tensor] = []
        try GradMode.noGrad {
            var seen = 0
            for (x, _) in data.makeBatches(size: batchSize, shuffle: false, rng: RNG(seed: 0)) {
                if seen >= batches { break }
                var h = x
                for layer in model.layers.prefix(index) { h = try layer(h) }
                rows.append(try h.flattened(from: 1))
                seen += 1
            }
        }
        guard !rows.isEmpty else { throw PruningError.invalid("compensation needs data: the dataset gave no batch") }
        return try Tensor.concat(rows, axis: 0)
    }

    /// Refits `weight` [out, in] to read only the inputs `kept` of `x` [samples, in]: returns
    /// the new weight with the other columns zero.
    public static func refit(weight: Tensor, inputs x: Tensor, kept: [Int], mu: Double) throws -> Tensor {
        guard weight.rank == 2, x.rank == 2, weight.shape[1] == x.shape[1] else {
            throw PruningError.invalid("compensation: a weight [out, in] and inputs [samples, in] are needed")
        }
        let n = x.shape[0], d = x.shape[1], out = weight.shape[0], k = kept.count
        guard k > 0, kept.allSatisfy({ $0 >= 0 && $0 < d }), mu >= 0, mu.isFinite else {
            throw PruningError.invalid("compensation: kept inputs must be in 0..<\(d) and μ ≥ 0")
        }
        // G = XᵀX (d×d), then A = G[K, K] + μI and B = W·G[:, K] (out×k).
        let g = try Tensor.empty([d, d])
        BLAS.gemm(transA: true, m: d, n: d, k: n, x.data, x.data, g.data)
        var a = [Float](repeating: 0, count: k * k)
        for (i, p) in kept.enumerated() { for (j, q) in kept.enumerated() { a[i * k + j] = g.data[p * d + q] } }
        // Scale μ with the data so that it means the same for any batch count and feature size.
        var trace: Double = 0
        for i in 0..<k { trace += Double(a[i * k + i]) }
        let ridge = Float(mu * Swift.max(trace / Double(k), 1e-12))
        for i in 0..<k { a[i * k + i] += ridge }
        var b = [Float](repeating: 0, count: out * k)
        for o in 0..<out {
            for (j, q) in kept.enumerated() {
                var s: Float = 0
                for p in 0..<d { s += weight.data[o * d + p] * g.data[p * d + q] }
                b[o * k + j] = s
            }
        }
        // A⁻¹ through its eigen-decomposition (A is symmetric positive semi-definite, plus μI).
        let (values, vectors) = try BLAS.symmetricEigen(a, n: k)
        let largest = values.map { Swift.abs($0) }.max() ?? 0
        var inverse = [Float](repeating: 0, count: k * k)
        for e in 0..<k where values[e] > largest * 1e-7 {
            let inv = 1 / values[e]
            for i in 0..<k { for j in 0..<k { inverse[i * k + j] += vectors[e * k + i] * inv * vectors[e * k + j] } }
        }
        let result = try Tensor.zeros([out, d])
        for o in 0..<out {
            for (j, q) in kept.enumerated() {
                var s: Float = 0
                for i in 0..<k { s += b[o * k + i] * inverse[i * k + j] }
                result.data[o * d + q] = s
            }
        }
        return result
    }

    /// Removes `units` of `group` (zeroing what produces them) and refits every Linear reader
    /// from `data`; returns the readers' reconstruction error (relative, summed) after refitting.
    @discardableResult
    public static func remove(_ units: [Int], of group: UnitGroup, in model: Sequential, data: BatchSource,
                              batches: Int = 8, mu: Double = 1e-3) throws -> Double {
        let removed = Set(units)
        var error: Double = 0
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        // Inputs are taken before anything changes: the refit reproduces the original outputs.
        var plans: [(Tensor, Tensor, [Int])] = []
        for c in group.consumers {
            let parts = c.name.split(separator: ".")
            guard parts.count == 3, parts[0] == "layers", let index = Int(parts[1]), index < model.layers.count,
                  model.layers[index] is Linear, let w = params[c.name] else {
                throw PruningError.structure("compensation refits Linear readers only; \(c.name) reads \(group.name) and is not one (not supported yet)")
            }
            let x = try inputs(of: index, in: model, data: data, batches: batches)
            let kept = (0..<w.shape[1]).filter { !removed.contains($0 / c.span) }
            plans.append((w, x, kept))
        }
        for s in group.producers + group.gates {
            guard let t = params[s.name] else { continue }
            let row = t.count / group.units
            for u in removed where u < group.units { for i in (u * row)..<((u + 1) * row) { t.data[i] = 0 } }
        }
        for (w, x, kept) in plans {
            let fitted = try refit(weight: w, inputs: x, kept: kept, mu: mu)
            error += try reconstructionError(x: x, original: w, fitted: fitted)
            try w.assign(fitted)
        }
        return error
    }

    /// ‖X·Wᵀ − X·W'ᵀ‖² / ‖X·Wᵀ‖².
    public static func reconstructionError(x: Tensor, original: Tensor, fitted: Tensor) throws -> Double {
        let a = try x.matmul(original.transposed()), b = try x.matmul(fitted.transposed())
        var num: Double = 0, den: Double = 0
        for i in 0..<a.count { let d = Double(a.data[i] - b.data[i]); num += d * d; den += Double(a.data[i] * a.data[i]) }
        return num / Swift.max(den, 1e-30)
    }
}

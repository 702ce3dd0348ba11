// Compensation-aware pruning (CaP): after units of a layer are removed, the layer that reads
// them is refitted in closed form so that it reproduces, from the kept inputs only, what it
// computed from all of them on a few batches: with X the reader's inputs and K the kept ones,
//     W' = argmin ‖X·Wᵀ − X_K·W'ᵀ‖² + μ‖W'‖²  =  W·XᵀX_K·(X_KᵀX_K + μI)⁻¹
// (ridge least squares; no retraining). Everything is computed from the Gram matrix G = XᵀX,
// accumulated batch by batch: for a Linear reader X is its input (a unit owns `span` columns
// after a Flatten), for a Conv2d reader X holds its im2col patches (a channel owns k·k columns).
// `removalOrder` ranks units by the reconstruction loss that removing them leaves after
// compensation, greedily, with the group form of the OBS update on (G + μI)⁻¹.
import Engine
import Kernels
import NN

public enum Compensation {
    /// The inputs of layer `index` of `model` over `batches` batches of `data` (evaluation mode),
    /// flattened to [samples, features].
    public static func inputs(of index: Int, in model: Sequential, data: BatchSource, batches: Int, batchSize: Int = 128) throws -> Tensor {
        var rows: [Tensor] = []
        try forEachInput(of: index, in: model, data: data, batches: batches, batchSize: batchSize) { rows.append(try $0.flattened(from: 1)) }
        return try Tensor.concat(rows, axis: 0)
    }

    /// Runs `body` on the input of layer `index` for each of the first `batches` batches.
    static func forEachInput(of index: Int, in model: Sequential, data: BatchSource, batches: Int, batchSize: Int,
                             _ body: (Tensor) throws -> Void) throws {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        var seen = 0
        try GradMode.noGrad {
            for (x, _) in data.makeBatches(size: batchSize, shuffle: false, rng: RNG(seed: 0)) {
                if seen >= batches { break }
                var h = x
                for layer in model.layers.prefix(index) { h = try layer(h) }
                try body(h)
                seen += 1
            }
        }
        guard seen > 0 else { throw PruningError.invalid("compensation needs data: the dataset gave no batch") }
    }

    /// G = XᵀX [d, d] of what layer `index` (a Linear or a Conv2d) multiplies its weight with:
    /// its flattened input, or a convolution's im2col patches (d = c_in·k·k, one row per
    /// output position of every sample).
    public static func gram(of index: Int, in model: Sequential, data: BatchSource, batches: Int, batchSize: Int = 128) throws -> Tensor {
        guard index >= 0, index < model.layers.count else { throw PruningError.invalid("compensation: no layer \(index)") }
        let layer = model.layers[index]
        let d: Int
        switch layer {
        case let l as Linear: d = l.inFeatures
        case let c as Conv2d: d = c.inChannels * c.kernel * c.kernel
        default: throw PruningError.structure("compensation refits Linear and Conv2d readers; layers.\(index) is a \(layer.typeName)")
        }
        let g = try Tensor.zeros([d, d])
        try forEachInput(of: index, in: model, data: data, batches: batches, batchSize: batchSize) { h in
            if let c = layer as? Conv2d {
                guard h.rank == 4, h.shape[1] == c.inChannels else {
                    throw PruningError.structure("compensation: layers.\(index) expected \(c.inChannels) input channels, got \(describe(shape: h.shape))")
                }
                let n = h.shape[0], height = h.shape[2], width = h.shape[3]
                let oh = (height + 2 * c.padding - c.kernel) / c.stride + 1, ow = (width + 2 * c.padding - c.kernel) / c.stride + 1
                let cols = try Tensor.empty([d, n * oh * ow])
                im2col(h.data, batch: n, channels: c.inChannels, height: height, width: width, kernelH: c.kernel, kernelW: c.kernel,
                       stride: c.stride, padding: c.padding, outH: oh, outW: ow, cols.data)
                BLAS.gemm(transB: true, m: d, n: d, k: n * oh * ow, cols.data, cols.data, beta: 1, g.data)
            } else {
                let x = try h.flattened(from: 1)
                guard x.shape[1] == d else { throw PruningError.structure("compensation: layers.\(index) reads \(d) inputs, got \(x.shape[1])") }
                BLAS.gemm(transA: true, m: d, n: d, k: x.shape[0], x.data, x.data, beta: 1, g.data)
            }
        }
        return g
    }

    /// Refits `weight` [out, in] to read only the inputs `kept` of `x` [samples, in]: returns
    /// the new weight with the other columns zero.
    public static func refit(weight: Tensor, inputs x: Tensor, kept: [Int], mu: Double) throws -> Tensor {
        guard x.rank == 2, weight.rank >= 2, weight.count / weight.shape[0] == x.shape[1] else {
            throw PruningError.invalid("compensation: a weight [out, in] and inputs [samples, in] are needed")
        }
        let d = x.shape[1]
        let g = try Tensor.zeros([d, d])
        BLAS.gemm(transA: true, m: d, n: d, k: x.shape[0], x.data, x.data, g.data)
        return try refit(weight: weight, gram: g, kept: kept, mu: mu)
    }

    /// The ridge refit from the Gram matrix: `weight` [out, d, …] (a convolution's filters are
    /// rows of d = c_in·k·k) reading only columns `kept`; the result has the weight's shape and
    /// zeros in the other columns. μ is relative to the mean diagonal of G[K, K].
    public static func refit(weight: Tensor, gram g: Tensor, kept: [Int], mu: Double) throws -> Tensor {
        let out = weight.shape.first ?? 0
        let d = out > 0 ? weight.count / out : 0, k = kept.count
        guard g.shape == [d, d] else { throw PruningError.invalid("compensation: the Gram matrix is \(describe(shape: g.shape)), not \(d)×\(d)") }
        guard k > 0, kept.allSatisfy({ $0 >= 0 && $0 < d }), mu >= 0, mu.isFinite else {
            throw PruningError.invalid("compensation: kept inputs must be in 0..<\(d) and μ ≥ 0")
        }
        // A = G[K, K] + μ'I.
        var a = [Float](repeating: 0, count: k * k)
        for (i, p) in kept.enumerated() { for (j, q) in kept.enumerated() { a[i * k + j] = g.data[p * d + q] } }
        addRidge(&a, n: k, mu: mu)
        // B = (W·G)[:, K], then W'[:, K] = B·A⁻¹, both through BLAS.
        let wg = try Tensor.empty([out, d])
        BLAS.gemm(m: out, n: d, k: d, weight.data, g.data, wg.data)
        let b = try Tensor.empty([out, k]), fitted = try Tensor.empty([out, k])
        for o in 0..<out { for (j, q) in kept.enumerated() { b.data[o * k + j] = wg.data[o * d + q] } }
        let inverse = try invertSymmetric(a, n: k)
        inverse.withUnsafeBufferPointer { v in
            if let p = v.baseAddress { BLAS.gemm(m: out, n: k, k: k, b.data, p, fitted.data) }
        }
        let result = try Tensor.zeros(weight.shape)
        for o in 0..<out { for (j, q) in kept.enumerated() { result.data[o * d + q] = fitted.data[o * k + j] } }
        return result
    }

    /// Adds μ·mean(diag) to the diagonal (so that μ means the same for any batch count and size).
    static func addRidge(_ a: inout [Float], n: Int, mu: Double) {
        var trace: Double = 0
        for i in 0..<n { trace += Double(a[i * n + i]) }
        let ridge = Float(mu * Swift.max(trace / Double(Swift.max(n, 1)), 1e-12))
        for i in 0..<n { a[i * n + i] += ridge }
    }

    /// A⁻¹ of a symmetric positive semi-definite A through its eigen-decomposition (eigenvalues
    /// below 1e-7 of the largest are dropped: the pseudo-inverse).
    static func invertSymmetric(_ a: [Float], n: Int) throws -> [Float] {
        let (values, vectors) = try BLAS.symmetricEigen(a, n: n)
        let largest = values.map { Swift.abs($0) }.max() ?? 0
        // V·diag(1/λ)·Vᵀ, with the rows of `vectors` the eigenvectors (dropped ones scale to 0).
        let scaled = try Tensor.zeros([n, n]), inverse = try Tensor.zeros([n, n])
        for e in 0..<n where values[e] > largest * 1e-7 {
            let inv = 1 / values[e]
            for i in 0..<n { scaled.data[e * n + i] = vectors[e * n + i] * inv }
        }
        vectors.withUnsafeBufferPointer { v in
            if let p = v.baseAddress { BLAS.gemm(transA: true, m: n, n: n, k: n, p, scaled.data, inverse.data) }
        }
        return Array(UnsafeBufferPointer(start: inverse.data, count: n * n))
    }

    /// The order in which to remove the live units of a group read through `weight` [out, d]
    /// (unit u owns columns u·columns ..< (u+1)·columns): each step removes the unit whose
    /// removal leaves the smallest reconstruction loss after compensation,
    ///     Δ_u = Σ_o W'[o, Q]·(H[Q, Q])⁻¹·W'[o, Q]ᵀ,  H = (G[K, K] + μI)⁻¹, Q = u's columns,
    /// then updates W' and H by the Schur complement (the group OBS step). The last live unit
    /// is never removed; it ends the list.
    public static func removalOrder(weight: Tensor, gram g: Tensor, columns: Int, alive: [Bool], mu: Double) throws -> [Int] {
        let out = weight.shape.first ?? 0, d = out > 0 ? weight.count / out : 0
        guard columns > 0, alive.count * columns == d, g.shape == [d, d] else {
            throw PruningError.invalid("compensation: \(alive.count) units of \(columns) columns do not make the reader's \(d) inputs")
        }
        let live = alive.indices.filter { alive[$0] }
        let active = live.flatMap { u in (u * columns)..<((u + 1) * columns) }
        let n = active.count
        guard n > 0 else { return [] }
        var a = [Float](repeating: 0, count: n * n)
        for (i, p) in active.enumerated() { for (j, q) in active.enumerated() { a[i * n + j] = g.data[p * d + q] } }
        let gk = a
        addRidge(&a, n: n, mu: mu)
        let h = try Tensor(shape: [n, n], data: try invertSymmetric(a, n: n))
        // W' = W[:, K]·G[K, K]·H: the ridge fit over every live column.
        let wk = try Tensor.zeros([out, n]), wg = try Tensor.zeros([out, n]), w = try Tensor.zeros([out, n])
        for o in 0..<out { for (i, p) in active.enumerated() { wk.data[o * n + i] = weight.data[o * d + p] } }
        gk.withUnsafeBufferPointer { v in if let p = v.baseAddress { BLAS.gemm(m: out, n: n, k: n, wk.data, p, wg.data) } }
        BLAS.gemm(m: out, n: n, k: n, wg.data, h.data, w.data)
        var remaining = live
        var order: [Int] = []
        let position = Dictionary(uniqueKeysWithValues: live.enumerated().map { ($0.element, $0.offset * columns) })
        let q = columns
        let hq = try Tensor.zeros([n, q]), hqInv = try Tensor.zeros([n, q]), wq = try Tensor.zeros([out, q]), wqInv = try Tensor.zeros([out, q])
        while remaining.count > 1 {
            if Interrupt.requested { throw Interrupt.stopped }
            var best = (loss: Double.infinity, unit: -1, inverse: [Double]())
            for u in remaining {
                guard let s = position[u] else { continue }
                var block = [Double](repeating: 0, count: q * q)
                for i in 0..<q { for j in 0..<q { block[i * q + j] = Double(h.data[(s + i) * n + s + j]) } }
                guard let inv = invertSmall(block, n: q) else { continue }
                var loss: Double = 0
                for o in 0..<out {
                    for i in 0..<q {
                        let wi = Double(w.data[o * n + s + i])
                        if wi == 0 { continue }
                        var t: Double = 0
                        for j in 0..<q { t += inv[i * q + j] * Double(w.data[o * n + s + j]) }
                        loss += wi * t
                    }
                }
                if loss < best.loss || best.unit < 0 { best = (loss, u, inv) }
            }
            guard best.unit >= 0, let s = position[best.unit] else { break }
            // hqInv = H[:, Q]·(H[Q, Q])⁻¹, wqInv = W'[:, Q]·(H[Q, Q])⁻¹; then
            // W' −= wqInv·H[Q, :] and H −= hqInv·H[Q, :] (the Q rows and columns become zero).
            for r in 0..<n { for i in 0..<q { hq.data[r * q + i] = h.data[r * n + s + i] } }
            for o in 0..<out { for i in 0..<q { wq.data[o * q + i] = w.data[o * n + s + i] } }
            for r in 0..<n {
                for j in 0..<q {
                    var t: Double = 0
                    for i in 0..<q { t += Double(hq.data[r * q + i]) * best.inverse[i * q + j] }
                    hqInv.data[r * q + j] = Float(t)
                }
            }
            for o in 0..<out {
                for j in 0..<q {
                    var t: Double = 0
                    for i in 0..<q { t += Double(wq.data[o * q + i]) * best.inverse[i * q + j] }
                    wqInv.data[o * q + j] = Float(t)
                }
            }
            // H[Q, :] is the transpose of H[:, Q] (H is symmetric): use hq with transB.
            BLAS.gemm(transB: true, m: out, n: n, k: q, alpha: -1, wqInv.data, hq.data, beta: 1, w.data)
            BLAS.gemm(transB: true, m: n, n: n, k: q, alpha: -1, hqInv.data, hq.data, beta: 1, h.data)
            for r in 0..<n { for i in 0..<q { h.data[r * n + s + i] = 0; h.data[(s + i) * n + r] = 0 } }
            for o in 0..<out { for i in 0..<q { w.data[o * n + s + i] = 0 } }
            order.append(best.unit)
            remaining.removeAll { $0 == best.unit }
        }
        return order + remaining
    }

    /// The inverse of a small symmetric positive definite matrix by Gauss–Jordan (nil when singular).
    static func invertSmall(_ a: [Double], n: Int) -> [Double]? {
        var m = a, inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n { inv[i * n + i] = 1 }
        for c in 0..<n {
            guard let pivot = (c..<n).max(by: { Swift.abs(m[$0 * n + c]) < Swift.abs(m[$1 * n + c]) }),
                  Swift.abs(m[pivot * n + c]) > 1e-30 else { return nil }
            if pivot != c { for j in 0..<n { m.swapAt(c * n + j, pivot * n + j); inv.swapAt(c * n + j, pivot * n + j) } }
            let p = 1 / m[c * n + c]
            for j in 0..<n { m[c * n + j] *= p; inv[c * n + j] *= p }
            for r in 0..<n where r != c {
                let f = m[r * n + c]
                if f == 0 { continue }
                for j in 0..<n { m[r * n + j] -= f * m[c * n + j]; inv[r * n + j] -= f * inv[c * n + j] }
            }
        }
        return inv
    }

    /// The one layer that reads `slice` at the top level of `model`: its index and the number
    /// of its weight's columns per unit (`span` for a Linear, k·k for a Conv2d).
    static func reader(_ slice: UnitSlice, of group: UnitGroup, in model: Sequential) throws -> (index: Int, columns: Int) {
        let parts = slice.name.split(separator: ".")
        guard parts.count == 3, parts[0] == "layers", parts[2] == "weight", let index = Int(parts[1]), index < model.layers.count else {
            throw PruningError.structure("compensation refits top-level Linear and Conv2d readers; \(slice.name) reads \(group.name) and is not one")
        }
        switch model.layers[index] {
        case is Linear: return (index, slice.span)
        case let c as Conv2d: return (index, c.kernel * c.kernel)
        default:
            throw PruningError.structure("compensation refits Linear and Conv2d readers; \(slice.name) reads \(group.name) and is not one")
        }
    }

    /// Removes `units` of `group` (zeroing what produces them) and refits every reader from
    /// `data`; returns the readers' reconstruction error (relative, summed) after refitting.
    @discardableResult
    public static func remove(_ units: [Int], of group: UnitGroup, in model: Sequential, data: BatchSource,
                              batches: Int = 8, mu: Double = 1e-3) throws -> Double {
        let removed = Set(units)
        let params = Dictionary(model.namedParameters(), uniquingKeysWith: { a, _ in a })
        // Gram matrices are taken before anything changes: the refit reproduces the original outputs.
        var plans: [(weight: Tensor, gram: Tensor, kept: [Int])] = []
        for c in group.consumers {
            let (index, columns) = try reader(c, of: group, in: model)
            guard let w = params[c.name] else { continue }
            let d = w.count / Swift.max(w.shape[0], 1)
            plans.append((w, try gram(of: index, in: model, data: data, batches: batches), (0..<d).filter { !removed.contains($0 / columns) }))
        }
        for s in group.producers + group.gates {
            guard let t = params[s.name] else { continue }
            let row = t.count / group.units
            for u in removed where u < group.units { for i in (u * row)..<((u + 1) * row) { t.data[i] = 0 } }
        }
        var error: Double = 0
        for plan in plans {
            let fitted = try refit(weight: plan.weight, gram: plan.gram, kept: plan.kept, mu: mu)
            error += try reconstructionError(gram: plan.gram, original: plan.weight, fitted: fitted)
            try plan.weight.assign(fitted)
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

    /// The same from the Gram matrix: tr((W − W')·G·(W − W')ᵀ) / tr(W·G·Wᵀ).
    public static func reconstructionError(gram g: Tensor, original: Tensor, fitted: Tensor) throws -> Double {
        let out = original.shape.first ?? 0, d = out > 0 ? original.count / out : 0
        guard fitted.count == original.count, g.shape == [d, d] else { throw PruningError.invalid("compensation: shapes do not agree") }
        let diff = try Tensor.empty([out, d]), dg = try Tensor.empty([out, d]), wg = try Tensor.empty([out, d])
        for i in 0..<(out * d) { diff.data[i] = original.data[i] - fitted.data[i] }
        BLAS.gemm(m: out, n: d, k: d, diff.data, g.data, dg.data)
        BLAS.gemm(m: out, n: d, k: d, original.data, g.data, wg.data)
        var num: Double = 0, den: Double = 0
        for i in 0..<(out * d) { num += Double(diff.data[i] * dg.data[i]); den += Double(original.data[i] * wg.data[i]) }
        return num / Swift.max(den, 1e-30)
    }
}

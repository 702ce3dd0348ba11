// Normalisation and regularisation layers: batch norm, layer norm, dropout, and embedding lookup.
import Kernels

/// Σ (x[i] − m)² over n elements; the two-pass form keeps the variance accurate when the mean is
/// large compared with the spread.
@inline(__always)
private func centredSquares(_ x: UnsafePointer<Float>, _ m: Float, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    let mv = SIMD8<Float>(repeating: m)
    var i = 0
    while i + 8 <= n {
        let d = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - mv
        acc += d * d
        i += 8
    }
    var s = acc.sum()
    while i < n { let d = x[i] - m; s += d * d; i += 1 }
    return s
}

/// Σ g[i]·(x[i] − m) over n elements.
@inline(__always)
private func centredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ m: Float, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    let mv = SIMD8<Float>(repeating: m)
    var i = 0
    while i + 8 <= n {
        let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        acc += gv * (xv - mv)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += g[i] * (x[i] - m); i += 1 }
    return s
}

extension Tensor {
    /// Batch normalisation as torch.nn.functional.batch_norm over channel axis 1 of x [N, C] or
    /// [N, C, H, W] (any trailing spatial axes). In training, normalises with the batch mean and
    /// biased variance and updates `runningMean` / `runningVar` in place with the unbiased
    /// variance: r ← (1 − momentum)·r + momentum·stat. In evaluation, normalises with the running
    /// statistics. `weight` (γ) and `bias` (β) are [C], or nil for no affine transform.
    public static func batchNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor, runningVar: Tensor,
                                 training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) throws -> Tensor {
        guard x.rank >= 2 else {
            throw EngineError("batchNorm: input must be [N, C] or [N, C, H, W], got \(describe(shape: x.shape))")
        }
        let n = x.shape[0], c = x.shape[1], s = x.shape[2...].reduce(1, *)
        for (name, t) in [("weight", weight), ("bias", bias), ("running mean", runningMean), ("running variance", runningVar)] {
            if let t, t.shape != [c] {
                throw EngineError("batchNorm: \(name) of shape \(describe(shape: t.shape)) does not match \(c) channels of input \(describe(shape: x.shape))")
            }
        }
        guard eps >= 0 else { throw EngineError("batchNorm: eps must be ≥ 0, got \(eps)") }
        let m = n * s
        if training && m <= 1 {
            throw EngineError("batchNorm: training needs more than 1 value per channel, got input \(describe(shape: x.shape))")
        }

        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        if training {
            var variance = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                var sum = 0.0
                for img in 0..<n { sum += Double(sum8(x.data + (img * c + ch) * s, s)) }
                let mu = Float(sum / Double(m))
                var sq = 0.0
                for img in 0..<n { sq += Double(centredSquares(x.data + (img * c + ch) * s, mu, s)) }
                let v = Float(sq / Double(m))
                mean[ch] = mu; variance[ch] = v
                invStd[ch] = 1 / (v + eps).squareRoot()
            }
            let unbias = Float(m) / Float(m - 1)
            for ch in 0..<c {
                runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
                runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * variance[ch] * unbias
            }
        } else {
            for ch in 0..<c {
                mean[ch] = runningMean.data[ch]
                invStd[ch] = 1 / (runningVar.data[ch] + eps).squareRoot()
            }
        }

        // Folding γ, β and the statistics into one scale and shift per channel makes the
        // normalisation a single pass: y = x·a + b with a = γ/σ and b = β − μ·a.
        var a = [Float](repeating: 0, count: c)
        let out = Tensor.empty(like: x)
        for ch in 0..<c {
            let scaleC = invStd[ch] * (weight?.data[ch] ?? 1)
            let shift = (bias?.data[ch] ?? 0) - mean[ch] * scaleC
            a[ch] = scaleC
            for img in 0..<n {
                let off = (img * c + ch) * s
                affine(x.data + off, scaleC, shift, out.data + off, s)
            }
        }

        return record("batchNorm", out, [x] + [weight, bias].compactMap { $0 }) { g in
            let gx: Tensor? = x.requiresGrad ? Tensor.empty(like: x) : nil
            let gw: Tensor? = weight.flatMap { $0.requiresGrad ? Tensor.empty(like: $0) : nil }
            let gb: Tensor? = bias.flatMap { $0.requiresGrad ? Tensor.empty(like: $0) : nil }
            for ch in 0..<c {
                // Σg and Σg·(x − μ) over the channel give every gradient.
                var sg = 0.0, sgx = 0.0
                for img in 0..<n {
                    let off = (img * c + ch) * s
                    sg += Double(sum8(g.data + off, s))
                    sgx += Double(centredDot(g.data + off, x.data + off, mean[ch], s))
                }
                gb?.data[ch] = Float(sg)
                gw?.data[ch] = Float(sgx) * invStd[ch]
                guard let gx else { continue }
                let ac = a[ch]
                if training {
                    // The batch statistics depend on x: dx = a·(g − Σg/M − x̂·Σ(g·x̂)/M).
                    let k = ac * invStd[ch] * invStd[ch] * Float(sgx / Double(m))
                    let shift = -ac * Float(sg / Double(m)) + k * mean[ch]
                    for img in 0..<n {
                        let off = (img * c + ch) * s
                        let gp = g.data + off, xp = x.data + off, dp = gx.data + off
                        for i in 0..<s { dp[i] = ac * gp[i] - k * xp[i] + shift }
                    }
                } else {
                    for img in 0..<n {
                        let off = (img * c + ch) * s
                        scale(g.data + off, ac, gx.data + off, s)
                    }
                }
            }
            var grads: [Tensor?] = [gx]
            if weight != nil { grads.append(gw) }
            if bias != nil { grads.append(gb) }
            return grads
        }
    }

    /// Layer normalisation over the last axis as torch.nn.functional.layer_norm with
    /// normalized_shape = [D]: each row of x [..., D] is centred and scaled by its biased
    /// standard deviation, then by `weight` (γ) and `bias` (β), both [D] or nil.
    public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) throws -> Tensor {
        guard x.rank >= 1, let d = x.shape.last, d > 0 else {
            throw EngineError("layerNorm: input must have a non-empty last axis, got \(describe(shape: x.shape))")
        }
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t, t.shape != [d] {
                throw EngineError("layerNorm: \(name) of shape \(describe(shape: t.shape)) does not match the last axis (\(d)) of input \(describe(shape: x.shape))")
            }
        }
        guard eps >= 0 else { throw EngineError("layerNorm: eps must be ≥ 0, got \(eps)") }
        let rows = x.count / d
        var mean = [Float](repeating: 0, count: rows), invStd = [Float](repeating: 0, count: rows)
        let out = Tensor.empty(like: x)
        let gamma = weight?.data, beta = bias?.data
        for r in 0..<rows {
            let xp = x.data + r * d, op = out.data + r * d
            let mu = sum8(xp, d) / Float(d)
            let inv = 1 / (centredSquares(xp, mu, d) / Float(d) + eps).squareRoot()
            mean[r] = mu; invStd[r] = inv
            affine(xp, inv, -mu * inv, op, d)
            if let gamma { for i in 0..<d { op[i] *= gamma[i] } }
            if let beta { for i in 0..<d { op[i] += beta[i] } }
        }

        return record("layerNorm", out, [x] + [weight, bias].compactMap { $0 }) { g in
            let gx: Tensor? = x.requiresGrad ? Tensor.empty(like: x) : nil
            let gw: Tensor? = weight.flatMap { $0.requiresGrad ? Tensor.zeros(like: $0) : nil }
            let gb: Tensor? = bias.flatMap { $0.requiresGrad ? Tensor.zeros(like: $0) : nil }
            // Per-row scratch, allocated once rather than per row.
            let xhat = Tensor.empty(existing: [d]), gh = Tensor.empty(existing: [d])
            let xh = xhat.data, ghp = gh.data
            let invD = 1 / Float(d)
            for r in 0..<rows {
                let xp = x.data + r * d, gp = g.data + r * d
                let inv = invStd[r]
                affine(xp, inv, -mean[r] * inv, xh, d)
                if let gw { let p = gw.data; for i in 0..<d { p[i] += gp[i] * xh[i] } }
                if let gb { axpy(1, gp, gb.data, d) }
                guard let gx else { continue }
                if let gamma { for i in 0..<d { ghp[i] = gp[i] * gamma[i] } } else { ghp.update(from: gp, count: d) }
                let s1 = sum8(ghp, d) * invD
                let s2 = centredDot(ghp, xh, 0, d) * invD
                let dp = gx.data + r * d
                for i in 0..<d { dp[i] = inv * (ghp[i] - s1 - xh[i] * s2) }
            }
            var grads: [Tensor?] = [gx]
            if weight != nil { grads.append(gw) }
            if bias != nil { grads.append(gb) }
            return grads
        }
    }

    /// Inverted dropout: in training, zeroes each element with probability p and scales the rest
    /// by 1/(1 − p), so evaluation needs no rescaling; in evaluation, or with p = 0, returns the
    /// input itself.
    public func dropout(p: Float, training: Bool, rng: RNG) throws -> Tensor {
        guard p >= 0, p < 1 else {
            throw EngineError("dropout: probability must be in [0, 1), got \(p) (input \(describe(shape: shape)))")
        }
        if !training || p == 0 { return self }
        let keep = 1 / (1 - p)
        let mask = Tensor.empty(like: self)
        let mp = mask.data
        for i in 0..<count { mp[i] = rng.uniform() >= p ? keep : 0 }
        let out = Tensor.empty(like: self)
        binary(.mul, data, 1, mp, 1, out.data, count)
        return Tensor.record("dropout", out, [self]) { g in
            let gx = Tensor.empty(like: self)
            binary(.mul, g.data, 1, mask.data, 1, gx.data, gx.count)
            return [gx]
        }
    }

    /// Looks up rows of `weight` [V, D]: `indices`, laid out as `shape`, give an output of shape
    /// `shape + [D]`. The gradient adds into the rows that were read (repeats accumulate).
    public static func embedding(_ indices: [Int], shape: [Int], weight: Tensor) throws -> Tensor {
        guard weight.rank == 2 else {
            throw EngineError("embedding: weight must be [vocabulary, dim], got \(describe(shape: weight.shape))")
        }
        guard shape.allSatisfy({ $0 >= 0 }), try TensorSize.elements(shape) == indices.count else {
            throw EngineError("embedding: \(indices.count) indices cannot be laid out as \(describe(shape: shape))")
        }
        let v = weight.shape[0], d = weight.shape[1]
        try TensorSize.elements(shape + [d])
        if let bad = indices.firstIndex(where: { $0 < 0 || $0 >= v }) {
            throw EngineError("embedding: index \(indices[bad]) at position \(bad) is out of range for a vocabulary of \(v) (weight \(describe(shape: weight.shape)))")
        }
        return weight.indexSelectUnchecked(axis: 0, indices).reshaped(unchecked: shape + [d])
    }
}

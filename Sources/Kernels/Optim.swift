// Fused optimizer updates: one pass over each parameter, no temporaries.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SGD with momentum μ, optional Nesterov and L2 weight decay:
/// g' = g + wd·w; v = μ·v + g'; w −= lr·(nesterov ? g' + μ·v : v). With μ = 0, v is unused.
public func sgdStep(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>?,
                    _ n: Int, lr: Float, momentum: Float, weightDecay: Float, nesterov: Bool,
                    mask: UnsafePointer<Float>? = nil) {
    if let mask {
        // A fixed pruning mask: pruned weights and their momentum end the step at exactly 0, in
        // the same pass (a separate re-zeroing pass would stream the weights again).
        // A select, not a product: a pruned weight is +0.0, never −0.0.
        if let v, momentum != 0 {
            for i in 0..<n {
                let keep = mask[i] != 0
                let gi = g[i] + weightDecay * w[i]
                let vi = keep ? momentum * v[i] + gi : 0
                v[i] = vi
                w[i] = keep ? w[i] - lr * (nesterov ? gi + momentum * vi : vi) : 0
            }
        } else {
            for i in 0..<n { w[i] = mask[i] != 0 ? w[i] - lr * (g[i] + weightDecay * w[i]) : 0 }
        }
        return
    }
    guard let v, momentum != 0 else {
        for i in 0..<n { w[i] -= lr * (g[i] + weightDecay * w[i]) }
        return
    }
    if nesterov {
        for i in 0..<n {
            let gi = g[i] + weightDecay * w[i]
            let vi = momentum * v[i] + gi
            v[i] = vi
            w[i] -= lr * (gi + momentum * vi)
        }
    } else {
        for i in 0..<n {
            let vi = momentum * v[i] + g[i] + weightDecay * w[i]
            v[i] = vi
            w[i] -= lr * vi
        }
    }
}

/// Adam / AdamW. `decoupled` applies weight decay to the weights directly (AdamW), otherwise it
/// is added to the gradient (Adam with L2). c1, c2 are the bias corrections 1 − βᵗ.
public func adamStep(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                     _ v: UnsafeMutablePointer<Float>, _ n: Int, lr: Float, beta1: Float, beta2: Float, eps: Float,
                     weightDecay: Float, decoupled: Bool, c1: Float, c2: Float, mask: UnsafePointer<Float>? = nil) {
    let step = lr / c1, inv2 = 1 / c2.squareRoot()
    let l2: Float = decoupled ? 0 : weightDecay
    let shrink: Float = decoupled ? 1 - lr * weightDecay : 1
    if let mask {
        // Pruned weights and both moments end the step at exactly 0 (see sgdStep).
        for i in 0..<n {
            let keep = mask[i] != 0
            let gi = g[i] + l2 * w[i]
            let mi = keep ? beta1 * m[i] + (1 - beta1) * gi : 0
            let vi = keep ? beta2 * v[i] + (1 - beta2) * gi * gi : 0
            m[i] = mi; v[i] = vi
            w[i] = keep ? w[i] * shrink - step * mi / (vi.squareRoot() * inv2 + eps) : 0
        }
        return
    }
    for i in 0..<n {
        let gi = g[i] + l2 * w[i]
        let mi = beta1 * m[i] + (1 - beta1) * gi
        let vi = beta2 * v[i] + (1 - beta2) * gi * gi
        m[i] = mi; v[i] = vi
        w[i] = w[i] * shrink - step * mi / (vi.squareRoot() * inv2 + eps)
    }
}

/// Σ x², in Double.
public func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc = SIMD8<Float>(repeating: 0), s: Double = 0
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        acc.addProduct(v, v)
        i += 8
        if i % 4096 == 0 { s += Double(acc.sum()); acc = .init(repeating: 0) }
    }
    s += Double(acc.sum())
    while i < n { s += Double(x[i] * x[i]); i += 1 }
    return s
}

extension SIMD8 where Scalar == Float {
    @inline(__always) mutating func addProduct(_ a: Self, _ b: Self) { self = self.addingProduct(a, b) }
}

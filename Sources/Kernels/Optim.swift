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
    // Every element is independent: large parameters are updated on both threads.
    splitElementwise(n) { lo, hi in
        sgdStepSerial(w + lo, g + lo, v.map { $0 + lo }, hi - lo, lr: lr, momentum: momentum, weightDecay: weightDecay,
                      nesterov: nesterov, mask: mask.map { $0 + lo })
    }
}

private func sgdStepSerial(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>?,
                           _ n: Int, lr: Float, momentum: Float, weightDecay: Float, nesterov: Bool,
                           mask: UnsafePointer<Float>?) {
    if let mask {
        // A fixed pruning mask: pruned weights and their momentum end the step at exactly 0, in
        // the same pass (a separate re-zeroing pass would stream the weights again).
        // x·m + 0 rather than a select: it stays plain vector arithmetic (a select compiles to
        // masked loads and stores, which are slow on AMD), and adding +0 turns the −0.0 of a
        // negative weight times 0 into +0.0, so pruned weights are exactly +0.0.
        if let v, momentum != 0 {
            if nesterov {
                for i in 0..<n {
                    let m = mask[i], gi = g[i] + weightDecay * w[i]
                    let vi = (momentum * v[i] + gi) * m + 0
                    v[i] = vi
                    w[i] = (w[i] - lr * (gi + momentum * vi)) * m + 0
                }
            } else {
                for i in 0..<n {
                    let m = mask[i]
                    let vi = (momentum * v[i] + g[i] + weightDecay * w[i]) * m + 0
                    v[i] = vi
                    w[i] = (w[i] - lr * vi) * m + 0
                }
            }
        } else {
            for i in 0..<n { w[i] = (w[i] - lr * (g[i] + weightDecay * w[i])) * mask[i] + 0 }
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
    splitElementwise(n) { lo, hi in
        adamStepSerial(w + lo, g + lo, m + lo, v + lo, hi - lo, lr: lr, beta1: beta1, beta2: beta2, eps: eps,
                       weightDecay: weightDecay, decoupled: decoupled, c1: c1, c2: c2, mask: mask.map { $0 + lo })
    }
}

private func adamStepSerial(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                            _ v: UnsafeMutablePointer<Float>, _ n: Int, lr: Float, beta1: Float, beta2: Float, eps: Float,
                            weightDecay: Float, decoupled: Bool, c1: Float, c2: Float, mask: UnsafePointer<Float>?) {
    let step = lr / c1, inv2 = 1 / c2.squareRoot()
    let l2: Float = decoupled ? 0 : weightDecay
    let shrink: Float = decoupled ? 1 - lr * weightDecay : 1
    // Written on SIMD8 lanes: the compiler leaves the scalar loop unvectorised (square root and
    // four possibly aliasing pointers). With a mask, pruned weights and both moments end at
    // exactly +0.0: x·m + 0 is plain arithmetic and turns −0.0 into +0.0 (see sgdStep).
    typealias V = SIMD8<Float>
    let b1 = V(repeating: beta1), b2 = V(repeating: beta2), nb1 = V(repeating: 1 - beta1), nb2 = V(repeating: 1 - beta2)
    let vl2 = V(repeating: l2), vshrink = V(repeating: shrink), vstep = V(repeating: step)
    let vinv2 = V(repeating: inv2), veps = V(repeating: eps), zero = V(repeating: 0)
    let rw = UnsafeMutableRawPointer(w), rg = UnsafeRawPointer(g), rm = UnsafeMutableRawPointer(m), rv = UnsafeMutableRawPointer(v)
    let rk = mask.map { UnsafeRawPointer($0) }
    var i = 0
    while i + 8 <= n {
        let o = 4 * i
        let wi = rw.loadUnaligned(fromByteOffset: o, as: V.self)
        let gi = rg.loadUnaligned(fromByteOffset: o, as: V.self) + vl2 * wi
        var mi = b1 * rm.loadUnaligned(fromByteOffset: o, as: V.self) + nb1 * gi
        var vi = b2 * rv.loadUnaligned(fromByteOffset: o, as: V.self) + nb2 * gi * gi
        var wn = wi * vshrink - vstep * mi / (vi.squareRoot() * vinv2 + veps)
        if let rk {
            let k = rk.loadUnaligned(fromByteOffset: o, as: V.self)
            mi = mi * k + zero; vi = vi * k + zero; wn = wn * k + zero
        }
        rm.storeBytes(of: mi, toByteOffset: o, as: V.self)
        rv.storeBytes(of: vi, toByteOffset: o, as: V.self)
        rw.storeBytes(of: wn, toByteOffset: o, as: V.self)
        i += 8
    }
    while i < n {
        let k: Float = mask?[i] ?? 1
        let gi = g[i] + l2 * w[i]
        let mi = (beta1 * m[i] + (1 - beta1) * gi) * k + 0
        let vi = (beta2 * v[i] + (1 - beta2) * gi * gi) * k + 0
        m[i] = mi; v[i] = vi
        w[i] = (w[i] * shrink - step * mi / (vi.squareRoot() * inv2 + eps)) * k + 0
        i += 1
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

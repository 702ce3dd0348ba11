// Fused optimizer updates: one pass over each parameter, no temporaries.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// Eight-lane arithmetic for the hand-vectorised kernels. On x86-64 these are the AVX
/// instructions themselves: `SIMD8.squareRoot()` (like `Float.squareRoot()`) compiles to a scalar
/// sqrtss per lane plus a call to libm's sqrtf for negative inputs (errno), and LLVM's lowering of
/// the generic SIMD8 operators around it splits vectors into shuffled halves, which made Adam
/// ten times slower than its memory traffic. Every operation is a single IEEE operation (no
/// fused multiply-add), so the results are identical to the scalar code's.
typealias F8 = SIMD8<Float>

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
@inline(__always) func add8(_ a: F8, _ b: F8) -> F8 { _mm256_add_ps(a, b) }
@inline(__always) func sub8(_ a: F8, _ b: F8) -> F8 { _mm256_sub_ps(a, b) }
@inline(__always) func mul8(_ a: F8, _ b: F8) -> F8 { _mm256_mul_ps(a, b) }
@inline(__always) func div8(_ a: F8, _ b: F8) -> F8 { _mm256_div_ps(a, b) }
@inline(__always) func sqrt8(_ a: F8) -> F8 { _mm256_sqrt_ps(a) }
@inline(__always) func load8(_ p: UnsafePointer<Float>) -> F8 { _mm256_loadu_ps(p) }
@inline(__always) func store8(_ p: UnsafeMutablePointer<Float>, _ x: F8) { _mm256_storeu_ps(p, x) }
#else
@inline(__always) func add8(_ a: F8, _ b: F8) -> F8 { a + b }
@inline(__always) func sub8(_ a: F8, _ b: F8) -> F8 { a - b }
@inline(__always) func mul8(_ a: F8, _ b: F8) -> F8 { a * b }
@inline(__always) func div8(_ a: F8, _ b: F8) -> F8 { a / b }
@inline(__always) func sqrt8(_ a: F8) -> F8 { a.squareRoot() }
@inline(__always) func load8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
@inline(__always) func store8(_ p: UnsafeMutablePointer<Float>, _ x: F8) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: F8.self) }
#endif

/// One optimizer's update of one tensor at one step, with the step's learning rate and, for
/// Adam, its bias corrections c1 = 1 − β₁ᵗ, c2 = 1 − β₂ᵗ.
public enum UpdateRule: Sendable, Equatable {
    case sgd(lr: Float, momentum: Float, weightDecay: Float, nesterov: Bool)
    case adam(lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float, decoupled: Bool, c1: Float, c2: Float)
}

/// Applies one update rule to `n` elements with `sgdStep` / `adamStep`. `first` is the momentum
/// or Adam's first moment, `second` Adam's second moment; `mask` as in those kernels.
public func applyRule(_ rule: UpdateRule, _ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                      _ first: UnsafeMutablePointer<Float>?, _ second: UnsafeMutablePointer<Float>?, _ n: Int,
                      mask: UnsafePointer<Float>? = nil) {
    switch rule {
    case let .sgd(lr, momentum, wd, nesterov):
        sgdStep(w, g, first, n, lr: lr, momentum: momentum, weightDecay: wd, nesterov: nesterov, mask: mask)
    case let .adam(lr, b1, b2, eps, wd, decoupled, c1, c2):
        guard let first, let second else { return }
        adamStep(w, g, first, second, n, lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd, decoupled: decoupled,
                 c1: c1, c2: c2, mask: mask)
    }
}

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
    // Written on eight lanes (see `F8`): the compiler leaves the scalar loop unvectorised (square
    // root and four possibly aliasing pointers). The same operations in the same order as the
    // scalar tail, so every element gets the same result wherever it falls. With a mask, pruned
    // weights and both moments end at exactly +0.0: x·m + 0 is plain arithmetic and turns −0.0
    // into +0.0 (see sgdStep).
    let b1 = F8(repeating: beta1), b2 = F8(repeating: beta2), nb1 = F8(repeating: 1 - beta1), nb2 = F8(repeating: 1 - beta2)
    let vl2 = F8(repeating: l2), vshrink = F8(repeating: shrink), vstep = F8(repeating: step)
    let vinv2 = F8(repeating: inv2), veps = F8(repeating: eps), zero = F8(repeating: 0)
    var i = 0
    @inline(__always) func lanes(_ i: Int) -> (m: F8, v: F8, w: F8) {
        let wi = load8(w + i)
        let gi = add8(load8(g + i), mul8(vl2, wi))
        let mi = add8(mul8(b1, load8(m + i)), mul8(nb1, gi))
        let vi = add8(mul8(b2, load8(v + i)), mul8(mul8(nb2, gi), gi))
        let wn = sub8(mul8(wi, vshrink), div8(mul8(vstep, mi), add8(mul8(sqrt8(vi), vinv2), veps)))
        return (mi, vi, wn)
    }
    if let mask {
        while i + 8 <= n {
            let (mi, vi, wn) = lanes(i), k = load8(mask + i)
            store8(m + i, add8(mul8(mi, k), zero)); store8(v + i, add8(mul8(vi, k), zero)); store8(w + i, add8(mul8(wn, k), zero))
            i += 8
        }
    } else {
        while i + 8 <= n {
            let (mi, vi, wn) = lanes(i)
            store8(m + i, mi); store8(v + i, vi); store8(w + i, wn)
            i += 8
        }
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

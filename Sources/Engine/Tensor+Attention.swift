// Multi-head scaled dot-product attention as one op: the B·H small per-head products run as a
// batch spread over the engine's threads, each reading its head's columns of [B, T, D] in place
// (a leading dimension of D) instead of permuting q, k and v into [B·H, T, dh] copies.
import Kernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Tensor {
    /// The score added to padded keys before the softmax, as Hugging Face's BERT does
    /// (torch.finfo(float32).min): their probability is exactly 0 unless every key is padding,
    /// where the row becomes uniform instead of NaN.
    public static let attentionMaskScore = -Float.greatestFiniteMagnitude

    /// Multi-head attention over q, k, v [B, T, D] split into `heads` heads of dh = D/heads:
    /// per head softmax(q·kᵀ/√dh + padding)·v, the heads side by side in the output [B, T, D].
    /// `keyMask` [B, T] holds 1 for real tokens and 0 for padding (keys that no query may
    /// attend to). With `dropout` > 0 the attention probabilities are dropped (inverted scaling)
    /// with draws from `rng`, as torch's attention-probability dropout in training.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, keyMask: Tensor? = nil,
                                 dropout: Float = 0, rng: RNG? = nil) throws -> Tensor {
        guard q.rank == 3, k.shape == q.shape, v.shape == q.shape else {
            throw EngineError("attention: q, k and v must be [batch, tokens, dim] of one shape, got \(describe(shape: q.shape)), \(describe(shape: k.shape)) and \(describe(shape: v.shape))")
        }
        let b = q.shape[0], t = q.shape[1], d = q.shape[2]
        guard heads > 0, d % heads == 0 else { throw EngineError("attention: dim \(d) is not divisible by \(heads) heads") }
        if let keyMask, keyMask.shape != [b, t] {
            throw EngineError("attention: the key mask must be [batch, tokens] = \(describe(shape: [b, t])), got \(describe(shape: keyMask.shape))")
        }
        guard dropout >= 0, dropout < 1 else { throw EngineError("attention: dropout must be in [0, 1), got \(dropout)") }
        let dh = d / heads, n = b * heads, tt = t * t
        let scale = 1 / Float(dh).squareRoot()
        let out = try Tensor.empty([b, t, d])
        // probs: softmax per head [B·H, T, T]; keep: the dropout multipliers (0 or 1/(1−p)).
        let probs = try Tensor.empty([n, t, t])
        var keep: Tensor?
        if dropout > 0, let rng {
            let m = try Tensor.empty([n, t, t])
            let scaleKept = 1 / (1 - dropout)
            for i in 0..<m.count { m.data[i] = rng.uniform() >= dropout ? scaleKept : 0 }
            keep = m
        }
        let dropped = try keep.map { _ in try Tensor.empty([n, t, t]) }
        let mask = keyMask?.data
        if n == 0 || t == 0 { return out }
        parallelFor(n) { i in
            let bi = i / heads, h = i % heads
            let qp = q.data + bi * t * d + h * dh, kp = k.data + bi * t * d + h * dh, vp = v.data + bi * t * d + h * dh
            let s = probs.data + i * tt
            BLAS.gemm(transB: true, m: t, n: t, k: dh, alpha: scale, qp, lda: d, kp, ldb: d, s, ldc: t)
            for r in 0..<t {
                let row = s + r * t
                if let mask { for j in 0..<t where mask[bi * t + j] == 0 { row[j] += attentionMaskScore } }
                softmaxRow(row, t)
            }
            var p = UnsafePointer(s)
            if let keep, let dropped {
                let dp = dropped.data + i * tt
                binary(.mul, s, 1, keep.data + i * tt, 1, dp, tt)
                p = UnsafePointer(dp)
            }
            BLAS.gemm(m: t, n: dh, k: t, p, lda: t, vp, ldb: d, out.data + bi * t * d + h * dh, ldc: d)
        }
        return record("attention", out, [q, k, v]) { g in
            let gq = Tensor.empty(like: q), gk = Tensor.empty(like: k), gv = Tensor.empty(like: v)
            let scratch = Tensor.empty(existing: [n, t, t])
            parallelFor(n) { i in
                let bi = i / heads, h = i % heads, off = bi * t * d + h * dh
                let s = UnsafePointer(probs.data + i * tt), dp = scratch.data + i * tt
                let p = dropped.map { UnsafePointer($0.data + i * tt) } ?? s
                // dP̃ = dO·vᵀ; dv = P̃ᵀ·dO.
                BLAS.gemm(transB: true, m: t, n: t, k: dh, g.data + off, lda: d, v.data + off, ldb: d, dp, ldc: t)
                BLAS.gemm(transA: true, m: t, n: dh, k: t, p, lda: t, g.data + off, ldb: d, gv.data + off, ldc: d)
                if let keep { binary(.mul, dp, 1, keep.data + i * tt, 1, dp, tt) }
                // Softmax backward, row by row: dS = P ⊙ (dP − Σ dP ⊙ P).
                for r in 0..<t {
                    let pr = s + r * t, gr = dp + r * t
                    var dot: Float = 0
                    for j in 0..<t { dot += gr[j] * pr[j] }
                    for j in 0..<t { gr[j] = pr[j] * (gr[j] - dot) }
                }
                // dq = dS·k/√dh; dk = dSᵀ·q/√dh.
                BLAS.gemm(m: t, n: dh, k: t, alpha: scale, dp, lda: t, k.data + off, ldb: d, gq.data + off, ldc: d)
                BLAS.gemm(transA: true, m: t, n: dh, k: t, alpha: scale, dp, lda: t, q.data + off, ldb: d, gk.data + off, ldc: d)
            }
            return [gq, gk, gv]
        }
    }
}

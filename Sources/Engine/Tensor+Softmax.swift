// Softmax, log-softmax and the fused cross-entropy, along the last axis.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes log-softmax of each row of x (rows × c) into out.
func logSoftmaxRows(_ x: UnsafePointer<Float>, rows: Int, c: Int, _ out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let xr = x + r * c, o = out + r * c
        var m = -Float.infinity
        for j in 0..<c where xr[j] > m { m = xr[j] }
        var s: Float = 0
        for j in 0..<c { s += expf(xr[j] - m) }
        let lse = m + logf(s)
        for j in 0..<c { o[j] = xr[j] - lse }
    }
}

/// Softmax of one row of `c` values, in place.
@inline(__always)
func softmaxRow(_ x: UnsafeMutablePointer<Float>, _ c: Int) {
    // exp(x − max) / Σ rather than exp(log-softmax): x − max is exact, x − logsumexp is not.
    var m = -Float.infinity
    for j in 0..<c where x[j] > m { m = x[j] }
    var s: Float = 0
    for j in 0..<c { x[j] = expf(x[j] - m); s += x[j] }
    let inv = 1 / s
    for j in 0..<c { x[j] *= inv }
}

extension Tensor {
    /// Softmax along the last axis.
    public func softmax() -> Tensor {
        let c = shape.last ?? 1, rows = count / Swift.max(c, 1)
        let out = Tensor.empty(like: self)
        out.data.update(from: data, count: count)
        for r in 0..<rows { softmaxRow(out.data + r * c, c) }
        return Tensor.record("softmax", out, [self]) { g in
            let gi = Tensor.empty(like: self)
            for r in 0..<rows {
                let y = out.data + r * c, gr = g.data + r * c, o = gi.data + r * c
                var dot: Float = 0
                for j in 0..<c { dot += gr[j] * y[j] }
                for j in 0..<c { o[j] = y[j] * (gr[j] - dot) }
            }
            return [gi]
        }
    }

    /// Log-softmax along the last axis.
    public func logSoftmax() -> Tensor {
        let c = shape.last ?? 1, rows = count / Swift.max(c, 1)
        let out = Tensor.empty(like: self)
        logSoftmaxRows(data, rows: rows, c: c, out.data)
        return Tensor.record("log_softmax", out, [self]) { g in
            let gi = Tensor.empty(like: self)
            for r in 0..<rows {
                let y = out.data + r * c, gr = g.data + r * c, o = gi.data + r * c
                var s: Float = 0
                for j in 0..<c { s += gr[j] }
                for j in 0..<c { o[j] = gr[j] - expf(y[j]) * s }
            }
            return [gi]
        }
    }

    /// Mean cross-entropy of logits [B, C] against integer labels, with optional label
    /// smoothing ε (the target puts 1 − ε on the label and ε/C on every class).
    public func crossEntropy(labels: [Int], smoothing: Float = 0) throws -> Tensor {
        guard rank == 2 else { throw EngineError("cross_entropy: logits must be [batch, classes], got \(describe(shape: shape))") }
        let b = shape[0], c = shape[1]
        guard labels.count == b else { throw EngineError("cross_entropy: \(labels.count) labels for a batch of \(b)") }
        if let bad = labels.first(where: { $0 < 0 || $0 >= c }) {
            throw EngineError("cross_entropy: label \(bad) is out of range for \(c) classes")
        }
        guard smoothing >= 0 && smoothing < 1 else { throw EngineError("cross_entropy: label smoothing must be in [0, 1), got \(smoothing)") }
        let logp = Tensor.empty(like: self)
        logSoftmaxRows(data, rows: b, c: c, logp.data)
        var loss: Double = 0
        let on = 1 - smoothing, off = smoothing / Float(c)
        for r in 0..<b {
            let lr = logp.data + r * c
            loss -= Double(on * lr[labels[r]])
            if off > 0 { var s: Float = 0; for j in 0..<c { s += lr[j] }; loss -= Double(off * s) }
        }
        let out = Tensor(Float(loss / Double(Swift.max(b, 1))))
        return Tensor.record("cross_entropy", out, [self]) { g in
            let gi = Tensor.empty(like: self)
            let scale = g.item / Float(Swift.max(b, 1))
            for r in 0..<b {
                let lr = logp.data + r * c, o = gi.data + r * c
                for j in 0..<c { o[j] = (expf(lr[j]) - off) * scale }
                o[labels[r]] -= on * scale
            }
            return [gi]
        }
    }
}

// Pruning kernels: gated weights forward and backward, hard-concrete gates, exact top-k masks
// by radix selection, and counting.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// out = w ⊙ m.
public func gateForward(_ w: UnsafePointer<Float>, _ m: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { out[i] = w[i] * m[i] } }
}

/// x = x ⊙ m for a 0/1 mask, with +0.0 where m = 0 (adding +0 turns the −0.0 of a negative x
/// times 0 into +0.0; arithmetic rather than a select, which would compile to slow masked
/// memory operations).
public func applyMask(_ x: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { x[i] = x[i] * m[i] + 0 } }
}

/// The straight-through backward of w ⊙ m: dw = g ⊙ m and, when asked, ds = g ⊙ w (the
/// gradient a score behind the mask receives when the binarisation is treated as identity).
public func gateBackward(_ g: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ m: UnsafePointer<Float>,
                         _ dw: UnsafeMutablePointer<Float>?, _ ds: UnsafeMutablePointer<Float>?, _ n: Int) {
    splitElementwise(n) { lo, hi in
        switch (dw, ds) {
        case let (dw?, ds?): for i in lo..<hi { let gi = g[i]; dw[i] = gi * m[i]; ds[i] = gi * w[i] }
        case let (dw?, nil): for i in lo..<hi { dw[i] = g[i] * m[i] }
        case let (nil, ds?): for i in lo..<hi { ds[i] = g[i] * w[i] }
        case (nil, nil): break
        }
    }
}

/// Hard-concrete gate (Louizos et al.): s = σ((log u − log(1 − u) + a) / β) with noise u, or
/// s = σ(a) without; z = (r − l)·s + l; m = min(1, max(0, z)). Writes m and, for the backward,
/// dm/da (0 where the gate is clamped).
public func hardConcrete(_ a: UnsafePointer<Float>, _ u: UnsafePointer<Float>?, _ n: Int, l: Float, r: Float, beta: Float,
                         _ m: UnsafeMutablePointer<Float>, _ dm: UnsafeMutablePointer<Float>?) {
    let span = r - l
    for i in 0..<n {
        var t = a[i], b: Float = 1
        if let u {
            let ui = u[i]
            t = (logf(ui) - logf(1 - ui) + t) / beta
            b = beta
        }
        let s = 1 / (1 + expf(-t))
        let z = span * s + l
        m[i] = z <= 0 ? 0 : (z >= 1 ? 1 : z)
        if let dm { dm[i] = (z > 0 && z < 1) ? span * s * (1 - s) / b : 0 }
    }
}

/// Number of entries different from zero.
public func countNonzero(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
    var c = 0
    for i in 0..<n where x[i] != 0 { c += 1 }
    return c
}

/// A float's bits mapped to an unsigned key with the same order (−∞ smallest, NaN largest).
@inline(__always)
public func orderedKey(_ x: Float) -> UInt32 {
    let b = x.bitPattern
    return b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
}

/// Writes 1 into `masks` at the `k` largest entries of `values`, taken as one sequence across
/// all buffers (in buffer order, then index), and 0 elsewhere. Entries where `allowed` is 0 are
/// never kept; `k` is capped at the number allowed. Ties at the threshold go to the earliest
/// entries, so the result is deterministic and keeps exactly `k`. `allowed` may be the mask
/// itself (each entry's bound is read before it is written).
///
/// Linear time in two passes: a histogram of the top 16 bits of each order-preserving key finds
/// the bucket holding the k-th largest; the second pass writes every entry outside that bucket
/// and collects the few inside it, which are sorted to place the threshold exactly.
public func topKMasks(values: [(UnsafePointer<Float>, Int)], allowed: [UnsafePointer<Float>?], k: Int,
                      masks: [UnsafeMutablePointer<Float>]) {
    var hist = [UInt32](repeating: 0, count: 1 << 16)
    var available = 0
    hist.withUnsafeMutableBufferPointer { h in
        for (b, (v, n)) in values.enumerated() {
            if let allow = allowed[b] {
                for i in 0..<n where allow[i] != 0 { h[Int(orderedKey(v[i]) >> 16)] &+= 1; available += 1 }
            } else {
                for i in 0..<n { h[Int(orderedKey(v[i]) >> 16)] &+= 1 }
                available += n
            }
        }
    }
    let k = min(max(k, 0), available)
    guard k > 0 else {
        for (b, (_, n)) in values.enumerated() { for i in 0..<n { masks[b][i] = 0 } }
        return
    }
    // The bucket holding the k-th largest key, and how many keys lie above that bucket.
    var above = 0, bucket = (1 << 16) - 1
    while bucket > 0 && above + Int(hist[bucket]) < k { above += Int(hist[bucket]); bucket -= 1 }
    let need = k - above                      // 1 ≤ need ≤ entries in the bucket
    var candidates: [(key: UInt32, buffer: Int32, index: Int32)] = []
    candidates.reserveCapacity(Int(hist[bucket]))
    let b32 = UInt32(bucket)
    for (b, (v, n)) in values.enumerated() {
        let allow = allowed[b], m = masks[b]
        for i in 0..<n {
            let key = orderedKey(v[i]), top = key >> 16
            let ok = allow.map { $0[i] != 0 } ?? true
            if ok && top == b32 { candidates.append((key, Int32(b), Int32(i))) }
            m[i] = ok && top > b32 ? 1 : 0
        }
    }
    // Largest keys first; equal keys in sequence order (buffer, then index).
    candidates.sort { $0.key != $1.key ? $0.key > $1.key : ($0.buffer != $1.buffer ? $0.buffer < $1.buffer : $0.index < $1.index) }
    for c in candidates.prefix(need) { masks[Int(c.buffer)][Int(c.index)] = 1 }
}

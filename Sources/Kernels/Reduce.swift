// Reductions over the middle axis of an [outer, mid, inner] view, the shape every axis
// reduction takes once the axes before and after it are collapsed.

/// Σ x[0..<n] with eight partial sums: Swift will not reassociate one float accumulator, so
/// this is what vectorises (and it loses less precision than one running sum). The one
/// eight-lane sum: norms, pooling and reductions all call it.
@inlinable @inline(__always)
public func sum8(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += x[i]; i += 1 }
    return s
}

/// out[o, i] = Σ_m x[o, m, i].
public func sumMid(_ x: UnsafePointer<Float>, outer: Int, mid: Int, inner: Int, _ out: UnsafeMutablePointer<Float>) {
    if inner == 1 {
        for o in 0..<outer { out[o] = sum8(x + o * mid, mid) }
        return
    }
    for o in 0..<outer {
        let dst = out + o * inner
        let src = x + o * mid * inner
        dst.update(repeating: 0, count: inner)
        for m in 0..<mid {
            let r = src + m * inner
            for i in 0..<inner { dst[i] += r[i] }
        }
    }
}

/// out[o, i] = max_m x[o, m, i], with the arg-max in `index` when given.
public func maxMid(_ x: UnsafePointer<Float>, outer: Int, mid: Int, inner: Int, _ out: UnsafeMutablePointer<Float>,
                   index: UnsafeMutablePointer<Int32>?) {
    for o in 0..<outer {
        for i in 0..<inner {
            let base = x + o * mid * inner + i
            var best = base[0], arg = 0
            for m in 1..<max(mid, 1) where base[m * inner] > best || best.isNaN {
                best = base[m * inner]; arg = m
            }
            out[o * inner + i] = best
            index?[o * inner + i] = Int32(arg)
        }
    }
}

/// Sum of all n elements, accumulated in Double.
public func total(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc = SIMD8<Double>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        acc += SIMD8<Double>(Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]),
                             Double(v[4]), Double(v[5]), Double(v[6]), Double(v[7]))
        i += 8
    }
    var s = acc.sum()
    while i < n { s += Double(x[i]); i += 1 }
    return s
}

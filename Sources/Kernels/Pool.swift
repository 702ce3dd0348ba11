// Max and average pooling over NCHW planes, forward and backward, and the per-plane split that
// runs them on several threads (a plane is never split, so the result does not depend on the
// thread count). Built with -Ounchecked: callers check shapes.

/// Max pooling over `planes` planes of h × w with a k × k window; padding reads as −∞ and NaN
/// wins, as in PyTorch. `index` receives the arg-max as a position within its input plane
/// (first maximum on ties), which is all the backward pass needs; without `index` (evaluation)
/// nothing is recorded. With `reluFirst` the result is max pooling of ReLU(x), computed in the
/// same pass: max(0, window maximum), and where a window holds NaN what ReLU-then-pool gives
/// (ReLU maps NaN to 0).
public func maxPool2d(_ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                      kernel k: Int, stride s: Int, padding p: Int, outH: Int, outW: Int,
                      _ out: UnsafeMutablePointer<Float>, _ index: UnsafeMutablePointer<Int32>?, reluFirst: Bool = false) {
    let inPlane = h * w, outPlane = outH * outW
    splitPlanes(planes, size: inPlane) { lo, hi in
        maxPool2dPlanes(x + lo * inPlane, planes: hi - lo, height: h, width: w, kernel: k, stride: s, padding: p,
                        outH: outH, outW: outW, out + lo * outPlane, index.map { $0 + lo * outPlane }, relu: reluFirst)
    }
}

/// Max pooling of ReLU(x + bias[plane]) (a convolution's result, then ReLU and max pooling, in
/// one pass), on the calling thread, from planes whose rows are `rowStride` apart and which are
/// `planeStride` apart (a convolution's wide rows, the padding columns past w unread). The same
/// values as adding the bias, then `maxPool2d` with `reluFirst`.
///
/// With `index` (training), the arg-max of each window as a position in a plain h × w plane, or
/// −1 where the pooled value is 0 (no element of the window is positive: nothing passes a
/// gradient back through the ReLU there). `maxPool2dBackward` then gives the gradient of the
/// convolution's result that the ReLU's and the pooling's backward passes give together: the
/// positive arg-maxima are the same windows' first maxima whether or not the ReLU came first.
public func maxPool2dReLU(_ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int, rowStride: Int, planeStride: Int,
                          bias: UnsafePointer<Float>?, kernel k: Int, stride s: Int, padding p: Int, outH: Int, outW: Int,
                          _ out: UnsafeMutablePointer<Float>, index: UnsafeMutablePointer<Int32>? = nil) {
    maxPool2dPlanes(x, planes: planes, height: h, width: w, kernel: k, stride: s, padding: p, outH: outH, outW: outW,
                    out, index, relu: true, rowStride: rowStride, planeStride: planeStride, bias: bias)
    if let index {
        for i in 0..<planes * outH * outW where !(out[i] > 0) { index[i] = -1 }
    }
}

private func maxPool2dPlanes(_ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                             kernel k: Int, stride s: Int, padding p: Int, outH: Int, outW: Int,
                             _ out: UnsafeMutablePointer<Float>, _ index: UnsafeMutablePointer<Int32>?, relu: Bool,
                             rowStride: Int? = nil, planeStride: Int? = nil, bias: UnsafePointer<Float>? = nil) {
    // Arg-max positions count in plain h × w planes, also when the input's rows and planes are strided.
    let ld = rowStride ?? w, inPlane = planeStride ?? h * w, outPlane = outH * outW
    if k == 2 && s == 2 && p == 0 && outW >= 4 {
        // The common 2×2 / stride 2 case, eight (or four) windows at a time with vector selects:
        // scalar code compiles to branches, which random activations make unpredictable. A
        // row's last chunk is aligned to its end and may redo a few windows rather than fall
        // back to scalar code. A NaN anywhere sends the whole call to the general loop below.
        var nan8 = SIMDMask<SIMD8<Int32>>(repeating: false)
        var nan4 = SIMDMask<SIMD4<Int32>>(repeating: false)
        let w32 = Int32(truncatingIfNeeded: w)
        let lanes8 = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14), lanes4 = SIMD4<Int32>(0, 2, 4, 6)
        for pl in 0..<planes {
            let src = x + pl * inPlane
            let dst = out + pl * outPlane, idx = index.map { $0 + pl * outPlane }
            let b = bias?[pl] ?? 0, b16 = SIMD16<Float>(repeating: b), b8 = SIMD8<Float>(repeating: b)
            for oy in 0..<outH {
                let r0 = UnsafeRawPointer(src + 2 * oy * ld), r1 = UnsafeRawPointer(src + (2 * oy + 1) * ld)
                let o = UnsafeMutableRawPointer(dst + oy * outW), io = idx.map { UnsafeMutableRawPointer($0 + oy * outW) }
                let base = Int32(truncatingIfNeeded: 2 * oy * w)
                if outW >= 8 {
                    var ox = 0
                    while true {
                        var a = r0.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD16<Float>.self)
                        var c = r1.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD16<Float>.self)
                        if bias != nil { a += b16; c += b16 }
                        let v0 = a.evenHalf, v1 = a.oddHalf, v2 = c.evenHalf, v3 = c.oddHalf
                        let m01 = v1 .> v0, m23 = v3 .> v2
                        let b01 = v0.replacing(with: v1, where: m01), b23 = v2.replacing(with: v3, where: m23)
                        let i01 = SIMD8<Int32>(repeating: 0).replacing(with: 1, where: m01)
                        let i23 = SIMD8<Int32>(repeating: w32).replacing(with: w32 + 1, where: m23)
                        let m = b23 .> b01
                        let best = b01.replacing(with: b23, where: m)
                        o.storeBytes(of: relu ? best.replacing(with: 0, where: best .< 0) : best, toByteOffset: 4 * ox, as: SIMD8<Float>.self)
                        if let io {
                            let off = i01.replacing(with: i23, where: m) &+ (base + 2 * Int32(truncatingIfNeeded: ox)) &+ lanes8
                            io.storeBytes(of: off, toByteOffset: 4 * ox, as: SIMD8<Int32>.self)
                        }
                        let sum = v0 + v1 + v2 + v3
                        nan8 .|= sum .!= sum
                        if ox + 8 == outW { break }
                        ox = min(ox + 8, outW - 8)
                    }
                } else {
                    var ox = 0
                    while true {
                        var a = r0.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD8<Float>.self)
                        var c = r1.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD8<Float>.self)
                        if bias != nil { a += b8; c += b8 }
                        let v0 = a.evenHalf, v1 = a.oddHalf, v2 = c.evenHalf, v3 = c.oddHalf
                        let m01 = v1 .> v0, m23 = v3 .> v2
                        let b01 = v0.replacing(with: v1, where: m01), b23 = v2.replacing(with: v3, where: m23)
                        let i01 = SIMD4<Int32>(repeating: 0).replacing(with: 1, where: m01)
                        let i23 = SIMD4<Int32>(repeating: w32).replacing(with: w32 + 1, where: m23)
                        let m = b23 .> b01
                        let best = b01.replacing(with: b23, where: m)
                        o.storeBytes(of: relu ? best.replacing(with: 0, where: best .< 0) : best, toByteOffset: 4 * ox, as: SIMD4<Float>.self)
                        if let io {
                            let off = i01.replacing(with: i23, where: m) &+ (base + 2 * Int32(truncatingIfNeeded: ox)) &+ lanes4
                            io.storeBytes(of: off, toByteOffset: 4 * ox, as: SIMD4<Int32>.self)
                        }
                        let sum = v0 + v1 + v2 + v3
                        nan4 .|= sum .!= sum
                        if ox + 4 == outW { break }
                        ox = min(ox + 4, outW - 4)
                    }
                }
            }
        }
        if !any(nan8) && !any(nan4) { return }
    }
    for pl in 0..<planes {
        let src = x + pl * inPlane
        let dst = out + pl * outPlane, idx = index.map { $0 + pl * outPlane }
        let b = bias?[pl]
        for oy in 0..<outH {
            let y0 = max(oy * s - p, 0), y1 = min(oy * s - p + k, h)
            for ox in 0..<outW {
                let x0 = max(ox * s - p, 0), x1 = min(ox * s - p + k, w)
                var best = -Float.infinity, arg = y0 * w + x0
                for iy in y0..<max(y1, y0) {
                    let r = src + iy * ld
                    for ix in x0..<max(x1, x0) {
                        let e = b.map { r[ix] + $0 } ?? r[ix]
                        let v = relu ? (e > 0 ? e : 0) : e
                        if v > best || v.isNaN { best = v; arg = iy * w + ix }
                    }
                }
                dst[oy * outW + ox] = best
                idx?[oy * outW + ox] = Int32(truncatingIfNeeded: arg)
            }
        }
    }
}

/// Backward of max pooling: dx[plane, index] = Σ g over the windows whose maximum sat there, and
/// 0 elsewhere. Every element of `dx` is written. `overlapping` says whether windows can share
/// cells (kernel > stride); without overlap each cell gets at most one value and is stored, not
/// added. A negative index (`maxPool2dReLU`: a window rectified to 0) passes nothing back.
public func maxPool2dBackward(_ g: UnsafePointer<Float>, _ index: UnsafePointer<Int32>, planes: Int,
                              inPlane: Int, outPlane: Int, overlapping: Bool, _ dx: UnsafeMutablePointer<Float>) {
    splitPlanes(planes, size: inPlane) { lo, hi in
        maxPool2dBackwardPlanes(g + lo * outPlane, index + lo * outPlane, planes: hi - lo, inPlane: inPlane,
                                outPlane: outPlane, overlapping: overlapping, dx + lo * inPlane)
    }
}

private func maxPool2dBackwardPlanes(_ g: UnsafePointer<Float>, _ index: UnsafePointer<Int32>, planes: Int,
                                     inPlane: Int, outPlane: Int, overlapping: Bool, _ dx: UnsafeMutablePointer<Float>) {
    // Zeroing plane by plane, just before scattering into it, keeps the plane in L1; zeroing the
    // whole tensor first would stream it through memory twice.
    for pl in 0..<planes {
        let gp = g + pl * outPlane, ip = index + pl * outPlane, dp = dx + pl * inPlane
        zeroFloats(dp, inPlane)
        if overlapping {
            for i in 0..<outPlane where ip[i] >= 0 { dp[Int(ip[i])] += gp[i] }
        } else {
            for i in 0..<outPlane where ip[i] >= 0 { dp[Int(ip[i])] = gp[i] }
        }
    }
}

/// Average pooling with a k × k window; padding counts as zeros in every window (PyTorch's
/// count_include_pad default), so every output divides by k².
public func avgPool2d(_ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                      kernel k: Int, stride s: Int, padding p: Int, outH: Int, outW: Int,
                      _ out: UnsafeMutablePointer<Float>) {
    let inPlane = h * w, outPlane = outH * outW
    splitPlanes(planes, size: inPlane) { lo, hi in
        avgPool2dPlanes(x + lo * inPlane, planes: hi - lo, height: h, width: w, kernel: k, stride: s, padding: p,
                        outH: outH, outW: outW, out + lo * outPlane)
    }
}

private func avgPool2dPlanes(_ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                             kernel k: Int, stride s: Int, padding p: Int, outH: Int, outW: Int,
                             _ out: UnsafeMutablePointer<Float>) {
    let inPlane = h * w, outPlane = outH * outW
    let scale = 1 / Float(k * k)
    for pl in 0..<planes {
        let src = x + pl * inPlane, dst = out + pl * outPlane
        for oy in 0..<outH {
            let y0 = max(oy * s - p, 0), y1 = min(oy * s - p + k, h)
            for ox in 0..<outW {
                let x0 = max(ox * s - p, 0), x1 = min(ox * s - p + k, w)
                var acc: Float = 0
                for iy in y0..<max(y1, y0) {
                    let r = src + iy * w
                    for ix in x0..<max(x1, x0) { acc += r[ix] }
                }
                dst[oy * outW + ox] = acc * scale
            }
        }
    }
}

/// Backward of average pooling: spreads g / k² over each window; `dx` must be zeroed first.
public func avgPool2dBackward(_ g: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                              kernel k: Int, stride s: Int, padding p: Int, outH: Int, outW: Int,
                              _ dx: UnsafeMutablePointer<Float>) {
    let inPlane = h * w, outPlane = outH * outW
    splitPlanes(planes, size: inPlane) { lo, hi in
        avgPool2dBackwardPlanes(g + lo * outPlane, planes: hi - lo, height: h, width: w, kernel: k, stride: s,
                                padding: p, outH: outH, outW: outW, dx + lo * inPlane)
    }
}

private func avgPool2dBackwardPlanes(_ g: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                                     kernel k: Int, stride s: Int, padding p: Int, outH: Int, outW: Int,
                                     _ dx: UnsafeMutablePointer<Float>) {
    let inPlane = h * w, outPlane = outH * outW
    let scale = 1 / Float(k * k)
    for pl in 0..<planes {
        let gp = g + pl * outPlane, dp = dx + pl * inPlane
        for oy in 0..<outH {
            let y0 = max(oy * s - p, 0), y1 = min(oy * s - p + k, h)
            for ox in 0..<outW {
                let x0 = max(ox * s - p, 0), x1 = min(ox * s - p + k, w)
                let v = gp[oy * outW + ox] * scale
                for iy in y0..<max(y1, y0) {
                    let r = dp + iy * w
                    for ix in x0..<max(x1, x0) { r[ix] += v }
                }
            }
        }
    }
}

/// out[pl, :] = g[pl] · scale over planes of `size` elements: the backward of a plane mean.
public func spreadPlanes(_ g: UnsafePointer<Float>, scale: Float, planes: Int, size: Int,
                         _ out: UnsafeMutablePointer<Float>) {
    splitPlanes(planes, size: size) { lo, hi in
        for pl in lo..<hi {
            let v = g[pl] * scale, dst = out + pl * size
            for i in 0..<size { dst[i] = v }
        }
    }
}

/// Runs `body(lo, hi)` over contiguous runs of whole planes of `size` elements, on several
/// threads when there is enough data. For per-plane work, so the split never changes a result.
@inline(__always)
func splitPlanes(_ planes: Int, size: Int, _ body: (Int, Int) -> Void) {
    let threads = Parallel.threads
    if threads <= 1 || planes < 2 || planes * size < Parallel.minParallelElements {
        body(0, planes)
        return
    }
    let parts = Swift.min(4 * threads, planes)
    parallelFor(parts) { i in
        let r = Parallel.range(i, of: parts, count: planes)
        if !r.isEmpty { body(r.lowerBound, r.upperBound) }
    }
}

// Convolution and pooling loops over NCHW planes: im2col / col2im, layout shuffles around the
// convolution GEMM, and max / average pooling. Built with -Ounchecked: callers check shapes.

/// The range of output positions `lo..<hi` whose input coordinate `o·stride − pad + k` falls
/// inside `0..<size`; everything outside reads the zero padding.
@inline(__always)
private func validRange(size: Int, outSize: Int, offset k: Int, stride s: Int, pad p: Int) -> (Int, Int) {
    let lo = k >= p ? 0 : (p - k + s - 1) / s
    let last = size - 1 + p - k
    var hi = last < 0 ? 0 : last / s + 1
    hi = min(hi, outSize)
    return (min(lo, hi), hi)
}

/// Unfolds one image `x` [c, h, w] into the columns of `col`: row (ci·kh + ki)·kw + kj, column
/// oy·outW + ox holds x[ci, oy·stride − pad + ki, ox·stride − pad + kj], or 0 in the padding.
/// Rows are `ldCol` apart so that every image of a batch writes its own block of columns of one
/// shared matrix, which then feeds a single large GEMM.
public func im2col(_ x: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
                   kernelH kh: Int, kernelW kw: Int, stride s: Int, padding p: Int,
                   outH: Int, outW: Int, _ col: UnsafeMutablePointer<Float>, ldCol: Int) {
    for ci in 0..<c {
        let plane = x + ci * h * w
        for ki in 0..<kh {
            let (oyLo, oyHi) = validRange(size: h, outSize: outH, offset: ki, stride: s, pad: p)
            for kj in 0..<kw {
                let row = col + ((ci * kh + ki) * kw + kj) * ldCol
                let (oxLo, oxHi) = validRange(size: w, outSize: outW, offset: kj, stride: s, pad: p)
                let span = oxHi - oxLo
                if oyLo > 0 { row.update(repeating: 0, count: oyLo * outW) }
                for oy in oyLo..<oyHi {
                    let dst = row + oy * outW
                    let src = plane + (oy * s - p + ki) * w + (oxLo * s - p + kj)
                    for i in 0..<oxLo { dst[i] = 0 }
                    if s == 1 {
                        // A shifted input row: one contiguous copy.
                        for i in 0..<span { dst[oxLo + i] = src[i] }
                    } else {
                        for i in 0..<span { dst[oxLo + i] = src[i * s] }
                    }
                    for i in oxHi..<outW { dst[i] = 0 }
                }
                if oyHi < outH { (row + oyHi * outW).update(repeating: 0, count: (outH - oyHi) * outW) }
            }
        }
    }
}

/// The adjoint of `im2col`: adds every column entry back into the input position it was read
/// from (positions overlap when the kernel is wider than the stride). `dx` [c, h, w] must be
/// initialised by the caller, usually to zero.
public func col2im(_ col: UnsafePointer<Float>, ldCol: Int, channels c: Int, height h: Int, width w: Int,
                   kernelH kh: Int, kernelW kw: Int, stride s: Int, padding p: Int,
                   outH: Int, outW: Int, _ dx: UnsafeMutablePointer<Float>) {
    for ci in 0..<c {
        let plane = dx + ci * h * w
        for ki in 0..<kh {
            let (oyLo, oyHi) = validRange(size: h, outSize: outH, offset: ki, stride: s, pad: p)
            for kj in 0..<kw {
                let row = col + ((ci * kh + ki) * kw + kj) * ldCol
                let (oxLo, oxHi) = validRange(size: w, outSize: outW, offset: kj, stride: s, pad: p)
                let span = oxHi - oxLo
                for oy in oyLo..<oyHi {
                    let src = row + oy * outW + oxLo
                    let dst = plane + (oy * s - p + ki) * w + (oxLo * s - p + kj)
                    if s == 1 {
                        for i in 0..<span { dst[i] += src[i] }
                    } else {
                        for i in 0..<span { dst[i * s] += src[i] }
                    }
                }
            }
        }
    }
}

/// out[n, o, :] = y[o, n·P ..< (n+1)·P] + bias[o]: turns the GEMM's [O, N·P] result into NCHW.
public func channelsToBatch(_ y: UnsafePointer<Float>, batch n: Int, channels o: Int, plane p: Int,
                            bias: UnsafePointer<Float>?, _ out: UnsafeMutablePointer<Float>) {
    for img in 0..<n {
        for ch in 0..<o {
            let src = y + ch * n * p + img * p
            let dst = out + (img * o + ch) * p
            if let bias {
                let b = bias[ch]
                for i in 0..<p { dst[i] = src[i] + b }
            } else {
                for i in 0..<p { dst[i] = src[i] }
            }
        }
    }
}

/// The inverse shuffle of `channelsToBatch`: g [N, O, P] → out [O, N·P]. When `channelSums` is
/// given it also receives Σ over n and p of g[n, o, p] (the bias gradient), read in the same pass.
public func batchToChannels(_ g: UnsafePointer<Float>, batch n: Int, channels o: Int, plane p: Int,
                            _ out: UnsafeMutablePointer<Float>, channelSums: UnsafeMutablePointer<Float>?) {
    channelSums?.update(repeating: 0, count: o)
    for img in 0..<n {
        for ch in 0..<o {
            let src = g + (img * o + ch) * p
            let dst = out + ch * n * p + img * p
            for i in 0..<p { dst[i] = src[i] }
            if let channelSums { channelSums[ch] += rowSum(src, p) }
        }
    }
}

/// Σ x[0..<n] with eight partial sums, so it vectorises.
@inline(__always)
private func rowSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
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

/// Max pooling over `planes` planes of h × w with a k × k window; padding reads as −∞ and NaN
/// wins, as in PyTorch. `index` receives the arg-max as a position within its input plane
/// (first maximum on ties), which is all the backward pass needs.
public func maxPool2d(_ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                      kernel k: Int, stride s: Int, padding p: Int, outH: Int, outW: Int,
                      _ out: UnsafeMutablePointer<Float>, _ index: UnsafeMutablePointer<Int32>) {
    let inPlane = h * w, outPlane = outH * outW
    if k == 2 && s == 2 && p == 0 {
        // The common 2×2 / stride 2 case, without window clipping.
        for pl in 0..<planes {
            let src = x + pl * inPlane
            let dst = out + pl * outPlane, idx = index + pl * outPlane
            for oy in 0..<outH {
                let r0 = src + 2 * oy * w, r1 = r0 + w
                let base = 2 * oy * w
                for ox in 0..<outW {
                    let c = 2 * ox
                    var best = r0[c], arg = base + c
                    let v1 = r0[c + 1], v2 = r1[c], v3 = r1[c + 1]
                    if v1 > best || v1.isNaN { best = v1; arg = base + c + 1 }
                    if v2 > best || v2.isNaN { best = v2; arg = base + w + c }
                    if v3 > best || v3.isNaN { best = v3; arg = base + w + c + 1 }
                    dst[oy * outW + ox] = best
                    idx[oy * outW + ox] = Int32(truncatingIfNeeded: arg)
                }
            }
        }
        return
    }
    for pl in 0..<planes {
        let src = x + pl * inPlane
        let dst = out + pl * outPlane, idx = index + pl * outPlane
        for oy in 0..<outH {
            let y0 = max(oy * s - p, 0), y1 = min(oy * s - p + k, h)
            for ox in 0..<outW {
                let x0 = max(ox * s - p, 0), x1 = min(ox * s - p + k, w)
                var best = -Float.infinity, arg = y0 * w + x0
                for iy in y0..<max(y1, y0) {
                    let r = src + iy * w
                    for ix in x0..<max(x1, x0) {
                        let v = r[ix]
                        if v > best || v.isNaN { best = v; arg = iy * w + ix }
                    }
                }
                dst[oy * outW + ox] = best
                idx[oy * outW + ox] = Int32(truncatingIfNeeded: arg)
            }
        }
    }
}

/// Backward of max pooling: dx[plane, index] += g for every output; `dx` must be zeroed first.
public func maxPool2dBackward(_ g: UnsafePointer<Float>, _ index: UnsafePointer<Int32>, planes: Int,
                              inPlane: Int, outPlane: Int, _ dx: UnsafeMutablePointer<Float>) {
    for pl in 0..<planes {
        let gp = g + pl * outPlane, ip = index + pl * outPlane, dp = dx + pl * inPlane
        for i in 0..<outPlane { dp[Int(ip[i])] += gp[i] }
    }
}

/// Average pooling with a k × k window; padding counts as zeros in every window (PyTorch's
/// count_include_pad default), so every output divides by k².
public func avgPool2d(_ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
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
    for pl in 0..<planes {
        let v = g[pl] * scale, dst = out + pl * size
        for i in 0..<size { dst[i] = v }
    }
}

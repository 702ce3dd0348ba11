// Convolution loops over NCHW planes: im2col / col2im, the layout shuffles around the
// convolution GEMM, and direct kernels for convolutions too small for a GEMM (pooling is in
// Pool.swift). Built with -Ounchecked: callers check shapes.

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

/// Unfolds a batch `x` [n, c, h, w] into the column matrix `col` [c·kh·kw, n·outH·outW]: row
/// (ci·kh + ki)·kw + kj, column img·outH·outW + oy·outW + ox holds
/// x[img, ci, oy·stride − pad + ki, ox·stride − pad + kj], or 0 in the padding. Images are the
/// inner loop so that each row of `col` is written front to back, which keeps the stores
/// streaming instead of jumping between rows a whole matrix width apart.
public func im2col(_ x: UnsafePointer<Float>, batch n: Int, channels c: Int, height h: Int, width w: Int,
                   kernelH kh: Int, kernelW kw: Int, stride s: Int, padding p: Int,
                   outH: Int, outW: Int, _ col: UnsafeMutablePointer<Float>) {
    if s == 1 && outW == w && h > 0 && w > 0 {
        im2colSameWidth(x, batch: n, channels: c, height: h, width: w, kernelH: kh, kernelW: kw, padding: p,
                        outH: outH, col)
        return
    }
    let plane = outH * outW, ld = n * plane, chw = c * h * w
    // With stride 1 and "same" width, column oy·w + ox reads input element oy·w + ox + delta for
    // a fixed delta, so an image's whole row is one contiguous copy followed by zeroing the few
    // entries that wrapped around a row edge. Short per-row copies would cost more in loop
    // overhead than in data movement for the small planes of a CNN.
    let sameWidth = s == 1 && outW == w
    for ci in 0..<c {
        for ki in 0..<kh {
            let (oyLo, oyHi) = validRange(size: h, outSize: outH, offset: ki, stride: s, pad: p)
            for kj in 0..<kw {
                let row = col + ((ci * kh + ki) * kw + kj) * ld
                let (oxLo, oxHi) = validRange(size: w, outSize: outW, offset: kj, stride: s, pad: p)
                let delta = (ki - p) * w + (kj - p)
                let qLo = oyLo * w, qHi = oyHi * w
                let cLo = min(max(qLo, -delta), qHi), cHi = max(min(qHi, h * w - delta), cLo)
                let span = oxHi - oxLo
                for img in 0..<n {
                    let src = x + img * chw + ci * h * w, dst = row + img * plane
                    if sameWidth {
                        // Inline copies: the rows are short (a few hundred floats), where a
                        // library call's set-up costs as much as the copy.
                        zeroFloats(dst, cLo)
                        copyFloats(dst + cLo, src + cLo + delta, cHi - cLo)
                        zeroFloats(dst + cHi, plane - cHi)
                        if oxLo > 0 || oxHi < outW {
                            for oy in oyLo..<oyHi {
                                let r = dst + oy * w
                                for i in 0..<oxLo { r[i] = 0 }
                                for i in oxHi..<outW { r[i] = 0 }
                            }
                        }
                        continue
                    }
                    zeroFloats(dst, oyLo * outW)
                    zeroFloats(dst + oyHi * outW, (outH - oyHi) * outW)
                    for oy in oyLo..<oyHi {
                        let d = dst + oy * outW
                        let sp = src + (oy * s - p + ki) * w + (oxLo * s - p + kj)
                        for i in 0..<oxLo { d[i] = 0 }
                        if s == 1 {
                            for i in 0..<span { d[oxLo + i] = sp[i] }
                        } else {
                            for i in 0..<span { d[oxLo + i] = sp[i * s] }
                        }
                        for i in oxHi..<outW { d[i] = 0 }
                    }
                }
            }
        }
    }
}

/// d[0..<n] = 0, inline.
@inline(__always)
func zeroFloats(_ d: UnsafeMutablePointer<Float>, _ n: Int) {
    let r = UnsafeMutableRawPointer(d)
    var i = 0
    while i + 16 <= n {
        r.storeBytes(of: SIMD16<Float>(), toByteOffset: 4 * i, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { d[i] = 0; i += 1 }
}

/// d[0..<n] = s[0..<n] for non-overlapping ranges, inline.
@inline(__always)
private func copyFloats(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
    let rd = UnsafeMutableRawPointer(d), rs = UnsafeRawPointer(s)
    var i = 0
    while i + 16 <= n {
        rd.storeBytes(of: rs.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self), toByteOffset: 4 * i,
                      as: SIMD16<Float>.self)
        i += 16
    }
    if i + 8 <= n {
        rd.storeBytes(of: rs.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), toByteOffset: 4 * i,
                      as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { d[i] = s[i]; i += 1 }
}

/// im2col for stride 1 and an unchanged width (so kw = 2·pad + 1), the usual "same" convolution.
/// Each image is first copied into a scratch plane per channel with `pad` zero rows above and
/// below. Column oy·w + ox of row (ci, ki, kj) then reads scratch element (oy + ki)·w + ox + kj − pad:
/// one contiguous copy of the whole output plane per row, after which the entries that wrapped
/// around a row edge (ox + kj − pad outside 0..<w) are zeroed. No bounds are checked per element.
private func im2colSameWidth(_ x: UnsafePointer<Float>, batch n: Int, channels c: Int, height h: Int, width w: Int,
                             kernelH kh: Int, kernelW kw: Int, padding p: Int, outH: Int,
                             _ col: UnsafeMutablePointer<Float>) {
    let plane = outH * w, ld = n * plane, chw = c * h * w
    let padded = (h + 2 * p) * w
    // p floats of slack on either side: the first and last copies start or end that far outside
    // a channel's scratch plane, in entries that the wrap-around fix-up overwrites.
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: c * padded + 2 * p + 16)
    defer { scratch.deallocate() }
    zeroFloats(scratch, p)
    zeroFloats(scratch + p + c * padded, p + 16)
    for img in 0..<n {
        let src = x + img * chw
        for ci in 0..<c {
            let sp = scratch + p + ci * padded
            zeroFloats(sp, p * w)
            copyFloats(sp + p * w, src + ci * h * w, h * w)
            zeroFloats(sp + (p + h) * w, p * w)
        }
        for ci in 0..<c {
            let sp = scratch + p + ci * padded
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let dst = col + ((ci * kh + ki) * kw + kj) * ld + img * plane
                    copyFloats(dst, sp + ki * w + kj - p, plane)
                    if kj < p {
                        for oy in 0..<outH { zeroFloats(dst + oy * w, p - kj) }
                    } else if kj > p {
                        for oy in 0..<outH { zeroFloats(dst + oy * w + w - (kj - p), kj - p) }
                    }
                }
            }
        }
    }
}

/// col2im for the cases of `im2colSameWidth`, through the same padded scratch planes: each row's
/// wrapped-around entries are zeroed, then the row is added to the scratch in one contiguous pass.
private func col2imSameWidth(_ col: UnsafeMutablePointer<Float>, batch n: Int, channels c: Int, height h: Int,
                             width w: Int, kernelH kh: Int, kernelW kw: Int, padding p: Int, outH: Int,
                             _ dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let plane = outH * w, ld = n * plane, chw = c * h * w
    let padded = (h + 2 * p) * w
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: c * padded + 2 * p + 16)
    defer { scratch.deallocate() }
    for img in 0..<n {
        zeroFloats(scratch, c * padded + 2 * p)
        for ci in 0..<c {
            let sp = scratch + p + ci * padded
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let src = col + ((ci * kh + ki) * kw + kj) * ld + img * plane
                    if kj < p {
                        for oy in 0..<outH { zeroFloats(src + oy * w, p - kj) }
                    } else if kj > p {
                        for oy in 0..<outH { zeroFloats(src + oy * w + w - (kj - p), kj - p) }
                    }
                    addFloats(sp + ki * w + kj - p, src, plane)
                }
            }
        }
        let dst = dx + img * chw
        for ci in 0..<c {
            let sp = scratch + p + ci * padded + p * w
            if accumulate {
                addFloats(dst + ci * h * w, sp, h * w)
            } else {
                copyFloats(dst + ci * h * w, sp, h * w)
            }
        }
    }
}

/// d[0..<n] += s[0..<n], inline.
@inline(__always)
private func addFloats(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
    let rd = UnsafeMutableRawPointer(d), rs = UnsafeRawPointer(s)
    var i = 0
    while i + 8 <= n {
        let v = rd.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            + rs.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        rd.storeBytes(of: v, toByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { d[i] += s[i]; i += 1 }
}

/// The adjoint of `im2col`: adds every entry of `col` [c·kh·kw, n·outH·outW] back into the
/// input position of `dx` [n, c, h, w] it was read from (positions overlap when the kernel is
/// wider than the stride). `dx` must be initialised by the caller, usually to zero, unless
/// `accumulate` is false: then it is overwritten. Entries of `col` that fall in the padding may
/// be overwritten with zeros (the matrix is scratch by then).
public func col2im(_ col: UnsafeMutablePointer<Float>, batch n: Int, channels c: Int, height h: Int, width w: Int,
                   kernelH kh: Int, kernelW kw: Int, stride s: Int, padding p: Int,
                   outH: Int, outW: Int, _ dx: UnsafeMutablePointer<Float>, accumulate: Bool = true) {
    if s == 1 && outW == w && h > 0 && w > 0 {
        col2imSameWidth(col, batch: n, channels: c, height: h, width: w, kernelH: kh, kernelW: kw, padding: p,
                        outH: outH, dx, accumulate: accumulate)
        return
    }
    let plane = outH * outW, ld = n * plane, chw = c * h * w
    if !accumulate { dx.update(repeating: 0, count: n * chw) }
    let sameWidth = s == 1 && outW == w
    for ci in 0..<c {
        for ki in 0..<kh {
            let (oyLo, oyHi) = validRange(size: h, outSize: outH, offset: ki, stride: s, pad: p)
            for kj in 0..<kw {
                let row = col + ((ci * kh + ki) * kw + kj) * ld
                let (oxLo, oxHi) = validRange(size: w, outSize: outW, offset: kj, stride: s, pad: p)
                let delta = (ki - p) * w + (kj - p)
                let qLo = oyLo * w, qHi = oyHi * w
                let cLo = min(max(qLo, -delta), qHi), cHi = max(min(qHi, h * w - delta), cLo)
                let span = oxHi - oxLo
                for img in 0..<n {
                    let src = row + img * plane, dplane = dx + img * chw + ci * h * w
                    if sameWidth {
                        // As in im2col, one contiguous add; gradients that belong to the padding
                        // are zeroed first so that they land harmlessly on wrapped-around
                        // neighbours.
                        if oxLo > 0 || oxHi < outW {
                            for oy in oyLo..<oyHi {
                                let r = src + oy * w
                                for i in 0..<oxLo { r[i] = 0 }
                                for i in oxHi..<outW { r[i] = 0 }
                            }
                        }
                        let d = dplane + delta
                        for q in cLo..<cHi { d[q] += src[q] }
                        continue
                    }
                    for oy in oyLo..<oyHi {
                        let sp = src + oy * outW + oxLo
                        let d = dplane + (oy * s - p + ki) * w + (oxLo * s - p + kj)
                        if s == 1 {
                            for i in 0..<span { d[i] += sp[i] }
                        } else {
                            for i in 0..<span { d[i * s] += sp[i] }
                        }
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
            if let channelSums { channelSums[ch] += sum8(src, p) }
        }
    }
}

/// out[img, oc, q] = bias[oc] + Σ_r w[oc, r] · col[r, img·P + q] for a short reduction (small k):
/// the convolution written straight into NCHW. With so few terms a GEMM is memory-bound and
/// its [O, N·P] result would still need reshuffling, so doing it here saves a full pass over
/// the output. Eight columns at a time are gathered once and reused for every output channel.
public func convForwardSmallK(_ col: UnsafePointer<Float>, batch n: Int, plane p: Int, k: Int,
                              _ w: UnsafePointer<Float>, outChannels o: Int, bias: UnsafePointer<Float>?,
                              _ out: UnsafeMutablePointer<Float>) {
    let ld = n * p
    withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: max(k, 1)) { buf in
        guard let cv = buf.baseAddress else { return }
        for img in 0..<n {
            let src = col + img * p, dst = out + img * o * p
            if p < 8 {
                for oc in 0..<o {
                    for q in 0..<p {
                        var acc = bias?[oc] ?? 0
                        for r in 0..<k { acc += w[oc * k + r] * src[r * ld + q] }
                        dst[oc * p + q] = acc
                    }
                }
                continue
            }
            var q = 0
            while true {
                for r in 0..<k { cv[r] = UnsafeRawPointer(src + r * ld + q).loadUnaligned(as: SIMD8<Float>.self) }
                // Four output channels at a time: four independent accumulation chains keep the
                // FMA units busy where one chain would wait on each FMA's latency.
                var oc = 0
                while oc + 4 <= o {
                    var a0 = SIMD8<Float>(repeating: bias?[oc] ?? 0), a1 = SIMD8<Float>(repeating: bias?[oc + 1] ?? 0)
                    var a2 = SIMD8<Float>(repeating: bias?[oc + 2] ?? 0), a3 = SIMD8<Float>(repeating: bias?[oc + 3] ?? 0)
                    let w0 = w + oc * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
                    for r in 0..<k {
                        let v = cv[r]
                        a0.addProduct(SIMD8(repeating: w0[r]), v); a1.addProduct(SIMD8(repeating: w1[r]), v)
                        a2.addProduct(SIMD8(repeating: w2[r]), v); a3.addProduct(SIMD8(repeating: w3[r]), v)
                    }
                    let d = UnsafeMutableRawPointer(dst + oc * p + q), stride = 4 * p
                    d.storeBytes(of: a0, as: SIMD8<Float>.self)
                    d.storeBytes(of: a1, toByteOffset: stride, as: SIMD8<Float>.self)
                    d.storeBytes(of: a2, toByteOffset: 2 * stride, as: SIMD8<Float>.self)
                    d.storeBytes(of: a3, toByteOffset: 3 * stride, as: SIMD8<Float>.self)
                    oc += 4
                }
                while oc < o {
                    var acc = SIMD8<Float>(repeating: bias?[oc] ?? 0)
                    let wr = w + oc * k
                    for r in 0..<k { acc.addProduct(SIMD8(repeating: wr[r]), cv[r]) }
                    UnsafeMutableRawPointer(dst + oc * p + q).storeBytes(of: acc, as: SIMD8<Float>.self)
                    oc += 1
                }
                if q + 8 == p { break }
                // The last chunk ends at the plane's end and may redo a few columns.
                q = min(q + 8, p - 8)
            }
        }
    }
}

/// The weight and bias gradients of `convForwardSmallK`, read straight from the NCHW output
/// gradient: gw[oc, r] = Σ_img Σ_q g[img, oc, q] · col[r, img·P + q] and, when `biasGrad` is
/// given, biasGrad[oc] = Σ g[img, oc, ·]. Both are overwritten, or added to with `accumulate`.
public func convWeightGradSmallK(_ g: UnsafePointer<Float>, _ col: UnsafePointer<Float>, batch n: Int, plane p: Int,
                                 k: Int, outChannels o: Int, _ gw: UnsafeMutablePointer<Float>,
                                 biasGrad: UnsafeMutablePointer<Float>?, accumulate: Bool = false) {
    let ld = n * p
    if !accumulate {
        gw.update(repeating: 0, count: o * k)
        biasGrad?.update(repeating: 0, count: o)
    }
    let p8 = p & ~7
    for img in 0..<n {
        let src = col + img * p
        for oc in 0..<o {
            let gr = UnsafeRawPointer(g + (img * o + oc) * p)
            // Four columns of `col` at a time against one row of g: each load of g feeds four
            // FMAs, and the bias gradient rides along with the first four.
            var r0 = 0
            while r0 < k {
                let rn = min(4, k - r0)
                let c0 = UnsafeRawPointer(src + r0 * ld)
                let c1 = UnsafeRawPointer(src + (r0 + min(1, rn - 1)) * ld)
                let c2 = UnsafeRawPointer(src + (r0 + min(2, rn - 1)) * ld)
                let c3 = UnsafeRawPointer(src + (r0 + min(3, rn - 1)) * ld)
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                var ab = SIMD8<Float>()
                var q = 0
                while q < p8 {
                    let o4 = 4 * q
                    let gv = gr.loadUnaligned(fromByteOffset: o4, as: SIMD8<Float>.self)
                    a0.addProduct(gv, c0.loadUnaligned(fromByteOffset: o4, as: SIMD8<Float>.self))
                    a1.addProduct(gv, c1.loadUnaligned(fromByteOffset: o4, as: SIMD8<Float>.self))
                    a2.addProduct(gv, c2.loadUnaligned(fromByteOffset: o4, as: SIMD8<Float>.self))
                    a3.addProduct(gv, c3.loadUnaligned(fromByteOffset: o4, as: SIMD8<Float>.self))
                    if r0 == 0 { ab += gv }
                    q += 8
                }
                var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum(), sb = ab.sum()
                let gs = g + (img * o + oc) * p
                for t in p8..<p {
                    let gt = gs[t]
                    s0 += gt * src[r0 * ld + t]
                    s1 += gt * src[(r0 + min(1, rn - 1)) * ld + t]
                    s2 += gt * src[(r0 + min(2, rn - 1)) * ld + t]
                    s3 += gt * src[(r0 + min(3, rn - 1)) * ld + t]
                    sb += gt
                }
                let dst = gw + oc * k + r0
                dst[0] += s0
                if rn > 1 { dst[1] += s1 }
                if rn > 2 { dst[2] += s2 }
                if rn > 3 { dst[3] += s3 }
                if r0 == 0, let biasGrad { biasGrad[oc] += sb }
                r0 += 4
            }
        }
    }
}

/// sums[ch] += Σ over images and positions of g[img, ch, ·] for g [N, O, P]: a bias gradient.
public func addChannelSums(_ g: UnsafePointer<Float>, batch n: Int, channels o: Int, plane p: Int,
                           _ sums: UnsafeMutablePointer<Float>) {
    for img in 0..<n {
        for ch in 0..<o { sums[ch] += sum8(g + (img * o + ch) * p, p) }
    }
}

/// x[r, ·] += bias[r] for a [rows, cols] block.
public func addRowBias(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ bias: UnsafePointer<Float>) {
    for r in 0..<rows {
        let row = x + r * cols, b = bias[r]
        for i in 0..<cols { row[i] += b }
    }
}

/// out = Σ_i parts[i·count ..< (i+1)·count], added in order of i.
public func sumParts(_ parts: UnsafePointer<Float>, parts n: Int, count: Int, _ out: UnsafeMutablePointer<Float>) {
    out.update(from: parts, count: count)
    for i in 1..<max(n, 1) {
        let src = parts + i * count
        for j in 0..<count { out[j] += src[j] }
    }
}

/// Σ a[i]·b[i] with four vector accumulators, so the loop is bound by loads rather than by the
/// latency of one accumulation chain.
@inline(__always)
private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(repeating: 0), acc1 = SIMD8<Float>(repeating: 0)
    var acc2 = SIMD8<Float>(repeating: 0), acc3 = SIMD8<Float>(repeating: 0)
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var i = 0
    while i + 32 <= n {
        let o = 4 * i
        acc0.addProduct(ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
        acc1.addProduct(ra.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
        acc2.addProduct(ra.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self))
        acc3.addProduct(ra.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self))
        i += 32
    }
    while i + 8 <= n {
        acc0.addProduct(ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
        i += 8
    }
    var s = ((acc0 + acc1) + (acc2 + acc3)).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

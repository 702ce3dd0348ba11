// Direct stride-1 convolution: no column matrix.
//
// With one image zero-padded to [C, Hp, Wp] and laid out flat, output channel o over the padded
// width, Y[o, y·Wp + x], is Σ_k w[o, k] · Xp[off(k) + y·Wp + x] with off(c, dy, dx) = c·Hp·Wp +
// dy·Wp + dx: every weight multiplies one contiguous run of Hout·Wp inputs starting at its own
// offset (the same observation as the sparse convolution, SparseConv.swift, made dense). So the
// product is a GEMM whose second operand is never written out: a tile of Y stays in registers
// while the weights of a block of output channels stream past, and the padded image (a few kilobytes)
// stays in cache. The Wp − Wout columns past each output row are computed and dropped.
//
// At batch 1 the im2col path writes and reads a C·kh·kw-fold copy of the image and calls a GEMM
// far too small to reach its rate; this path does neither. Measured on a quiet machine, it also
// beats the one big GEMM of the im2col path at batch 128 on every layer of the benchmark models
// (conv2d chooses by shape: Tensor+Conv.swift).

/// Columns of the wide output are computed in whole tiles of this many (a multiple of both
/// paths' tiles), so no tile is a latency-bound tail; the padded image has this many floats
/// more of zeros to read into.
private let shiftedTile = 32

/// Y[o, j] = Σ_k w[o, k] · xp[offsets[k] + j] for o < outChannels and j < columns (a multiple
/// of 32), Y's rows `columns` apart: the product inside `convShifted`. This file has the
/// eight-lane one; KernelsAVX512/ConvShifted16.swift the sixteen-lane one and the choice.
public typealias ShiftedProductKernel = (_ w: UnsafePointer<Float>, _ k: Int, _ outChannels: Int, _ xp: UnsafePointer<Float>,
                                         _ offsets: UnsafePointer<Int>, _ columns: Int, _ y: UnsafeMutablePointer<Float>) -> Void

/// The scratch floats `convShifted` needs for one image: the padded image (plus the tail the
/// last tiles read past it) and the wide output with its row length rounded up to whole tiles.
@inline(__always)
func convShiftedScratch(channels c: Int, outChannels o: Int, paddedH hp: Int, paddedW wp: Int, outH: Int,
                        kernelW kw: Int) -> (image: Int, wide: Int, ldy: Int) {
    let ldy = (outH * wp + shiftedTile - 1) / shiftedTile * shiftedTile
    return (c * hp * wp + kw + shiftedTile, o * ldy, ldy)
}

/// out [n, O, outH, outW] = conv2d(x [n, C, H, W], weight [O, C, kh, kw], stride 1, `padding`)
/// + bias, one image after another (callers split batches between threads), with `product`
/// for the arithmetic.
/// With `pool`, out is [n, O, pool.outH, pool.outW]: the result rectified and max-pooled, and
/// `index` (training, one per pooled output) the arg-maxima for the backward pass
/// (`maxPool2dReLU`).
public func convShifted(_ x: UnsafePointer<Float>, batch n: Int, channels c: Int, height h: Int, width w: Int,
                        _ weight: UnsafePointer<Float>, outChannels o: Int, kernelH kh: Int, kernelW kw: Int,
                        padding p: Int, bias: UnsafePointer<Float>?, _ out: UnsafeMutablePointer<Float>,
                        pool: ConvPooling? = nil, index: UnsafeMutablePointer<Int32>? = nil,
                        product: ShiftedProductKernel = shiftedProduct8) {
    let hp = h + 2 * p, wp = w + 2 * p
    guard n > 0, o > 0, kh <= hp, kw <= wp else { return }
    let outH = hp - kh + 1, outW = wp - kw + 1, k = c * kh * kw
    let sizes = convShiftedScratch(channels: c, outChannels: o, paddedH: hp, paddedW: wp, outH: outH, kernelW: kw)
    let padded = UnsafeMutablePointer<Float>.allocate(capacity: sizes.image + sizes.wide), ys = padded + sizes.image
    let offsets = UnsafeMutablePointer<Int>.allocate(capacity: max(k, 1))
    defer { padded.deallocate(); offsets.deallocate() }
    for ci in 0..<c {
        for dy in 0..<kh {
            for dx in 0..<kw { offsets[(ci * kh + dy) * kw + dx] = ci * hp * wp + dy * wp + dx }
        }
    }
    // The borders (and the tail) stay zero from image to image; only the interior is rewritten.
    padded.update(repeating: 0, count: sizes.image)
    for img in 0..<n {
        let src = x + img * c * h * w
        for ci in 0..<c {
            for row in 0..<h {
                (padded + ci * hp * wp + (row + p) * wp + p).update(from: src + (ci * h + row) * w, count: w)
            }
        }
        product(weight, k, o, UnsafePointer(padded), offsets, sizes.ldy, ys)
        let image = img * o * (pool?.plane ?? outH * outW)
        writeConvImage(ys, channels: o, planeStride: sizes.ldy, rowStride: wp, outH: outH, outW: outW, bias: bias, pool: pool,
                       out + image, index: index.map { $0 + image })
    }
}

/// ReLU and max pooling after a convolution, in an evaluation pass: applied to each image's
/// result as it is written, so the full-size result is never stored (`convShifted`,
/// `sparseConv2d`). `outH` × `outW` is the pooled extent.
public struct ConvPooling: Sendable {
    public var kernel: Int, stride: Int, padding: Int, outH: Int, outW: Int
    public init(kernel: Int, stride: Int, padding: Int, outH: Int, outW: Int) {
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.outH = outH; self.outW = outW
    }
    public var plane: Int { outH * outW }
}

/// Writes one image's convolution result, o planes `planeStride` apart of outH rows `rowStride`
/// apart (outW valid columns each), to dst [o, outH, outW] plus the bias; with `pool`, to dst
/// [o, pool.outH, pool.outW] as max pooling of ReLU(result + bias), the same values, and the
/// arg-maxima to `index` when given (`maxPool2dReLU`).
func writeConvImage(_ ys: UnsafePointer<Float>, channels o: Int, planeStride: Int, rowStride: Int, outH: Int, outW: Int,
                    bias: UnsafePointer<Float>?, pool: ConvPooling?, _ dst: UnsafeMutablePointer<Float>,
                    index: UnsafeMutablePointer<Int32>? = nil) {
    if let pool {
        maxPool2dReLU(ys, planes: o, height: outH, width: outW, rowStride: rowStride, planeStride: planeStride, bias: bias,
                      kernel: pool.kernel, stride: pool.stride, padding: pool.padding, outH: pool.outH, outW: pool.outW, dst,
                      index: index)
        return
    }
    let plane = outH * outW
    for ch in 0..<o {
        for row in 0..<outH {
            let s = ys + ch * planeStride + row * rowStride, d = dst + ch * plane + row * outW
            if let bias {
                let b = bias[ch]
                for col in 0..<outW { d[col] = s[col] + b }
            } else {
                d.update(from: s, count: outW)
            }
        }
    }
}

/// The eight-lane `ShiftedProductKernel`. Every tile keeps eight independent accumulators,
/// enough to hide the multiply-add latency: four output channels × sixteen columns, and for the
/// one to three channels left over, one channel × sixty-four columns (then sixteen).
public func shiftedProduct8(_ w: UnsafePointer<Float>, _ k: Int, _ o: Int, _ xp: UnsafePointer<Float>,
                            _ offsets: UnsafePointer<Int>, _ columns: Int, _ y: UnsafeMutablePointer<Float>) {
    typealias V = SIMD8<Float>
    let raw = UnsafeRawPointer(xp)
    @inline(__always) func load(_ i: Int) -> V { raw.loadUnaligned(fromByteOffset: 4 * i, as: V.self) }
    var o0 = 0
    while o0 + 4 <= o {
        let w0 = w + o0 * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
        var j = 0
        while j < columns {
            var a0 = V(), b0 = V(), a1 = V(), b1 = V(), a2 = V(), b2 = V(), a3 = V(), b3 = V()
            for t in 0..<k {
                let off = offsets[t] + j
                let x0 = load(off), x1 = load(off + 8)
                let c0 = V(repeating: w0[t]), c1 = V(repeating: w1[t]), c2 = V(repeating: w2[t]), c3 = V(repeating: w3[t])
                a0.addProduct(c0, x0); b0.addProduct(c0, x1)
                a1.addProduct(c1, x0); b1.addProduct(c1, x1)
                a2.addProduct(c2, x0); b2.addProduct(c2, x1)
                a3.addProduct(c3, x0); b3.addProduct(c3, x1)
            }
            let d = UnsafeMutableRawPointer(y + o0 * columns + j), row = 4 * columns
            d.storeBytes(of: a0, as: V.self); d.storeBytes(of: b0, toByteOffset: 32, as: V.self)
            d.storeBytes(of: a1, toByteOffset: row, as: V.self); d.storeBytes(of: b1, toByteOffset: row + 32, as: V.self)
            d.storeBytes(of: a2, toByteOffset: 2 * row, as: V.self); d.storeBytes(of: b2, toByteOffset: 2 * row + 32, as: V.self)
            d.storeBytes(of: a3, toByteOffset: 3 * row, as: V.self); d.storeBytes(of: b3, toByteOffset: 3 * row + 32, as: V.self)
            j += 16
        }
        o0 += 4
    }
    for r in o0..<o {
        let wr = w + r * k, yr = y + r * columns
        var j = 0
        while j + 64 <= columns {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
            for t in 0..<k {
                let c = V(repeating: wr[t]), off = offsets[t] + j
                a0.addProduct(c, load(off)); a1.addProduct(c, load(off + 8))
                a2.addProduct(c, load(off + 16)); a3.addProduct(c, load(off + 24))
                a4.addProduct(c, load(off + 32)); a5.addProduct(c, load(off + 40))
                a6.addProduct(c, load(off + 48)); a7.addProduct(c, load(off + 56))
            }
            let d = UnsafeMutableRawPointer(yr + j)
            d.storeBytes(of: a0, as: V.self); d.storeBytes(of: a1, toByteOffset: 32, as: V.self)
            d.storeBytes(of: a2, toByteOffset: 64, as: V.self); d.storeBytes(of: a3, toByteOffset: 96, as: V.self)
            d.storeBytes(of: a4, toByteOffset: 128, as: V.self); d.storeBytes(of: a5, toByteOffset: 160, as: V.self)
            d.storeBytes(of: a6, toByteOffset: 192, as: V.self); d.storeBytes(of: a7, toByteOffset: 224, as: V.self)
            j += 64
        }
        while j < columns {
            var a = V(), b = V()
            for t in 0..<k {
                let c = V(repeating: wr[t]), off = offsets[t] + j
                a.addProduct(c, load(off)); b.addProduct(c, load(off + 8))
            }
            let d = UnsafeMutableRawPointer(yr + j)
            d.storeBytes(of: a, as: V.self); d.storeBytes(of: b, toByteOffset: 32, as: V.self)
            j += 16
        }
    }
}

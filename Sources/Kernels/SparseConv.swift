// Sparse convolution: a Conv2d whose weight [O, C, kh, kw] has a fixed mask, as a sparse product.
//
// Stride 1 needs no im2col. With one image zero-padded to [C, Hp, Wp] and laid out flat, the
// output row o over the padded width, Y[o, y·Wp + x], is Σ w[o, c, dy, dx] · Xp[c·Hp·Wp +
// (y + dy)·Wp + (x + dx)]: every kept weight reads one contiguous run of Hout·Wp inputs starting
// at its own offset c·Hp·Wp + dy·Wp + dx. So the weight's kept entries are re-indexed by those
// offsets (`SparseConvPlan.offsets`) and the product is `sparseProduct` with a row stride of
// one; the Wp − Wout columns past each output row are computed and dropped. The padded image
// (a few tens of kilobytes) stays in the core's cache while every kept weight streams past,
// where im2col would write and read a C·kh·kw-fold copy of it. Other strides unfold the images
// (im2col) and multiply the column matrix, as the dense layer does.
//
// Images are split into groups that threads share; each image's result is computed alone, so
// results do not depend on the thread count.

/// A Conv2d's kept weights with what the sparse forward pass needs.
public final class SparseConvPlan: @unchecked Sendable {
    /// The weight as [O, C·kh·kw].
    public let weight: SparseMatrix
    /// For stride 1: the same entries with columns replaced by offsets into the padded image.
    public let offsets: SparseMatrix?
    public let channels: Int, kernelH: Int, kernelW: Int, stride: Int, padding: Int

    /// `weight` [O, C·kh·kw] for a convolution over images of `height` × `width`.
    public init(weight: SparseMatrix, channels: Int, kernelH: Int, kernelW: Int, stride: Int, padding: Int,
                height: Int, width: Int) {
        self.weight = weight
        self.channels = channels; self.kernelH = kernelH; self.kernelW = kernelW
        self.stride = stride; self.padding = padding
        guard stride == 1 else { offsets = nil; return }
        let hp = height + 2 * padding, wp = width + 2 * padding
        let o = SparseMatrix(rows: weight.rows, cols: channels * hp * wp, nnz: weight.nnz)
        for r in 0...weight.rows { o.rowStart[r] = weight.rowStart[r] }
        let taps = kernelH * kernelW
        for k in 0..<weight.nnz {
            let col = Int(weight.columns[k])
            let c = col / taps, dy = (col % taps) / kernelW, dx = col % kernelW
            o.columns[k] = Int32(truncatingIfNeeded: c * hp * wp + dy * wp + dx)
            o.values[k] = weight.values[k]
        }
        offsets = o
    }

    /// Whether `offsets` fits images of this size (it depends on the padded extent).
    public func fits(height: Int, width: Int) -> Bool {
        guard let offsets else { return true }
        return offsets.cols == channels * (height + 2 * padding) * (width + 2 * padding)
    }

    /// Copies `weight`'s kept values (re-read by its owner) into the offset form.
    public func followWeightValues() {
        if let offsets { offsets.values.update(from: weight.values, count: weight.nnz) }
    }
}

/// out [N, O, Hout, Wout] = conv2d(x [N, C, H, W], the plan's weight) + bias, with `kernel` for
/// the product's tiles; with `pool`, out [N, O, pool.outH, pool.outW] is that rectified and
/// max-pooled, and `index` (training) receives the arg-maxima (`maxPool2dReLU`).
public func sparseConv2d(_ plan: SparseConvPlan, _ x: UnsafePointer<Float>, batch n: Int, height h: Int, width w: Int,
                         outH: Int, outW: Int, bias: UnsafePointer<Float>?, _ out: UnsafeMutablePointer<Float>,
                         pool: ConvPooling? = nil, index: UnsafeMutablePointer<Int32>? = nil, kernel: SparseRowsKernel = sparseRows8) {
    let a = plan.weight, o = a.rows, c = plan.channels, plane = outH * outW
    let outImage = o * (pool?.plane ?? plane)
    guard n > 0, o > 0 else { return }
    let groups = max(1, min(n, Parallel.taskCount(a.nnz * plane * n, grain: SparseKernelSettings.grain)))
    if let offsets = plan.offsets {
        let p = plan.padding, hp = h + 2 * p, wp = w + 2 * p, wide = outH * wp
        parallelFor(groups) { g in
            // The last kept weights' runs end up to kw − 1 floats past the padded image (in
            // columns that are dropped): zeros there, not someone else's memory.
            let size = c * hp * wp + plan.kernelW
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: size)
            let ys = UnsafeMutablePointer<Float>.allocate(capacity: o * wide)
            defer { padded.deallocate(); ys.deallocate() }
            padded.update(repeating: 0, count: size)
            for img in Parallel.range(g, of: groups, count: n) {
                let src = x + img * c * h * w
                for ch in 0..<c {
                    for row in 0..<h {
                        (padded + ch * hp * wp + (row + p) * wp + p).update(from: src + (ch * h + row) * w, count: w)
                    }
                }
                kernel(offsets, padded, 1, wide, ys, wide, 0..<o)
                writeConvImage(ys, channels: o, planeStride: wide, rowStride: wp, outH: outH, outW: outW, bias: bias, pool: pool,
                               out + img * outImage, index: index.map { $0 + img * outImage })
            }
        }
    } else {
        let k = a.cols
        parallelFor(groups) { g in
            let images = Parallel.range(g, of: groups, count: n)
            let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * plane)
            let ys = UnsafeMutablePointer<Float>.allocate(capacity: o * plane)
            defer { cols.deallocate(); ys.deallocate() }
            for img in images {
                im2col(x + img * c * h * w, batch: 1, channels: c, height: h, width: w, kernelH: plan.kernelH,
                       kernelW: plan.kernelW, stride: plan.stride, padding: plan.padding, outH: outH, outW: outW, cols)
                kernel(a, cols, plane, plane, ys, plane, 0..<o)
                writeConvImage(ys, channels: o, planeStride: plane, rowStride: outW, outH: outH, outW: outW, bias: bias, pool: pool,
                               out + img * outImage, index: index.map { $0 + img * outImage })
            }
        }
    }
}

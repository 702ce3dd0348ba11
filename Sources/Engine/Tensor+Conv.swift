// 2-D convolution as one batched im2col GEMM, max / average pooling, and global average pooling.
import Kernels
import KernelsAVX512
#if canImport(Glibc)
import Glibc
#endif

/// Output extent of a sliding window, or nil when the window does not fit the padded input.
private func slidingOutput(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int? {
    let padded = size + 2 * padding
    return kernel <= padded ? (padded - kernel) / stride + 1 : nil
}

extension Tensor {
    /// Up to this many terms per output (C·kh·kw), conv2d skips the GEMM: the product is then
    /// memory-bound, and writing NCHW directly saves a reshuffle of the whole output. Measured:
    /// at 9 terms the direct kernels take about two thirds of the GEMM path's time; by 27 they
    /// only break even forward and lose on the weight gradient.
    static let conv2dDirectMaxK = 16
    /// Up to this batch (by default any), stride-1 convolutions run `convShifted` (no column
    /// matrix) where its kernel suits the layer. Measured on a quiet machine (prune-bench
    /// --conv-kernels --conv-batches 1,2,4,8,16,32,128, sixteen lanes): 1.1–2.1× faster than
    /// im2col + GEMM on every layer of the benchmark models at every batch from 1 to 128 (e.g.
    /// the CNN's 32→64 layer at batch 128: 2.8 ms against 3.2; LeNet-5's 6→16: 0.31 against
    /// 0.65). An earlier measurement on a loaded machine had found it mixed from batch 8.
    /// PRUNE_SHIFTED_MAX sets it (0: always im2col).
    nonisolated(unsafe) public static var conv2dShiftedMaxBatch = getenv("PRUNE_SHIFTED_MAX").map { Int(atoi($0)) } ?? Int.max

    /// 2-D cross-correlation as torch.nn.functional.conv2d: x [N, C, H, W], weight [O, C, kh, kw],
    /// bias [O] → [N, O, Hout, Wout] with Hout = (H + 2·padding − kh) / stride + 1.
    ///
    /// Stride-1 layers whose terms suit the direct kernel run `convShifted`, image by image with
    /// no column matrix (see `conv2dShiftedMaxBatch`). Otherwise the batch is unfolded into one
    /// column matrix [C·kh·kw, N·Hout·Wout] so that the product is a single large GEMM, which
    /// OpenBLAS runs far closer to peak than one small GEMM per image; layers with very few input
    /// terms use a direct kernel on the columns instead. The backward pass rebuilds the columns.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) throws -> Tensor {
        // Built only for an error message: formatting it on every call costs as much as a small
        // layer's arithmetic.
        var shapes: String { "input \(describe(shape: x.shape)), weight \(describe(shape: weight.shape))" }
        guard x.rank == 4 else {
            throw EngineError("conv2d: input must be [N, C, H, W], got \(describe(shape: x.shape))")
        }
        guard weight.rank == 4 else {
            throw EngineError("conv2d: weight must be [out, in, kh, kw], got \(describe(shape: weight.shape))")
        }
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
        guard weight.shape[1] == c else {
            throw EngineError("conv2d: input has \(c) channels but weight expects \(weight.shape[1]) (\(shapes))")
        }
        guard stride >= 1, padding >= 0 else {
            throw EngineError("conv2d: stride must be ≥ 1 and padding ≥ 0, got stride \(stride), padding \(padding) (\(shapes))")
        }
        guard kh >= 1, kw >= 1 else {
            throw EngineError("conv2d: kernel must be at least 1×1, got \(kh)×\(kw) (\(shapes))")
        }
        guard let hOut = slidingOutput(h, kernel: kh, stride: stride, padding: padding),
              let wOut = slidingOutput(w, kernel: kw, stride: stride, padding: padding) else {
            throw EngineError("conv2d: kernel \(kh)×\(kw) is larger than the padded input \(h + 2 * padding)×\(w + 2 * padding) (\(shapes), padding \(padding))")
        }
        if let bias, bias.rank != 1 || bias.shape[0] != o {
            throw EngineError("conv2d: bias of shape \(describe(shape: bias.shape)) does not match \(o) output channels (\(shapes))")
        }

        let plane = hOut * wOut, k = c * kh * kw, chw = c * h * w, outImage = o * plane
        let direct = k <= conv2dDirectMaxK
        let plan = ConvPlan(batch: n, k: k, plane: plane, outChannels: o)
        let xData = x.data, wData = weight.data, bData = bias?.data
        let out = try Tensor.empty([n, o, hOut, wOut])
        let outData = out.data
        if shiftedSuits(stride: stride, batch: n, terms: k) {
            shifted(x, weight: weight, bias: bias, padding: padding, plan: plan, pool: nil, out)
        } else {
            if !direct { BLAS.countFlops(2 * o * k * n * plane) }
            parallelFor(plan.groups) { group in
                let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * plan.chunk * plane)
                defer { cols.deallocate() }
                let ys: UnsafeMutablePointer<Float>? = !direct && plan.chunk > 1
                    ? .allocate(capacity: o * plan.chunk * plane) : nil
                defer { ys?.deallocate() }
                for (img0, cn) in plan.chunks(of: group) {
                    let np = cn * plane, dst = outData + img0 * outImage
                    im2col(xData + img0 * chw, batch: cn, channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                           stride: stride, padding: padding, outH: hOut, outW: wOut, cols)
                    if direct {
                        convForwardSmallK(cols, batch: cn, plane: plane, k: k, wData, outChannels: o, bias: bData, dst)
                    } else if let ys {
                        BLAS.gemm(m: o, n: np, k: k, wData, lda: k, cols, ldb: np, ys, ldc: np)
                        channelsToBatch(ys, batch: cn, channels: o, plane: plane, bias: bData, dst)
                    } else {
                        // One image: the [O, P] product is already that image's NCHW block.
                        BLAS.gemm(m: o, n: np, k: k, wData, lda: k, cols, ldb: np, dst, ldc: np)
                        if let bData { addRowBias(dst, rows: o, cols: plane, bData) }
                    }
                }
            }
        }

        return record("conv2d", out, bias.map { [x, weight, $0] } ?? [x, weight]) { g in
            conv2dGradients(g, x: x, weight: weight, bias: bias, stride: stride, padding: padding, outH: hOut, outW: wOut, plan: plan)
        }
    }

    /// The gradients of conv2d(x, weight, bias) for output gradient g [N, O, outH, outW]: one per
    /// input, nil where none is needed (the backward pass of `conv2d` and of the joined
    /// convolution, ReLU and max pooling).
    static func conv2dGradients(_ g: Tensor, x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int,
                                outH hOut: Int, outW wOut: Int, plan: ConvPlan) -> [Tensor?] {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
        let plane = hOut * wOut, k = c * kh * kw, chw = c * h * w, outImage = o * plane
        let direct = k <= conv2dDirectMaxK
        let xData = x.data, wData = weight.data
        let needX = x.requiresGrad, needW = weight.requiresGrad, needB = bias?.requiresGrad == true
        let groups = plan.groups
        // Per-group partial gradients, summed in group order afterwards, so that the result
        // does not depend on how many threads ran the groups.
        let gwParts: UnsafeMutablePointer<Float>? = needW ? .allocate(capacity: groups * o * k) : nil
        let gbParts: UnsafeMutablePointer<Float>? = needB ? .allocate(capacity: groups * o) : nil
        defer { gwParts?.deallocate(); gbParts?.deallocate() }
        let gx: Tensor? = needX ? Tensor.empty(like: x) : nil
        let gData = g.data, gxData = gx?.data
        if !direct { BLAS.countFlops(2 * o * k * n * plane * ((needW ? 1 : 0) + (needX ? 1 : 0))) }
        parallelFor(groups) { group in
            let gw = gwParts.map { $0 + group * o * k }, gb = gbParts.map { $0 + group * o }
            gw?.update(repeating: 0, count: o * k)
            gb?.update(repeating: 0, count: o)
            // The columns (rebuilt here rather than kept from the forward pass, which would
            // hold a C·kh·kw-fold copy of the input), then reused for the input gradient's.
            let cols: UnsafeMutablePointer<Float>? = needW || needX ? .allocate(capacity: k * plan.chunk * plane) : nil
            defer { cols?.deallocate() }
            let gys: UnsafeMutablePointer<Float>? = (needX || (needW && !direct)) && plan.chunk > 1
                ? .allocate(capacity: o * plan.chunk * plane) : nil
            defer { gys?.deallocate() }
            for (img0, cn) in plan.chunks(of: group) {
                let np = cn * plane, gc = gData + img0 * outImage
                // The direct weight-gradient kernel sums the bias gradient in the same pass.
                if let gb, !(direct && gw != nil) { addChannelSums(gc, batch: cn, channels: o, plane: plane, gb) }
                // The [O, N·P] layout of the output gradient that the GEMMs need.
                var gy: UnsafePointer<Float> = UnsafePointer(gc)
                if let gys {
                    batchToChannels(gc, batch: cn, channels: o, plane: plane, gys, channelSums: nil)
                    gy = UnsafePointer(gys)
                }
                if let gw, let cols {
                    im2col(xData + img0 * chw, batch: cn, channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                           stride: stride, padding: padding, outH: hOut, outW: wOut, cols)
                    if direct {
                        convWeightGradSmallK(gc, cols, batch: cn, plane: plane, k: k, outChannels: o, gw,
                                             biasGrad: gb, accumulate: true)
                    } else {
                        BLAS.gemm(transB: true, m: o, n: k, k: np, gy, lda: np, cols, ldb: np, beta: 1, gw, ldc: k)
                    }
                }
                if let gxData, let cols {
                    BLAS.gemm(transA: true, m: k, n: np, k: o, wData, lda: k, gy, ldb: np, cols, ldc: np)
                    col2im(cols, batch: cn, channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                           stride: stride, padding: padding, outH: hOut, outW: wOut, gxData + img0 * chw,
                           accumulate: false)
                }
            }
        }
        var gw: Tensor?, gb: Tensor?
        if let gwParts {
            let t = Tensor.empty(like: weight)
            sumParts(gwParts, parts: groups, count: o * k, t.data)
            gw = t
        }
        if let gbParts {
            let t = Tensor.empty(existing: [o])
            sumParts(gbParts, parts: groups, count: o, t.data)
            gb = t
        }
        return bias == nil ? [gx, gw] : [gx, gw, gb]
    }

    /// Checks a pooling call's arguments and returns the output extent.
    private func poolGeometry(_ op: String, kernel: Int, stride: Int, padding: Int) throws -> (hOut: Int, wOut: Int) {
        guard rank == 4 else {
            throw EngineError("\(op): input must be [N, C, H, W], got \(describe(shape: shape))")
        }
        guard kernel >= 1, stride >= 1, padding >= 0 else {
            throw EngineError("\(op): kernel and stride must be ≥ 1 and padding ≥ 0, got kernel \(kernel), stride \(stride), padding \(padding) (input \(describe(shape: shape)))")
        }
        // As PyTorch requires: with more padding some windows would see only padding.
        guard padding <= kernel / 2 else {
            throw EngineError("\(op): padding \(padding) must be at most half the kernel \(kernel) (input \(describe(shape: shape)))")
        }
        let h = shape[2], w = shape[3]
        guard let hOut = slidingOutput(h, kernel: kernel, stride: stride, padding: padding),
              let wOut = slidingOutput(w, kernel: kernel, stride: stride, padding: padding) else {
            throw EngineError("\(op): kernel \(kernel)×\(kernel) is larger than the padded input \(h + 2 * padding)×\(w + 2 * padding) (input \(describe(shape: shape)), padding \(padding))")
        }
        return (hOut, wOut)
    }

    /// Whether a convolution runs `convShifted` (see `conv2dShiftedMaxBatch`).
    private static func shiftedSuits(stride: Int, batch n: Int, terms k: Int) -> Bool {
        stride == 1 && n <= conv2dShiftedMaxBatch && ShiftedKernels.suits(terms: k)
    }

    /// The shifted convolution of x's images into `out`, groups of images on the threads; with
    /// `pool`, each image's result rectified and max-pooled as it is written.
    private static func shifted(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int, plan: ConvPlan, pool: ConvPooling?,
                                index: UnsafeMutablePointer<Int32>? = nil, _ out: Tensor) {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
        let k = c * kh * kw, chw = c * h * w, outImage = out.count / Swift.max(n, 1)
        let plane = (h + 2 * padding - kh + 1) * (w + 2 * padding - kw + 1)
        let xData = x.data, wData = weight.data, bData = bias?.data, outData = out.data
        BLAS.countFlops(2 * o * k * n * plane)     // the same products as the GEMM's, counted alike
        parallelFor(plan.groups) { group in
            let images = Parallel.range(group, of: plan.groups, count: n)
            guard let first = images.first else { return }
            convShifted(xData + first * chw, batch: images.count, channels: c, height: h, width: w, wData, outChannels: o,
                        kernelH: kh, kernelW: kw, padding: padding, bias: bData, outData + first * outImage, pool: pool,
                        index: index.map { $0 + first * outImage }, product: ShiftedKernels.product)
        }
    }

    /// maxPool2d(relu(conv2d(x, weight, bias, stride, padding)), kernel: pool, stride: poolStride,
    /// padding: poolPadding) in one pass over each image's result, which is never stored. Nil
    /// where the convolution would not run the shifted kernel or the shapes do not fit (the
    /// separate operations then run, and report any error).
    ///
    /// Recorded when an input requires a gradient: the forward pass keeps each window's arg-max
    /// (−1 where the ReLU zeroed the window), and the backward pass scatters the gradient to
    /// them and runs the convolution's own backward pass on it, so every gradient has the bits of
    /// the three operations' (the ReLU's full-size input and output are never stored).
    public static func conv2dReLUMaxPool(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int,
                                         pool: Int, poolStride: Int, poolPadding: Int) throws -> Tensor? {
        guard bias.map({ $0.rank == 1 && $0.shape[0] == weight.shape[0] }) ?? true,
              let (hOut, wOut, pooling) = conv2dReLUMaxPoolFits(x, weight: weight.shape, stride: stride, padding: padding, pool: pool,
                                                                poolStride: poolStride, poolPadding: poolPadding) else { return nil }
        let n = x.shape[0], c = x.shape[1], kh = weight.shape[2], kw = weight.shape[3], o = weight.shape[0]
        let plan = ConvPlan(batch: n, k: c * kh * kw, plane: hOut * wOut, outChannels: o)
        let out = try Tensor.empty([n, o, pooling.outH, pooling.outW])
        guard GradMode.isEnabled && (x.requiresGrad || weight.requiresGrad || bias?.requiresGrad == true) else {
            shifted(x, weight: weight, bias: bias, padding: padding, plan: plan, pool: pooling, index: nil, out)
            return out
        }
        // The backward pass builds the gradient of the convolution's full-size result.
        _ = try TensorSize.elements([n, o, hOut, wOut])
        let index = [Int32](unsafeUninitializedCapacity: out.count) { buf, count in
            shifted(x, weight: weight, bias: bias, padding: padding, plan: plan, pool: pooling, index: buf.baseAddress, out)
            count = out.count
        }
        return record("conv2d_relu_maxpool", out, bias.map { [x, weight, $0] } ?? [x, weight]) { g in
            let gy = reluMaxPoolGradient(g, index: index, resultShape: [n, o, hOut, wOut], pooling: pooling)
            return conv2dGradients(gy, x: x, weight: weight, bias: bias, stride: stride, padding: padding, outH: hOut, outW: wOut,
                                   plan: plan)
        }
    }

    /// The gradient of a convolution's full-size result, of shape `resultShape` [N, O, H, W],
    /// from `g`, the gradient of that result rectified and max-pooled with `pooling`, and the
    /// arg-maxima the forward pass kept (`maxPool2dReLU`): what the pooling's and the ReLU's
    /// backward passes give together. Callers checked `resultShape` (TensorSize) in the forward
    /// pass.
    public static func reluMaxPoolGradient(_ g: Tensor, index: [Int32], resultShape: [Int], pooling: ConvPooling) -> Tensor {
        let gy = Tensor.empty(existing: resultShape)
        let planes = resultShape[0] * resultShape[1]
        index.withUnsafeBufferPointer { idx in
            if let base = idx.baseAddress, idx.count == g.count, g.count == planes * pooling.plane {
                maxPool2dBackward(g.data, base, planes: planes, inPlane: resultShape[2] * resultShape[3], outPlane: pooling.plane,
                                  overlapping: pooling.kernel > pooling.stride, gy.data)
            } else {
                gy.data.update(repeating: 0, count: gy.count)     // nothing pooled (an empty batch)
            }
        }
        return gy
    }

    /// Whether `conv2dReLUMaxPool` runs for x and a weight of this shape (a layer asks before it
    /// computes its effective weight, which may draw noise): the convolution's extent and the
    /// pooling's, or nil.
    public static func conv2dReLUMaxPoolFits(_ x: Tensor, weight shape: [Int], stride: Int, padding: Int, pool: Int,
                                             poolStride: Int, poolPadding: Int) -> (Int, Int, ConvPooling)? {
        guard x.rank == 4, shape.count == 4, shape[1] == x.shape[1], stride >= 1, padding >= 0, x.shape[0] >= 1,
              shape[0] >= 1, shape[2] >= 1, shape[3] >= 1,
              let hOut = slidingOutput(x.shape[2], kernel: shape[2], stride: stride, padding: padding),
              let wOut = slidingOutput(x.shape[3], kernel: shape[3], stride: stride, padding: padding),
              let pooling = poolingAfter(height: hOut, width: wOut, kernel: pool, stride: poolStride, padding: poolPadding),
              shiftedSuits(stride: stride, batch: x.shape[0], terms: shape[1] * shape[2] * shape[3]) else { return nil }
        return (hOut, wOut, pooling)
    }

    /// Max pooling with this window over planes of height × width, when it fits them (the same
    /// conditions `maxPool2d` checks); nil otherwise.
    public static func poolingAfter(height h: Int, width w: Int, kernel: Int, stride: Int, padding: Int) -> ConvPooling? {
        guard kernel >= 1, stride >= 1, padding >= 0, padding <= kernel / 2, h * w <= Int(Int32.max),
              let outH = slidingOutput(h, kernel: kernel, stride: stride, padding: padding),
              let outW = slidingOutput(w, kernel: kernel, stride: stride, padding: padding) else { return nil }
        return ConvPooling(kernel: kernel, stride: stride, padding: padding, outH: outH, outW: outW)
    }

    /// Max pooling over k × k windows of an [N, C, H, W] tensor (stride defaults to the kernel);
    /// the gradient goes to the first maximum of each window. With `reluFirst`, the pooling of
    /// `relu()` of this tensor: in one pass when nothing is recorded (evaluation), saving a pass
    /// over the full-size activations.
    public func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0, reluFirst: Bool = false) throws -> Tensor {
        let s = stride ?? kernel
        let (hOut, wOut) = try poolGeometry("maxPool2d", kernel: kernel, stride: s, padding: padding)
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        guard h * w <= Int(Int32.max) else {
            throw EngineError("maxPool2d: planes of \(h)×\(w) are too large (input \(describe(shape: shape)))")
        }
        let planes = n * c, outPlane = hOut * wOut
        let out = try Tensor.empty([n, c, hOut, wOut])
        if !(GradMode.enabled && requiresGrad) {
            // Nothing to record: no arg-max indices either.
            Kernels.maxPool2d(data, planes: planes, height: h, width: w, kernel: kernel, stride: s, padding: padding,
                              outH: hOut, outW: wOut, out.data, nil, reluFirst: reluFirst)
            return out
        }
        if reluFirst { return try relu().maxPool2d(kernel: kernel, stride: stride, padding: padding) }
        let index = [Int32](unsafeUninitializedCapacity: planes * outPlane) { buf, count in
            if let base = buf.baseAddress {
                Kernels.maxPool2d(data, planes: planes, height: h, width: w, kernel: kernel, stride: s,
                                  padding: padding, outH: hOut, outW: wOut, out.data, base)
            }
            count = planes * outPlane
        }
        return Tensor.record("maxPool2d", out, [self]) { g in
            let gx = Tensor.empty(like: self)
            index.withUnsafeBufferPointer { idx in
                if let base = idx.baseAddress {
                    maxPool2dBackward(g.data, base, planes: planes, inPlane: h * w, outPlane: outPlane,
                                      overlapping: kernel > s, gx.data)
                }
            }
            return [gx]
        }
    }

    /// Average pooling over k × k windows of an [N, C, H, W] tensor (stride defaults to the
    /// kernel); padding counts as zeros, as PyTorch's default count_include_pad.
    public func avgPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        let s = stride ?? kernel
        let (hOut, wOut) = try poolGeometry("avgPool2d", kernel: kernel, stride: s, padding: padding)
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        let out = try Tensor.empty([n, c, hOut, wOut])
        Kernels.avgPool2d(data, planes: n * c, height: h, width: w, kernel: kernel, stride: s,
                          padding: padding, outH: hOut, outW: wOut, out.data)
        return Tensor.record("avgPool2d", out, [self]) { g in
            let gx = Tensor.zeros(like: self)
            avgPool2dBackward(g.data, planes: n * c, height: h, width: w, kernel: kernel, stride: s,
                              padding: padding, outH: hOut, outW: wOut, gx.data)
            return [gx]
        }
    }

    /// The mean of each H × W plane: [N, C, H, W] → [N, C].
    public func globalAvgPool() throws -> Tensor {
        guard rank == 4 else {
            throw EngineError("globalAvgPool: input must be [N, C, H, W], got \(describe(shape: shape))")
        }
        let planes = shape[0] * shape[1], size = shape[2] * shape[3]
        guard size > 0 else {
            throw EngineError("globalAvgPool: input \(describe(shape: shape)) has empty planes")
        }
        let out = try Tensor.empty([shape[0], shape[1]])
        sumMid(data, outer: planes, mid: size, inner: 1, out.data)
        let scale = 1 / Float(size)
        Kernels.scale(out.data, scale, out.data, planes)
        return Tensor.record("globalAvgPool", out, [self]) { g in
            let gx = Tensor.empty(like: self)
            spreadPlanes(g.data, scale: scale, planes: planes, size: size, gx.data)
            return [gx]
        }
    }
}

/// How conv2d splits a batch: into chunks of `chunk` images whose column matrix stays in the
/// core's cache between im2col and its GEMM, and the chunks into `groups` contiguous runs, the
/// tasks that threads share. Both depend only on the shapes.
struct ConvPlan {
    let batch: Int, chunk: Int, chunkCount: Int, groups: Int

    /// Column matrices of up to about this many floats (the L2 cache of one core).
    nonisolated(unsafe) static var columnBlockFloats = getenv("PRUNE_COLBLOCK").map { Int(atoi($0)) } ?? 64 * 1024
    /// Groups per batch, when the batch is large enough to be worth splitting.
    static let maxGroups = 8

    init(batch n: Int, k: Int, plane: Int, outChannels o: Int) {
        batch = n
        chunk = max(1, min(n, ConvPlan.columnBlockFloats / max(k * plane, 1)))
        chunkCount = (n + chunk - 1) / chunk
        let work = n * plane * max(k, o)
        groups = work < Parallel.minParallelElements ? 1 : min(chunkCount, ConvPlan.maxGroups)
    }

    /// The chunks of one group as (first image, images).
    func chunks(of group: Int) -> [(Int, Int)] {
        Parallel.range(group, of: groups, count: chunkCount).map { ci in
            let first = ci * chunk
            return (first, min(chunk, batch - first))
        }
    }
}

// 2-D convolution as one batched im2col GEMM, max / average pooling, and global average pooling.
import Kernels

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

    /// 2-D cross-correlation as torch.nn.functional.conv2d: x [N, C, H, W], weight [O, C, kh, kw],
    /// bias [O] → [N, O, Hout, Wout] with Hout = (H + 2·padding − kh) / stride + 1.
    ///
    /// The whole batch is unfolded into one column matrix [C·kh·kw, N·Hout·Wout] so that the
    /// product is a single large GEMM, which OpenBLAS runs far closer to peak than one small GEMM
    /// per image. The column matrix is kept for the weight gradient instead of being rebuilt.
    /// Layers with very few input terms (a first layer on grey images) use a direct kernel instead.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) throws -> Tensor {
        let shapes = "input \(describe(shape: x.shape)), weight \(describe(shape: weight.shape))"
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
        if let bias, bias.shape != [o] {
            throw EngineError("conv2d: bias of shape \(describe(shape: bias.shape)) does not match \(o) output channels (\(shapes))")
        }

        let plane = hOut * wOut, k = c * kh * kw, np = n * plane
        let col = Tensor.empty([k, np])
        im2col(x.data, batch: n, channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
               stride: stride, padding: padding, outH: hOut, outW: wOut, col.data)
        let out = Tensor.empty([n, o, hOut, wOut])
        let direct = k <= conv2dDirectMaxK
        if direct {
            convForwardSmallK(col.data, batch: n, plane: plane, k: k, weight.data, outChannels: o,
                              bias: bias?.data, out.data)
        } else {
            let y = Tensor.empty([o, np])
            BLAS.gemm(m: o, n: np, k: k, weight.data, col.data, y.data)
            channelsToBatch(y.data, batch: n, channels: o, plane: plane, bias: bias?.data, out.data)
        }

        // Only the weight gradient reads the columns; without it they are freed right away.
        let savedCol: Tensor? = weight.requiresGrad ? col : nil
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return record("conv2d", out, inputs) { g in
            let gb: Tensor? = bias?.requiresGrad == true ? Tensor.empty([o]) : nil
            var gw: Tensor?, gx: Tensor?
            // The [O, N·P] layout of the output gradient that the GEMMs need.
            var gy: Tensor?
            if direct {
                if let savedCol {
                    let t = Tensor.empty(weight.shape)
                    convWeightGradSmallK(g.data, savedCol.data, batch: n, plane: plane, k: k, outChannels: o,
                                         t.data, biasGrad: gb?.data)
                    gw = t
                } else if let gb {
                    // Plane sums per (image, channel), then over images.
                    let perImage = Tensor.empty([n, o])
                    sumMid(g.data, outer: n * o, mid: plane, inner: 1, perImage.data)
                    sumMid(perImage.data, outer: 1, mid: n, inner: o, gb.data)
                }
                if x.requiresGrad {
                    let t = Tensor.empty([o, np])
                    batchToChannels(g.data, batch: n, channels: o, plane: plane, t.data, channelSums: nil)
                    gy = t
                }
            } else {
                let t = Tensor.empty([o, np])
                batchToChannels(g.data, batch: n, channels: o, plane: plane, t.data, channelSums: gb?.data)
                gy = t
                if let savedCol {
                    let tw = Tensor.empty(weight.shape)
                    BLAS.gemm(transB: true, m: o, n: k, k: np, t.data, savedCol.data, tw.data)
                    gw = tw
                }
            }
            if x.requiresGrad, let gy {
                let gcol = Tensor.empty([k, np])
                BLAS.gemm(transA: true, m: k, n: np, k: o, weight.data, gy.data, gcol.data)
                let t = Tensor.zeros(x.shape)
                col2im(gcol.data, batch: n, channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                       stride: stride, padding: padding, outH: hOut, outW: wOut, t.data)
                gx = t
            }
            return bias == nil ? [gx, gw] : [gx, gw, gb]
        }
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

    /// Max pooling over k × k windows of an [N, C, H, W] tensor (stride defaults to the kernel);
    /// the gradient goes to the first maximum of each window.
    public func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        let s = stride ?? kernel
        let (hOut, wOut) = try poolGeometry("maxPool2d", kernel: kernel, stride: s, padding: padding)
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        guard h * w <= Int(Int32.max) else {
            throw EngineError("maxPool2d: planes of \(h)×\(w) are too large (input \(describe(shape: shape)))")
        }
        let planes = n * c, outPlane = hOut * wOut
        let out = Tensor.empty([n, c, hOut, wOut])
        let index = [Int32](unsafeUninitializedCapacity: planes * outPlane) { buf, count in
            if let base = buf.baseAddress {
                Kernels.maxPool2d(data, planes: planes, height: h, width: w, kernel: kernel, stride: s,
                                  padding: padding, outH: hOut, outW: wOut, out.data, base)
            }
            count = planes * outPlane
        }
        return Tensor.record("maxPool2d", out, [self]) { g in
            let gx = Tensor.empty(self.shape)
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
        let out = Tensor.empty([n, c, hOut, wOut])
        Kernels.avgPool2d(data, planes: n * c, height: h, width: w, kernel: kernel, stride: s,
                          padding: padding, outH: hOut, outW: wOut, out.data)
        return Tensor.record("avgPool2d", out, [self]) { g in
            let gx = Tensor.zeros(self.shape)
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
        let out = Tensor.empty([shape[0], shape[1]])
        sumMid(data, outer: planes, mid: size, inner: 1, out.data)
        let scale = 1 / Float(size)
        Kernels.scale(out.data, scale, out.data, planes)
        return Tensor.record("globalAvgPool", out, [self]) { g in
            let gx = Tensor.empty(self.shape)
            spreadPlanes(g.data, scale: scale, planes: planes, size: size, gx.data)
            return [gx]
        }
    }
}

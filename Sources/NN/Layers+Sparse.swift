// The sparse forward passes of Linear and Conv2d (when they apply: NN/Sparse.swift), as tensor
// operations over Kernels' sparse products.
import Engine
import Kernels
import KernelsAVX512

extension Linear: SparseCapable {
    public var sparseShape: (rows: Int, cols: Int) { (outFeatures, inFeatures) }

    /// The layer's output through the sparse kernels, or nil where the dense computation runs
    /// (which also reports any shape error). `w` and `b` are the effective weight and bias.
    func sparseForward(_ x: Tensor, weight w: Tensor, bias b: Tensor?) throws -> Tensor? {
        guard x.rank >= 1, x.shape[x.rank - 1] == inFeatures, inFeatures > 0 else { return nil }
        let batch = x.count / inFeatures
        if sparseInferenceApplies([x, w, b]), let m = sparse.matrix {
            return try sparse.run(batch: batch, dense: { try Tensor.linear(x, weight: w, bias: b) }, sparse: {
                let out = try Tensor.empty(x.shape.replacingLast(with: outFeatures))
                keptProduct(m, x.data, batch: batch, bias: b?.data, out.data)
                return out
            })
        }
        return try frozenMaskForward(x, weight: w, bias: b, batch: batch)
    }

    /// out [B, out] = x [B, in]·Wᵀ + bias from the kept weights `m`: at batch 1 on AVX-512 in lane
    /// layout, otherwise `sparseLinear` (at batch 1 over the non-zero inputs where that pays).
    fileprivate func keptProduct(_ m: SparseMatrix, _ x: UnsafePointer<Float>, batch: Int, bias: UnsafePointer<Float>?,
                               _ out: UnsafeMutablePointer<Float>) {
        if batch == 1, let lanes = sparse.laneMatrix() {
            sparseLaneProduct(lanes, x, bias: bias, out)
        } else {
            sparseLinear(m, x, batch: batch, bias: bias, out, kernel: SparseKernels.rows,
                         columns: batch == 1 ? sparse.scatterColumns() : nil)
        }
    }

    /// Training with a frozen fixed mask: y = x·Wᵀ + b through the sparse kernels, and a
    /// backward pass whose input gradient is Wᵀ's sparse product and whose weight gradient is
    /// computed only at kept entries (zero elsewhere, where the optimizer keeps the weight at
    /// zero anyway). Nil when it does not apply: evaluation, a mask that is not fixed and
    /// frozen, or one keeping more than `SparseInference.maxTrainingDensity` of the weights.
    func frozenMaskForward(_ x: Tensor, weight w: Tensor, bias b: Tensor?, batch: Int) throws -> Tensor? {
        guard training, SparseInference.enabled, batch > 0, let gate = gates["weight"], gate.isFixed, gate.frozen, w === weight,
              sparse.prepare(weight: weight, gate: gate, rows: outFeatures, cols: inFeatures, mode: .auto,
                             maxDensity: SparseInference.maxTrainingDensity),
              let a = sparse.matrix else { return nil }
        let nIn = inFeatures, nOut = outFeatures
        let kernel = SparseKernels.rows
        // xᵀ [in, B] is kept for the weight gradient.
        let xt = try Tensor.empty([nIn, batch])
        let out = try Tensor.empty(x.shape.replacingLast(with: nOut))
        sparseLinear(a, x.data, batch: batch, bias: b?.data, out.data, kernel: kernel, xt: xt.data)
        let at = x.requiresGrad ? sparse.transposedMatrix() : sparse.transposed
        return Tensor.recorded("sparse_linear", out, inputs: b.map { [x, w, $0] } ?? [x, w]) { g in
            let gt = Tensor.empty(like: g)   // [nOut, batch]: g transposed
            var gx: Tensor?, gw: Tensor?, gb: Tensor?
            if x.requiresGrad, let at {
                // gx = g·W as the forward pass of Wᵀ, keeping gᵀ for the weight gradient.
                gx = Tensor.empty(like: x)
                sparseLinear(at, g.data, batch: batch, bias: nil, gx!.data, kernel: kernel, xt: gt.data)
            } else {
                transposeMatrix(g.data, rows: batch, cols: nOut, gt.data)
            }
            if w.requiresGrad {
                gw = Tensor.empty(like: w)
                sparseSampledProduct(a, gt.data, xt.data, length: batch, gw!.data)
            }
            if let b, b.requiresGrad {
                gb = Tensor.empty(like: b)
                sumMid(g.data, outer: 1, mid: batch, inner: nOut, gb!.data)
            }
            return b == nil ? [gx, gw] : [gx, gw, gb]
        }
    }
}

extension Conv2d: SparseCapable {
    public var sparseShape: (rows: Int, cols: Int) { (outChannels, inChannels * kernel * kernel) }

    /// As Linear's: the convolution through the sparse kernels, or nil.
    func sparseForward(_ x: Tensor, weight w: Tensor, bias b: Tensor?) throws -> Tensor? {
        if sparseInferenceApplies([x, w, b]), let m = sparse.matrix, let (plan, outH, outW) = convPlan(m, for: x) {
            let n = x.shape[0]
            return try sparse.run(batch: n, dense: { try Tensor.conv2d(x, weight: w, bias: b, stride: stride, padding: padding) }, sparse: {
                let out = try Tensor.empty([n, outChannels, outH, outW])
                sparseConv2d(plan, x.data, batch: n, height: x.shape[2], width: x.shape[3], outH: outH, outW: outW, bias: b?.data,
                             out.data, kernel: SparseKernels.rows)
                return out
            })
        }
        return try frozenMaskForward(x, weight: w, bias: b)
    }

    /// maxPool2d(relu(self(x))) with `pool`'s window in one pass over each image's result (in a
    /// Sequential: the full-size result is never stored), through the kept weights or the dense
    /// shifted kernel as the layer alone would choose; in training (or whenever a gradient is
    /// recorded) through the kept weights where a frozen mask lets the layer train on them, else
    /// the dense kernel, recorded with the three layers' gradients. Nil where that does not apply
    /// (a choice still to be timed, a layer the fused kernels do not cover): the three layers
    /// then run one at a time.
    func reluMaxPoolForward(_ x: Tensor, pool: MaxPool2d) throws -> Tensor? {
        guard x.rank == 4, x.shape[0] >= 1 else { return nil }
        var useSparse = false, frozen = false
        if joinable(x) {
            guard let s = usesSparse(x) else { return nil }
            useSparse = s
        } else if training, SparseInference.enabled, let gate = gates["weight"], gate.isFixed, gate.frozen {
            // The layer alone would run `frozenMaskForward` (where the density allows): so does
            // the joined pass. Only with fixed masks, whose effective tensors draw nothing.
            guard gates["bias"]?.isFixed ?? true else { return nil }
            frozen = true
        }
        // Asked before the effective weight is made (it may draw noise): nil here must leave
        // nothing done that the layer's own call would do again.
        if !useSparse, !frozen, Tensor.conv2dReLUMaxPoolFits(x, weight: weight.shape, stride: stride, padding: padding,
                                                             pool: pool.kernel, poolStride: pool.stride,
                                                             poolPadding: pool.padding) == nil { return nil }
        let w = try effective("weight", weight), b = try bias.map { try effective("bias", $0) }
        if frozen, let y = try frozenMaskForward(x, weight: w, bias: b, pool: pool) {
            positionsPerSample = resultPositions(x)
            return y
        }
        if useSparse {
            guard let m = sparse.matrix, let (plan, outH, outW) = convPlan(m, for: x),
                  let pooling = Tensor.poolingAfter(height: outH, width: outW, kernel: pool.kernel, stride: pool.stride,
                                                    padding: pool.padding) else { return nil }
            let n = x.shape[0]
            let out = try Tensor.empty([n, outChannels, pooling.outH, pooling.outW])
            sparseConv2d(plan, x.data, batch: n, height: x.shape[2], width: x.shape[3], outH: outH, outW: outW, bias: b?.data,
                         out.data, pool: pooling, kernel: SparseKernels.rows)
            positionsPerSample = outH * outW
            return out
        }
        guard let y = try Tensor.conv2dReLUMaxPool(x, weight: w, bias: b, stride: stride, padding: padding, pool: pool.kernel,
                                                   poolStride: pool.stride, poolPadding: pool.padding) else { return nil }
        positionsPerSample = resultPositions(x)
        return y
    }

    /// Output positions per image of the convolution on x (its FLOPs per sample follow).
    private func resultPositions(_ x: Tensor) -> Int {
        ((x.shape[2] + 2 * padding - kernel) / stride + 1) * ((x.shape[3] + 2 * padding - kernel) / stride + 1)
    }

    /// The sparse plan for images of x's size (built or rebuilt as needed) and the output extent;
    /// nil when x does not fit the layer (the dense op then reports the error).
    private func convPlan(_ m: SparseMatrix, for x: Tensor) -> (SparseConvPlan, Int, Int)? {
        guard x.rank == 4, x.shape[1] == inChannels, x.shape[0] > 0 else { return nil }
        let h = x.shape[2], wd = x.shape[3], ph = h + 2 * padding, pw = wd + 2 * padding
        guard kernel <= ph, kernel <= pw else { return nil }
        if sparse.conv?.weight !== m || sparse.conv?.fits(height: h, width: wd) != true {
            sparse.conv = SparseConvPlan(weight: m, channels: inChannels, kernelH: kernel, kernelW: kernel, stride: stride,
                                         padding: padding, height: h, width: wd)
        }
        guard let plan = sparse.conv else { return nil }
        return (plan, (ph - kernel) / stride + 1, (pw - kernel) / stride + 1)
    }

    /// Training with a frozen fixed mask, as Linear's: the forward pass through the sparse
    /// convolution; backward, per chunk of images, the output gradient laid out [O, n·P], the
    /// input gradient as col2im of the transposed weight's sparse product with it, and the
    /// weight gradient only at kept entries, from the chunk's im2col matrix (the dense layer
    /// builds the same matrix for its weight gradient).
    ///
    /// With `pool`, maxPool2d(relu(·)) of that in one pass, as `reluMaxPoolForward` (the pooled
    /// result and its arg-maxima kept, the full-size result never stored; the same gradients).
    func frozenMaskForward(_ x: Tensor, weight w: Tensor, bias b: Tensor?, pool: MaxPool2d? = nil) throws -> Tensor? {
        guard training, SparseInference.enabled, let gate = gates["weight"], gate.isFixed, gate.frozen, w === weight,
              sparse.prepare(weight: weight, gate: gate, rows: outChannels, cols: inChannels * kernel * kernel, mode: .auto,
                             maxDensity: SparseInference.maxTrainingDensity),
              let a = sparse.matrix, let (plan, outH, outW) = convPlan(a, for: x) else { return nil }
        var pooling: ConvPooling?
        if let pool {
            guard let fits = Tensor.poolingAfter(height: outH, width: outW, kernel: pool.kernel, stride: pool.stride,
                                                 padding: pool.padding) else { return nil }
            pooling = fits
        }
        let n = x.shape[0], c = inChannels, h = x.shape[2], wd = x.shape[3], o = outChannels
        let k = a.cols, p = outH * outW, chw = c * h * wd
        let (kh, kw, stride, padding) = (kernel, kernel, stride, padding)
        let rows = SparseKernels.rows
        let resultShape = [n, o, outH, outW]
        let out = try Tensor.empty(pooling.map { [n, o, $0.outH, $0.outW] } ?? resultShape)
        var index: [Int32] = []
        if let pooling {
            _ = try TensorSize.elements(resultShape)     // the backward pass builds its gradient
            index = [Int32](unsafeUninitializedCapacity: out.count) { buf, count in
                sparseConv2d(plan, x.data, batch: n, height: h, width: wd, outH: outH, outW: outW, bias: b?.data, out.data,
                             pool: pooling, index: buf.baseAddress, kernel: rows)
                count = out.count
            }
        } else {
            sparseConv2d(plan, x.data, batch: n, height: h, width: wd, outH: outH, outW: outW, bias: b?.data, out.data, kernel: rows)
        }
        let at = x.requiresGrad ? sparse.transposedMatrix() : sparse.transposed
        return Tensor.recorded(pooling == nil ? "sparse_conv2d" : "sparse_conv2d_relu_maxpool", out,
                               inputs: b.map { [x, w, $0] } ?? [x, w]) { pooled in
            // The gradient of the full-size result.
            let g = pooling.map { Tensor.reluMaxPoolGradient(pooled, index: index, resultShape: resultShape, pooling: $0) } ?? pooled
            let needX = x.requiresGrad && at != nil, needW = w.requiresGrad
            let gx: Tensor? = needX ? Tensor.empty(like: x) : nil
            let gw: Tensor? = needW ? Tensor.zeros(like: w) : nil
            // Chunks whose column matrix stays near the core's cache (as the dense layer's).
            let chunk = max(1, min(n, (64 * 1024) / max(k * p, 1)))
            // The weight gradient and the input gradient are two independent passes over the
            // chunks, each in chunk order: with both asked for, each takes a thread (the kernels
            // inside then run on it alone); every number is computed as in one pass alone.
            let streams = gw != nil && gx != nil ? 2 : 1
            parallelFor(streams) { stream in
                let weightStream = gw != nil && stream == 0, inputStream = gx != nil && (stream == 1 || gw == nil)
                let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * chunk * p)
                let gys = UnsafeMutablePointer<Float>.allocate(capacity: o * chunk * p)
                defer { cols.deallocate(); gys.deallocate() }
                var img0 = 0
                while img0 < n {
                    let cn = min(chunk, n - img0), np = cn * p
                    batchToChannels(g.data + img0 * o * p, batch: cn, channels: o, plane: p, gys, channelSums: nil)
                    if weightStream, let gw {
                        im2col(x.data + img0 * chw, batch: cn, channels: c, height: h, width: wd, kernelH: kh, kernelW: kw,
                               stride: stride, padding: padding, outH: outH, outW: outW, cols)
                        sparseSampledProduct(a, gys, cols, length: np, gw.data, accumulate: true)
                    }
                    if inputStream, let gx, let at {
                        sparseProduct(at, gys, ldx: np, n: np, cols, ldy: np, kernel: rows)
                        col2im(cols, batch: cn, channels: c, height: h, width: wd, kernelH: kh, kernelW: kw, stride: stride,
                               padding: padding, outH: outH, outW: outW, gx.data + img0 * chw, accumulate: false)
                    }
                    img0 += cn
                }
            }
            var gb: Tensor?
            if let b, b.requiresGrad {
                let t = Tensor.zeros(like: b)
                addChannelSums(g.data, batch: n, channels: o, plane: p, t.data)
                gb = t
            }
            return b == nil ? [gx, gw] : [gx, gw, gb]
        }
    }
}

/// Runs of Linear layers with the ReLUs between them, in one evaluation pass of a Sequential:
/// only the run's result is a tensor. At batch > 1, layers that compute from their kept weights
/// (`sparseLinearChain`: the activations between them stay in the kernels' transposed layout, in
/// each thread's scratch memory); at batch 1 any Linear layers, through two scratch vectors (the
/// lane product or `matVec`, as each layer alone would run), where each layer's own call would
/// cost more than its arithmetic (allocating its output tensor and dispatching).
enum LinearRun {
    private struct Step {
        let layer: Linear
        /// The kept weights, or nil: dense, with `weight`.
        let matrix: SparseMatrix?
        let weight: Tensor, bias: Tensor?
        let relu: Bool
    }

    /// The run starting at `layers[start]` on input `x` (a leading Flatten included) and the index
    /// after it, when it joins at least two pieces (two Linear layers, or one and its ReLU); else
    /// nil, and the layers run one at a time. A layer whose kernel choice for this batch size is
    /// still to be timed ends the run (run alone, it times its kernels).
    static func forward(_ layers: [Module], from start: Int, _ x: Tensor) throws -> (Tensor, Int)? {
        guard x.rank >= 2, x.shape[0] >= 1 else { return nil }
        let batch = x.shape[0]
        var i = start
        if i < layers.count, layers[i] is Flatten { i += 1 }
        guard x.rank == 2 || i > start else { return nil }
        var width = x.count / batch
        var steps: [Step] = []
        while i < layers.count, let linear = layers[i] as? Linear, linear.inFeatures == width, linear.joinable(x),
              let useSparse = linear.usesSparse(x) {
            let matrix = useSparse ? linear.sparse.matrix : nil
            guard matrix?.cols ?? width == width, matrix != nil || batch == 1 else { break }
            let relu = i + 1 < layers.count && (layers[i + 1] as? Activation)?.kind == .relu
            steps.append(Step(layer: linear, matrix: matrix, weight: try linear.effective("weight", linear.weight),
                              bias: try linear.bias.map { try linear.effective("bias", $0) }, relu: relu))
            width = linear.outFeatures
            i += relu ? 2 : 1
        }
        guard let last = steps.last, steps.count >= 2 || last.relu else { return nil }
        for step in steps { step.layer.positionsPerSample = 1 }
        let out = try Tensor.empty([batch, width])
        if batch == 1 {
            // Layer by layer through two scratch vectors, the last into the result.
            let half = steps.map(\.layer.outFeatures).max() ?? 0
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * half)
            defer { scratch.deallocate() }
            var src = UnsafePointer(x.data)
            for (k, step) in steps.enumerated() {
                let dst = k == steps.count - 1 ? out.data : scratch + (k % 2) * half
                if let m = step.matrix {
                    step.layer.keptProduct(m, src, batch: 1, bias: step.bias?.data, dst)
                } else {
                    matVec(step.weight.data, rows: step.layer.outFeatures, cols: step.layer.inFeatures, src, bias: step.bias?.data, dst)
                }
                if step.relu { Kernels.unary(.relu, dst, dst, step.layer.outFeatures) }
                src = UnsafePointer(dst)
            }
        } else {
            var chain: [SparseChainLayer] = []
            for step in steps {
                guard let m = step.matrix else { return nil }
                chain.append(SparseChainLayer(m, bias: step.bias.map { UnsafePointer($0.data) }, relu: step.relu))
            }
            guard sparseLinearChain(chain, x.data, batch: batch, out.data, kernel: SparseKernels.rows) else { return nil }
        }
        return (out, i)
    }
}

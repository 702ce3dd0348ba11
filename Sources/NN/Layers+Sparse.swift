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
                let out = try Tensor.empty(Array(x.shape.dropLast()) + [outFeatures])
                sparseLinear(m, x.data, batch: batch, bias: b?.data, out.data, kernel: SparseKernels.rows)
                return out
            })
        }
        return try frozenMaskForward(x, weight: w, bias: b, batch: batch)
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
        let xt = try Tensor.empty([nIn, batch]), yt = try Tensor.empty([nOut, batch])
        transposeMatrix(x.data, rows: batch, cols: nIn, xt.data)
        sparseProduct(a, xt.data, ldx: batch, n: batch, yt.data, ldy: batch, kernel: kernel)
        let out = try Tensor.empty(Array(x.shape.dropLast()) + [nOut])
        transposeMatrix(yt.data, rows: nOut, cols: batch, out.data)
        if let b { for r in 0..<batch { for o in 0..<nOut { out.data[r * nOut + o] += b.data[o] } } }
        if x.requiresGrad && sparse.transposed == nil { sparse.transposed = a.transposed() }
        let at = sparse.transposed
        let inputs = b.map { [x, w, $0] } ?? [x, w]
        return Tensor.recorded("sparse_linear", out, inputs: inputs) { g in
            let gt = Tensor.empty(like: g)   // [nOut, batch]: g transposed
            transposeMatrix(g.data, rows: batch, cols: nOut, gt.data)
            var gx: Tensor?, gw: Tensor?, gb: Tensor?
            if x.requiresGrad, let at {
                let gxt = Tensor.empty(like: x)   // [nIn, batch]: x transposed
                sparseProduct(at, gt.data, ldx: batch, n: batch, gxt.data, ldy: batch, kernel: kernel)
                gx = Tensor.empty(like: x)
                transposeMatrix(gxt.data, rows: nIn, cols: batch, gx!.data)
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
        guard sparseInferenceApplies([x, w, b]), let m = sparse.matrix, x.rank == 4, x.shape[1] == inChannels else { return nil }
        let n = x.shape[0], h = x.shape[2], wd = x.shape[3]
        let ph = h + 2 * padding, pw = wd + 2 * padding
        guard kernel <= ph, kernel <= pw else { return nil }
        let outH = (ph - kernel) / stride + 1, outW = (pw - kernel) / stride + 1
        if sparse.conv?.weight !== m || sparse.conv?.fits(height: h, width: wd) != true {
            sparse.conv = SparseConvPlan(weight: m, channels: inChannels, kernelH: kernel, kernelW: kernel, stride: stride,
                                         padding: padding, height: h, width: wd)
        }
        guard let plan = sparse.conv else { return nil }
        return try sparse.run(batch: n, dense: { try Tensor.conv2d(x, weight: w, bias: b, stride: stride, padding: padding) }, sparse: {
            let out = try Tensor.empty([n, outChannels, outH, outW])
            sparseConv2d(plan, x.data, batch: n, height: h, width: wd, outH: outH, outW: outW, bias: b?.data, out.data,
                         kernel: SparseKernels.rows)
            return out
        })
    }
}

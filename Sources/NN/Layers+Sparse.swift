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
                let out = Tensor.empty(Array(x.shape.dropLast()) + [outFeatures])
                sparseLinear(m, x.data, batch: batch, bias: b?.data, out.data, kernel: SparseKernels.rows)
                return out
            })
        }
        return nil
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
            let out = Tensor.empty([n, outChannels, outH, outW])
            sparseConv2d(plan, x.data, batch: n, height: h, width: wd, outH: outH, outW: outW, bias: b?.data, out.data,
                         kernel: SparseKernels.rows)
            return out
        })
    }
}

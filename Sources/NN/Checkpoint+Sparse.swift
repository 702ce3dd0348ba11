// Sparse checkpoints: a weight with a fixed mask saved as its kept values and their indices in
// compressed sparse row form, so the file shrinks with the density (docs/sparse-checkpoints.md).
//
// For a parameter `w` of shape [d0, d1, …] the file holds, instead of `w` and `w.mask`:
//   w.values        F32 [nnz]       the kept values, row by row
//   w.col_indices   I32 [nnz]       their columns in the [d0, d1·d2·…] matrix
//   w.crow_indices  I32 [d0 + 1]    where each row's entries start
// and the metadata entry `sparse.w` = "csr:d0,d1,…". These are the arguments of PyTorch's
// torch.sparse_csr_tensor(crow_indices, col_indices, values, size=(d0, d1·d2·…)); the mask is
// where entries are stored (a kept weight may be 0).
import Engine
import Kernels

extension Checkpoint {
    /// The metadata key that marks a parameter saved sparsely.
    static func sparseKey(_ name: String) -> String { "sparse." + name }

    /// The three tensors and the metadata value of `weight` behind the fixed `mask`, or nil when
    /// it cannot be stored so (a scalar or vector, or more than 2³¹ − 1 kept entries).
    package static func encodeSparse(_ name: String, weight: Tensor, mask: Tensor)
        -> (values: Tensor, integers: [(name: String, tensor: Safetensors.Int32Tensor)], metadata: String)? {
        guard weight.rank >= 2, weight.shape == mask.shape else { return nil }
        let rows = weight.shape[0], cols = weight.count / max(rows, 1)
        guard let m = SparseMatrix(rows: rows, cols: cols, values: weight.data, pattern: mask.data) else { return nil }
        // The kept values are at most the weight's elements: a vector of them needs no size check.
        let values = Tensor(vector: Array(UnsafeBufferPointer(start: m.values, count: m.nnz)))
        let columns = Array(UnsafeBufferPointer(start: m.columns, count: m.nnz))
        let starts = Array(UnsafeBufferPointer(start: m.rowStart, count: rows + 1))
        return (values, [(name + ".col_indices", .init(shape: [m.nnz], values: columns)),
                         (name + ".crow_indices", .init(shape: [rows + 1], values: starts))],
                "csr:" + weight.shape.map(String.init).joined(separator: ","))
    }

    /// Rebuilds the dense weight and its 0/1 mask of parameter `name` saved sparsely, checking
    /// every index; `shape` is the model's. Throws a message naming the file and the tensor.
    package static func decodeSparse(_ name: String, shape: [Int], format: String, values: Tensor?,
                             integers: [String: Safetensors.Int32Tensor], file: String) throws -> (weight: Tensor, mask: Tensor) {
        func bad(_ why: String) -> NNError { NNError("\(file): sparse '\(name)': \(why)") }
        let saved = format.hasPrefix("csr:") ? format.dropFirst(4).split(separator: ",").map { Int($0) } : []
        guard !saved.isEmpty, saved.allSatisfy({ $0 != nil }) else {
            throw bad("metadata '\(format)' is not csr:<shape>")
        }
        guard saved.map({ $0 ?? 0 }) == shape else {
            throw bad("saved with shape \(describe(shape: saved.map { $0 ?? 0 })), the model's parameter has \(describe(shape: shape))")
        }
        guard let values, values.rank == 1 else { throw bad("'\(name).values' is missing or not a vector") }
        guard let columns = integers[name + ".col_indices"], let starts = integers[name + ".crow_indices"] else {
            throw bad("'\(name).col_indices' or '\(name).crow_indices' is missing")
        }
        let rows = shape[0], cols = shape.dropFirst().reduce(1, *), nnz = values.count
        guard columns.values.count == nnz else { throw bad("\(columns.values.count) column indices for \(nnz) values") }
        guard starts.values.count == rows + 1, starts.values.first == 0, Int(starts.values[rows]) == nnz else {
            throw bad("'\(name).crow_indices' must hold \(rows + 1) offsets from 0 to \(nnz)")
        }
        for r in 0..<rows where starts.values[r] > starts.values[r + 1] {
            throw bad("row offsets decrease at row \(r)")
        }
        let weight = try Tensor.zeros(shape), mask = try Tensor.zeros(shape)
        for r in 0..<rows {
            let lo = Int(starts.values[r]), hi = Int(starts.values[r + 1])
            var previous = -1
            for k in lo..<hi {
                let c = Int(columns.values[k])
                guard c > previous, c < cols else { throw bad("column index \(c) at entry \(k) is out of order or not below \(cols)") }
                previous = c
                weight.data[r * cols + c] = values.data[k]
                mask.data[r * cols + c] = 1
            }
        }
        return (weight, mask)
    }
}

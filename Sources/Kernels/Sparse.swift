// Sparse × dense products for masked weights: a weight whose mask is fixed is stored as its kept
// entries only (compressed sparse rows), and the products a layer needs touch only those.
//
// At 90–95% sparsity the work is memory traffic and index decoding, not arithmetic, so the dense
// operand is laid out with the batch (or the convolution's positions) contiguous: for Y = A·X with
// X [K, n], each kept a[r, k] feeds a whole row X[k, 0..<n] through full vectors, and a tile of
// Y[r, :] stays in registers while the row's kept entries stream past. A Linear layer's
// y = x·Wᵀ is computed as yᵀ = W·xᵀ (transposing x [B, in] once), a convolution's output as
// W·cols on its im2col matrix, which is already [C·kh·kw, N·P]. A single column (batch 1) is a
// row-by-row dot product instead, or a product over the non-zero inputs; on AVX-512 a Linear
// layer at batch 1 uses the lane layout of SparseLanes.swift instead of either.
//
// This file is the eight-lane (AVX2) version and the slow references the tests compare with;
// KernelsAVX512/Sparse16.swift has the sixteen-lane tiles and chooses between them at run time.
// Every row of the result is computed by one task in one order, so results never depend on the
// thread count.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// A matrix [rows, cols] in compressed sparse row form: row r's kept entries are
/// `values[rowStart[r] ..< rowStart[r + 1]]`, at columns `columns[…]`, in increasing column order.
/// The arrays are the ones `torch.sparse_csr_tensor(crow_indices, col_indices, values)` takes.
public final class SparseMatrix: @unchecked Sendable {
    public let rows: Int, cols: Int
    /// Number of kept entries.
    public let nnz: Int
    /// rows + 1 offsets into `columns` and `values`.
    public let rowStart: UnsafeMutablePointer<Int32>
    public let columns: UnsafeMutablePointer<Int32>
    public let values: UnsafeMutablePointer<Float>

    /// The entries of `values` (row-major [rows, cols]) where `pattern` is non-zero; with no
    /// pattern, the non-zero entries of `values`. Nil when the matrix is too large for 32-bit
    /// indices (more than 2³¹ − 1 kept entries or columns).
    public convenience init?(rows: Int, cols: Int, values dense: UnsafePointer<Float>, pattern: UnsafePointer<Float>? = nil) {
        guard rows >= 0, cols >= 0, cols < Int(Int32.max) else { return nil }
        let keys = pattern ?? dense
        var nnz = 0
        for i in 0..<(rows * cols) where keys[i] != 0 { nnz += 1 }
        guard nnz < Int(Int32.max) else { return nil }
        self.init(rows: rows, cols: cols, nnz: nnz)
        var k = 0
        rowStart[0] = 0
        for r in 0..<rows {
            let key = keys + r * cols, row = dense + r * cols
            for c in 0..<cols where key[c] != 0 {
                columns[k] = Int32(truncatingIfNeeded: c)
                values[k] = row[c]
                k += 1
            }
            rowStart[r + 1] = Int32(truncatingIfNeeded: k)
        }
    }

    /// Uninitialised arrays for `nnz` entries (the caller fills them).
    public init(rows: Int, cols: Int, nnz: Int) {
        self.rows = rows; self.cols = cols; self.nnz = nnz
        rowStart = .allocate(capacity: rows + 1)
        columns = .allocate(capacity: max(nnz, 1))
        values = .allocate(capacity: max(nnz, 1))
        rowStart[0] = 0
    }

    deinit {
        rowStart.deallocate(); columns.deallocate(); values.deallocate()
    }

    /// Fraction of the entries that are kept.
    public var density: Double { rows * cols == 0 ? 0 : Double(nnz) / Double(rows * cols) }

    /// The kept entries of row r.
    @inline(__always) public func range(_ r: Int) -> Range<Int> { Int(rowStart[r])..<Int(rowStart[r + 1]) }

    /// The transpose [cols, rows] in the same form (a column-major view of the kept entries): the
    /// input gradient Wᵀ·g of a layer is a sparse product with it.
    public func transposed() -> SparseMatrix { transposedWithOrder().matrix }

    /// The transpose, and for each kept entry k of this matrix its position in the transpose's
    /// arrays (for `refreshValues(from:order:)`).
    public func transposedWithOrder() -> (matrix: SparseMatrix, order: [Int32]) {
        var order = [Int32](repeating: 0, count: nnz)
        let t = SparseMatrix(rows: cols, cols: rows, nnz: nnz)
        let count = UnsafeMutablePointer<Int>.allocate(capacity: cols + 1)
        defer { count.deallocate() }
        count.update(repeating: 0, count: cols + 1)
        for k in 0..<nnz { count[Int(columns[k]) + 1] += 1 }
        for c in 0..<cols { count[c + 1] += count[c] }
        for c in 0...cols { t.rowStart[c] = Int32(truncatingIfNeeded: count[c]) }
        for r in 0..<rows {
            for k in range(r) {
                let c = Int(columns[k]), slot = count[c]
                t.columns[slot] = Int32(truncatingIfNeeded: r)
                t.values[slot] = values[k]
                order[k] = Int32(truncatingIfNeeded: slot)
                count[c] = slot + 1
            }
        }
        return (t, order)
    }

    /// Re-reads the kept values from `source`, the matrix this one is the transpose of, through
    /// `order` (`source.transposedWithOrder()`): a pass over the kept values, where re-reading
    /// them from the dense weight walks it column by column.
    public func refreshValues(from source: SparseMatrix, order: [Int32]) {
        guard source.nnz == nnz, order.count == nnz else { return }
        order.withUnsafeBufferPointer { o in
            for k in 0..<nnz { values[Int(o[k])] = source.values[k] }
        }
    }

    /// Whether the kept entries are exactly where `pattern` ([rows, cols]) is non-zero: the
    /// per-row counts agree and every kept position is non-zero there.
    public func matches(pattern: UnsafePointer<Float>) -> Bool { walkRows(pattern: pattern, values: nil) }

    /// Re-reads the kept values from the dense [rows, cols] matrix they came from (a transpose
    /// follows its source's values through `refreshValues(from:order:)`).
    public func refreshValues(from dense: UnsafePointer<Float>) { _ = walkRows(pattern: nil, values: dense) }

    /// Both in one pass over the rows: whether the kept entries are still exactly where `pattern`
    /// is non-zero, and if so the kept values re-read from `dense` (when not, some are re-read
    /// and the matrix is to be rebuilt). A masked layer does this on every frozen-mask training
    /// step and on entering a sparse scope.
    public func refreshValues(from dense: UnsafePointer<Float>, matching pattern: UnsafePointer<Float>) -> Bool {
        walkRows(pattern: pattern, values: dense)
    }

    /// The rows split between threads on large matrices (each row is checked and read alone, so
    /// the result is the same for any split).
    private func walkRows(pattern: UnsafePointer<Float>?, values dense: UnsafePointer<Float>?) -> Bool {
        let tasks = Swift.min(rows, Parallel.taskCount(pattern == nil ? nnz : rows * cols, maxTasks: Parallel.threads))
        guard tasks > 0 else { return true }
        // Whether some task found a row that differs (no allocation: this runs every training step).
        let differs = Atomic<Bool>(false)
        parallelFor(tasks) { t in
            for r in Parallel.range(t, of: tasks, count: rows) {
                let kept = range(r)
                if let pattern {
                    let key = pattern + r * cols
                    if countNonzero(key, cols) != kept.count { differs.store(true, ordering: .relaxed); return }
                    for k in kept where key[Int(columns[k])] == 0 { differs.store(true, ordering: .relaxed); return }
                }
                if let dense {
                    let row = dense + r * cols
                    for k in kept { values[k] = row[Int(columns[k])] }
                }
            }
        }
        return !differs.load(ordering: .relaxed)
    }

    /// Whether every kept value is finite (`sparseScatterProduct` may then skip zero inputs).
    public func valuesAreFinite() -> Bool {
        var bad = false
        for k in 0..<nnz { bad = bad || !values[k].isFinite }
        return !bad
    }

    /// Writes the matrix densely into `out` [rows, cols] (zeros where nothing is kept).
    public func densify(into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: rows * cols)
        for r in 0..<rows { for k in range(r) { out[r * cols + Int(columns[k])] = values[k] } }
    }

    /// The first row of the `part`-th of `parts` runs of rows holding near-equal shares of the
    /// kept entries (rows with nothing kept count one, so empty matrices still split).
    func rowSplit(_ part: Int, of parts: Int) -> Int {
        if part <= 0 { return 0 }
        if part >= parts { return rows }
        let target = (nnz + rows) * part / parts
        var lo = 0, hi = rows
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(rowStart[mid]) + mid < target { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// y[r, 0..<n] = Σ a[r, k] · x[k, 0..<n] for r in `rows`: the kernel behind `sparseProduct`,
/// given a row range and the operands' row strides.
public typealias SparseRowsKernel = (_ a: SparseMatrix, _ x: UnsafePointer<Float>, _ ldx: Int, _ n: Int,
                                     _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Range<Int>) -> Void

public enum SparseKernelSettings {
    /// Multiply-adds per task: threading pays only for pieces of a few hundred microseconds
    /// on this machine (about 2¹² µs·MAC/s at the sparse kernels' rate).
    nonisolated(unsafe) public static var grain = 1 << 22
    /// The same for work whose result does not depend on the split (`sparseLinear`'s split of
    /// the batch, whose tasks also transpose their slices; the sampled product's rows).
    nonisolated(unsafe) public static var batchGrain = 1 << 16
}

/// Y = A·X with A sparse [m, K], X [K, n] (rows ldx apart), Y [m, n] (rows ldy apart), on up to
/// `Parallel.threads` threads, with `kernel` for the tiles (eight lanes unless the caller passes
/// the sixteen-lane one).
public func sparseProduct(_ a: SparseMatrix, _ x: UnsafePointer<Float>, ldx: Int, n: Int,
                          _ y: UnsafeMutablePointer<Float>, ldy: Int, kernel: SparseRowsKernel = sparseRows8) {
    guard a.rows > 0, n > 0 else { return }
    let tasks = Parallel.taskCount(a.nnz * n, grain: SparseKernelSettings.grain)
    if tasks == 1 { kernel(a, x, ldx, n, y, ldy, 0..<a.rows); return }
    parallelFor(tasks) { t in
        kernel(a, x, ldx, n, y, ldy, a.rowSplit(t, of: tasks)..<a.rowSplit(t + 1, of: tasks))
    }
}

/// Below this fraction of non-zero inputs, `sparseLinear` at batch 1 takes the product over
/// non-zero inputs, given the transpose. Measured (prune-bench --sparse-kernels, 300×784 at 95%
/// sparsity): by columns 1.65 µs against 3.68 by rows at 25% non-zero, 2.79 against 3.77 at
/// 50%, 4.04 against 3.66 at 75% (an entry by columns costs about 1.4 of one by rows).
public let scatterMaxNonzeroFraction = 0.65

/// y = A·x for one input vector x [K], A [m, K], from `columns` = Aᵀ (A's kept entries column by
/// column, `SparseMatrix.transposed()`): each column of A whose input is non-zero is added into y
/// [m], scaled by it, and the columns whose input is zero are never read. At batch 1 the
/// row-wise product is a gather (value, index, input: three loads a multiply-add); this reads
/// the same per entry but only the entries of non-zero inputs: the pixels of an image that are
/// not background and the activations a ReLU let through (about half of each, measured on the
/// benchmark MLP). The sums are taken in another order than the row-wise product's; where a
/// kept value is infinite or NaN, 0·value would be NaN there and is skipped here, so callers
/// use this only for finite values (`SparseMatrix.valuesAreFinite`).
public func sparseScatterProduct(columns at: SparseMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    y.update(repeating: 0, count: at.cols)
    let rows = at.columns, values = at.values
    for j in 0..<at.rows {
        let v = x[j]
        if v == 0 { continue }
        var k = Int(at.rowStart[j])
        let end = Int(at.rowStart[j + 1])
        // The rows of one column are distinct: four updates at a time do not depend on each other.
        while k + 4 <= end {
            let r0 = Int(rows[k]), r1 = Int(rows[k + 1]), r2 = Int(rows[k + 2]), r3 = Int(rows[k + 3])
            y[r0] = y[r0].addingProduct(values[k], v); y[r1] = y[r1].addingProduct(values[k + 1], v)
            y[r2] = y[r2].addingProduct(values[k + 2], v); y[r3] = y[r3].addingProduct(values[k + 3], v)
            k += 4
        }
        while k < end {
            let r = Int(rows[k])
            y[r] = y[r].addingProduct(values[k], v)
            k += 1
        }
    }
}

/// The slow reference for `sparseProduct`: one multiply-add at a time, in double precision.
public func sparseProductReference(_ a: SparseMatrix, _ x: UnsafePointer<Float>, ldx: Int, n: Int,
                                   _ y: UnsafeMutablePointer<Float>, ldy: Int) {
    for r in 0..<a.rows {
        for j in 0..<n {
            var s = 0.0
            for k in a.range(r) { s += Double(a.values[k]) * Double(x[Int(a.columns[k]) * ldx + j]) }
            y[r * ldy + j] = Float(s)
        }
    }
}

/// Eight-lane tiles of `sparseProduct`: 64 columns (eight vectors of accumulators) at a time,
/// then 8, then single columns; one column is a row-by-row dot product.
public func sparseRows8(_ a: SparseMatrix, _ x: UnsafePointer<Float>, _ ldx: Int, _ n: Int,
                        _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Range<Int>) {
    typealias V = SIMD8<Float>
    var c0 = 0
    while n - c0 >= 64 {
        for r in rows {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
            for k in a.range(r) {
                let w = V(repeating: a.values[k])
                let p = UnsafeRawPointer(x + Int(a.columns[k]) * ldx + c0)
                a0.addProduct(w, p.loadUnaligned(as: V.self))
                a1.addProduct(w, p.loadUnaligned(fromByteOffset: 32, as: V.self))
                a2.addProduct(w, p.loadUnaligned(fromByteOffset: 64, as: V.self))
                a3.addProduct(w, p.loadUnaligned(fromByteOffset: 96, as: V.self))
                a4.addProduct(w, p.loadUnaligned(fromByteOffset: 128, as: V.self))
                a5.addProduct(w, p.loadUnaligned(fromByteOffset: 160, as: V.self))
                a6.addProduct(w, p.loadUnaligned(fromByteOffset: 192, as: V.self))
                a7.addProduct(w, p.loadUnaligned(fromByteOffset: 224, as: V.self))
            }
            let d = UnsafeMutableRawPointer(y + r * ldy + c0)
            d.storeBytes(of: a0, as: V.self); d.storeBytes(of: a1, toByteOffset: 32, as: V.self)
            d.storeBytes(of: a2, toByteOffset: 64, as: V.self); d.storeBytes(of: a3, toByteOffset: 96, as: V.self)
            d.storeBytes(of: a4, toByteOffset: 128, as: V.self); d.storeBytes(of: a5, toByteOffset: 160, as: V.self)
            d.storeBytes(of: a6, toByteOffset: 192, as: V.self); d.storeBytes(of: a7, toByteOffset: 224, as: V.self)
        }
        c0 += 64
    }
    while n - c0 >= 8 {
        for r in rows {
            var acc = V()
            for k in a.range(r) {
                acc.addProduct(V(repeating: a.values[k]), UnsafeRawPointer(x + Int(a.columns[k]) * ldx + c0).loadUnaligned(as: V.self))
            }
            UnsafeMutableRawPointer(y + r * ldy + c0).storeBytes(of: acc, as: V.self)
        }
        c0 += 8
    }
    if c0 < n { sparseColumns(a, x + c0, ldx, n - c0, y + c0, ldy, rows) }
}

/// Fewer than eight columns, one at a time: each a row-by-row dot product with four
/// accumulators (the batch-1 case; a contiguous column is read without the stride multiply).
public func sparseColumns(_ a: SparseMatrix, _ x: UnsafePointer<Float>, _ ldx: Int, _ n: Int,
                          _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Range<Int>) {
    if ldx == 1 && n == 1 { return sparseDots(a, x, Unit(), y, ldy, rows) }
    for j in 0..<n { sparseDots(a, x + j, Stride(ldx: ldx), y + j, ldy, rows) }
}

private protocol ColumnStride { func offset(_ column: Int32) -> Int }
private struct Unit: ColumnStride { @inline(__always) func offset(_ column: Int32) -> Int { Int(column) } }
private struct Stride: ColumnStride {
    let ldx: Int
    @inline(__always) func offset(_ column: Int32) -> Int { Int(column) * ldx }
}

@inline(__always)
private func sparseDots<S: ColumnStride>(_ a: SparseMatrix, _ x: UnsafePointer<Float>, _ stride: S,
                                         _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Range<Int>) {
    let values = a.values, columns = a.columns
    for r in rows {
        let range = a.range(r)
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var k = range.lowerBound
        while k + 4 <= range.upperBound {
            s0 = s0.addingProduct(values[k], x[stride.offset(columns[k])])
            s1 = s1.addingProduct(values[k + 1], x[stride.offset(columns[k + 1])])
            s2 = s2.addingProduct(values[k + 2], x[stride.offset(columns[k + 2])])
            s3 = s3.addingProduct(values[k + 3], x[stride.offset(columns[k + 3])])
            k += 4
        }
        while k < range.upperBound { s0 = s0.addingProduct(values[k], x[stride.offset(columns[k])]); k += 1 }
        y[r * ldy] = (s0 + s1) + (s2 + s3)
    }
}

/// out[r, c] = Σ_j u[r, j] · v[c, j] at the kept positions (r, c) of `pattern`, written into
/// the dense [rows, cols] `out`, which is zero elsewhere: a layer's weight gradient where the
/// mask keeps anything (u = gᵀ [out, B], v = xᵀ [in, B]). With `accumulate` the sums are added
/// to `out` at the kept positions and nothing else is touched (a convolution's gradient summed
/// over chunks of its batch).
public func sparseSampledProduct(_ pattern: SparseMatrix, _ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                                 length n: Int, _ out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
    let cols = pattern.cols
    // Every entry is one dot product whatever the split, so the split may follow the threads.
    let tasks = Parallel.taskCount(pattern.nnz * n, grain: SparseKernelSettings.batchGrain, maxTasks: Parallel.threads)
    parallelFor(tasks) { t in
        let lo = pattern.rowSplit(t, of: tasks), hi = pattern.rowSplit(t + 1, of: tasks)
        if !accumulate { (out + lo * cols).update(repeating: 0, count: (hi - lo) * cols) }
        for r in lo..<hi {
            let ur = u + r * n, row = out + r * cols
            let range = pattern.range(r)
            var k = range.lowerBound
            // Four kept entries of the row at a time: four independent dot products (a single
            // one waits on its own two accumulators' multiply-add latency), each summed exactly
            // as `dot8` sums it.
            while k + 4 <= range.upperBound {
                let c0 = Int(pattern.columns[k]), c1 = Int(pattern.columns[k + 1])
                let c2 = Int(pattern.columns[k + 2]), c3 = Int(pattern.columns[k + 3])
                let d = dot8x4(ur, v + c0 * n, v + c1 * n, v + c2 * n, v + c3 * n, n)
                row[c0] += d.0; row[c1] += d.1; row[c2] += d.2; row[c3] += d.3
                k += 4
            }
            while k < range.upperBound {
                let c = Int(pattern.columns[k])
                row[c] += dot8(ur, v + c * n, n)
                k += 1
            }
        }
    }
}

/// The slow reference for `sparseSampledProduct`.
public func sparseSampledProductReference(_ pattern: SparseMatrix, _ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                                          length n: Int, _ out: UnsafeMutablePointer<Float>) {
    out.update(repeating: 0, count: pattern.rows * pattern.cols)
    for r in 0..<pattern.rows {
        for k in pattern.range(r) {
            let c = Int(pattern.columns[k])
            var s = 0.0
            for j in 0..<n { s += Double(u[r * n + j]) * Double(v[c * n + j]) }
            out[r * pattern.cols + c] = Float(s)
        }
    }
}

/// out[c, r] = x[r, c] for a rows × cols matrix whose rows are `ldx` apart, into rows `ldo`
/// apart (by default both packed): 8 × 8 blocks transposed in registers (the sparse Linear
/// transposes its input and output on every call, so this is on its hot path), the edges one
/// element at a time.
public func transposeMatrix(_ x: UnsafePointer<Float>, rows: Int, cols: Int, ldx: Int? = nil,
                            _ out: UnsafeMutablePointer<Float>, ldo: Int? = nil) {
    let ldx = ldx ?? cols, ldo = ldo ?? rows
    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    let rows8 = rows & ~7, cols8 = cols & ~7
    var r0 = 0
    // Sixteen rows at a time where there are: the two 8 × 8 blocks of a column block fill whole
    // 64-byte lines of the output (an 8-row band wrote half lines, whose other halves came a
    // band later, after the line had often left the cache).
    while r0 + 16 <= rows8 {
        var c0 = 0
        while c0 < cols8 {
            transpose8x8(x + r0 * ldx + c0, ldx, out + c0 * ldo + r0, ldo)
            transpose8x8(x + (r0 + 8) * ldx + c0, ldx, out + c0 * ldo + r0 + 8, ldo)
            c0 += 8
        }
        r0 += 16
    }
    while r0 < rows8 {
        var c0 = 0
        while c0 < cols8 {
            transpose8x8(x + r0 * ldx + c0, ldx, out + c0 * ldo + r0, ldo)
            c0 += 8
        }
        r0 += 8
    }
    #else
    let rows8 = 0, cols8 = 0
    #endif
    // The right edge of the block rows, then the bottom rows.
    for r in 0..<rows8 { for c in cols8..<cols { out[c * ldo + r] = x[r * ldx + c] } }
    for r in rows8..<rows { for c in 0..<cols { out[c * ldo + r] = x[r * ldx + c] } }
}

#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
/// out[c, r] = x[r, c] for an 8 × 8 block (rows ldx and ldo apart). Each register holds four
/// columns of row i in its low half and of row i + 4 in its high half, so two in-lane 4 × 4
/// transposes (unpacks of floats, then of pairs) finish the block without crossing lanes.
@inline(__always)
private func transpose8x8(_ x: UnsafePointer<Float>, _ ldx: Int, _ out: UnsafeMutablePointer<Float>, _ ldo: Int) {
    typealias V = SIMD8<Float>
    @inline(__always) func pair(_ i: Int, _ c: Int) -> V { _mm256_loadu2_m128(x + (i + 4) * ldx + c, x + i * ldx + c) }
    @inline(__always) func quad(_ a0: V, _ a1: V, _ a2: V, _ a3: V, _ o: UnsafeMutablePointer<Float>) {
        let t0 = _mm256_castps_pd(_mm256_unpacklo_ps(a0, a1)), t1 = _mm256_castps_pd(_mm256_unpackhi_ps(a0, a1))
        let t2 = _mm256_castps_pd(_mm256_unpacklo_ps(a2, a3)), t3 = _mm256_castps_pd(_mm256_unpackhi_ps(a2, a3))
        _mm256_storeu_ps(o, _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2)))
        _mm256_storeu_ps(o + ldo, _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2)))
        _mm256_storeu_ps(o + 2 * ldo, _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3)))
        _mm256_storeu_ps(o + 3 * ldo, _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3)))
    }
    quad(pair(0, 0), pair(1, 0), pair(2, 0), pair(3, 0), out)
    quad(pair(0, 4), pair(1, 4), pair(2, 4), pair(3, 4), out + 4 * ldo)
}
#endif

/// y [B, out] = x [B, in] · Aᵀ + bias with A sparse [out, in]: the Linear layer's forward pass.
/// One row goes straight through as dot products; larger batches are `sparseLinearChain` of one
/// layer (transposed to xᵀ [in, B] so that the batch is contiguous, multiplied, transposed back).
/// `xt`, when given, receives xᵀ [in, B] (training keeps it for the weight gradient); the batch
/// is then split the same way, each task writing its columns of the one [in, B] matrix. `kernel`
/// as for `sparseProduct`; every sample's result is the same for any split.
public func sparseLinear(_ a: SparseMatrix, _ x: UnsafePointer<Float>, batch: Int, bias: UnsafePointer<Float>?,
                         _ y: UnsafeMutablePointer<Float>, kernel: SparseRowsKernel = sparseRows8,
                         xt keep: UnsafeMutablePointer<Float>? = nil, columns: SparseMatrix? = nil) {
    let nIn = a.cols, nOut = a.rows
    guard batch >= 1 else { return }
    if let keep {
        let yt = UnsafeMutablePointer<Float>.allocate(capacity: nOut * batch)
        defer { yt.deallocate() }
        forBatchSlices(batch: batch, work: a.nnz * batch) { b0, n in
            transposeMatrix(x + b0 * nIn, rows: n, cols: nIn, keep + b0, ldo: batch)
            let ys = yt + nOut * b0
            kernel(a, keep + b0, batch, n, ys, n, 0..<nOut)
            if let bias { addRowBias(ys, rows: nOut, cols: n, bias) }
            transposeMatrix(ys, rows: nOut, cols: n, y + b0 * nOut)
        }
    } else if batch > 1 {
        sparseLinearChain([SparseChainLayer(a, bias: bias, relu: false)], x, batch: batch, y, kernel: kernel)
    } else {
        if let columns, Double(countNonzero(x, nIn)) < scatterMaxNonzeroFraction * Double(nIn) {
            sparseScatterProduct(columns: columns, x, y)
        } else {
            sparseProduct(a, x, ldx: 1, n: 1, y, ldy: 1, kernel: kernel)
        }
        if let bias { for o in 0..<nOut { y[o] += bias[o] } }
    }
}

/// One layer of `sparseLinearChain`: the product with `matrix` [out, in], plus `bias` [out] where
/// given, then rectified (max(·, 0)) where `relu`.
public struct SparseChainLayer {
    public var matrix: SparseMatrix
    public var bias: UnsafePointer<Float>?
    public var relu: Bool
    public init(_ matrix: SparseMatrix, bias: UnsafePointer<Float>?, relu: Bool) {
        self.matrix = matrix; self.bias = bias; self.relu = relu
    }
}

/// y [B, out] = the layers applied in turn to x [B, in] (each layer's input width its
/// predecessor's output width): Linear layers with sparse weights and the ReLUs between them,
/// in an evaluation pass. The batch is split between tasks once; each task transposes its
/// samples to [in, n], runs every layer on them in that layout (the bias and ReLU row by row,
/// over rows just written) and transposes only the last result back, so the activations between
/// the layers are never transposed, written as tensors or handed between threads. Each value is
/// the one the layers give one at a time (the same products, then + bias, then max(·, 0)).
/// Returns false, writing nothing, when the widths do not chain.
@discardableResult
public func sparseLinearChain(_ layers: [SparseChainLayer], _ x: UnsafePointer<Float>, batch: Int,
                              _ y: UnsafeMutablePointer<Float>, kernel: SparseRowsKernel = sparseRows8) -> Bool {
    guard let first = layers.first, let last = layers.last, batch >= 1,
          zip(layers, layers.dropFirst()).allSatisfy({ $0.matrix.rows == $1.matrix.cols }) else { return false }
    let width = layers.map { Swift.max($0.matrix.rows, $0.matrix.cols) }.max() ?? 0
    forBatchSlices(batch: batch, work: layers.reduce(0) { $0 + $1.matrix.nnz } * batch) { b0, n in
        // Packed per slice, so that no cache line (or its prefetched neighbour) is shared between tasks.
        var src = UnsafeMutablePointer<Float>.allocate(capacity: width * n)
        var dst = UnsafeMutablePointer<Float>.allocate(capacity: width * n)
        defer { src.deallocate(); dst.deallocate() }
        transposeMatrix(x + b0 * first.matrix.cols, rows: n, cols: first.matrix.cols, src)
        for layer in layers {
            kernel(layer.matrix, src, n, n, dst, n, 0..<layer.matrix.rows)
            finishRows(dst, rows: layer.matrix.rows, n, layer.bias, relu: layer.relu)
            swap(&src, &dst)
        }
        transposeMatrix(src, rows: last.matrix.rows, cols: n, y + b0 * last.matrix.rows)
    }
    return true
}

/// Runs `body(first sample, count)` over slices of a batch of whole 16-sample tiles (so every
/// slice keeps full vectors), on as many tasks as `work` multiply-adds are worth.
private func forBatchSlices(batch: Int, work: Int, _ body: (Int, Int) -> Void) {
    let tasks = Swift.min(Parallel.taskCount(work, grain: SparseKernelSettings.batchGrain, maxTasks: Parallel.threads),
                          Swift.max(batch / 16, 1))
    let tiles = (batch + 15) / 16
    func slice(_ t: Int) {
        let b0 = Swift.min(batch, 16 * (tiles * t / tasks)), b1 = Swift.min(batch, 16 * (tiles * (t + 1) / tasks))
        if b1 > b0 { body(b0, b1 - b0) }
    }
    if tasks == 1 { slice(0) } else { parallelFor(tasks, slice) }
}

/// A chain layer's epilogue on its rows of n results: + bias (Conv.swift's `addRowBias`), then
/// max(·, 0) where `relu`.
@inline(__always)
private func finishRows(_ y: UnsafeMutablePointer<Float>, rows: Int, _ n: Int, _ bias: UnsafePointer<Float>?, relu: Bool) {
    if let bias { addRowBias(y, rows: rows, cols: n, bias) }
    if relu { unarySerial(.relu, y, y, rows * n) }
}

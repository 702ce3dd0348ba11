// The sparse kernels (Kernels/Sparse.swift, KernelsAVX512/Sparse16.swift) against their slow
// references: random shapes, densities from 0 to 1 (empty rows, all-zero matrices), both
// instruction paths, one thread and several.
import Testing
import Engine
@testable import Kernels
import KernelsAVX512
import NN

/// A random [rows, cols] matrix with about `density` of its entries kept, and its mask; rows
/// listed in `emptyRows` keep nothing.
private func randomSparse(rows: Int, cols: Int, density: Double, rng: RNG, emptyRows: Set<Int> = []) -> (dense: [Float], mask: [Float]) {
    var dense = [Float](repeating: 0, count: rows * cols), mask = dense
    for r in 0..<rows where !emptyRows.contains(r) {
        for c in 0..<cols where Double(rng.uniform()) < density {
            mask[r * cols + c] = 1
            // Some kept entries are exactly zero: the mask, not the value, decides what is kept.
            dense[r * cols + c] = rng.uniform() < 0.05 ? 0 : rng.uniform() * 2 - 1
        }
    }
    return (dense, mask)
}

private func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    var worst: Float = 0
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(1, abs(y))) }
    return worst
}

/// Both instruction paths where the CPU has AVX-512, else the eight-lane one.
private let paths: [(String, SparseRowsKernel)] = {
    var p: [(String, SparseRowsKernel)] = [("avx2", sparseRows8)]
    if AVX512.available { p.append(("avx512", sparseRows16)) }
    return p
}()

@Test func sparseMatrixBuildsFromAMaskAndRoundTrips() throws {
    let rng = RNG(seed: 1)
    for density in [0.0, 0.03, 0.5, 1.0] {
        let (dense, mask) = randomSparse(rows: 13, cols: 29, density: density, rng: rng, emptyRows: [0, 7])
        let a = try #require(SparseMatrix(rows: 13, cols: 29, values: dense, pattern: mask))
        #expect(a.nnz == mask.filter { $0 != 0 }.count)
        var back = [Float](repeating: 9, count: dense.count)
        a.densify(into: &back)
        #expect(back == dense)
        #expect(mask.withUnsafeBufferPointer { a.matches(pattern: $0.baseAddress!) })
        // The transpose holds the same entries.
        let t = a.transposed()
        var tdense = [Float](repeating: 0, count: dense.count)
        t.densify(into: &tdense)
        for r in 0..<13 { for c in 0..<29 { #expect(tdense[c * 13 + r] == dense[r * 29 + c]) } }
        // Values re-read from a changed dense matrix, and the transpose following them.
        let changed = dense.map { $0 * 3 }
        let order = a.transposedWithOrder().order
        a.refreshValues(from: changed)
        t.refreshValues(from: a, order: order)
        a.densify(into: &back); t.densify(into: &tdense)
        #expect(back == changed)
        for r in 0..<13 { for c in 0..<29 { #expect(tdense[c * 13 + r] == changed[r * 29 + c]) } }
        if density > 0 {
            var other = mask
            if let i = other.firstIndex(of: 1) { other[i] = 0 }
            #expect(!other.withUnsafeBufferPointer { a.matches(pattern: $0.baseAddress!) })
        }
    }
}

@Test func sparseProductEqualsItsReference() throws {
    let rng = RNG(seed: 2)
    let shapes = [(1, 1, 1), (7, 5, 1), (30, 17, 3), (33, 64, 9), (64, 100, 64), (20, 50, 100), (17, 40, 130), (50, 300, 128), (9, 33, 257),
                  // Tiles of every width from one vector to eight (224 = 2 × 7, 200 = 2 × 6 + 8).
                  (3, 7, 16), (3, 7, 40), (5, 12, 48), (6, 10, 80), (9, 20, 224), (4, 9, 200)]
    for (m, k, n) in shapes {
        for density in [0.0, 0.02, 0.1, 0.5, 1.0] {
            let (dense, mask) = randomSparse(rows: m, cols: k, density: density, rng: rng, emptyRows: m > 2 ? [1] : [])
            let a = try #require(SparseMatrix(rows: m, cols: k, values: dense, pattern: mask))
            // X with a row stride wider than n, as a column block of a larger matrix.
            let ldx = n + 3, ldy = n + 5
            let x = (0..<(k * ldx)).map { _ in rng.uniform() * 2 - 1 }
            var expected = [Float](repeating: 0, count: m * ldy)
            sparseProductReference(a, x, ldx: ldx, n: n, &expected, ldy: ldy)
            for (name, kernel) in paths {
                for threads in [1, 2] {
                    var y = [Float](repeating: .nan, count: m * ldy)
                    Parallel.withThreads(threads) {
                        sparseProduct(a, x, ldx: ldx, n: n, &y, ldy: ldy, kernel: kernel)
                    }
                    var got: [Float] = [], want: [Float] = []
                    for r in 0..<m { got += y[(r * ldy)..<(r * ldy + n)]; want += expected[(r * ldy)..<(r * ldy + n)] }
                    #expect(maxRelativeError(got, want) < 1e-5, "\(name) \(m)×\(k)·\(n) density \(density) threads \(threads)")
                    // Nothing beyond the n columns of each row is written.
                    for r in 0..<m { for j in n..<ldy { #expect(y[r * ldy + j].isNaN) } }
                }
            }
        }
    }
}

@Test func sparseProductSplitsTheSameOnAnyThreadCount() throws {
    let rng = RNG(seed: 3)
    let (dense, mask) = randomSparse(rows: 300, cols: 784, density: 0.3, rng: rng)
    let a = try #require(SparseMatrix(rows: 300, cols: 784, values: dense, pattern: mask))
    let x = (0..<(784 * 128)).map { _ in rng.uniform() }
    let old = SparseKernelSettings.grain
    SparseKernelSettings.grain = 1 << 12
    defer { SparseKernelSettings.grain = old }
    var y1 = [Float](repeating: 0, count: 300 * 128), y2 = y1
    Parallel.withThreads(1) { sparseProduct(a, x, ldx: 128, n: 128, &y1, ldy: 128, kernel: SparseKernels.rows) }
    Parallel.withThreads(2) { sparseProduct(a, x, ldx: 128, n: 128, &y2, ldy: 128, kernel: SparseKernels.rows) }
    #expect(y1 == y2)
}

@Test func sparseLinearEqualsTheDenseLayer() throws {
    let rng = RNG(seed: 4)
    for (batch, nIn, nOut) in [(1, 784, 300), (3, 20, 7), (128, 300, 100), (37, 100, 10), (0, 5, 4)] {
        for density in [0.0, 0.05, 0.5, 1.0] {
            let (dense, mask) = randomSparse(rows: nOut, cols: nIn, density: density, rng: rng)
            let a = try #require(SparseMatrix(rows: nOut, cols: nIn, values: dense, pattern: mask))
            let x = (0..<(batch * nIn)).map { _ in rng.uniform() * 2 - 1 }
            let bias = (0..<nOut).map { _ in rng.uniform() }
            let w = try Tensor(shape: [nOut, nIn], data: dense)
            let expected = try Tensor.linear(try Tensor(shape: [batch, nIn], data: x), weight: w,
                                             bias: try Tensor(shape: [nOut], data: bias)).array
            for (name, kernel) in paths {
                var y = [Float](repeating: .nan, count: batch * nOut)
                sparseLinear(a, x, batch: batch, bias: bias, &y, kernel: kernel)
                #expect(maxRelativeError(y, expected) < 1e-5, "\(name) batch \(batch) \(nIn)→\(nOut) density \(density)")
            }
        }
    }
}

/// The batch-1 product over non-zero inputs (by A's columns, from Aᵀ) equals the reference on
/// inputs with every fraction of zeros, including all-zero inputs, empty rows and columns and
/// all-zero matrices; sparseLinear takes it below the threshold and gives the dense layer's
/// result either way.
@Test func scatterProductEqualsTheReferenceOnInputsWithZeros() throws {
    let rng = RNG(seed: 9)
    for (nOut, nIn) in [(1, 1), (7, 5), (300, 784), (33, 64), (10, 100)] {
        for density in [0.0, 0.05, 0.5, 1.0] {
            let (dense, mask) = randomSparse(rows: nOut, cols: nIn, density: density, rng: rng, emptyRows: nOut > 2 ? [1] : [])
            let a = try #require(SparseMatrix(rows: nOut, cols: nIn, values: dense, pattern: mask))
            let at = a.transposed()
            let bias = (0..<nOut).map { _ in rng.uniform() }
            let w = try Tensor(shape: [nOut, nIn], data: dense)
            for nonzero in [0.0, 0.1, 0.5, 1.0] {
                let x = (0..<nIn).map { _ in Double(rng.uniform()) < nonzero ? rng.uniform() * 2 - 1 : 0 }
                var expected = [Float](repeating: 0, count: nOut)
                sparseProductReference(a, x, ldx: 1, n: 1, &expected, ldy: 1)
                var y = [Float](repeating: .nan, count: nOut)
                sparseScatterProduct(columns: at, x, &y)
                // Each output is one running sum over the columns (up to 784 terms here): its
                // rounding error scales with the sum of the terms' magnitudes.
                for r in 0..<nOut {
                    let magnitude = a.range(r).reduce(Float(0)) { $0 + abs(a.values[$1] * x[Int(a.columns[$1])]) }
                    #expect(abs(y[r] - expected[r]) <= 1e-6 * max(1, magnitude), "\(nOut)×\(nIn) density \(density) non-zero \(nonzero) row \(r)")
                }
                let layer = try Tensor.linear(try Tensor(shape: [1, nIn], data: x), weight: w, bias: try Tensor(shape: [nOut], data: bias)).array
                var viaLinear = [Float](repeating: .nan, count: nOut)
                sparseLinear(a, x, batch: 1, bias: bias, &viaLinear, kernel: SparseKernels.rows, columns: at)
                #expect(maxRelativeError(viaLinear, layer) < 1e-5, "sparseLinear \(nOut)×\(nIn) density \(density) non-zero \(nonzero)")
            }
        }
    }
}

/// A layer whose kept weights include an infinity computes row by row (0·∞ is NaN there, as in
/// the dense product), not by columns, which would skip it.
@Test func aNonFiniteKeptWeightIsNotSkippedAtBatchOne() throws {
    let rng = RNG(seed: 10)
    let layer = try Linear(8, 3, rng: rng)
    layer.weight.data[0] = .infinity          // row 0, input 0
    let mask = try Tensor.zeros([3, 8])
    for i in [0, 1, 9, 17] { mask.data[i] = 1 }
    try layer.setGate(WeightGate(mask: mask), for: "weight")
    layer.eval()
    var x = [Float](repeating: 0.5, count: 8)
    x[0] = 0                                   // the infinite weight meets a zero input
    let input = try Tensor(shape: [1, 8], data: x)
    let dense = try GradMode.noGrad { try SparseInference.with(layer, mode: .dense) { try layer(input) } }
    let sparse = try GradMode.noGrad { try SparseInference.with(layer, mode: .sparse) { try layer(input) } }
    #expect(dense.data[0].isNaN)
    #expect(sparse.data[0].isNaN)
    #expect(Array(sparse.array[1...]) == Array(dense.array[1...]))
}

/// The batch split of sparseLinear (each task transposes, multiplies and transposes back its own
/// samples) gives every sample the same bits for any thread count, with and without a kept xᵀ,
/// and the kept xᵀ is x transposed.
@Test func sparseLinearSplitsTheBatchWithoutChangingAResult() throws {
    let rng = RNG(seed: 6)
    let old = SparseKernelSettings.batchGrain
    SparseKernelSettings.batchGrain = 1 << 10
    defer { SparseKernelSettings.batchGrain = old }
    for (batch, nIn, nOut) in [(128, 300, 100), (100, 37, 19), (33, 64, 8), (16, 9, 5)] {
        let (dense, mask) = randomSparse(rows: nOut, cols: nIn, density: 0.1, rng: rng, emptyRows: [0])
        let a = try #require(SparseMatrix(rows: nOut, cols: nIn, values: dense, pattern: mask))
        let x = (0..<(batch * nIn)).map { _ in rng.uniform() * 2 - 1 }
        for (name, kernel) in paths {
            var y1 = [Float](repeating: .nan, count: batch * nOut), y2 = y1, y3 = y1
            var xt = [Float](repeating: .nan, count: batch * nIn)
            Parallel.withThreads(1) { sparseLinear(a, x, batch: batch, bias: nil, &y1, kernel: kernel) }
            Parallel.withThreads(2) { sparseLinear(a, x, batch: batch, bias: nil, &y2, kernel: kernel) }
            Parallel.withThreads(2) { sparseLinear(a, x, batch: batch, bias: nil, &y3, kernel: kernel, xt: &xt) }
            #expect(y1 == y2, "\(name) batch \(batch)")
            #expect(y1 == y3, "\(name) batch \(batch), xᵀ kept")
            var transposed = [Float](repeating: 0, count: batch * nIn)
            for b in 0..<batch { for i in 0..<nIn { transposed[i * batch + b] = x[b * nIn + i] } }
            #expect(xt == transposed, "\(name) batch \(batch)")
        }
    }
}

/// A transpose between strided operands equals the element-by-element one.
@Test func stridedTransposeEqualsTheReference() {
    let rows = 19, cols = 21, ldx = 25, ldo = 23
    let x = (0..<(rows * ldx)).map { Float($0) }
    var out = [Float](repeating: -1, count: cols * ldo)
    transposeMatrix(x, rows: rows, cols: cols, ldx: ldx, &out, ldo: ldo)
    for r in 0..<rows { for c in 0..<cols { #expect(out[c * ldo + r] == x[r * ldx + c]) } }
    for c in 0..<cols { for r in rows..<ldo { #expect(out[c * ldo + r] == -1) } }
}

@Test func sparseSampledProductEqualsItsReference() throws {
    let rng = RNG(seed: 5)
    for (m, k, n) in [(1, 1, 1), (10, 20, 7), (30, 50, 128), (100, 300, 33)] {
        for density in [0.0, 0.1, 1.0] {
            let (dense, mask) = randomSparse(rows: m, cols: k, density: density, rng: rng, emptyRows: [0])
            let a = try #require(SparseMatrix(rows: m, cols: k, values: dense, pattern: mask))
            let u = (0..<(m * n)).map { _ in rng.uniform() * 2 - 1 }, v = (0..<(k * n)).map { _ in rng.uniform() * 2 - 1 }
            var want = [Float](repeating: 1, count: m * k), got = [Float](repeating: 1, count: m * k)
            sparseSampledProductReference(a, u, v, length: n, &want)
            sparseSampledProduct(a, u, v, length: n, &got)
            #expect(maxRelativeError(got, want) < 1e-5, "\(m)×\(k) length \(n) density \(density)")
            for i in 0..<(m * k) where mask[i] == 0 { #expect(got[i] == 0) }
        }
    }
}

/// The sampled product takes four kept entries of a row at a time, each summed as one `dot8`
/// sums it: the same bits as one entry at a time (so frozen-mask training did not change).
@Test func sampledProductFourAtATimeHasTheBitsOfOneAtATime() throws {
    let rng = RNG(seed: 13)
    for (m, k, n) in [(3, 11, 7), (30, 50, 33), (20, 100, 128), (9, 40, 130)] {
        for density in [0.1, 0.5, 1.0] {
            let (dense, mask) = randomSparse(rows: m, cols: k, density: density, rng: rng, emptyRows: [0])
            let a = try #require(SparseMatrix(rows: m, cols: k, values: dense, pattern: mask))
            let u = (0..<(m * n)).map { _ in rng.uniform() * 2 - 1 }, v = (0..<(k * n)).map { _ in rng.uniform() * 2 - 1 }
            var got = [Float](repeating: 0, count: m * k), want = got
            sparseSampledProduct(a, u, v, length: n, &got)
            u.withUnsafeBufferPointer { ub in
                v.withUnsafeBufferPointer { vb in
                    for r in 0..<m {
                        for e in a.range(r) {
                            let c = Int(a.columns[e])
                            want[r * k + c] = dot8(ub.baseAddress! + r * n, vb.baseAddress! + c * n, n)
                        }
                    }
                }
            }
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "\(m)×\(k) length \(n) density \(density)")
        }
    }
}

/// A transpose refreshed through its order holds what transposing the refreshed matrix holds.
@Test func transposeRefreshedThroughItsOrderEqualsAFreshTranspose() throws {
    let rng = RNG(seed: 14)
    for (m, k, density) in [(1, 1, 1.0), (7, 13, 0.3), (30, 50, 0.05), (12, 9, 0.0)] {
        let made = randomSparse(rows: m, cols: k, density: density, rng: rng, emptyRows: m > 2 ? [1] : [])
        var dense = made.dense
        let mask = made.mask
        let a = try #require(SparseMatrix(rows: m, cols: k, values: dense, pattern: mask))
        let (t, order) = a.transposedWithOrder()
        for i in dense.indices { dense[i] = rng.uniform() * 2 - 1 }
        a.refreshValues(from: dense)
        t.refreshValues(from: a, order: order)
        let fresh = a.transposed()
        #expect(Array(UnsafeBufferPointer(start: t.values, count: t.nnz)) == Array(UnsafeBufferPointer(start: fresh.values, count: fresh.nnz)))
        #expect(Array(UnsafeBufferPointer(start: t.columns, count: t.nnz)) == Array(UnsafeBufferPointer(start: fresh.columns, count: fresh.nnz)))
    }
}

@Test func transposeMatrixTransposesEveryShape() {
    let rng = RNG(seed: 6)
    for (rows, cols) in [(0, 3), (1, 1), (8, 8), (7, 9), (16, 24), (13, 40), (128, 784), (33, 17), (24, 16), (56, 9), (64, 784)] {
        let x = (0..<(rows * cols)).map { _ in rng.uniform() }
        var out = [Float](repeating: .nan, count: rows * cols)
        transposeMatrix(x, rows: rows, cols: cols, &out)
        var ok = true
        for r in 0..<rows { for c in 0..<cols where out[c * rows + r] != x[r * cols + c] { ok = false } }
        #expect(ok, "\(rows)×\(cols)")
    }
}

/// The lane layout (Kernels/SparseLanes.swift) and its product at batch 1 equal the row-wise
/// reference on shapes around its block of 16 rows and window of 32 inputs (inputs shorter than
/// a window, a last window starting before its chunk), at densities from 0 to 1 with empty rows,
/// with and without a bias, rows sorted or not; the sixteen-lane kernel is checked where the CPU
/// has it.
@Test func laneProductEqualsTheRowReference() throws {
    let rng = RNG(seed: 11)
    for (nOut, nIn) in [(1, 1), (5, 7), (16, 32), (17, 33), (15, 31), (40, 64), (300, 784), (100, 300), (3, 100)] {
        for density in [0.0, 0.02, 0.1, 0.5, 1.0] {
            let (dense, mask) = randomSparse(rows: nOut, cols: nIn, density: density, rng: rng, emptyRows: nOut > 2 ? [1] : [])
            let a = try #require(SparseMatrix(rows: nOut, cols: nIn, values: dense, pattern: mask))
            let x = (0..<nIn).map { _ in rng.uniform() * 2 - 1 }
            let bias = (0..<nOut).map { _ in rng.uniform() }
            var rows = [Float](repeating: 0, count: nOut)
            sparseProductReference(a, x, ldx: 1, n: 1, &rows, ldy: 1)
            for sortRows in [true, false] {
                let lanes = try #require(SparseLaneMatrix(a, sortRows: sortRows))
                #expect(lanes.slots * SparseLaneMatrix.lanes >= a.nnz)
                for withBias in [false, true] {
                    let want = withBias ? zip(rows, bias).map { $0 + $1 } : rows
                    let b: [Float]? = withBias ? bias : nil
                    var reference = [Float](repeating: .nan, count: nOut)
                    b.withUnsafeBufferPointerIfAny { sparseLaneProductReference(lanes, x, bias: $0, &reference) }
                    let what = "\(nOut)×\(nIn) density \(density) sorted \(sortRows) bias \(withBias)"
                    #expect(maxRelativeError(reference, want) < 1e-5, "reference \(what)")
                    if AVX512.available {
                        var y = [Float](repeating: .nan, count: nOut)
                        b.withUnsafeBufferPointerIfAny { sparseLaneProduct(lanes, x, bias: $0, &y) }
                        #expect(maxRelativeError(y, want) < 1e-5, "avx512 \(what)")
                    }
                }
            }
        }
    }
}

/// Grouping rows by their counts, hand-checked: 32 rows over one 32-input chunk, even rows keeping
/// 8 entries and odd rows 1. In order, both blocks of 16 hold an 8-entry row: 8 + 8 slots. Sorted,
/// the 8-entry rows fill the first block (8 slots) and the 1-entry rows the second (1 slot).
/// Values refreshed from a changed source give the layout a fresh build gives.
@Test func laneLayoutGroupsRowsByCountAndFollowsNewValues() throws {
    var dense = [Float](repeating: 0, count: 32 * 32)
    for r in 0..<32 { for c in 0..<(r % 2 == 0 ? 8 : 1) { dense[r * 32 + (c * 3 + r) % 32] = Float(r + 1) } }
    let a = try #require(SparseMatrix(rows: 32, cols: 32, values: dense))
    let plain = try #require(SparseLaneMatrix(a, sortRows: false)), sorted = try #require(SparseLaneMatrix(a))
    #expect(plain.slots == 16 && plain.rowOrder == nil)
    #expect(sorted.slots == 9 && sorted.rowOrder != nil)
    let changed = try #require(SparseMatrix(rows: 32, cols: 32, values: dense.map { -2 * $0 }))
    sorted.refreshValues(from: changed)
    let fresh = try #require(SparseLaneMatrix(changed))
    #expect(Array(UnsafeBufferPointer(start: sorted.values, count: 9 * 16)) == Array(UnsafeBufferPointer(start: fresh.values, count: 9 * 16)))
}

extension Optional where Wrapped == [Float] {
    /// The array's base address, or nil for nil.
    func withUnsafeBufferPointerIfAny<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let self else { return body(nil) }
        return self.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

@Test func linearChainEqualsItsLayersOneAtATime() throws {
    let rng = RNG(seed: 12)
    let old = SparseKernelSettings.batchGrain
    SparseKernelSettings.batchGrain = 1 << 10     // several tasks even on small shapes
    defer { SparseKernelSettings.batchGrain = old }
    // 40 → 33 → 17 → 6, with ReLUs after the first two; densities 0 to 1, a row kept nowhere.
    let widths = [40, 33, 17, 6]
    for density in [0.0, 0.1, 0.5, 1.0] {
        var matrices: [SparseMatrix] = [], biases: [[Float]] = []
        for l in 0..<3 {
            let (dense, mask) = randomSparse(rows: widths[l + 1], cols: widths[l], density: density, rng: rng, emptyRows: [1])
            matrices.append(try #require(SparseMatrix(rows: widths[l + 1], cols: widths[l], values: dense, pattern: mask)))
            biases.append((0..<widths[l + 1]).map { _ in rng.uniform() - 0.5 })
        }
        for batch in [2, 17, 64, 130] {
            let x = (0..<(batch * widths[0])).map { _ in rng.uniform() * 2 - 1 }
            for (name, kernel) in paths {
                // One at a time: sparseLinear with its bias, then max(·, 0) for the first two.
                var h = x
                for l in 0..<3 {
                    var y = [Float](repeating: .nan, count: batch * widths[l + 1])
                    biases[l].withUnsafeBufferPointer { sparseLinear(matrices[l], h, batch: batch, bias: $0.baseAddress, &y, kernel: kernel) }
                    h = l < 2 ? y.map { $0 > 0 ? $0 : 0 } : y
                }
                for threads in [1, 2] {
                    var chained = [Float](repeating: .nan, count: batch * widths[3])
                    let done = biases[0].withUnsafeBufferPointer { b0 in
                        biases[1].withUnsafeBufferPointer { b1 in
                            biases[2].withUnsafeBufferPointer { b2 in
                                Parallel.withThreads(threads) {
                                    sparseLinearChain([SparseChainLayer(matrices[0], bias: b0.baseAddress, relu: true),
                                                       SparseChainLayer(matrices[1], bias: b1.baseAddress, relu: true),
                                                       SparseChainLayer(matrices[2], bias: b2.baseAddress, relu: false)],
                                                      x, batch: batch, &chained, kernel: kernel)
                                }
                            }
                        }
                    }
                    #expect(done)
                    #expect(chained == h, "\(name) density \(density) batch \(batch) threads \(threads)")
                }
            }
        }
        // Widths that do not chain: nothing is written.
        var untouched = [Float](repeating: 7, count: 2 * widths[3])
        let x = [Float](repeating: 1, count: 2 * widths[0])
        #expect(!sparseLinearChain([SparseChainLayer(matrices[0], bias: nil, relu: true), SparseChainLayer(matrices[2], bias: nil, relu: false)],
                                   x, batch: 2, &untouched))
        #expect(untouched.allSatisfy { $0 == 7 })
    }
}

@Test func valuesRefreshOnlyWhileThePatternMatches() throws {
    // Large enough that the rows split between two tasks; the mismatch in the last row only.
    let rng = RNG(seed: 13)
    let (dense, mask) = randomSparse(rows: 400, cols: 400, density: 0.05, rng: rng, emptyRows: [3])
    let a = try #require(SparseMatrix(rows: 400, cols: 400, values: dense, pattern: mask))
    let changed = dense.map { $0 * -2 }
    for threads in [1, 2] {
        let fresh = try #require(SparseMatrix(rows: 400, cols: 400, values: dense, pattern: mask))
        #expect(Parallel.withThreads(threads) { fresh.refreshValues(from: changed, matching: mask) })
        var back = [Float](repeating: 9, count: dense.count)
        fresh.densify(into: &back)
        #expect(back == changed, "threads \(threads)")
        var moved = mask
        let last = 399 * 400
        if let i = moved[last...].firstIndex(of: 1) { moved[i] = 0; moved[i == last + 399 ? last : i + 1] = 1 }
        #expect(!Parallel.withThreads(threads) { a.refreshValues(from: changed, matching: moved) }, "threads \(threads)")
        #expect(!Parallel.withThreads(threads) { a.matches(pattern: moved) }, "threads \(threads)")
        #expect(Parallel.withThreads(threads) { a.matches(pattern: mask) }, "threads \(threads)")
    }
}

// Second-order pruning: the block-diagonal inverse of a damped empirical Fisher built by rank-one
// (Sherman–Morrison) updates, OBS saliencies and compensating updates (Hassibi & Stork; Singh &
// Alistarh's WoodFisher, arXiv 2004.14340), and OBD's diagonal Fisher (LeCun et al.).

/// Block-diagonal inverse of the damped empirical Fisher of a vector of `dimension` weights,
/// F = λI + (1/m) Σᵢ gᵢgᵢᵀ restricted to consecutive blocks of `blockSize` weights (the last block
/// may be shorter). Only the blocks are kept: the full d×d inverse of a layer would not fit, and
/// WoodFisher finds the correlations within a block carry most of the benefit.
///
/// Memory: the blocks take at most `dimension × blockSize` floats (51 MB for d = 100 000 and
/// b = 128), plus, while building, (b + 4)·b doubles per task (b rounded up to 8). Choosing b is
/// the caller's concern.
public struct BlockFisherInverse {
    /// The number of weights, and the block length: clamped to 1…dimension (1 when dimension is 0).
    public let dimension: Int, blockSize: Int
    /// The damping λ actually used (see `init`).
    public let lambda: Double
    /// The blocks one after another, each row-major blockLength × blockLength; block k starts at
    /// k·blockSize², since every block before the last is full.
    private let storage: [Float]

    /// Below this many units of work (m·b² row-element updates of the build, summed over blocks)
    /// the build runs on the calling thread: about 150 µs at the 0.3 ns a unit measured for b = 128.
    static let buildGrain = 1 << 19

    /// `gradients`: m rows of `dimension` floats, row-major (row i is gradient i). m = 0 gives
    /// (1/λ)I. λ must be positive for the inverse to exist: anything below 1e-12 (zero, negative,
    /// NaN) is raised to 1e-12 so that nothing divides by zero.
    ///
    /// Each block starts at (1/λ)I and takes m Sherman–Morrison updates, A ← A − u uᵀ/(m + gᵀu)
    /// with u = A g: O(m·b²) per block instead of forming F and inverting it in O(m·b² + b³), and
    /// never a pivot to choose, since every denominator is at least m. The updates run in Double
    /// (with λ = 1e-4 the inverse's entries span four more decades than F's; Float updates were
    /// not tried against the 1e-4 relative tolerance) on padded rows, and each update's pass
    /// also computes the next gradient's u = A g, so the block is read once per gradient. The
    /// result is symmetrised and stored as Float. Blocks are independent, so they are built in
    /// parallel when the work is large, with the same result on any number of threads.
    public init(gradients: UnsafePointer<Float>, count m: Int, dimension: Int, blockSize: Int, lambda: Double) {
        let d = Swift.max(dimension, 0)
        let b = d == 0 ? 1 : Swift.min(Swift.max(blockSize, 1), d)
        let m = Swift.max(m, 0)
        let lam = lambda >= 1e-12 ? lambda : 1e-12
        self.dimension = d
        self.blockSize = b
        self.lambda = lam
        let blocks = (d + b - 1) / b
        let last = d - (blocks - 1) * b
        let total = blocks == 0 ? 0 : (blocks - 1) * b * b + last * last
        storage = [Float](unsafeUninitializedCapacity: total) { buffer, initialized in
            if let out = buffer.baseAddress, blocks > 0 {
                let work = m * b * b * blocks
                let tasks = Parallel.taskCount(work, grain: BlockFisherInverse.buildGrain, maxTasks: Swift.min(blocks, 64))
                parallelFor(tasks) { t in
                    let padded = (b + 7) & ~7
                    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: b * padded + 4 * padded)
                    defer { scratch.deallocate() }
                    for k in Parallel.range(t, of: tasks, count: blocks) {
                        let start = k * b
                        buildInverseBlock(gradients, m: m, stride: d, start: start, length: Swift.min(b, d - start),
                                          lambda: lam, scratch: scratch, out: out + k * b * b)
                    }
                }
            }
            initialized = total
        }
    }

    /// The number of blocks: ⌈dimension / blockSize⌉.
    public var blockCount: Int { (dimension + blockSize - 1) / blockSize }

    /// The weights block `index` covers.
    public func blockRange(_ index: Int) -> Range<Int> {
        let start = index * blockSize
        return start..<Swift.min(dimension, start + blockSize)
    }

    /// [F⁻¹]_qq for every q, into out (dimension floats).
    public func diagonal(into out: UnsafeMutablePointer<Float>) {
        storage.withUnsafeBufferPointer { s in
            guard let base = s.baseAddress else { return }
            for k in 0..<blockCount {
                let r = blockRange(k), n = r.count, blk = base + k * blockSize * blockSize
                for j in 0..<n { out[r.lowerBound + j] = blk[j * n + j] }
            }
        }
    }

    /// ρ_q = w_q² / (2 [F⁻¹]_qq) for every q: the rise of a quadratic loss when w_q is removed and
    /// the rest of its block compensates optimally.
    public func saliency(weights: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        storage.withUnsafeBufferPointer { s in
            guard let base = s.baseAddress else { return }
            for k in 0..<blockCount {
                let r = blockRange(k), n = r.count, blk = base + k * blockSize * blockSize
                for j in 0..<n {
                    let w = weights[r.lowerBound + j]
                    out[r.lowerBound + j] = w * w / (2 * blk[j * n + j])
                }
            }
        }
    }

    /// Removes the entries where `remove` is nonzero (0/1 floats) and compensates the others in
    /// their block; removed entries end at +0.0.
    ///
    /// Independent (`joint` false, WoodFisher's choice when many weights go at once): the sum over
    /// removed q of the single-weight OBS updates δw = −(w_q/[F⁻¹]_qq)·F⁻¹e_q. Each is optimal
    /// alone, but they ignore one another, so for several removals in a block the loss rises by
    /// more than the minimum.
    ///
    /// Joint (`joint` true): the exact constrained minimum of the quadratic model with every
    /// removed entry at 0, δw = −F⁻¹E_S (E_SᵀF⁻¹E_S)⁻¹ E_Sᵀw, the small system solved by Cholesky
    /// in Double. S holds the removed and the frozen entries of the block, so entries already
    /// pruned also stay at 0 under the compensation (with frozen entries counting as 0 in w).
    ///
    /// `frozen` (optional 0/1 floats, 0 = already pruned, must stay 0): frozen entries are never
    /// changed (unless also removed, then they become +0.0) and add no compensation of their own.
    /// The independent update still uses F⁻¹ of the whole block, as WoodFisher does, rather than
    /// the inverse of the Fisher of the entries still free.
    ///
    /// Returns false when some block's joint system was singular to Float precision (a Cholesky
    /// pivot below 1e-6 of its diagonal entry: the stored F⁻¹ cannot resolve it): the removed
    /// entries of that block are then set to 0 with no compensation. Always true when independent.
    @discardableResult
    public func prune(weights: UnsafeMutablePointer<Float>, remove: UnsafePointer<Float>,
                      frozen: UnsafePointer<Float>? = nil, joint: Bool) -> Bool {
        let blocks = blockCount
        guard blocks > 0 else { return true }
        let b = blockSize
        // Joint blocks cost up to b³/6 for the factorisation, independent ones up to b² (one row
        // per removed entry); the split depends on the sizes only.
        let work = blocks * b * b * (joint ? Swift.max(1, b / 6) : 1)
        let tasks = Parallel.taskCount(work, grain: BlockFisherInverse.buildGrain, maxTasks: Swift.min(blocks, 64))
        let failures = UnsafeMutablePointer<Bool>.allocate(capacity: tasks)
        failures.initialize(repeating: false, count: tasks)
        defer { failures.deallocate() }
        storage.withUnsafeBufferPointer { s in
            guard let base = s.baseAddress else { return }
            parallelFor(tasks) { t in
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: 8 * (b * b + 3 * b) + 4 * b, alignment: 64)
                defer { scratch.deallocate() }
                for k in Parallel.range(t, of: tasks, count: blocks) {
                    let r = blockRange(k)
                    let blk = base + k * b * b
                    if joint {
                        if !pruneJoint(blk, weights + r.lowerBound, remove + r.lowerBound, frozen.map { $0 + r.lowerBound },
                                       r.count, scratch) { failures[t] = true }
                    } else {
                        pruneIndependent(blk, weights + r.lowerBound, remove + r.lowerBound, frozen.map { $0 + r.lowerBound },
                                         r.count, scratch.assumingMemoryBound(to: Float.self))
                    }
                }
            }
        }
        return !(0..<tasks).contains { failures[$0] }
    }

    /// The dense block (row-major blockLength×blockLength) for tests.
    public func block(_ index: Int) -> [Float] {
        guard index >= 0 && index < blockCount else { return [] }
        let n = blockRange(index).count, start = index * blockSize * blockSize
        return Array(storage[start..<(start + n * n)])
    }
}

/// Builds one block of the inverse: `length` weights from `start`, gradients `stride` apart.
/// `scratch` holds length·P + 4P doubles, P = length rounded up to 8: the matrix with rows padded
/// to P (the padding stays 0, so every row is whole eight-lane vectors), u, the next u, and the
/// current and next gradient slices, zero-padded.
@inline(__always)
private func buildInverseBlock(_ g: UnsafePointer<Float>, m: Int, stride: Int, start: Int, length n: Int, lambda: Double,
                               scratch: UnsafeMutablePointer<Double>, out: UnsafeMutablePointer<Float>) {
    typealias D8 = SIMD8<Double>
    let p = (n + 7) & ~7
    let a = scratch
    var u = a + n * p, un = u + p, gc = un + p, gn = gc + p
    scratch.update(repeating: 0, count: n * p + 4 * p)
    let inverseLambda = 1 / lambda
    for j in 0..<n { a[j * p + j] = inverseLambda }
    @inline(__always) func load(_ x: UnsafePointer<Double>) -> D8 { UnsafeRawPointer(x).loadUnaligned(as: D8.self) }
    @inline(__always) func store(_ x: UnsafeMutablePointer<Double>, _ v: D8) { UnsafeMutableRawPointer(x).storeBytes(of: v, as: D8.self) }
    if m > 0 {
        let first = g + start
        for j in 0..<n { gc[j] = Double(first[j]); u[j] = gc[j] * inverseLambda }
        let count = Double(m)
        for i in 0..<m {
            var dot = D8()
            for k in Swift.stride(from: 0, to: p, by: 8) { dot = dot.addingProduct(load(gc + k), load(u + k)) }
            let c = 1 / (count + dot.sum())
            if i + 1 < m {
                let next = g + (i + 1) * stride + start
                for j in 0..<n { gn[j] = Double(next[j]) }
                // A ← A − c·u uᵀ, row by row, and the next u = A g from the updated rows (A is
                // symmetric, so its rows are its columns). Two rows at a time: each load of u and
                // g serves both, and two accumulation chains hide the FMA latency that one chain
                // waits on.
                var j = 0
                while j + 2 <= n {
                    let row0 = a + j * p, row1 = row0 + p
                    let coef0 = D8(repeating: -c * u[j]), coef1 = D8(repeating: -c * u[j + 1])
                    var acc0 = D8(), acc1 = D8()
                    var k = 0
                    while k < p {
                        let uk = load(u + k), gk = load(gn + k)
                        let r0 = load(row0 + k).addingProduct(coef0, uk)
                        let r1 = load(row1 + k).addingProduct(coef1, uk)
                        store(row0 + k, r0)
                        store(row1 + k, r1)
                        acc0 = acc0.addingProduct(r0, gk)
                        acc1 = acc1.addingProduct(r1, gk)
                        k += 8
                    }
                    un[j] = acc0.sum()
                    un[j + 1] = acc1.sum()
                    j += 2
                }
                if j < n {
                    let row = a + j * p
                    let coef = D8(repeating: -c * u[j])
                    var acc = D8()
                    var k = 0
                    while k < p {
                        let r = load(row + k).addingProduct(coef, load(u + k))
                        store(row + k, r)
                        acc = acc.addingProduct(r, load(gn + k))
                        k += 8
                    }
                    un[j] = acc.sum()
                }
                swap(&u, &un)
                swap(&gc, &gn)
            } else {
                for j in 0..<n {
                    let row = a + j * p
                    let coef = D8(repeating: -c * u[j])
                    for k in Swift.stride(from: 0, to: p, by: 8) { store(row + k, load(row + k).addingProduct(coef, load(u + k))) }
                }
            }
        }
    }
    // Row j's update used c·u_j·u_k and row k's c·u_k·u_j, rounded differently: store the mean so
    // the block is exactly symmetric.
    for j in 0..<n {
        out[j * n + j] = Float(a[j * p + j])
        for k in (j + 1)..<Swift.max(j + 1, n) {
            let v = Float(0.5 * (a[j * p + k] + a[k * p + j]))
            out[j * n + k] = v
            out[k * n + j] = v
        }
    }
}

/// Whether entry j may change: not frozen (frozen 0 means already pruned).
@inline(__always)
private func isFree(_ frozen: UnsafePointer<Float>?, _ j: Int) -> Bool { frozen.map { $0[j] != 0 } ?? true }

/// The independent OBS update of one block (`n` weights, inverse `f`): δ = −Σ_q (w_q/f_qq)·f[q, :]
/// over removed free q, accumulated in `delta` (n floats), added to the free entries that stay.
private func pruneIndependent(_ f: UnsafePointer<Float>, _ w: UnsafeMutablePointer<Float>, _ remove: UnsafePointer<Float>,
                              _ frozen: UnsafePointer<Float>?, _ n: Int, _ delta: UnsafeMutablePointer<Float>) {
    delta.update(repeating: 0, count: n)
    var any = false
    for q in 0..<n where remove[q] != 0 && isFree(frozen, q) && w[q] != 0 {
        any = true
        let row = f + q * n
        let c = -w[q] / row[q]
        let c8 = SIMD8<Float>(repeating: c)
        var k = 0
        while k + 8 <= n {
            let d = UnsafeRawPointer(delta + k).loadUnaligned(as: SIMD8<Float>.self)
                .addingProduct(c8, UnsafeRawPointer(row + k).loadUnaligned(as: SIMD8<Float>.self))
            UnsafeMutableRawPointer(delta + k).storeBytes(of: d, as: SIMD8<Float>.self)
            k += 8
        }
        while k < n { delta[k] = delta[k].addingProduct(c, row[k]); k += 1 }
    }
    for j in 0..<n {
        if remove[j] != 0 { w[j] = 0 } else if any && isFree(frozen, j) { w[j] += delta[j] }
    }
}

/// The joint OBS update of one block: S = removed ∪ frozen entries, K = f[S, S], solve K x = w̃_S
/// (w̃ = w with frozen entries 0) and add δ = −f[:, S] x to the free entries that stay. False
/// when K is singular to the stored precision (then only the removed entries are zeroed).
/// `scratch`: n² + 3n doubles and n Int32 indices.
private func pruneJoint(_ f: UnsafePointer<Float>, _ w: UnsafeMutablePointer<Float>, _ remove: UnsafePointer<Float>,
                        _ frozen: UnsafePointer<Float>?, _ n: Int, _ scratch: UnsafeMutableRawPointer) -> Bool {
    let k = scratch.assumingMemoryBound(to: Double.self)
    let x = k + n * n, diag = x + n, delta = diag + n
    let set = UnsafeMutableRawPointer(delta + n).assumingMemoryBound(to: Int32.self)
    var s = 0, kept = 0, moving = false
    for j in 0..<n {
        let free = isFree(frozen, j)
        if remove[j] != 0 || !free {
            set[s] = Int32(j)
            x[s] = free ? Double(w[j]) : 0
            if x[s] != 0 { moving = true }
            s += 1
        } else {
            kept += 1
        }
    }
    var solved = true
    if moving && kept > 0 {
        for r in 0..<s {
            let row = f + Int(set[r]) * n
            for c in 0..<s { k[r * s + c] = Double(row[Int(set[c])]) }
        }
        solved = choleskySolve(k, x, s, diag)
        if solved {
            // δ_j = −Σ_r f[j, S_r] x_r, read along rows S_r (f is symmetric).
            delta.update(repeating: 0, count: n)
            for r in 0..<s where x[r] != 0 {
                let row = f + Int(set[r]) * n, c = -x[r]
                for j in 0..<n { delta[j] = delta[j].addingProduct(c, Double(row[j])) }
            }
            for j in 0..<n where remove[j] == 0 && isFree(frozen, j) { w[j] = Float(Double(w[j]) + delta[j]) }
        }
    }
    for j in 0..<n where remove[j] != 0 { w[j] = 0 }
    return solved
}

/// Solves K x = r for a symmetric positive definite n×n K (row-major, overwritten by its
/// Cholesky factor L in the lower triangle), r in `x`. `diag` holds n doubles of scratch. False
/// when a pivot is not above 1e-6 of its diagonal entry: K came from Float entries (relative
/// error 6e-8), so a smaller Schur complement is rounding noise and the solution meaningless.
func choleskySolve(_ k: UnsafeMutablePointer<Double>, _ x: UnsafeMutablePointer<Double>, _ n: Int,
                   _ diag: UnsafeMutablePointer<Double>) -> Bool {
    for j in 0..<n {
        let rj = k + j * n
        var s = rj[j]
        for p in 0..<j { s -= rj[p] * rj[p] }
        guard s > 1e-6 * rj[j], s.isFinite else { return false }
        let l = s.squareRoot()
        diag[j] = l
        rj[j] = l
        let inv = 1 / l
        for i in (j + 1)..<Swift.max(j + 1, n) {
            let ri = k + i * n
            var t = ri[j]
            for p in 0..<j { t -= ri[p] * rj[p] }
            ri[j] = t * inv
        }
    }
    // L y = r, then Lᵀ x = y.
    for i in 0..<n {
        let ri = k + i * n
        var t = x[i]
        for p in 0..<i { t -= ri[p] * x[p] }
        x[i] = t / diag[i]
    }
    var i = n - 1
    while i >= 0 {
        var t = x[i]
        for p in (i + 1)..<Swift.max(i + 1, n) { t -= k[p * n + i] * x[p] }
        x[i] = t / diag[i]
        i -= 1
    }
    return true
}

/// OBD: the diagonal of the damped empirical Fisher, λ + (1/m) Σᵢ gᵢ², into out (dimension
/// floats; λ as given, since nothing is inverted: λ = 0 is fine here). Sums run in Double over
/// chunks of columns, so the m rows are streamed once; column ranges run in parallel when large.
public func diagonalFisher(gradients: UnsafePointer<Float>, count m: Int, dimension: Int, lambda: Double,
                           into out: UnsafeMutablePointer<Float>) {
    let d = Swift.max(dimension, 0), m = Swift.max(m, 0)
    guard d > 0 else { return }
    guard m > 0 else { out.update(repeating: Float(lambda), count: d); return }
    let tasks = Parallel.taskCount(m * d, maxTasks: Swift.max(1, Swift.min(64, d / 1024)))
    let scale = 1 / Double(m)
    parallelFor(tasks) { t in
        let range = Parallel.range(t, of: tasks, count: d)
        let chunk = 1024
        withUnsafeTemporaryAllocation(of: Double.self, capacity: chunk) { acc in
            let acc = acc.baseAddress!
            var lo = range.lowerBound
            while lo < range.upperBound {
                let len = Swift.min(chunk, range.upperBound - lo)
                acc.update(repeating: 0, count: len)
                for i in 0..<m {
                    let row = gradients + i * d + lo
                    for j in 0..<len { let v = Double(row[j]); acc[j] = acc[j].addingProduct(v, v) }
                }
                for j in 0..<len { out[lo + j] = Float(lambda + acc[j] * scale) }
                lo += len
            }
        }
    }
}

/// OBD saliency w_q²·F_qq/2 from the diagonal Fisher: the loss rise of removing w_q alone with no
/// compensation, under a quadratic model that ignores the off-diagonal terms.
public func diagonalSaliency(weights: UnsafePointer<Float>, fisherDiagonal: UnsafePointer<Float>, count n: Int,
                             into out: UnsafeMutablePointer<Float>) {
    for q in 0..<Swift.max(n, 0) { out[q] = weights[q] * weights[q] * fisherDiagonal[q] / 2 }
}

// MARK: - Slow references for tests

/// The blocks of (λI + (1/m)GᵀG)⁻¹ formed densely in Double and inverted by Gauss–Jordan: the
/// obvious computation `BlockFisherInverse` must agree with. Blocks in order, each row-major;
/// nil entries for singular blocks. blockSize is clamped as in `BlockFisherInverse`; λ is not.
public func referenceFisherInverse(gradients: UnsafePointer<Float>, count m: Int, dimension: Int, blockSize: Int,
                                   lambda: Double) -> [[Double]?] {
    let d = Swift.max(dimension, 0), m = Swift.max(m, 0)
    let b = d == 0 ? 1 : Swift.min(Swift.max(blockSize, 1), d)
    var blocks: [[Double]?] = []
    var start = 0
    while start < d {
        let n = Swift.min(b, d - start)
        var f = [Double](repeating: 0, count: n * n)
        for r in 0..<n {
            for c in 0..<n {
                var s = 0.0
                for i in 0..<m { s += Double(gradients[i * d + start + r]) * Double(gradients[i * d + start + c]) }
                f[r * n + c] = (r == c ? lambda : 0) + (m > 0 ? s / Double(m) : 0)
            }
        }
        blocks.append(referenceInverse(f, n: n))
        start += n
    }
    return blocks
}

/// The inverse of a dense n×n matrix (row-major) by Gauss–Jordan elimination with partial
/// pivoting, in Double; nil when a pivot is exactly zero.
public func referenceInverse(_ matrix: [Double], n: Int) -> [Double]? {
    var a = matrix
    var inv = [Double](repeating: 0, count: n * n)
    for i in 0..<n { inv[i * n + i] = 1 }
    for col in 0..<n {
        var pivot = col
        for r in col..<n where abs(a[r * n + col]) > abs(a[pivot * n + col]) { pivot = r }
        if a[pivot * n + col] == 0 { return nil }
        if pivot != col {
            for c in 0..<n { a.swapAt(col * n + c, pivot * n + c); inv.swapAt(col * n + c, pivot * n + c) }
        }
        let p = a[col * n + col]
        for c in 0..<n { a[col * n + c] /= p; inv[col * n + c] /= p }
        for r in 0..<n where r != col {
            let factor = a[r * n + col]
            if factor == 0 { continue }
            for c in 0..<n { a[r * n + c] -= factor * a[col * n + c]; inv[r * n + c] -= factor * inv[col * n + c] }
        }
    }
    return inv
}

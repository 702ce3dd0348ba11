// A sparse matrix laid out for its product with one vector (a Linear layer at batch 1), where the
// compressed-row product is a gather: an index, a value and an input element loaded for every
// multiply-add, then a sum across each row.
//
// Here sixteen rows are the sixteen lanes of a vector register, and the input is read 32
// elements (two registers) at a time. For each block of sixteen rows and each 32-column chunk of
// the input holding any of their kept entries, the entries are laid out in slots: slot s holds, in
// lane i, the block's i-th row's s-th kept entry in that chunk (its value, and its column within
// the window of 32 inputs the slot reads, a byte), or a zero value where the row has fewer. A slot
// is one two-register permute, which picks every lane's input out of the window, and one fused
// multiply-add for sixteen rows: no gather, and each row's sum stays in its lane, with no
// reduction across lanes. A chunk takes as many slots as its fullest row has entries there, so
// slots hold more lanes than there are kept entries; rows are therefore grouped into blocks by
// their number of kept entries, fullest first, which on a magnitude-pruned 784→300 layer at 95%
// sparsity takes the lanes per kept entry from 3.8 to 2.5.
//
// Slots are grouped in segments, one per block and chunk, and the kernel loads a segment's window
// once for all its slots (a slot that named its own window, saving the branch at each segment's
// end, measured 20% slower: three 64-byte loads a slot instead of one). The last chunk's window
// ends at the last input (it starts before the chunk when the input length is not a multiple of
// 32), so no window reads past the input; an input shorter than 32 is copied into a zero-padded
// window first.
//
// The kernel is KernelsAVX512's `sparseLaneProduct`; the layout is here, with its builder and a
// slow reference that reads it.

/// The kept entries of a [rows, cols] matrix as slots of sixteen rows (see above).
public final class SparseLaneMatrix: @unchecked Sendable {
    /// Rows per block (the lanes of a vector) and inputs per window (two vectors).
    public static let lanes = 16, window = 32
    public let rows: Int, cols: Int
    /// Number of row blocks, ⌈rows / lanes⌉.
    public let blocks: Int
    /// Block b's segments are `blockStart[b] ..< blockStart[b + 1]`.
    public let blockStart: UnsafeMutablePointer<Int32>
    /// Segment g's slots read the inputs `windowStart[g] ..< windowStart[g] + 32`; it has
    /// `segmentSlots[g]` slots, following those of segment g − 1.
    public let windowStart: UnsafeMutablePointer<Int32>, segmentSlots: UnsafeMutablePointer<Int32>
    /// Total slots. Slot s's lanes' columns within its window are `indices[16s ..< 16s + 16]`,
    /// their values `values[16s ..< 16s + 16]` (64-byte aligned).
    public let slots: Int
    public let indices: UnsafeMutablePointer<UInt8>
    public let values: UnsafeMutablePointer<Float>
    /// Block b, lane i computes row `rowOrder[16b + i]` (nil: row 16b + i).
    public let rowOrder: UnsafeMutablePointer<Int32>?
    /// For each kept entry of the source matrix (in its order), its position in `values`.
    private let order: UnsafeMutablePointer<Int32>
    private let nnz: Int

    /// The layout of `a`'s kept entries, its rows grouped by their number of kept entries where
    /// that saves slots (unless `sortRows` is false); nil when `a` would take more than 2³¹ − 1
    /// slot lanes.
    public init?(_ a: SparseMatrix, sortRows: Bool = true) {
        let lanes = Self.lanes, window = Self.window
        rows = a.rows; cols = a.cols; nnz = a.nnz
        blocks = (rows + lanes - 1) / lanes
        let identity = Array(0..<rows)
        let sorted = identity.sorted { a.range($0).count > a.range($1).count || (a.range($0).count == a.range($1).count && $0 < $1) }
        let plain = Self.segments(a, identity), grouped = Self.segments(a, sorted)
        let (order, segments) = sortRows && grouped.slots < plain.slots ? (sorted, grouped) : (identity, plain)
        let total = segments.slots
        guard total * lanes < Int(Int32.max) else { return nil }
        slots = total
        if order == identity {
            rowOrder = nil
        } else {
            let o = UnsafeMutablePointer<Int32>.allocate(capacity: blocks * lanes)
            for i in 0..<(blocks * lanes) { o[i] = i < rows ? Int32(truncatingIfNeeded: order[i]) : 0 }
            rowOrder = o
        }
        let list = segments.list
        blockStart = .allocate(capacity: blocks + 1)
        windowStart = .allocate(capacity: max(list.count, 1))
        segmentSlots = .allocate(capacity: max(list.count, 1))
        let size = max(total * lanes, 1)
        indices = .allocate(capacity: size)
        indices.initialize(repeating: 0, count: size)
        values = UnsafeMutableRawPointer.allocate(byteCount: size * 4, alignment: 64).bindMemory(to: Float.self, capacity: size)
        values.initialize(repeating: 0, count: size)
        self.order = .allocate(capacity: max(nnz, 1))
        // Each row's entries of a chunk go to consecutive slots of its segment, in its lane.
        var slot = 0, s = 0
        blockStart[0] = 0
        for b in 0..<blocks {
            let blockRows = order[(b * lanes)..<min(rows, (b + 1) * lanes)]
            var cursor = blockRows.map { Int(a.rowStart[$0]) }
            while s < list.count, list[s].block == b {
                let (chunk, count) = (Int(list[s].chunk), Int(list[s].slots))
                let end = (chunk + 1) * window, start = cols >= window ? min(chunk * window, cols - window) : 0
                windowStart[s] = Int32(truncatingIfNeeded: start)
                segmentSlots[s] = Int32(truncatingIfNeeded: count)
                for (lane, r) in blockRows.enumerated() {
                    var j = 0
                    while cursor[lane] < Int(a.rowStart[r + 1]), Int(a.columns[cursor[lane]]) < end {
                        let k = cursor[lane], at = (slot + j) * lanes + lane
                        indices[at] = UInt8(truncatingIfNeeded: Int(a.columns[k]) - start)
                        values[at] = a.values[k]
                        self.order[k] = Int32(truncatingIfNeeded: at)
                        cursor[lane] += 1; j += 1
                    }
                }
                slot += count; s += 1
            }
            blockStart[b + 1] = Int32(truncatingIfNeeded: s)
        }
    }

    /// The segments of `a`'s rows taken in `order`: per block of sixteen and per 32-column
    /// chunk holding any of their entries, the fullest row's count there (its slots).
    private static func segments(_ a: SparseMatrix, _ order: [Int]) -> (list: [(block: Int, chunk: Int32, slots: Int32)], slots: Int) {
        let chunks = max((a.cols + window - 1) / window, 1), blocks = (a.rows + lanes - 1) / lanes
        var list: [(block: Int, chunk: Int32, slots: Int32)] = [], total = 0
        var counts = [Int32](repeating: 0, count: chunks), fullest = [Int32](repeating: 0, count: chunks)
        for b in 0..<blocks {
            for c in 0..<chunks { fullest[c] = 0 }
            for r in order[(b * lanes)..<min(a.rows, (b + 1) * lanes)] {
                for k in a.range(r) { counts[Int(a.columns[k]) / window] += 1 }
                for c in 0..<chunks where counts[c] > 0 { fullest[c] = max(fullest[c], counts[c]); counts[c] = 0 }
            }
            for c in 0..<chunks where fullest[c] > 0 {
                list.append((b, Int32(c), fullest[c]))
                total += Int(fullest[c])
            }
        }
        return (list, total)
    }

    deinit {
        blockStart.deallocate(); windowStart.deallocate(); segmentSlots.deallocate(); rowOrder?.deallocate()
        indices.deallocate(); values.deallocate(); order.deallocate()
    }

    /// Re-reads the kept values from `source`, the matrix this layout was built from.
    public func refreshValues(from source: SparseMatrix) {
        guard source.nnz == nnz, source.rows == rows, source.cols == cols else { return }
        for k in 0..<nnz { values[Int(order[k])] = source.values[k] }
    }

    /// Slot lanes per kept entry (1 when no lane is padding).
    public var padding: Double { nnz == 0 ? 1 : Double(slots * Self.lanes) / Double(nnz) }
}

/// The slow reference for `sparseLaneProduct`: y [rows] = A·x + bias from the lane layout,
/// one multiply-add at a time in double precision, padding lanes included (they add 0·x).
public func sparseLaneProductReference(_ a: SparseLaneMatrix, _ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                       _ y: UnsafeMutablePointer<Float>) {
    let lanes = SparseLaneMatrix.lanes
    var slot = 0
    for b in 0..<a.blocks {
        var sums = [Double](repeating: 0, count: lanes)
        for g in Int(a.blockStart[b])..<Int(a.blockStart[b + 1]) {
            for _ in 0..<Int(a.segmentSlots[g]) {
                for i in 0..<lanes {
                    let col = Int(a.windowStart[g]) + Int(a.indices[slot * lanes + i])
                    sums[i] += Double(a.values[slot * lanes + i]) * Double(x[col])
                }
                slot += 1
            }
        }
        for i in 0..<lanes where b * lanes + i < a.rows {
            let r = a.rowOrder.map { Int($0[b * lanes + i]) } ?? b * lanes + i
            y[r] = Float(sums[i] + Double(bias?[r] ?? 0))
        }
    }
}

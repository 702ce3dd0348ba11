// From importance to masks: top-k per matrix or across matrices, for single weights, N:M groups
// and blocks, never keeping what a bound forbids.
import Engine
import Kernels
import NN

enum Selection {
    /// Writes every gate's mask from `importance` (one tensor per target). `keeps` are the
    /// per-target fractions (layer scope), `overall` the fraction across all (global scope).
    static func masks(_ importance: [Tensor], gates: [WeightGate], targets: [PruneTarget], keeps: [Double], overall: Double,
                      scope: PruneScope, granularity: Granularity, bound: [Tensor?], hints: inout [TopKHint]) throws {
        let bounds = bound.map { $0.map { UnsafePointer($0.data) } }
        switch granularity {
        case .element:
            if scope == .global {
                if hints.count != 1 { hints = [TopKHint()] }
                let total = gates.reduce(0) { $0 + $1.mask.count }
                topKMasks(values: zip(importance, gates).map { (UnsafePointer($0.data), $1.mask.count) }, allowed: bounds,
                          k: count(overall, of: total), masks: gates.map { $0.mask.data }, hint: &hints[0])
                return
            }
            if hints.count != gates.count { hints = Array(repeating: TopKHint(), count: gates.count) }
            for (i, g) in gates.enumerated() {
                let n = g.mask.count
                topKMasks(values: [(UnsafePointer(importance[i].data), n)], allowed: [bounds[i]], k: count(keeps[i], of: n),
                          masks: [g.mask.data], hint: &hints[i])
            }
        case let .nm(_, m):
            for (i, g) in gates.enumerated() {
                let shape = targets[i].weight.shape
                let rowLength = shape.dropFirst().reduce(1, *), rows = shape.first ?? 1
                let keep = Swift.min(m, Swift.max(1, Int((keeps[i] * Double(m)).rounded())))
                // The mask may be its own bound: the kernel reads a group's bounds before writing it.
                groupTopKMask(values: importance[i].data, rows: rows, rowLength: rowLength, group: m, keep: keep,
                              allowed: bounds[i], mask: g.mask.data)
            }
        case let .block(br, bc):
            // Block scores are means over the allowed entries, selected as whole blocks.
            let shapes = targets.map { t in (rows: t.weight.shape.first ?? 1, cols: t.weight.shape.dropFirst().reduce(1, *)) }
            let scores = try shapes.map { try Tensor.empty([blockCount(rows: $0.rows, cols: $0.cols, blockRows: br, blockCols: bc)]) }
            let chosen = scores.map { Tensor.empty(like: $0) }
            for (i, s) in scores.enumerated() {
                blockMeans(values: importance[i].data, rows: shapes[i].rows, cols: shapes[i].cols, blockRows: br, blockCols: bc,
                           allowed: bounds[i], into: s.data)
            }
            // The block count whose kept weights come nearest the target (edge blocks are smaller).
            func keepCount(_ scores: [Tensor], _ members: [Int], target: Double) throws -> Int {
                let all = try Tensor.empty([scores.reduce(0) { $0 + $1.count }])
                var offset = 0
                for s in scores { (all.data + offset).update(from: s.data, count: s.count); offset += s.count }
                let sizes = members.flatMap { i in
                    blockSizes(rows: shapes[i].rows, cols: shapes[i].cols, blockRows: br, blockCols: bc, allowed: bounds[i])
                }
                return Swift.max(1, blockKeepCount(sizes: sizes, order: blockOrder(scores: all.data, count: all.count),
                                                   targetWeights: Int(target.rounded())))
            }
            if scope == .global {
                let total = gates.reduce(0) { $0 + $1.mask.count }
                let k = try keepCount(scores, Array(gates.indices), target: overall * Double(total))
                topKMasks(values: scores.map { (UnsafePointer($0.data), $0.count) }, allowed: scores.map { _ in nil }, k: k,
                          masks: chosen.map { $0.data })
            } else {
                for (i, s) in scores.enumerated() {
                    let k = try keepCount([s], [i], target: keeps[i] * Double(gates[i].mask.count))
                    topKMasks(values: [(UnsafePointer(s.data), s.count)], allowed: [nil], k: k, masks: [chosen[i].data])
                }
            }
            for (i, g) in gates.enumerated() {
                expandBlockMask(chosen[i].data, rows: shapes[i].rows, cols: shapes[i].cols, blockRows: br, blockCols: bc,
                                allowed: bounds[i], into: g.mask.data)
            }
        }
    }

    /// round(keep · n), at least 1.
    static func count(_ keep: Double, of n: Int) -> Int { Swift.max(1, Int((keep * Double(n)).rounded())) }
}

// Shape ops: reshape, flatten, permute, transpose, slice, indexSelect, concat, stack, gatherLast,
// and the basic Tensor constructors and accessors.
import Testing
import TestSupport
@testable import Engine

@Suite struct ShapeTests {
    // MARK: Tensor basics

    @Test func constructorsAndAccessors() throws {
        let x = try Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        #expect(x.shape == [2, 3] && x.count == 6 && x.rank == 2)
        #expect(x.strides == [3, 1])
        #expect(x[1, 2] == 6 && x[0, 1] == 2)
        #expect(try Tensor.zeros([2, 3, 4]).strides == [12, 4, 1])
        #expect(Tensor(3).shape == [] && Tensor(3).item == 3 && Tensor(3).strides == [])
        #expect(try Tensor.ones([4]).array == [1, 1, 1, 1])
        #expect(try Tensor(shape: [2], repeating: 7).array == [7, 7])
        let e = try Tensor(shape: [0, 3], data: [])
        #expect(e.count == 0 && e.array.isEmpty)
        CoreRef.expectError("needs 6 values, got 5") { try Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5]) }
        CoreRef.expectError("[-1, -2]") { try Tensor(shape: [-1, -2], data: [1, 2]) }
    }

    @Test func copyDetachAssignFill() throws {
        let x = try Tensor(shape: [3], data: [1, 2, 3]).requiringGrad()
        let y = x * 2
        let c = y.copy(), d = y.detached()
        #expect(!c.isRecorded && !d.isRecorded && !c.requiresGrad && !d.requiresGrad)
        #expect(d.storage === y.storage && c.storage !== y.storage)
        c.fill(9)
        #expect(y.array == [2, 4, 6] && c.array == [9, 9, 9])
        try d.assign(try Tensor.zeros([3]))
        #expect(y.array == [0, 0, 0])
        CoreRef.expectError("cannot assign") { try d.assign(try Tensor.zeros([4])) }
    }

    // MARK: reshape and flatten

    @Test func reshapeSharesStorageAndInfers() throws {
        let x = try rand([2, 3, 4], seed: 1)
        for (spec, expected) in [([4, 6], [4, 6]), ([-1, 4], [6, 4]), ([24], [24]), ([2, -1, 2], [2, 6, 2]), ([1, 24, 1], [1, 24, 1]), ([-1], [24])] {
            let y = try x.reshaped(spec)
            #expect(y.shape == expected, "\(spec)")
            #expect(y.array == x.array)
            #expect(y.storage === x.storage)
        }
        #expect(try Tensor(5).reshaped([1, 1]).shape == [1, 1])
        #expect(try Tensor.zeros([1, 1]).reshaped([]).shape == [])
        try gradCheck([rand([2, 3, 4], seed: 2)], "reshape") { try $0[0].reshaped([4, -1]) }
        try gradCheck([rand([2, 3], seed: 2)], "reshape chain") { try $0[0].reshaped([6]).reshaped([3, 2]).square() }
    }

    @Test func reshapeCountMismatchThrows() throws {
        let x = try rand([2, 3, 4])
        CoreRef.expectError("cannot reshape") { try x.reshaped([5, 5]) }
        CoreRef.expectError("24 elements") { try x.reshaped([25]) }
        CoreRef.expectError("cannot infer") { try x.reshaped([-1, -1]) }
        CoreRef.expectError("cannot infer") { try x.reshaped([-1, 5]) }
        CoreRef.expectError("cannot infer") { try x.reshaped([0, -1]) }
        CoreRef.expectError("cannot reshape") { try x.reshaped([-2, -12]) }
    }

    @Test func flatten() throws {
        let x = try rand([2, 3, 4], seed: 3)
        #expect(try x.flattened().shape == [2, 12])
        #expect(try x.flattened(from: 0).shape == [24])
        #expect(try x.flattened(from: 2).shape == [2, 3, 4])
        #expect(try x.flattened(from: -2).shape == [2, 12])
        #expect(try x.flattened().array == x.array)
        try gradCheck([rand([2, 3, 4], seed: 4)], "flatten") { try $0[0].flattened() }
        CoreRef.expectError("out of range") { try x.flattened(from: 3) }
        CoreRef.expectError("out of range") { try x.flattened(from: -4) }
        #expect(try Tensor(3).flattened(from: 0).shape == [1])
        CoreRef.expectError("out of range") { try Tensor(3).flattened() }
    }

    // MARK: permute and transpose

    static let perms: [[Int]] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]

    @Test(arguments: perms)
    func permuteRank3(perm: [Int]) throws {
        let x = try rand([2, 3, 4], seed: 5)
        let y = try x.permuted(perm)
        let ref = CoreRef.permute(x.array, x.shape, perm)
        #expect(y.shape == ref.shape)
        #expect(y.array == ref.data)
        try gradCheck([rand([2, 3, 4], seed: 6)], "permute \(perm)") { try $0[0].permuted(perm) }
    }

    @Test func permuteOtherRanks() throws {
        let cases: [([Int], [Int])] = [
            ([2, 3, 4, 5], [3, 2, 1, 0]), ([2, 3, 4, 5], [0, 2, 3, 1]), ([2, 3, 4, 5], [1, 0, 3, 2]),
            ([2, 3, 4, 5], [0, 1, 2, 3]), ([3, 5], [1, 0]), ([37, 70], [1, 0]), ([65, 33], [1, 0]),
            ([7], [0]), ([1, 4, 1], [2, 1, 0]), ([0, 3], [1, 0]), ([2, 0, 3], [2, 0, 1]),
        ]
        for (shape, perm) in cases {
            let x = try rand(shape, seed: 7)
            let y = try x.permuted(perm)
            let ref = CoreRef.permute(x.array, shape, perm)
            #expect(y.shape == ref.shape, "\(shape) \(perm)")
            #expect(y.array == ref.data, "\(shape) \(perm)")
        }
        // A scalar has exactly one permutation, the empty one.
        let s = try Tensor(4).permuted([])
        #expect(s.shape == [] && s.item == 4)
        try gradCheck([rand([2, 3, 2, 2], seed: 8)], "permute rank 4") { try $0[0].permuted([2, 0, 3, 1]) }
        try gradCheck([rand([3, 5], seed: 8)], "permute 2-D") { try $0[0].permuted([1, 0]) }
    }

    @Test func badPermutationThrows() throws {
        let x = try rand([2, 3, 4])
        CoreRef.expectError("not a permutation") { try x.permuted([0, 1]) }
        CoreRef.expectError("not a permutation") { try x.permuted([0, 1, 1]) }
        CoreRef.expectError("not a permutation") { try x.permuted([0, 1, 3]) }
        CoreRef.expectError("not a permutation") { try x.permuted([-1, 0, 1]) }
        CoreRef.expectError("not a permutation") { try x.permuted([0, 1, 2, 3]) }
    }

    @Test func transpose() throws {
        let x = try rand([2, 3, 4], seed: 9)
        let t = try x.transposed()
        #expect(t.shape == [2, 4, 3])
        #expect(t.array == CoreRef.permute(x.array, x.shape, [0, 2, 1]).data)
        #expect(try x.transposed(0, 2).array == CoreRef.permute(x.array, x.shape, [2, 1, 0]).data)
        #expect(try x.transposed(0, -1).shape == [4, 3, 2])
        #expect(try x.transposed(1, 1).array == x.array)
        let m = try rand([3, 5], seed: 10)
        #expect(try m.transposed().array == CoreRef.permute(m.array, m.shape, [1, 0]).data)
        try gradCheck([rand([2, 3, 4], seed: 11)], "transpose") { try $0[0].transposed(0, 2) }
        CoreRef.expectError("at least 2 dimensions") { try Tensor.zeros([3]).transposed() }
        CoreRef.expectError("out of range") { try x.transposed(0, 3) }
    }

    // MARK: slice and indexSelect

    struct SliceCase: Sendable, CustomTestStringConvertible {
        let shape: [Int], axis: Int, start: Int, end: Int, step: Int
        var testDescription: String { "\(shape) axis \(axis) \(start)..<\(end) step \(step)" }
    }

    static let sliceCases: [SliceCase] = [
        .init(shape: [4, 7], axis: 1, start: 1, end: 7, step: 2), .init(shape: [4, 7], axis: 0, start: 0, end: 4, step: 3),
        .init(shape: [4, 7], axis: -1, start: 2, end: 5, step: 1), .init(shape: [2, 5, 3], axis: 1, start: 1, end: 5, step: 3),
        .init(shape: [2, 5, 3], axis: 2, start: 0, end: 3, step: 1), .init(shape: [6], axis: 0, start: 5, end: 6, step: 4),
        .init(shape: [2, 5, 3], axis: 0, start: 1, end: 2, step: 1),
    ]

    @Test(arguments: sliceCases)
    func slice(c: SliceCase) throws {
        let x = try rand(c.shape, seed: 12)
        let y = try x.sliced(axis: c.axis, start: c.start, end: c.end, step: c.step)
        let ax = c.axis < 0 ? c.axis + c.shape.count : c.axis
        let ref = CoreRef.select(x.array, x.shape, axis: ax, Array(stride(from: c.start, to: c.end, by: c.step)))
        #expect(y.shape == ref.shape)
        #expect(y.array == ref.data)
        try gradCheck([rand(c.shape, seed: 13)], c.testDescription) {
            try $0[0].sliced(axis: c.axis, start: c.start, end: c.end, step: c.step)
        }
    }

    @Test func emptySlice() throws {
        #expect(try rand([4, 7]).sliced(axis: 1, start: 3, end: 3).shape == [4, 0])
    }

    @Test func sliceOutOfRangeThrows() throws {
        let x = try rand([4, 7])
        CoreRef.expectError("out of bounds") { try x.sliced(axis: 1, start: 0, end: 8) }
        CoreRef.expectError("out of bounds") { try x.sliced(axis: 1, start: 5, end: 3) }
        CoreRef.expectError("out of bounds") { try x.sliced(axis: 0, start: -1, end: 2) }
        CoreRef.expectError("out of bounds") { try x.sliced(axis: 0, start: 0, end: 2, step: 0) }
        CoreRef.expectError("out of range") { try x.sliced(axis: 2, start: 0, end: 1) }
    }

    @Test func indexSelectForwardAndGradient() throws {
        let cases: [([Int], Int, [Int])] = [
            ([4, 3], 0, [3, 0, 3, 1, 3]), ([2, 4, 3], 1, [1, 1, 2]), ([2, 4, 3], -1, [2, 0]),
            ([5], 0, [4, 4, 0]), ([2, 4, 3], 0, [1]),
        ]
        for (shape, axis, idx) in cases {
            let x = try rand(shape, seed: 14)
            let y = try x.indexSelect(axis: axis, idx)
            let ref = CoreRef.select(x.array, shape, axis: axis < 0 ? axis + shape.count : axis, idx)
            #expect(y.shape == ref.shape, "\(shape) \(axis) \(idx)")
            #expect(y.array == ref.data, "\(shape) \(axis) \(idx)")
            try gradCheck([rand(shape, seed: 15)], "indexSelect \(shape) \(axis) \(idx)") { try $0[0].indexSelect(axis: axis, idx) }
        }
        #expect(try rand([4, 3]).indexSelect(axis: 0, []).shape == [0, 3])
    }

    @Test func indexSelectRepeatedIndicesAddGradients() throws {
        let x = try rand([4, 2], seed: 16).requiringGrad()
        try x.indexSelect(axis: 0, [3, 0, 3, 1, 3]).sum().backward()
        #expect(x.grad?.array == [1, 1, 1, 1, 0, 0, 3, 3])
    }

    @Test func indexOutOfRangeThrows() throws {
        let x = try rand([4, 3])
        CoreRef.expectError("index 4 is out of bounds") { try x.indexSelect(axis: 0, [0, 4]) }
        CoreRef.expectError("index -1 is out of bounds") { try x.indexSelect(axis: 1, [-1]) }
        CoreRef.expectError("out of range") { try x.indexSelect(axis: 2, [0]) }
    }

    // MARK: concat and stack

    /// Concatenation written as "which part and where in it" for every output element.
    static func concatReference(_ parts: [Tensor], axis ax: Int) -> (shape: [Int], data: [Float]) {
        var shape = parts[0].shape
        shape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let data = (0..<CoreRef.count(shape)).map { o -> Float in
            var idx = CoreRef.unravel(o, shape)
            var p = 0
            while idx[ax] >= parts[p].shape[ax] { idx[ax] -= parts[p].shape[ax]; p += 1 }
            return parts[p].array[CoreRef.ravel(idx, parts[p].shape)]
        }
        return (shape, data)
    }

    @Test func concatForwardAndGradient() throws {
        let cases: [([[Int]], Int)] = [
            ([[2, 3], [4, 3]], 0), ([[2, 1, 4], [2, 3, 4], [2, 2, 4]], 1), ([[2, 3], [2, 5]], -1),
            ([[3, 2]], 0), ([[2, 2, 1], [2, 2, 3]], 2), ([[1], [2], [3]], 0), ([[2, 0], [2, 3], [2, 1]], 1),
        ]
        for (shapes, axis) in cases {
            let parts = try shapes.enumerated().map { try rand($0.element, seed: UInt64(20 + $0.offset)) }
            let y = try Tensor.concat(parts, axis: axis)
            let ref = Self.concatReference(parts, axis: axis < 0 ? axis + shapes[0].count : axis)
            #expect(y.shape == ref.shape, "\(shapes) \(axis)")
            #expect(y.array == ref.data, "\(shapes) \(axis)")
            try gradCheck(shapes.enumerated().map { try rand($0.element, seed: UInt64(30 + $0.offset)) }, "concat \(shapes) \(axis)") {
                try Tensor.concat($0, axis: axis)
            }
        }
    }

    @Test func concatOfTheSameTensorTwiceSumsGradients() throws {
        let x = try rand([2, 3], seed: 40).requiringGrad()
        try Tensor.concat([x, x, x], axis: 1).sum().backward()
        #expect(x.grad?.array == [Float](repeating: 3, count: 6))
    }

    @Test func concatErrors() {
        CoreRef.expectError("differ outside axis") { try Tensor.concat([try Tensor.zeros([2, 3]), try Tensor.zeros([3, 3])], axis: 1) }
        CoreRef.expectError("differ outside axis") { try Tensor.concat([try Tensor.zeros([2, 3]), try Tensor.zeros([2, 3, 1])], axis: 0) }
        CoreRef.expectError("at least one") { try Tensor.concat([], axis: 0) }
        CoreRef.expectError("out of range") { try Tensor.concat([try Tensor.zeros([2, 3])], axis: 2) }
    }

    @Test func stack() throws {
        let parts = try (0..<3).map { try rand([2, 3], seed: UInt64(50 + $0)) }
        let y = try Tensor.stack(parts)
        #expect(y.shape == [3, 2, 3])
        #expect(y.array == parts.flatMap(\.array))
        #expect(try Tensor.stack([Tensor(1), Tensor(2)]).array == [1, 2])
        try gradCheck((0..<3).map { try rand([2, 3], seed: UInt64(60 + $0)) }, "stack") { try Tensor.stack($0) }
    }

    @Test func stackErrors() {
        CoreRef.expectError("at least one") { try Tensor.stack([]) }
        // Same element count, different shape: must not be silently reinterpreted.
        CoreRef.expectError("[3, 2]") { try Tensor.stack([try Tensor.zeros([2, 3]), try Tensor.zeros([3, 2])]) }
        CoreRef.expectError("stack") { try Tensor.stack([try Tensor.zeros([2, 3]), try Tensor.zeros([4])]) }
    }

    // MARK: gatherLast

    @Test func gatherLastForwardAndGradient() throws {
        let cases: [([Int], [Int])] = [([4, 5], [0, 4, 2, 2]), ([2, 3, 4], [3, 0, 1, 1, 2, 3]), ([5], [3])]
        for (shape, index) in cases {
            let x = try rand(shape, seed: 70)
            let y = try x.gatherLast(index)
            let c = shape.last!
            #expect(y.shape == Array(shape.dropLast()))
            #expect(y.array == index.enumerated().map { x.array[$0.offset * c + $0.element] })
            try gradCheck([rand(shape, seed: 71)], "gatherLast \(shape)") { try $0[0].gatherLast(index) }
        }
        let x = try rand([3, 4], seed: 72).requiringGrad()
        try x.gatherLast([1, 1, 3]).sum().backward()
        #expect(x.grad?.array == [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    }

    @Test func gatherLastErrors() throws {
        let x = try rand([3, 4])
        CoreRef.expectError("3 rows") { try x.gatherLast([0, 1]) }
        CoreRef.expectError("index 4 is out of bounds") { try x.gatherLast([0, 4, 1]) }
        CoreRef.expectError("index -1 is out of bounds") { try x.gatherLast([0, -1, 1]) }
        CoreRef.expectError("at least 1 dimension") { try Tensor(1).gatherLast([0]) }
    }
}

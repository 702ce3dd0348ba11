// One size check guards every allocation from a shape (issue 25): constructors and the output
// of every op go through TensorSize.elements, which rejects negative dimensions, products that
// overflow and totals past the limit, before any memory is taken. A zero in a shape does not
// hide the product of the other dimensions.
import Testing
import TestSupport
@testable import Engine

@Suite struct TensorSizeTests {
    @Test func theCheckItself() throws {
        #expect(try TensorSize.elements([2, 3]) == 6)
        #expect(try TensorSize.elements([]) == 1)
        #expect(try TensorSize.elements([0, 5]) == 0)
        CoreRef.expectError("too large") { try TensorSize.elements([100_000, 100_000]) }
        CoreRef.expectError("too large") { try TensorSize.elements([0, 100_000, 100_000]) }
        CoreRef.expectError("too large") { try TensorSize.elements([0, 100_000_000_000_000, 100_000_000_000_000]) }
        CoreRef.expectError("too large") { try TensorSize.elements([Int.max, 2]) }
        CoreRef.expectError("≥ 0") { try TensorSize.elements([2, -3]) }
    }

    @Test func constructorsCheck() {
        CoreRef.expectError("too large") { try Tensor.zeros([100_000, 100_000]) }
        CoreRef.expectError("too large") { try Tensor.empty([0, 100_000, 100_000]) }
        CoreRef.expectError("too large") { try Tensor(shape: [1 << 40], repeating: 1) }
        CoreRef.expectError("too large") { try Tensor.randn([1 << 20, 1 << 20], rng: RNG(seed: 0)) }
        CoreRef.expectError("too large") { try Tensor.uniform([1 << 62, 4], rng: RNG(seed: 0)) }
    }

    @Test func operationOutputsCheck() throws {
        let column = try Tensor.zeros([100_000, 1]), row = try Tensor.zeros([1, 100_000])
        CoreRef.expectError("too large") { try column + row }
        CoreRef.expectError("too large") { try column - row }
        CoreRef.expectError("too large") { try column * row }
        CoreRef.expectError("too large") { try column.gt(row) }
        CoreRef.expectError("too large") { try column.matmul(row) }
        CoreRef.expectError("too large") { try Tensor.`where`(column, column, row) }
        let tall = try Tensor.zeros([100_000, 0]), wide = try Tensor.zeros([0, 100_000])
        CoreRef.expectError("too large") { try tall.matmul(wide) }
        let flat = try Tensor.zeros([0, 40_000])
        CoreRef.expectError("too large") { try flat.transposed().matmul(flat) }
        let parts = try (0..<3).map { _ in try Tensor.zeros([0, 1 << 29]) }
        CoreRef.expectError("too large") { try Tensor.concat(parts, axis: 1) }
        CoreRef.expectError("too large") { try Tensor.stack(parts) }
    }

    @Test func randomFillsStopWhenAsked() {
        var polls = 0
        #expect(throws: EngineError.self) {
            _ = try Tensor.randn([1 << 22], rng: RNG(seed: 0), shouldStop: { polls += 1; return polls > 2 })
        }
        #expect(polls == 3, "the fill checks in chunks and stops at the first request")
        #expect(throws: EngineError.self) { _ = try Tensor.uniform([1 << 22], rng: RNG(seed: 0), shouldStop: { true }) }
    }
}

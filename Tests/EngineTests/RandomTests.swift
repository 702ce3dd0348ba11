// Seeded random numbers and initialisers: reproducibility, ranges, and the moments of the
// Kaiming and Xavier distributions.
import Testing
@testable import Engine

@Suite struct RandomTests {
    static func moments(_ v: [Float]) -> (mean: Double, std: Double) {
        let n = Double(v.count)
        let mean = v.reduce(0.0) { $0 + Double($1) } / n
        let variance = v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        return (mean, variance.squareRoot())
    }

    enum Initialiser: String, CaseIterable, Sendable {
        case uniform, randn, kaimingUniform, kaimingNormal, xavierUniform, xavierNormal

        func make(_ shape: [Int], _ rng: RNG) throws -> Tensor {
            switch self {
            case .uniform: try Tensor.uniform(shape, low: -2, high: 3, rng: rng)
            case .randn: try Tensor.randn(shape, mean: 1, std: 2, rng: rng)
            case .kaimingUniform: try Tensor.kaimingUniform(shape, rng: rng)
            case .kaimingNormal: try Tensor.kaimingNormal(shape, rng: rng)
            case .xavierUniform: try Tensor.xavierUniform(shape, rng: rng)
            case .xavierNormal: try Tensor.xavierNormal(shape, rng: rng)
            }
        }
    }

    @Test(arguments: Initialiser.allCases)
    func sameSeedSameTensorDifferentSeedDifferent(initialiser: Initialiser) throws {
        let a = try initialiser.make([16, 8], RNG(seed: 42)), b = try initialiser.make([16, 8], RNG(seed: 42))
        let c = try initialiser.make([16, 8], RNG(seed: 43))
        #expect(a.array == b.array)
        #expect(a.array != c.array)
        // Nearly every element differs, not just one.
        #expect(zip(a.array, c.array).filter { $0 == $1 }.count < 4)
    }

    @Test func streamIsReproducibleAndReseedable() throws {
        let r = RNG(seed: 7)
        let first = (0..<100).map { _ in r.next() }
        let s = RNG(seed: 7)
        #expect((0..<100).map { _ in s.next() } == first)
        r.reseed(7)
        #expect((0..<100).map { _ in r.next() } == first)
        #expect(Set(first).count == 100)
        #expect((0..<100).map { _ in RNG(seed: 8).next() }.first != first.first)
        // Seed 0 is a seed like any other (SplitMix avoids the all-zero xoshiro state).
        let z = RNG(seed: 0)
        #expect(Set((0..<10).map { _ in z.next() }).count == 10)
    }

    @Test func fillUniformIsTheSameStreamAsUniform() {
        let a = RNG(seed: 77), b = RNG(seed: 77)
        var filled = [Float](repeating: 0, count: 1_003)
        filled.withUnsafeMutableBufferPointer { a.fillUniform($0.baseAddress!, count: 1_003, low: 1e-4, span: 1 - 2e-4) }
        let called = (0..<1_003).map { _ in 1e-4 + (1 - 2e-4) * b.uniform() }
        #expect(filled == called, "bit for bit, in order")
        #expect(a.next() == b.next(), "and the generator is left in the same state")
    }

    @Test func uniformScalarsInRange() throws {
        let r = RNG(seed: 1)
        var buckets = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 {
            let u = r.uniform(), d = r.uniformDouble()
            #expect(u >= 0 && u < 1)
            #expect(d >= 0 && d < 1)
            buckets[Int(u * 10)] += 1
        }
        // 10⁴ expected per bucket, σ ≈ 95.
        #expect(buckets.allSatisfy { Swift.abs($0 - 10_000) < 500 }, "\(buckets)")
    }

    @Test func uniformTensorInRangeWithTheRightMoments() throws {
        let t = try Tensor.uniform([200, 100], low: -2, high: 3, rng: RNG(seed: 2))
        #expect(t.shape == [200, 100])
        #expect(t.array.allSatisfy { $0 >= -2 && $0 < 3 })
        let (mean, std) = Self.moments(t.array)
        #expect(Swift.abs(mean - 0.5) < 0.03)
        #expect(Swift.abs(std - 5 / 12.0.squareRoot()) < 0.03)
        // The ends of the range are reached.
        #expect(t.array.min()! < -1.99 && t.array.max()! > 2.99)
    }

    @Test func normalMoments() throws {
        let t = try Tensor.randn([20_000], mean: 1, std: 2, rng: RNG(seed: 3))
        let (mean, std) = Self.moments(t.array)
        #expect(Swift.abs(mean - 1) < 0.05)
        #expect(Swift.abs(std - 2) < 0.05)
        // Roughly 68% within one standard deviation, a few beyond three, none absurdly far.
        let within = t.array.filter { Swift.abs($0 - 1) < 2 }.count
        #expect(Swift.abs(Double(within) / 20_000 - 0.6827) < 0.015)
        #expect(t.array.allSatisfy { $0.isFinite && Swift.abs($0 - 1) < 2 * 6.5 })
        let r = RNG(seed: 4)
        let v = (0..<20_000).map { _ in r.normal() }
        let (m2, s2) = Self.moments(v)
        #expect(Swift.abs(m2) < 0.03 && Swift.abs(s2 - 1) < 0.03)
    }

    @Test func fans() throws {
        #expect(Tensor.fans([64, 128]) == (128, 64))
        #expect(Tensor.fans([16, 8, 3, 3]) == (72, 144))
        #expect(Tensor.fans([10, 4, 5]) == (20, 50))
        #expect(Tensor.fans([7]) == (7, 7))
    }

    @Test(arguments: [[256, 128], [64, 8, 3, 3]])
    func kaimingAndXavierBoundsAndStd(shape: [Int]) throws {
        let (fanIn, fanOut) = Tensor.fans(shape)
        let rng = RNG(seed: 5)

        let kb = (6 / Float(fanIn)).squareRoot()  // √2·√(3/fan_in)
        let ku = try Tensor.kaimingUniform(shape, rng: rng)
        #expect(ku.shape == shape)
        #expect(ku.array.allSatisfy { Swift.abs($0) <= kb })
        #expect(ku.array.map { Swift.abs($0) }.max()! > 0.99 * kb)
        let kuStd = Self.moments(ku.array).std
        #expect(Swift.abs(kuStd / (Double(kb) / 3.0.squareRoot()) - 1) < 0.03)

        let kn = try Tensor.kaimingNormal(shape, rng: rng)
        let (knMean, knStd) = Self.moments(kn.array)
        #expect(Swift.abs(knStd / (2 / Double(fanIn)).squareRoot() - 1) < 0.03)
        #expect(Swift.abs(knMean) < 0.05 * knStd)

        let xb = (6 / Float(fanIn + fanOut)).squareRoot()
        let xu = try Tensor.xavierUniform(shape, rng: rng)
        #expect(xu.array.allSatisfy { Swift.abs($0) <= xb })
        #expect(xu.array.map { Swift.abs($0) }.max()! > 0.99 * xb)
        #expect(Swift.abs(Self.moments(xu.array).std / (Double(xb) / 3.0.squareRoot()) - 1) < 0.03)

        let xn = try Tensor.xavierNormal(shape, rng: rng)
        #expect(Swift.abs(Self.moments(xn.array).std / (2 / Double(fanIn + fanOut)).squareRoot() - 1) < 0.03)

        // The gain scales the bound.
        let half = try Tensor.kaimingUniform(shape, rng: rng, gain: Float(2).squareRoot() / 2)
        #expect(half.array.allSatisfy { Swift.abs($0) <= kb / 2 })
        let xg = try Tensor.xavierUniform(shape, rng: rng, gain: 2)
        #expect(xg.array.allSatisfy { Swift.abs($0) <= 2 * xb })
        #expect(xg.array.map { Swift.abs($0) }.max()! > 0.99 * 2 * xb)
    }

    @Test(arguments: [0, 1, 2, 10, 1000])
    func permutationIsAPermutation(n: Int) {
        let p = RNG(seed: 6).permutation(n)
        #expect(p.count == n)
        #expect(p.sorted() == Array(0..<n))
        #expect(RNG(seed: 6).permutation(n) == p)
        if n >= 10 {
            #expect(p != Array(0..<n))
            #expect(RNG(seed: 7).permutation(n) != p)
        }
    }

    @Test func permutationIsRoughlyUniform() {
        // Where element 0 lands over many shuffles of 5: each position about 1/5 of the time.
        let r = RNG(seed: 8)
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<20_000 { counts[r.permutation(5).firstIndex(of: 0)!] += 1 }
        #expect(counts.allSatisfy { Swift.abs($0 - 4000) < 300 }, "\(counts)")
    }

    @Test func intBelow() {
        let r = RNG(seed: 9)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let v = r.int(below: 7)
            #expect(v >= 0 && v < 7)
            seen.insert(v)
        }
        #expect(seen.count == 7)
        #expect(r.int(below: 1) == 0 && r.int(below: 0) == 0)
    }
}

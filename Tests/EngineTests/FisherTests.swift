// Second-order pruning kernels: the Woodbury-built block inverse against dense Gauss–Jordan, OBS
// removals on hand-checked quadratics (one weight, two jointly, with frozen entries), OBD against
// OBS on correlated weights, and degenerate sizes.
import Testing
import Kernels

/// Deterministic floats in [−1, 1) (SplitMix64).
private func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 23) - 1
    }
}

/// Calls `body` with a pointer to `a`'s elements, valid (pointing at one spare zero) when `a` is empty.
private func withPointer<T>(_ a: [Float], _ body: (UnsafePointer<Float>) -> T) -> T {
    (a.isEmpty ? [0] : a).withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func fisherInverse(_ g: [Float], m: Int, d: Int, b: Int, lambda: Double) -> BlockFisherInverse {
    withPointer(g) { BlockFisherInverse(gradients: $0, count: m, dimension: d, blockSize: b, lambda: lambda) }
}

private func reference(_ g: [Float], m: Int, d: Int, b: Int, lambda: Double) -> [[Double]?] {
    withPointer(g) { referenceFisherInverse(gradients: $0, count: m, dimension: d, blockSize: b, lambda: lambda) }
}

/// max |a − r| / max |r| over the entries.
private func relativeError(_ a: [Float], _ r: [Double]) -> Double {
    guard a.count == r.count, !r.isEmpty else { return .infinity }
    let scale = r.map(abs).max()!
    return zip(a, r).map { abs(Double($0) - $1) }.max()! / scale
}

private func diagonal(_ f: BlockFisherInverse) -> [Float] {
    var out = [Float](repeating: .nan, count: f.dimension)
    out.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { f.diagonal(into: p) } }
    return out
}

private func saliency(_ f: BlockFisherInverse, _ w: [Float]) -> [Float] {
    var out = [Float](repeating: .nan, count: w.count)
    withPointer(w) { wp in out.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { f.saliency(weights: wp, into: p) } } }
    return out
}

/// The weights after `prune`, and what it returned.
private func pruned(_ f: BlockFisherInverse, _ w: [Float], remove: [Int], frozen: [Int] = [], joint: Bool) -> ([Float], Bool) {
    var w = w
    var r = [Float](repeating: 0, count: w.count)
    for q in remove { r[q] = 1 }
    var z = [Float](repeating: 1, count: w.count)
    for q in frozen { z[q] = 0 }
    let ok = w.withUnsafeMutableBufferPointer { wp in
        withPointer(r) { rp in withPointer(z) { zp in f.prune(weights: wp.baseAddress!, remove: rp, frozen: frozen.isEmpty ? nil : zp, joint: joint) } }
    }
    return (w, ok)
}

private func obdDiagonal(_ g: [Float], m: Int, d: Int, lambda: Double) -> [Float] {
    var out = [Float](repeating: .nan, count: d)
    withPointer(g) { gp in out.withUnsafeMutableBufferPointer { if let p = $0.baseAddress {
        diagonalFisher(gradients: gp, count: m, dimension: d, lambda: lambda, into: p) } } }
    return out
}

/// The damped Fisher λI + (1/m)GᵀG, dense, in Double.
private func denseFisher(_ g: [Float], m: Int, d: Int, lambda: Double) -> [Double] {
    var h = [Double](repeating: 0, count: d * d)
    for r in 0..<d {
        for c in 0..<d {
            var s = 0.0
            for i in 0..<m { s += Double(g[i * d + r]) * Double(g[i * d + c]) }
            h[r * d + c] = (r == c ? lambda : 0) + s / Double(m)
        }
    }
    return h
}

/// L(w) = ½ (w − w*)ᵀ H (w − w*).
private func loss(_ w: [Float], _ wStar: [Double], _ h: [Double]) -> Double {
    let n = wStar.count
    let e = (0..<n).map { Double(w[$0]) - wStar[$0] }
    var s = 0.0
    for r in 0..<n { for c in 0..<n { s += e[r] * h[r * n + c] * e[c] } }
    return s / 2
}

/// ∇L(w) = H (w − w*).
private func gradient(_ w: [Float], _ wStar: [Double], _ h: [Double]) -> [Double] {
    let n = wStar.count
    return (0..<n).map { r in (0..<n).reduce(0.0) { $0 + h[r * n + $1] * (Double(w[$1]) - wStar[$1]) } }
}

/// The minimiser of ½ δᵀHδ with δ_S = target_S: δ_f = −H_ff⁻¹ H_fS target_S on the rest f, by
/// partitioning (not the F⁻¹ formula the kernel uses). Returns the full δ.
private func constrainedStep(_ h: [Double], n: Int, fixed: [Int], target: [Double]) -> [Double] {
    let free = (0..<n).filter { !fixed.contains($0) }
    var hff = [Double](repeating: 0, count: free.count * free.count)
    for (a, i) in free.enumerated() { for (b, j) in free.enumerated() { hff[a * free.count + b] = h[i * n + j] } }
    let inv = referenceInverse(hff, n: free.count)!
    let rhs = free.map { i in zip(fixed, target).reduce(0.0) { $0 + h[i * n + $1.0] * $1.1 } }
    var delta = [Double](repeating: 0, count: n)
    for (s, t) in zip(fixed, target) { delta[s] = t }
    for (a, i) in free.enumerated() { delta[i] = -(0..<free.count).reduce(0.0) { $0 + inv[a * free.count + $1] * rhs[$1] } }
    return delta
}

@Suite struct FisherTests {
    // MARK: 1. The Woodbury build against the dense inverse

    @Test(arguments: [(7, 1e-2), (7, 1e-4), (30, 1e-4)])
    func woodburyMatchesDenseInverse(m: Int, lambda: Double) {
        let d = 12
        let g = randomFloats(m * d, seed: UInt64(m) &* 31 &+ UInt64(lambda * 1e6))
        for b in [1, 5, 12] {
            let f = fisherInverse(g, m: m, d: d, b: b, lambda: lambda)
            let ref = reference(g, m: m, d: d, b: b, lambda: lambda)
            #expect(f.blockCount == ref.count, "m \(m) λ \(lambda) b \(b)")
            // Blocks of 5 over 12 weights: 5, 5 and a short last block of 2.
            if b == 5 { #expect((0..<f.blockCount).map { f.blockRange($0).count } == [5, 5, 2]) }
            var refDiagonal: [Double] = []
            for k in 0..<f.blockCount {
                let n = f.blockRange(k).count
                let r = ref[k]!
                let err = relativeError(f.block(k), r)
                #expect(err < 1e-4, "m \(m) λ \(lambda) b \(b) block \(k): relative error \(err)")
                refDiagonal += (0..<n).map { r[$0 * n + $0] }
            }
            #expect(relativeError(diagonal(f), refDiagonal) < 1e-4, "diagonal, m \(m) λ \(lambda) b \(b)")
        }
        // The blocks are not (1/λ)I: the gradients moved them far from it (so the check above can fail).
        let whole = reference(g, m: m, d: d, b: d, lambda: lambda)[0]!
        #expect(abs(whole[0] - 1 / lambda) > 0.1 * abs(whole[0]) || abs(whole[1]) > 1e-3 * abs(whole[0]))
    }

    @Test func largeBuildIsTheSameOnOneAndTwoThreads() {
        // 47 blocks of 64 (the last of 56), enough work to be split into tasks.
        let m = 40, d = 3000, b = 64
        let g = randomFloats(m * d, seed: 5)
        let one = Parallel.withThreads(1) { fisherInverse(g, m: m, d: d, b: b, lambda: 1e-3) }
        let two = Parallel.withThreads(2) { fisherInverse(g, m: m, d: d, b: b, lambda: 1e-3) }
        #expect(one.blockCount == 47 && one.blockRange(46).count == 56)
        for k in 0..<one.blockCount where one.block(k).map(\.bitPattern) != two.block(k).map(\.bitPattern) {
            Issue.record("block \(k) differs between one thread and two")
        }
        // The first and the short last block against the dense reference.
        let ref = reference(g, m: m, d: d, b: b, lambda: 1e-3)
        for k in [0, 46] { #expect(relativeError(one.block(k), ref[k]!) < 1e-4, "block \(k)") }
        // Pruning is also split over blocks: the same on any number of threads.
        let w = randomFloats(d, seed: 6)
        let remove = (0..<d).filter { $0 % 3 == 0 }
        for joint in [false, true] {
            let (a, okA) = Parallel.withThreads(1) { pruned(one, w, remove: remove, joint: joint) }
            let (c, okC) = Parallel.withThreads(2) { pruned(one, w, remove: remove, joint: joint) }
            #expect(okA && okC && a.map(\.bitPattern) == c.map(\.bitPattern), "joint \(joint)")
        }
    }

    // MARK: 2. OBS on a hand-checked 3×3 quadratic

    // λ = 1, m = 2, G = [[2, 0, 2], [0, 2, 2]]: H = I + GᵀG/2 = [[3, 0, 2], [0, 3, 2], [2, 2, 5]],
    // det H = 21, H⁻¹ = [[11, 4, −6], [4, 11, −6], [−6, −6, 9]] / 21 (cofactors by hand; H·H⁻¹ = I
    // checked row by row). With w* = (1, −2, 0.5), removing q from w = w* gives
    // w* − (w*_q/[H⁻¹]_qq) H⁻¹e_q and ρ_q = w*_q²/(2[H⁻¹]_qq):
    //   q = 0: (0, −26/11, 23/22), ρ = 21/22;  q = 1: (19/11, 0, −13/22), ρ = 42/11;
    //   q = 2: (4/3, −5/3, 0), ρ = 7/24.
    static let g3: [Float] = [2, 0, 2, 0, 2, 2]
    static let h3: [Double] = [3, 0, 2, 0, 3, 2, 2, 2, 5]
    static let hInverse3: [Double] = [11, 4, -6, 4, 11, -6, -6, -6, 9].map { $0 / 21 }
    static let wStar3: [Double] = [1, -2, 0.5]

    @Test func obsRemovesOneWeightOptimally() {
        let f = fisherInverse(Self.g3, m: 2, d: 3, b: 3, lambda: 1)
        #expect(denseFisher(Self.g3, m: 2, d: 3, lambda: 1) == Self.h3)
        #expect(relativeError(f.block(0), Self.hInverse3) < 1e-6)
        let expected: [[Double]] = [[0, -26.0 / 11, 23.0 / 22], [19.0 / 11, 0, -13.0 / 22], [4.0 / 3, -5.0 / 3, 0]]
        let rho: [Double] = [21.0 / 22, 42.0 / 11, 7.0 / 24]
        let w = Self.wStar3.map(Float.init)
        let s = saliency(f, w)
        for q in 0..<3 {
            #expect(abs(Double(s[q]) - rho[q]) < 1e-5 * rho[q], "ρ_\(q) = \(s[q]), expected \(rho[q])")
            for joint in [false, true] {
                let (after, ok) = pruned(f, w, remove: [q], joint: joint)
                #expect(ok)
                #expect(after[q].bitPattern == Float(0).bitPattern, "w_\(q) is \(after[q]), not +0.0")
                for j in 0..<3 {
                    #expect(abs(Double(after[j]) - expected[q][j]) < 1e-5, "q \(q) joint \(joint): w_\(j) = \(after[j]), expected \(expected[q][j])")
                }
                // The loss rises by exactly ρ_q ...
                let rise = loss(after, Self.wStar3, Self.h3)
                #expect(abs(rise - rho[q]) < 1e-5 * rho[q], "q \(q): loss rose by \(rise), ρ = \(rho[q])")
                // ... which is the minimum over w_q = 0: the constrained minimiser by partitioning,
                // and the gradient there is normal to the constraint (parallel to e_q).
                let step = constrainedStep(Self.h3, n: 3, fixed: [q], target: [-Self.wStar3[q]])
                for j in 0..<3 { #expect(abs(Double(after[j]) - (Self.wStar3[j] + step[j])) < 1e-5) }
                let grad = gradient(after, Self.wStar3, Self.h3)
                for j in 0..<3 where j != q { #expect(abs(grad[j]) < 1e-5, "q \(q): ∂L/∂w_\(j) = \(grad[j])") }
                #expect(abs(grad[q]) > 0.1)
            }
        }
    }

    // MARK: 3. Joint removal of two weights on a 4×4 quadratic

    // λ = 0.5, m = 3, G = [[1, 1, 0, 2], [0, 1, 1, 1], [1, 0, 1, 1]]: H = 0.5I + GᵀG/3 with
    // H_03 = H_13 = 1 (weight 3 coupled to 0 and 1). Remove {0, 3} from w*: each single-weight
    // update counts on the other to compensate, so their sum overshoots (by 14% here, numpy).
    static let g4: [Float] = [1, 1, 0, 2, 0, 1, 1, 1, 1, 0, 1, 1]
    static let wStar4: [Double] = [0.8, -0.6, 1.2, 0.4]

    @Test func jointRemovalIsTheConstrainedMinimum() {
        let h = denseFisher(Self.g4, m: 3, d: 4, lambda: 0.5)
        #expect(abs(h[3] - 1) < 1e-12 && abs(h[15] - 2.5) < 1e-12)  // H_03 = 3/3, H_33 = 0.5 + 6/3 (columns 0 and 3 of G: (1, 0, 1), (2, 1, 1))
        let f = fisherInverse(Self.g4, m: 3, d: 4, b: 4, lambda: 0.5)
        let w = Self.wStar4.map(Float.init)
        let (joint, ok) = pruned(f, w, remove: [0, 3], joint: true)
        let (independent, _) = pruned(f, w, remove: [0, 3], joint: false)
        #expect(ok)
        for q in [0, 3] { #expect(joint[q].bitPattern == 0 && independent[q].bitPattern == 0) }
        let step = constrainedStep(h, n: 4, fixed: [0, 3], target: [-0.8, -0.4])
        for j in 0..<4 { #expect(abs(Double(joint[j]) - (Self.wStar4[j] + step[j])) < 1e-5, "w_\(j) = \(joint[j])") }
        let grad = gradient(joint, Self.wStar4, h)
        #expect(abs(grad[1]) < 1e-5 && abs(grad[2]) < 1e-5)
        // The rise is ½ w_Rᵀ ([H⁻¹]_RR)⁻¹ w_R, and the independent sum does worse.
        let hi = referenceInverse(h, n: 4)!
        let a = hi[0], b = hi[3], c = hi[15], det = a * c - b * b
        let x0 = 0.8, x3 = 0.4
        let expectedRise = (c * x0 * x0 - 2 * b * x0 * x3 + a * x3 * x3) / det / 2
        let jointRise = loss(joint, Self.wStar4, h), independentRise = loss(independent, Self.wStar4, h)
        #expect(abs(jointRise - expectedRise) < 1e-5 * expectedRise)
        #expect(independentRise > 1.1 * jointRise, "independent \(independentRise), joint \(jointRise)")
        // The independent update is the sum of the two single-weight updates.
        let (only0, _) = pruned(f, w, remove: [0], joint: false), (only3, _) = pruned(f, w, remove: [3], joint: false)
        for j in [1, 2] { #expect(abs(independent[j] - (only0[j] + only3[j] - w[j])) < 1e-5) }
    }

    @Test func frozenEntriesStayAndJointKeepsThemAtZero() {
        let h = denseFisher(Self.g4, m: 3, d: 4, lambda: 0.5)
        let f = fisherInverse(Self.g4, m: 3, d: 4, b: 4, lambda: 0.5)
        var w = Self.wStar4.map(Float.init)
        w[1] = 0  // already pruned
        let (joint, ok) = pruned(f, w, remove: [0], frozen: [1], joint: true)
        #expect(ok)
        #expect(joint[0].bitPattern == 0 && joint[1].bitPattern == 0)
        // min ½ δᵀHδ with δ_0 = −w_0 and δ_1 = 0.
        let step = constrainedStep(h, n: 4, fixed: [0, 1], target: [-0.8, 0])
        for j in [2, 3] { #expect(abs(Double(joint[j]) - (Double(w[j]) + step[j])) < 1e-5, "w_\(j) = \(joint[j])") }
        // Without the freeze the compensation would move w_1: the constraint matters here.
        let (unfrozen, _) = pruned(f, w, remove: [0], joint: true)
        #expect(abs(unfrozen[1]) > 1e-2)
        // Independent: the frozen entry neither moves nor compensates (a nonzero value in a frozen
        // slot counts as 0), the rest get the single-weight update of w_0.
        var dirty = w
        dirty[1] = 5
        let (independent, _) = pruned(f, dirty, remove: [0], frozen: [1], joint: false)
        let (single, _) = pruned(f, w, remove: [0], joint: false)
        #expect(independent[1] == 5)
        for j in [0, 2, 3] { #expect(independent[j] == single[j]) }
        // Removing a frozen entry just makes it +0.0.
        let (both, _) = pruned(f, dirty, remove: [1], frozen: [1], joint: true)
        #expect(both == [w[0], 0, w[2], w[3]])
    }

    @Test func singularJointSystemIsReportedAndNotCompensated() {
        // One gradient (1, 1, 0) and λ = 1e-10: [F⁻¹]_{0,1 block} ≈ 5·10⁹ [[1, −1], [−1, 1]], singular
        // in Float, so the joint removal of weights 0 and 1 has no meaningful solution.
        let f = fisherInverse([1, 1, 0], m: 1, d: 3, b: 3, lambda: 1e-10)
        let (after, ok) = pruned(f, [0.5, -0.25, 2], remove: [0, 1], joint: true)
        #expect(!ok)
        #expect(after == [0, 0, 2])
    }

    // MARK: 4. OBD

    @Test func diagonalFisherMatchesDirectSums() {
        // 2100 columns: two full chunks of 1024 and a partial one.
        let m = 5, d = 2100
        let g = randomFloats(m * d, seed: 9)
        let out = obdDiagonal(g, m: m, d: d, lambda: 0.01)
        let direct = (0..<d).map { j in 0.01 + (0..<m).reduce(0.0) { $0 + Double(g[$1 * d + j]) * Double(g[$1 * d + j]) } / Double(m) }
        #expect(relativeError(out, direct) < 1e-6)
        #expect(zip(out, direct).allSatisfy { abs(Double($0) - $1) <= 1e-6 * $1 })
        #expect(obdDiagonal(g, m: 0, d: 4, lambda: 0.5) == [0.5, 0.5, 0.5, 0.5])
    }

    @Test func obsAndObdDisagreeOnCorrelatedWeights() {
        // g₁ = (1, 1, 1), g₂ = (1, 1, −1), λ = 0.01: H = [[1.01, 1, 0], [1, 1.01, 0], [0, 0, 1.01]].
        // Weights 0 and 1 see the same input; weight 2 is on its own. w = (1, 1, 0.5).
        // OBD: w²H_qq/2 = (0.505, 0.505, 0.126): remove weight 2 first.
        // OBS: [H⁻¹]_00 = 1.01/(1.01² − 1) = 50.249, ρ_0 = 1/(2·50.249) = 0.00995; ρ_2 = 0.25·1.01/2
        // = 0.126: remove weight 0 first, and let weight 1 take over its work.
        // OBS is right: removing weight 0 with its compensation costs 0.00995 of the true quadratic
        // loss, removing weight 2 costs 0.126 whatever is done (nothing is correlated with it).
        // OBD's 0.505 is the cost of removing weight 0 with no compensation, which OBD never does better than.
        let g: [Float] = [1, 1, 1, 1, 1, -1]
        let w: [Float] = [1, 1, 0.5]
        let wStar = w.map(Double.init)
        let h = denseFisher(g, m: 2, d: 3, lambda: 0.01)
        let diag = obdDiagonal(g, m: 2, d: 3, lambda: 0.01)
        var obd = [Float](repeating: 0, count: 3)
        diagonalSaliency(weights: w, fisherDiagonal: diag, count: 3, into: &obd)
        let f = fisherInverse(g, m: 2, d: 3, b: 3, lambda: 0.01)
        let obs = saliency(f, w)
        #expect(obd.firstIndex(of: obd.min()!) == 2, "OBD \(obd)")
        #expect(obs.firstIndex(of: obs.min()!) == 0, "OBS \(obs)")
        #expect(abs(obs[0] - 0.0099502) < 1e-5 && abs(obd[2] - 0.12625) < 1e-6 && abs(obd[0] - 0.505) < 1e-6)
        // The real rises: OBS's removal of weight 0 costs ρ_0; removing weight 2 costs OBD's estimate;
        // weight 0 without compensation costs OBD's 0.505.
        let (obsRemoval, _) = pruned(f, w, remove: [0], joint: false)
        let obsRise = loss(obsRemoval, wStar, h)
        #expect(abs(obsRise - Double(obs[0])) < 1e-4 * Double(obs[0]))
        #expect(abs(loss([1, 1, 0], wStar, h) - 0.12625) < 1e-9)
        #expect(abs(loss([0, 1, 0.5], wStar, h) - 0.505) < 1e-9)
        #expect(obsRise < 0.1 * 0.12625)
    }

    // MARK: 5. Degenerate inputs

    @Test func degenerateSizes() {
        // m = 0: (1/λ)I.
        let empty = fisherInverse([], m: 0, d: 5, b: 2, lambda: 0.25)
        #expect(empty.blockCount == 3 && empty.block(0) == [4, 0, 0, 4] && empty.block(2) == [4])
        #expect(diagonal(empty) == [4, 4, 4, 4, 4])
        // Dimension 0: nothing to do, nothing read.
        let none = fisherInverse([], m: 3, d: 0, b: 8, lambda: 1)
        #expect(none.blockCount == 0 && none.block(0).isEmpty && diagonal(none).isEmpty)
        #expect(pruned(none, [], remove: [], joint: true).1)
        #expect(obdDiagonal([], m: 3, d: 0, lambda: 1).isEmpty)
        // A block larger than the vector is the whole vector.
        let g = randomFloats(3 * 4, seed: 11)
        let big = fisherInverse(g, m: 3, d: 4, b: 10, lambda: 0.1)
        #expect(big.blockSize == 4 && big.blockCount == 1)
        #expect(relativeError(big.block(0), reference(g, m: 3, d: 4, b: 4, lambda: 0.1)[0]!) < 1e-4)
        // Block sizes below 1 are 1; λ = 0 is raised to 1e-12 rather than dividing by zero.
        for b in [0, -3] { #expect(fisherInverse(g, m: 3, d: 4, b: b, lambda: 0.1).blockSize == 1) }
        let undamped = fisherInverse(g, m: 0, d: 4, b: 2, lambda: 0)
        #expect(undamped.lambda == 1e-12 && diagonal(undamped).allSatisfy { $0.isFinite && $0 > 0 })
    }

    @Test func blockSizeOneIsObd() {
        let m = 6, d = 9
        let g = randomFloats(m * d, seed: 13)
        let w = randomFloats(d, seed: 14)
        let f = fisherInverse(g, m: m, d: d, b: 1, lambda: 0.05)
        let diag = obdDiagonal(g, m: m, d: d, lambda: 0.05)
        var obd = [Float](repeating: 0, count: d)
        diagonalSaliency(weights: w, fisherDiagonal: diag, count: d, into: &obd)
        #expect(relativeError(diagonal(f), diag.map { 1 / Double($0) }) < 1e-6)
        #expect(relativeError(saliency(f, w), obd.map(Double.init)) < 1e-5)
        // Nothing to compensate with: removal only zeroes.
        let (after, _) = pruned(f, w, remove: [2, 5], joint: false)
        #expect(after == w.enumerated().map { [2, 5].contains($0.offset) ? 0 : $0.element })
    }
}

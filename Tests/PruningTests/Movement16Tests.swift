// The sixteen-lane (AVX-512) movement pass must give exactly what the eight-lane pass gives:
// every weight, moment, score, mask entry, W ⊙ M entry and window candidate, bit for bit, for
// each weight rule, both kinds of current mask, with and without a window, and on sizes whose
// pieces end in fewer than sixteen elements. Training with it is compared with the unfused
// kernels in FusedMovementTests.
import Foundation
import Testing
import Engine
import Kernels
import KernelsAVX512

@Suite struct Movement16Tests {
    static let rules: [UpdateRule] = [
        .sgd(lr: 0.1, momentum: 0, weightDecay: 1e-2, nesterov: false),
        .sgd(lr: 0.1, momentum: 0.9, weightDecay: 1e-2, nesterov: false),
        .sgd(lr: 0.1, momentum: 0.9, weightDecay: 1e-2, nesterov: true),
        .adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, decoupled: false, c1: 0.19, c2: 0.002),
        .adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, decoupled: true, c1: 0.19, c2: 0.002),
    ]

    /// One pass over two matrices (sizes with ragged ends; the first is split into pieces) with
    /// 8 or 16 lanes; returns every buffer's bits and what the windows found.
    func pass(wide: Bool, rule: UpdateRule, implied: Bool, windowed: Bool) -> [[UInt32]] {
        let sizes = [300 * 401 + 13, 1_000 + 5]
        var buffers: [[UnsafeMutablePointer<Float>]] = []
        var tasks: [MovementTask] = []
        var offset = 0
        let rng = RNG(seed: 11)
        for n in sizes {
            let b = (0..<9).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: n) }
            for i in 0..<n {
                b[0][i] = Float(rng.uniform()) - 0.5                    // weight
                b[1][i] = Float(rng.uniform()) - 0.5                    // gradient
                b[2][i] = 1e-2 * (Float(rng.uniform()) - 0.5)           // first moment / momentum
                b[3][i] = 1e-4 * Float(rng.uniform())                   // second moment
                b[4][i] = Float(rng.uniform()) * 2 - 1                  // scores
                b[5][i] = 1e-3 * (Float(rng.uniform()) - 0.5)           // scores' first moment
                b[6][i] = 1e-6 * Float(rng.uniform())                   // scores' second moment
                b[7][i] = rng.uniform() < 0.3 ? 1 : 0                   // stored mask
                b[8][i] = .nan                                          // W ⊙ M, written by the pass
            }
            // A run of scores equal to the cut's, straddling its position: the tie-break by position.
            for i in 100..<140 { b[4][i] = 0.25 }
            buffers.append(b)
            let adam: Bool = { if case .adam = rule { return true } else { return false } }()
            let mb = MovementBuffers(weight: b[0], gradient: b[1], weightFirst: b[2], weightSecond: adam ? b[3] : nil,
                                     scores: b[4], scoreFirst: b[5], scoreSecond: b[6], mask: b[7], masked: b[8], count: n)
            let cut = UInt64(orderedKey(0.25)) << 32 | UInt64(~UInt32(truncatingIfNeeded: offset + 120))
            tasks.append(MovementTask(mb, rule: rule,
                                      scoreRule: .adam(lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0,
                                                       decoupled: false, c1: 0.1, c2: 0.001),
                                      current: implied ? .implied(cut: cut) : .stored,
                                      window: windowed ? KeyWindow(lo: orderedKey(0.2), hi: orderedKey(0.3)) : nil,
                                      offset: offset))
            offset += n
        }
        let found = wide ? movementSteps(tasks, piece: movementPiece16) : movementSteps(tasks)
        var out: [[UInt32]] = found.map { [UInt32(truncatingIfNeeded: $0.above)] + $0.candidates.flatMap { [UInt32(truncatingIfNeeded: $0 >> 32), UInt32(truncatingIfNeeded: $0)] } }
        for (b, n) in zip(buffers, sizes) {
            for p in b { out.append((0..<n).map { p[$0].bitPattern }); p.deallocate() }
        }
        return out
    }

    /// The CPU check agrees with the kernel's own account of the CPU (Linux: /proc/cpuinfo's flags).
    @Test func availabilityMatchesTheCPUFlags() throws {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(line.split(separator: " ").map(String.init))
        let needed = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        #expect(AVX512.available == needed.allSatisfy(flags.contains), "flags: \(needed.filter(flags.contains))")
    }

    @Test(arguments: rules)
    func sixteenLanesEqualEightBitForBit(rule: UpdateRule) throws {
        guard AVX512.available else { return }     // no AVX-512 here: nothing to compare
        for implied in [false, true] {
            for windowed in [false, true] {
                let narrow = pass(wide: false, rule: rule, implied: implied, windowed: windowed)
                let wide = pass(wide: true, rule: rule, implied: implied, windowed: windowed)
                #expect(narrow.count == wide.count)
                for (j, (a, b)) in zip(narrow, wide).enumerated() {
                    let differing = zip(a, b).filter { $0 != $1 }.count
                    #expect(a.count == b.count && differing == 0,
                            "\(rule), implied \(implied), window \(windowed): output \(j) differs in \(differing) of \(a.count)")
                }
                if windowed { #expect(narrow[0].count > 100, "the window holds candidates") }
            }
        }
    }
}

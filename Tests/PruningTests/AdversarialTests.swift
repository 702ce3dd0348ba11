// PGD and adversarial training: the ε-ball and the valid range hold in both norms, more steps
// never lower the attack's loss, and adversarial training buys robust accuracy on a task
// whose standard solution leans on many weak, easily flipped features (Tsipras et al.'s toy).
import Testing
import Engine
import NN
import Data
@testable import Pruning

/// Samples and labels held in memory, batched in order or shuffled.
final class Points: BatchSource {
    let x: Tensor, y: [Int], classes: Int
    let valueRange: ValueRange?
    init(x: Tensor, y: [Int], classes: Int, valueRange: ValueRange? = nil) {
        self.x = x; self.y = y; self.classes = classes; self.valueRange = valueRange
    }
    var count: Int { y.count }
    var sampleShape: [Int] { Array(x.shape.dropFirst()) }
    func makeBatches(size: Int, shuffle: Bool, rng: RNG) -> AnySequence<(x: Tensor, y: [Int])> {
        let order = shuffle ? rng.permutation(count) : Array(0..<count)
        let width = x.count / max(count, 1)
        return AnySequence(stride(from: 0, to: count, by: size).lazy.map { start in
            let idx = order[start..<min(start + size, self.count)]
            let b = Tensor.empty(rows: idx.count, of: self.x)
            for (r, i) in idx.enumerated() { (b.data + r * width).update(from: self.x.data + i * width, count: width) }
            return (x: b, y: idx.map { self.y[$0] })
        })
    }
}

/// Binary labels y = ±1: x₀ = y + N(0, 0.6²) is robust but noisy; x₁…x₄₉ = 0.5·y + N(0, 1) are
/// each weak, together decisive, and an L∞ shift of 0.6 turns every one of them against y.
func weakFeatures(_ n: Int, seed: UInt64) throws -> Points {
    let rng = RNG(seed: seed), d = 50
    let x = try Tensor.zeros([n, d])
    var y: [Int] = []
    for s in 0..<n {
        let label = s % 2, sign: Float = label == 1 ? 1 : -1
        y.append(label)
        x.data[s * d] = sign + 0.6 * rng.normal()
        for j in 1..<d { x.data[s * d + j] = 0.5 * sign + rng.normal() }
    }
    return Points(x: x, y: y, classes: 2)
}

struct AdversarialTests {
    /// A batch of images in [0, 1] and a small model over them.
    func fixture() throws -> (Sequential, Tensor, [Int]) {
        let rng = RNG(seed: 3)
        let x = try Tensor.zeros([8, 1, 4, 4])
        for i in 0..<x.count { x.data[i] = rng.uniform() }
        x.data[0] = 0; x.data[1] = 1                          // entries on the range's edges
        return (try Models.mlp([16, 12, 3], rng: RNG(seed: 1)), x, (0..<8).map { $0 % 3 })
    }

    @Test(arguments: [AttackNorm.l2, .linf])
    func staysInTheBallAndTheRange(norm: AttackNorm) throws {
        let (net, x, y) = try fixture()
        let eps: Float = norm == .l2 ? 0.8 : 0.2
        let attack = try PGD(eps: eps, norm: norm, steps: 5)
        let adv = try attack.perturb(net, x, labels: y, range: ValueRange(unit: 1), rng: RNG(seed: 0))
        var moved: Float = 0
        for s in 0..<8 {
            var sq: Float = 0, top: Float = 0
            for i in 0..<16 {
                let a = adv.data[s * 16 + i], d = a - x.data[s * 16 + i]
                #expect(a >= 0 && a <= 1)
                sq += d * d; top = max(top, abs(d))
            }
            let size = norm == .l2 ? sq.squareRoot() : top
            #expect(size <= eps * (1 + 1e-5))
            moved = max(moved, size)
        }
        #expect(moved > eps / 2)                                 // the attack does move the inputs
        #expect(net.training)                                    // the model's mode is restored
        #expect(net.parameters.allSatisfy { $0.requiresGrad && $0.grad == nil })
    }

    @Test(arguments: [AttackNorm.l2, .linf])
    func moreStepsNeverLowerTheLoss(norm: AttackNorm) throws {
        let (net, x, y) = try fixture()
        func loss(_ input: Tensor) throws -> Float { try GradMode.noGrad { try net(input).crossEntropy(labels: y).item } }
        let clean = try loss(x)
        var previous = clean
        for steps in 1...6 {
            let attack = try PGD(eps: norm == .l2 ? 0.8 : 0.2, norm: norm, steps: steps)
            let l = try loss(try attack.perturb(net, x, labels: y, range: ValueRange(unit: 1), rng: RNG(seed: 9)))
            #expect(l >= previous)
            previous = l
        }
        #expect(previous > clean * 1.05)
    }

    @Test func fgsmIsOneSignStepOfEpsilon() throws {
        let (net, x, y) = try fixture()
        let adv = try PGD.fgsm(eps: 0.05).perturb(net, x, labels: y, range: nil, rng: RNG(seed: 0))
        let changed = (0..<x.count).filter { adv.data[$0] != x.data[$0] }
        #expect(!changed.isEmpty)
        for i in changed { #expect(abs(abs(adv.data[i] - x.data[i]) - 0.05) < 1e-6) }
    }

    @Test func normalisationCarriesTheValidRange() throws {
        let d = try Dataset(name: "t", images: try Tensor(shape: [2, 1, 2, 2], data: [0, 0.5, 1, 1, 0, 0, 0.5, 1]), labels: [0, 1],
                            valueRange: ValueRange(unit: 1))
        let n = try d.normalized(mean: 0.5, std: 0.25)
        #expect(n.valueRange == ValueRange(lower: [-2], upper: [2]))
        #expect(try n.filtered(classes: [1]).valueRange == n.valueRange)
        #expect(try n.split(fraction: 0.5, seed: 0).0.valueRange == n.valueRange)
    }

    @Test func adversarialTrainingBuysRobustAccuracy() throws {
        let train = try weakFeatures(400, seed: 1), test = try weakFeatures(400, seed: 2)
        let attack = try PGD(eps: 0.6, norm: .linf, steps: 3)
        func fitted(adversarial: Bool) throws -> Module {
            let net = try Models.mlp([50, 2], rng: RNG(seed: 0))
            try fit(net, on: train, optimizer: try sgd(net, lr: 0.05), config: quiet(15),
                    hooks: adversarial ? [AdversarialTraining(attack, range: nil, seed: 1)] : [])
            return net
        }
        let standard = try fitted(adversarial: false), robust = try fitted(adversarial: true)
        let evaluation = try PGD(eps: 0.6, norm: .linf, steps: 10, stepSize: 0.15)
        let clean = try evaluate(standard, on: test).accuracy
        let standardRobust = try robustAccuracy(standard, on: test, attack: evaluation)
        let robustRobust = try robustAccuracy(robust, on: test, attack: evaluation)
        #expect(clean > 0.95)                                    // the weak features decide cleanly…
        #expect(standardRobust < 0.4)                            // …and flip together under attack
        #expect(robustRobust > standardRobust + 0.25)
    }
}

// Adversarial examples and training (Madry et al. 2018; Salman et al. 2020 train robust source
// models this way): projected gradient descent in L2 or L∞ with a random start, FGSM as its
// one-step case, a training hook that trains on the adversarial examples of every batch, and
// robust accuracy.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

/// The norm that bounds a perturbation.
public enum AttackNorm: String, CaseIterable, Sendable {
    case l2, linf
}

/// Projected gradient descent on the loss (ascent, for the attacker): from a random point of the
/// ε-ball around x, `steps` times x ← Π(x + α·sign(∇ₓL)) (L∞) or Π(x + α·∇ₓL/‖∇ₓL‖₂) (L2), where
/// Π projects onto the ball and then into the data's valid range. Each sample keeps the iterate
/// with the highest loss seen (as the robustness library does), so more steps never lower it.
///
///     let attack = try PGD(eps: 0.5, norm: .l2, steps: 3)          // α = 2ε/3 (Salman et al.)
///     let xAdv = try attack.perturb(model, x, labels: y, range: data.valueRange, rng: RNG(seed: 0))
public struct PGD: Sendable, Equatable {
    public let eps: Float
    public let norm: AttackNorm
    public let steps: Int
    /// α, the length of one step (L2) or its size per entry (L∞).
    public let stepSize: Float
    public let randomStart: Bool

    /// Checks the settings; `stepSize` defaults to 2ε/3 (Salman et al.'s 3-step training attack).
    public init(eps: Float, norm: AttackNorm = .l2, steps: Int = 3, stepSize: Float? = nil, randomStart: Bool = true) throws {
        guard eps.isFinite, eps >= 0 else { throw PruningError.invalid("pgd: eps must be a number ≥ 0, got \(eps)") }
        guard (1...10_000).contains(steps) else { throw PruningError.invalid("pgd: steps must be a whole number in 1...10000, got \(steps)") }
        let alpha = stepSize ?? 2 * eps / 3
        guard alpha.isFinite, alpha >= 0 else { throw PruningError.invalid("pgd: the step size must be a number ≥ 0, got \(alpha)") }
        self.eps = eps; self.norm = norm; self.steps = steps; self.stepSize = alpha; self.randomStart = randomStart
    }

    /// FGSM (Goodfellow et al.): one step of size ε from the clean input.
    public static func fgsm(eps: Float, norm: AttackNorm = .linf) throws -> PGD {
        try PGD(eps: eps, norm: norm, steps: 1, stepSize: eps, randomStart: false)
    }

    /// Forward and backward passes per batch, besides the training step's own.
    public var extraPasses: Int { eps == 0 ? 0 : steps }

    /// "PGD-L2 ε=0.5, 3 steps of 0.333, random start".
    public var description: String {
        let kind = steps == 1 && !randomStart && stepSize == eps ? "FGSM" : "PGD"
        return "\(kind)-\(norm == .l2 ? "L2" : "L∞") ε=\(fmt(Double(eps), 3)), \(steps) step\(steps == 1 ? "" : "s") of \(fmt(Double(stepSize), 3))"
            + (randomStart ? ", random start" : "")
    }

    /// Adversarial examples for `x` [B, ...] with `labels`: each stays within ε of its clean
    /// sample (in `norm`) and inside `range` (per channel, the first sample dimension). The model
    /// runs in evaluation mode and its parameters gather no gradient; both are restored.
    public func perturb(_ model: Module, _ x: Tensor, labels: [Int], range: ValueRange?, rng: RNG) throws -> Tensor {
        guard eps > 0 else { return x }
        let n = x.shape.first ?? 0
        guard n == labels.count, n > 0 else { throw PruningError.invalid("pgd: \(n) samples but \(labels.count) labels") }
        let width = x.count / n
        let channels = x.rank >= 2 ? x.shape[1] : 1
        if let range, range.lower.count != channels {
            throw PruningError.invalid("pgd: the valid range has \(range.lower.count) channels, the samples \(channels)")
        }
        let wasTraining = model.training
        model.eval()
        // The attack needs ∇ₓL only: the parameters stop recording, which also skips their gradients.
        let recorded = (model.parameters + model.namedGates().compactMap { $0.1.scores }).filter(\.requiresGrad)
        for p in recorded { p.requiresGrad = false }
        defer {
            for p in recorded { p.requiresGrad = true }
            model.train(wasTraining)
        }
        let adv = x.copy()
        if randomStart {
            for s in 0..<n {
                let row = adv.data + s * width
                switch norm {
                case .linf:
                    for i in 0..<width { row[i] += eps * (2 * rng.uniform() - 1) }
                case .l2:
                    // A uniform direction, scaled to the sphere of radius ε (as the robustness library).
                    var d = [Float](repeating: 0, count: width), sq: Float = 0
                    for i in 0..<width { d[i] = rng.normal(); sq += d[i] * d[i] }
                    let scale = eps / max(sq.squareRoot(), 1e-12)
                    for i in 0..<width { row[i] += d[i] * scale }
                }
            }
            project(adv, around: x, width: width, channels: channels, range: range)
        }
        let best = adv.copy()
        var bestLoss = [Float](repeating: -.infinity, count: n)
        for k in 0...steps {
            // The last point is only scored: no graph, since one left without its backward pass
            // would never be freed (nodes refer to their outputs).
            let last = k == steps
            let input = last ? adv : adv.copy().requiringGrad()
            let logits = try last ? GradMode.noGrad { try model(input) } : model(input)
            let losses = perSampleLoss(logits, labels)
            for s in 0..<n where losses[s] > bestLoss[s] {
                bestLoss[s] = losses[s]
                (best.data + s * width).update(from: adv.data + s * width, count: width)
            }
            if last { break }
            try logits.crossEntropy(labels: labels).backward()
            guard let g = input.grad else { throw PruningError.invalid("pgd: the model gave no gradient for its input") }
            for s in 0..<n {
                let row = adv.data + s * width, grad = g.data + s * width
                switch norm {
                case .linf:
                    for i in 0..<width { row[i] += grad[i] > 0 ? stepSize : (grad[i] < 0 ? -stepSize : 0) }
                case .l2:
                    var sq: Float = 0
                    for i in 0..<width { sq += grad[i] * grad[i] }
                    guard sq > 0 else { continue }
                    let scale = stepSize / sq.squareRoot()
                    for i in 0..<width { row[i] += grad[i] * scale }
                }
            }
            project(adv, around: x, width: width, channels: channels, range: range)
        }
        return best
    }

    /// Onto the ε-ball around `x` (per sample), then into `range`. Clipping to a box that holds
    /// x only shrinks each |x'ᵢ − xᵢ|, so the result stays in the ball.
    func project(_ adv: Tensor, around x: Tensor, width: Int, channels: Int, range: ValueRange?) {
        let n = adv.count / max(width, 1)
        for s in 0..<n {
            let row = adv.data + s * width, clean = x.data + s * width
            switch norm {
            case .linf:
                for i in 0..<width { row[i] = min(max(row[i], clean[i] - eps), clean[i] + eps) }
            case .l2:
                var sq: Float = 0
                for i in 0..<width { let d = row[i] - clean[i]; sq += d * d }
                let length = sq.squareRoot()
                if length > eps {
                    let scale = eps / length
                    for i in 0..<width { row[i] = clean[i] + (row[i] - clean[i]) * scale }
                }
            }
            if let range {
                let plane = width / max(channels, 1)
                for c in 0..<channels {
                    let lo = range.lower[c], hi = range.upper[c]
                    for i in c * plane..<(c + 1) * plane { row[i] = min(max(row[i], lo), hi) }
                }
            }
        }
    }
}

/// Cross-entropy of each row of logits [B, C] against its label, without recording.
func perSampleLoss(_ logits: Tensor, _ labels: [Int]) -> [Float] {
    let c = logits.shape.last ?? 1
    return labels.enumerated().map { r, y in
        let row = logits.data + r * c
        var top = row[0]
        for j in 1..<max(c, 1) { top = max(top, row[j]) }
        var sum: Float = 0
        for j in 0..<c { sum += expf(row[j] - top) }
        return top + logf(sum) - row[y]
    }
}

/// Adversarial training: every batch is replaced by its adversarial examples against the model
/// being trained (Madry et al.'s min-max objective, as Salman et al. train robust sources).
public final class AdversarialTraining: TrainingHook {
    public let attack: PGD
    let range: ValueRange?
    let rng: RNG
    private var model: Module?

    /// `range` is the training data's valid range (`BatchSource.valueRange`).
    public init(_ attack: PGD, range: ValueRange?, seed: UInt64) {
        self.attack = attack; self.range = range; rng = RNG(seed: seed)
    }

    public func begin(model: Module, optimizer: Optimizer, totalSteps: Int) throws { self.model = model }

    public func batch(_ x: Tensor, labels: [Int], step: Int) throws -> Tensor {
        guard let model else { throw PruningError.invalid("adversarial training: the hook was not started") }
        return try attack.perturb(model, x, labels: labels, range: range, rng: rng)
    }

    public func end() throws { model = nil }

    /// Each step costs the attack's passes plus its own.
    public var progressNote: String? {
        attack.extraPasses == 0 ? nil : "\(attack.norm == .l2 ? "L2" : "L∞") PGD ×\(attack.extraPasses + 1) cost"
    }
}

/// The fraction of `data` the model still classifies correctly under `attack` (clean accuracy
/// when ε = 0). Deterministic for a given seed.
public func robustAccuracy(_ model: Module, on data: BatchSource, attack: PGD, seed: UInt64 = 0, batchSize: Int = 500) throws -> Double {
    let rng = RNG(seed: seed)
    let wasTraining = model.training
    model.eval()
    model.applyMasks()
    defer { model.train(wasTraining) }
    var correct = 0, seen = 0
    for (x, y) in data.makeBatches(size: batchSize, shuffle: false, rng: RNG(seed: 0)) {
        let adv = try attack.perturb(model, x, labels: y, range: data.valueRange, rng: rng)
        let logits = try GradMode.noGrad { try model(adv) }
        correct += correctCount(logits, y)
        seen += y.count
    }
    return Double(correct) / Double(max(seen, 1))
}

// Optimizers (SGD, Adam, AdamW) with per-parameter-group settings, learning-rate schedules,
// gradient-norm clipping and freezing by name pattern.
import Engine
import Kernels

/// Which update rule an optimizer applies.
public enum OptimizerKind: Sendable, Equatable {
    case sgd(momentum: Float = 0, nesterov: Bool = false)
    case adam(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8)
    case adamw(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8)

    /// The rules by name, as scripts, checkpoints and pruners' score optimizers write them.
    public static let names = ["sgd", "adam", "adamw"]

    /// The name of the rule.
    public var name: String {
        switch self {
        case .sgd: "sgd"
        case .adam: "adam"
        case .adamw: "adamw"
        }
    }
}

/// Settings for the parameters whose dotted names match `pattern` (glob: `*` any run of
/// characters, `?` one character), overriding the optimizer's defaults.
public struct ParamGroup: Sendable {
    public var pattern: String
    public var lr: Float?
    public var weightDecay: Float?
    public init(_ pattern: String, lr: Float? = nil, weightDecay: Float? = nil) {
        self.pattern = pattern; self.lr = lr; self.weightDecay = weightDecay
    }
}

/// A learning-rate multiplier as a function of the optimizer step.
public enum LRSchedule: Sendable, Equatable {
    case constant
    /// Multiply by `gamma` every `every` steps.
    case step(every: Int, gamma: Float)
    /// Cosine from 1 to `minFactor` over `total` steps.
    case cosine(total: Int, minFactor: Float = 0)
    /// Linear warm-up from 0 over `warmup` steps, then linear decay to 0 at `total`.
    case warmupLinear(warmup: Int, total: Int)

    public func factor(at step: Int) -> Float {
        switch self {
        case .constant: return 1
        case let .step(every, gamma): return every > 0 ? Float(libmPow(Double(gamma), Double(step / every))) : 1
        case let .cosine(total, minFactor):
            let t = total > 0 ? min(Double(step) / Double(total), 1) : 1
            return minFactor + (1 - minFactor) * Float(0.5 * (1 + libmCos(Double.pi * t)))
        case let .warmupLinear(warmup, total):
            if step < warmup { return Float(step + 1) / Float(max(warmup, 1)) }
            return max(0, Float(total - step) / Float(max(total - warmup, 1)))
        }
    }
}

/// Updates parameters from their gradients. Parameters with no gradient (frozen, or unused in
/// the step) are skipped.
public final class Optimizer {
    public let kind: OptimizerKind
    public var lr: Float
    public var weightDecay: Float
    public var schedule: LRSchedule
    /// Optimizer steps taken so far.
    public private(set) var stepCount = 0
    public let names: [String]
    public let params: [Tensor]
    let groupLR: [Float?], groupWD: [Float?]
    /// Per-parameter state: momentum (SGD) or first moments (Adam), and second moments (Adam).
    var first: [Tensor?], second: [Tensor?]
    /// Fixed pruning masks by parameter: masked entries of the weights and of their state end
    /// every step at exactly 0. See `bindMasks(_:)`.
    public var masks: [Tensor?]
    /// Parameters whose update another component performs in its own fused pass (movement
    /// pruning updates gated weights together with their scores); `step()` leaves them alone.
    public private(set) var delegated: Set<Int> = []
    /// Whether the training loop clips gradients between the backward pass and `step()`. A fused
    /// update would take the gradient before clipping, so delegation is refused then.
    public internal(set) var clipsGradients = false

    public init(_ kind: OptimizerKind, parameters: [(String, Tensor)], lr: Float, weightDecay: Float = 0,
                groups: [ParamGroup] = [], schedule: LRSchedule = .constant) throws {
        guard lr >= 0, lr.isFinite else { throw NNError("optimizer: learning rate must be a non-negative number, got \(lr)") }
        guard weightDecay >= 0 else { throw NNError("optimizer: weight decay must be non-negative, got \(weightDecay)") }
        self.kind = kind; self.lr = lr; self.weightDecay = weightDecay; self.schedule = schedule
        names = parameters.map(\.0)
        params = parameters.map(\.1)
        var glr: [Float?] = [], gwd: [Float?] = []
        for name in names {
            let g = groups.first { globMatch(name, $0.pattern) }
            glr.append(g?.lr); gwd.append(g?.weightDecay)
        }
        groupLR = glr; groupWD = gwd
        first = Array(repeating: nil, count: params.count)
        second = Array(repeating: nil, count: params.count)
        masks = Array(repeating: nil, count: params.count)
    }

    /// Takes the fixed masks of `model` (matched by dotted name) so that every step keeps the
    /// pruned weights, their momentum and their Adam moments at exactly 0; zeroes them now.
    /// Call again whenever masks are installed, removed or change kind.
    public func bindMasks(_ model: Module) {
        let gates = Dictionary(model.namedGates(), uniquingKeysWith: { a, _ in a })
        for (i, name) in names.enumerated() {
            guard let gate = gates[name], gate.isFixed else { masks[i] = nil; continue }
            masks[i] = gate.mask
            params[i].maskInPlace(by: gate.mask)
            first[i]?.maskInPlace(by: gate.mask)
            second[i]?.maskInPlace(by: gate.mask)
        }
    }

    /// Hands the updates of these parameters to the caller, who applies `lastRule(at:)` in its
    /// own pass after each `step()`. Returns false (and delegates nothing) when a name is not
    /// trained by this optimizer or gradients are clipped.
    public func delegate(_ names: [String]) -> Bool {
        let indices = names.compactMap { self.names.firstIndex(of: $0) }
        guard !clipsGradients, indices.count == names.count, indices.allSatisfy({ params[$0].requiresGrad && masks[$0] == nil })
        else { return false }
        delegated.formUnion(indices)
        return true
    }

    /// Takes the updates of every delegated parameter back.
    public func undelegateAll() { delegated = [] }

    /// The update the last `step()` would have applied to the parameter at position `i`
    /// (`index(of:)`), with its state (momentum, or Adam's two moments, created on first use);
    /// nil before the first step or for a position out of range. For delegated parameters,
    /// called after each `step()`.
    public func lastRule(at i: Int) -> (rule: UpdateRule, first: Tensor?, second: Tensor?)? {
        guard names.indices.contains(i), stepCount > 0 else { return nil }
        return rule(for: i)
    }

    /// The position of the parameter `name` among those this optimizer trains.
    public func index(of name: String) -> Int? { names.firstIndex(of: name) }

    /// Parameter `i`'s update at step `stepCount` (counted from 1), creating its state on first use.
    private func rule(for i: Int) -> (rule: UpdateRule, first: Tensor?, second: Tensor?) {
        let p = params[i]
        let lr = (groupLR[i] ?? self.lr) * schedule.factor(at: stepCount - 1), wd = groupWD[i] ?? weightDecay
        switch kind {
        case let .sgd(momentum, nesterov):
            if momentum != 0 && first[i] == nil { first[i] = Tensor.zeros(like: p) }
            return (.sgd(lr: lr, momentum: momentum, weightDecay: wd, nesterov: nesterov), first[i], nil)
        case let .adam(b1, b2, eps), let .adamw(b1, b2, eps):
            if first[i] == nil { first[i] = Tensor.zeros(like: p); second[i] = Tensor.zeros(like: p) }
            let t = Double(Float(stepCount))
            let decoupled: Bool = { if case .adamw = kind { return true } else { return false } }()
            return (.adam(lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd, decoupled: decoupled,
                          c1: 1 - Float(libmPow(Double(b1), t)), c2: 1 - Float(libmPow(Double(b2), t))),
                    first[i], second[i])
        }
    }

    /// The learning rate the next step uses (base × schedule).
    public var currentLR: Float { lr * schedule.factor(at: stepCount) }

    /// Applies one update to every parameter that has a gradient.
    public func step() {
        stepCount += 1
        for i in params.indices {
            let p = params[i]
            guard p.requiresGrad, let g = p.grad, !delegated.contains(i) else { continue }
            let (rule, m, v) = rule(for: i)
            applyRule(rule, p.data, g.data, m?.data, v?.data, p.count, mask: masks[i].map { UnsafePointer($0.data) })
        }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in params { p.grad = nil } }

    /// The optimizer state of a parameter (momentum or Adam moments), so that pruning can zero
    /// the entries of removed weights.
    public func state(of name: String) -> [Tensor] {
        guard let i = names.firstIndex(of: name) else { return [] }
        return [first[i], second[i]].compactMap { $0 }
    }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm`; returns the norm
/// before clipping.
@discardableResult
public func clipGradNorm(_ params: [Tensor], maxNorm: Float) -> Float {
    let total = params.reduce(0.0) { acc, p in acc + (p.grad.map { sumOfSquares($0.data, $0.count) } ?? 0) }
    let norm = Float(total.squareRoot())
    if norm > maxNorm, norm > 0 {
        let s = maxNorm / norm
        for p in params { if let g = p.grad { scale(g.data, s, g.data, g.count) } }
    }
    return norm
}

/// Freezes (or unfreezes) every parameter whose dotted name matches `pattern`; returns the names.
@discardableResult
public func freeze(_ model: Module, matching pattern: String, frozen: Bool = true) -> [String] {
    var hit: [String] = []
    for (name, p) in model.namedParameters() where globMatch(name, pattern) {
        p.requiresGrad = !frozen
        if frozen { p.grad = nil }
        hit.append(name)
    }
    return hit
}

/// Glob match over dotted names: `*` matches any run of characters (dots included), `?` one.
public func globMatch(_ name: String, _ pattern: String) -> Bool {
    let s = Array(name.utf8), p = Array(pattern.utf8)
    var i = 0, j = 0, star = -1, mark = 0
    while i < s.count {
        if j < p.count && (p[j] == UInt8(ascii: "?") || p[j] == s[i]) { i += 1; j += 1 }
        else if j < p.count && p[j] == UInt8(ascii: "*") { star = j; mark = i; j += 1 }
        else if star >= 0 { j = star + 1; mark += 1; i = mark }
        else { return false }
    }
    while j < p.count && p[j] == UInt8(ascii: "*") { j += 1 }
    return j == p.count
}

// The method protocol: a pruning method is one type in Methods/ that declares its parameters
// once (name, default, valid range, help) and implements the hooks it needs; `Pruner` holds
// the machinery every method shares (targets, schedule, scope, granularity, frozen bounds,
// optimizer binding). Keywords, validation, help, completion and the README's method table
// are all read from these declarations.
import Engine
import NN

/// A setting's value: a number or a word.
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case text(String)

    public var description: String {
        switch self {
        case .number(let x): return formatParameter(x)
        case .text(let s): return "\"\(s)\""
        }
    }
}

/// One declared parameter of a method.
public struct MethodParameter: Sendable {
    /// The values a parameter accepts.
    public enum Domain: Sendable, Equatable {
        /// A real number between `lower` and `upper` (either open or closed; ±∞ for none).
        case real(lower: Double, upper: Double, lowerOpen: Bool, upperOpen: Bool)
        case integer(lower: Int, upper: Int)
        case choice([String])
    }
    public let name: String
    public let defaultValue: ParameterValue
    public let domain: Domain
    public let help: String
    /// Shown when a pruner is displayed (the settings that define the run, not tuning knobs).
    public let displayed: Bool

    public init(_ name: String, _ defaultValue: ParameterValue, _ domain: Domain, _ help: String, displayed: Bool = false) {
        self.name = name; self.defaultValue = defaultValue; self.domain = domain; self.help = help; self.displayed = displayed
    }

    /// A real number with a default, e.g. `.real("lambda", 400, atLeast: 0, "…")`.
    public static func real(_ name: String, _ value: Double, above lower: Double = -.infinity, atLeast: Double? = nil,
                            below upper: Double = .infinity, atMost: Double? = nil, _ help: String, displayed: Bool = false) -> MethodParameter {
        MethodParameter(name, .number(value), .real(lower: atLeast ?? lower, upper: atMost ?? upper,
                                                     lowerOpen: atLeast == nil, upperOpen: atMost == nil), help, displayed: displayed)
    }

    public static func integer(_ name: String, _ value: Int, _ range: ClosedRange<Int>, _ help: String, displayed: Bool = false) -> MethodParameter {
        MethodParameter(name, .number(Double(value)), .integer(lower: range.lowerBound, upper: range.upperBound), help, displayed: displayed)
    }

    public static func choice(_ name: String, _ value: String, _ choices: [String], _ help: String, displayed: Bool = false) -> MethodParameter {
        MethodParameter(name, .text(value), .choice(choices), help, displayed: displayed)
    }

    /// The domain in words: "in (0, 1]", "≥ 0", "a whole number in 1...100", "one of "adam", "sgd"".
    public var domainDescription: String {
        switch domain {
        case let .real(lo, hi, lo0, hi0):
            switch (lo.isFinite, hi.isFinite) {
            case (true, true): return "in \(lo0 ? "(" : "[")\(formatParameter(lo)), \(formatParameter(hi))\(hi0 ? ")" : "]")"
            case (true, false): return "\(lo0 ? ">" : "≥") \(formatParameter(lo))"
            case (false, true): return "\(hi0 ? "<" : "≤") \(formatParameter(hi))"
            case (false, false): return "a finite number"
            }
        case let .integer(lo, hi):
            return hi == Int.max ? "a whole number ≥ \(lo)" : "a whole number in \(lo)...\(hi)"
        case let .choice(options):
            return "one of " + options.map { "\"\($0)\"" }.joined(separator: ", ")
        }
    }

    /// Checks a value against the domain.
    public func check(_ value: ParameterValue) throws {
        switch (domain, value) {
        case let (.real(lo, hi, lo0, hi0), .number(x)):
            guard x.isFinite, lo0 ? x > lo : x >= lo, hi0 ? x < hi : x <= hi else {
                throw PruningError.invalidParameter(name: name, value: value, expected: domainDescription)
            }
        case let (.integer(lo, hi), .number(x)):
            guard x.isFinite, x == x.rounded(), x >= Double(lo), x <= Double(hi) else {
                throw PruningError.invalidParameter(name: name, value: value, expected: domainDescription)
            }
        case let (.choice(options), .text(s)):
            guard options.contains(s) else {
                throw PruningError.invalidParameter(name: name, value: value, expected: domainDescription)
            }
        case (.choice, .number):
            throw PruningError.invalidParameter(name: name, value: value, expected: "a string, " + domainDescription)
        case (.real, .text), (.integer, .text):
            throw PruningError.invalidParameter(name: name, value: value, expected: "a number " + domainDescription)
        }
    }
}

/// A method's settings: every declared parameter with its value (the default unless set).
public struct MethodSettings: Sendable {
    public let declared: [MethodParameter]
    public private(set) var values: [String: ParameterValue]
    /// The names set explicitly (the rest hold their defaults).
    public private(set) var explicit: Set<String> = []

    public init(_ declared: [MethodParameter]) {
        self.declared = declared
        values = Dictionary(declared.map { ($0.name, $0.defaultValue) }, uniquingKeysWith: { a, _ in a })
    }

    /// Sets a declared parameter after checking its value.
    public mutating func set(_ name: String, _ value: ParameterValue, method: String) throws {
        guard let p = declared.first(where: { $0.name == name }) else {
            throw PruningError.unknownParameter(name: name, method: method, known: declared.map(\.name))
        }
        try p.check(value)
        values[name] = value
        explicit.insert(name)
    }

    public func number(_ name: String) -> Double {
        if case .number(let x)? = values[name] { return x }
        return .nan
    }
    public func int(_ name: String) -> Int {
        let x = number(name)
        return x.isFinite ? Int(x) : 0
    }
    public func text(_ name: String) -> String {
        if case .text(let s)? = values[name] { return s }
        return ""
    }
}

/// Whether a method is given a target sparsity or reaches its own.
public enum MethodTarget: Sendable { case keep, own }

/// A pruning method. One instance serves one `Pruner`; the pruner calls the hooks below, each
/// of which has a default, so a method implements only what differs from ranking the weights by
/// `importance` on the pruner's schedule.
public protocol PruningMethod: AnyObject {
    /// The name users choose it by ("movement").
    static var name: String { get }
    /// One line: what it does.
    static var summary: String { get }
    /// Where it comes from (paper, arXiv id), for the method table.
    static var reference: String { get }
    /// The parameters only this method takes, with the authors' defaults.
    static var parameters: [MethodParameter] { get }
    /// A target fraction (`keep`) or a sparsity the method reaches by itself.
    static var target: MethodTarget { get }
    /// The schedule used when none is given.
    static var defaultSchedule: PruneSchedule { get }
    /// The schedules it accepts (empty: it takes none, e.g. lottery rounds).
    static var schedules: [PruneSchedule.Kind] { get }
    /// The layer distribution used when none is given.
    static var defaultScope: PruneScope { get }
    /// Whether it can prune with N:M or block granularity (a per-weight threshold cannot).
    static var structured: Bool { get }
    /// Whether it removes whole units (neurons, channels) rather than single weights: `keep` is
    /// then the fraction of units kept, and it takes no granularity.
    static var removesUnits: Bool { get }
    /// Whether its masks come from what training learns, so it cannot prune once.
    static var learnsWhileTraining: Bool { get }
    /// Whether a gradual mask only ever removes weights (the current mask bounds the next).
    static var masksOnlyShrink: Bool { get }

    /// A fresh instance for one pruner, from its checked settings.
    init(settings: MethodSettings)

    /// Checks combinations that single parameters cannot (e.g. SNIP is one-shot).
    func validate(_ config: PrunerConfig) throws
    /// The gate a target gets when the pruner attaches (fixed by default); `mask` holds the
    /// starting mask (ones, or a frozen upstream mask).
    func makeGate(_ target: PruneTarget, mask: Tensor, pruner: Pruner) throws -> WeightGate
    /// After the gates are installed.
    func attached(_ pruner: Pruner) throws
    /// The optimizer for the gates' scores (nil: the method learns none).
    func scoreOptimizer() -> (kind: OptimizerKind, lr: Float)?
    /// Before the first training step (after the step-0 mask).
    func begin(_ pruner: Pruner, optimizer: Optimizer) throws
    /// The loss to minimise, given the loss so far (add a penalty).
    func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor
    /// After backward, before the optimizer step.
    func afterBackward(_ pruner: Pruner, step: Int) throws
    /// After the optimizer step (and the scores' step); by default the masks follow the schedule.
    func afterStep(_ pruner: Pruner, step: Int) throws
    /// After the last step (before the masks become fixed).
    func end(_ pruner: Pruner) throws
    /// Recomputes the masks for the kept fraction `keep` (by default: rank by `importance`).
    func updateMasks(_ pruner: Pruner, keep: Double) throws
    /// Higher is more important, one tensor per target.
    func importance(_ pruner: Pruner) throws -> [Tensor]
    /// The importance for pruning once, before or without training (`data` when it needs some).
    func oneShotImportance(_ pruner: Pruner, data: BatchSource?, batchSize: Int) throws -> [Tensor]
    /// After a one-shot selection wrote the masks, before the weights are masked (OBS updates the
    /// kept weights here).
    func pruned(_ pruner: Pruner) throws
    /// Prunes once to `keep` (by default: `oneShotImportance`, the selection, then `pruned`).
    func pruneNow(_ pruner: Pruner, data: BatchSource?, batchSize: Int, keep: Double) throws
    /// A training procedure that replaces plain training (lottery rounds); nil for none.
    var procedure: TrainingProcedure? { get }
    /// A gate transform this method saved under `name`, rebuilt for a restored model (nil: not
    /// this method's).
    static func restoreTransform(name: String, settings: [String: Double], rng: RNG) -> GateTransform?
    /// The model this method trains, made from a plain one (a copy with the layers it needs:
    /// bases, scales or gates); the model itself when it needs none.
    static func prepared(_ model: Module) throws -> Module
}

extension PruningMethod {
    public static var reference: String { "" }
    public static var target: MethodTarget { .keep }
    public static var defaultSchedule: PruneSchedule { PruneSchedule(.cubic, every: 10) }
    public static var schedules: [PruneSchedule.Kind] { PruneSchedule.Kind.allCases }
    public static var defaultScope: PruneScope { .layer }
    public static var structured: Bool { true }
    public static var removesUnits: Bool { false }
    public static var learnsWhileTraining: Bool { false }
    public static var masksOnlyShrink: Bool { true }
    public static func prepared(_ model: Module) throws -> Module { model }

    public func validate(_ config: PrunerConfig) throws {}
    public func makeGate(_ target: PruneTarget, mask: Tensor, pruner: Pruner) throws -> WeightGate {
        WeightGate(mask: mask, method: Self.name)
    }
    public func attached(_ pruner: Pruner) throws {}
    public func scoreOptimizer() -> (kind: OptimizerKind, lr: Float)? { nil }
    public func begin(_ pruner: Pruner, optimizer: Optimizer) throws {}
    public func loss(_ loss: Tensor, pruner: Pruner, step: Int) throws -> Tensor { loss }
    public func afterBackward(_ pruner: Pruner, step: Int) throws {}
    public func afterStep(_ pruner: Pruner, step: Int) throws { try pruner.scheduledUpdate(after: step) }
    public func end(_ pruner: Pruner) throws {}
    public func updateMasks(_ pruner: Pruner, keep: Double) throws {
        try pruner.select(importance(pruner), keep: keep)
    }
    public func importance(_ pruner: Pruner) throws -> [Tensor] {
        throw PruningError.invalid("\(Self.name) does not rank weights by importance")
    }
    public func oneShotImportance(_ pruner: Pruner, data: BatchSource?, batchSize: Int) throws -> [Tensor] {
        try importance(pruner)
    }
    public func pruned(_ pruner: Pruner) throws {}
    public func pruneNow(_ pruner: Pruner, data: BatchSource?, batchSize: Int, keep: Double) throws {
        try pruner.selectOnce(data: data, batchSize: batchSize, keep: keep)
    }
    public var procedure: TrainingProcedure? { nil }
    public static func restoreTransform(name: String, settings: [String: Double], rng: RNG) -> GateTransform? { nil }
}


/// Numbers as users write them: 0.1, 400, 1e-05.
func formatParameter(_ x: Double) -> String {
    if x == x.rounded(), Swift.abs(x) < 1e15 { return String(Int(x)) }
    return String(x)
}

// A pruner's settings: the method with its own parameters, and what every method shares
// (target, schedule, layer distribution, granularity, which parameters, seed).
import Engine
import FileIO
import NN

/// How the target is spread over the pruned matrices.
public enum PruneScope: String, Sendable, CaseIterable {
    /// Every matrix keeps the same fraction (uniform).
    case layer
    /// One threshold across all matrices.
    case global
    /// Erdős–Rényi-kernel densities (RigL): larger matrices keep a smaller fraction.
    case erk
}

/// The unit a mask keeps or removes.
public enum Granularity: Sendable, Equatable, CustomStringConvertible {
    case element
    /// N of every M consecutive weights along the input dimension (a row of the weight matrix).
    case nm(n: Int, m: Int)
    /// Blocks of rows × cols of the weight matrix (out × in·kh·kw for a convolution).
    case block(rows: Int, cols: Int)

    /// "element", "2:4" or "1x4".
    public init?(parsing s: String) {
        if s == "element" { self = .element; return }
        if let colon = s.firstIndex(of: ":"), let n = Int(s[..<colon]), let m = Int(s[s.index(after: colon)...]) {
            guard n >= 1, m >= 1, n <= m, m <= 4096 else { return nil }
            self = .nm(n: n, m: m); return
        }
        if let x = s.firstIndex(where: { $0 == "x" || $0 == "×" }), let r = Int(s[..<x]), let c = Int(s[s.index(after: x)...]) {
            guard r >= 1, c >= 1, r <= 4096, c <= 4096 else { return nil }
            self = .block(rows: r, cols: c); return
        }
        return nil
    }

    public var description: String {
        switch self {
        case .element: return "element"
        case let .nm(n, m): return "\(n):\(m)"
        case let .block(r, c): return "\(r)x\(c)"
        }
    }
}

/// Everything a pruner needs to know. The method's own parameters live in `settings`, declared
/// by the method (see `PruningMethod.parameters`).
public struct PrunerConfig: Sendable {
    /// Whether `k` is a fraction of weights that can be kept, in (0, 1]: the one check every
    /// keep= (pruners, per-layer records, diff pruning) goes through.
    public static func isValidKeep(_ k: Double) -> Bool { k.isFinite && k > 0 && k <= 1 }

    public let method: any PruningMethod.Type
    /// Fraction of the weights to keep at the end (nil for methods that reach their own sparsity,
    /// or when `layerKeep` covers every target).
    public var keep: Double?
    /// Per-matrix targets by glob pattern over dotted names, the first match winning; matrices no
    /// pattern matches keep `keep`.
    public var layerKeep: [(pattern: String, keep: Double)] = []
    public var schedule: PruneSchedule
    public var scope: PruneScope
    public var granularity: Granularity = .element
    /// Glob patterns over dotted parameter names (empty: Linear and Conv weights but the classifier).
    public var include: [String] = []
    public var exclude: [String] = []
    public var seed: UInt64 = 0
    public var settings: MethodSettings

    public init(_ method: any PruningMethod.Type, keep: Double?) {
        self.method = method; self.keep = keep
        schedule = method.defaultSchedule
        scope = method.defaultScope
        settings = MethodSettings(method.parameters)
    }

    /// The method registered under `name`.
    public init(named name: String, keep: Double?) throws {
        guard let m = Methods.named(name) else { throw PruningError.unknownMethod(name, known: Methods.names) }
        self.init(m, keep: keep)
    }

    public var methodName: String { method.name }

    /// Sets one of the method's own parameters (checked against its declaration).
    public mutating func set(_ name: String, _ value: Double) throws {
        try settings.set(name, .number(value), method: method.name)
    }
    public mutating func set(_ name: String, _ value: String) throws {
        try settings.set(name, .text(value), method: method.name)
    }

    /// Checks the settings, with messages that name the problem.
    public func validate() throws {
        let name = method.name
        switch method.target {
        case .own:
            if keep != nil || !layerKeep.isEmpty { throw PruningError.takesNoTarget(method: name) }
        case .keep:
            if keep == nil && layerKeep.isEmpty {
                if case let .nm(n, m) = granularity, n <= m { break }
                throw PruningError.needsTarget(method: name)
            }
        }
        for k in [keep].compactMap({ $0 }) + layerKeep.map(\.keep) {
            guard PrunerConfig.isValidKeep(k) else {
                throw PruningError.invalid("keep must be in (0, 1], got \(formatParameter(k)) (sparsity = 1 − keep must be in [0, 1))")
            }
        }
        guard schedule.warmup >= 0, schedule.cooldown >= 0, schedule.warmup + schedule.cooldown < 1 else {
            throw PruningError.invalid("warmup and cooldown are fractions of the run, each ≥ 0, with warmup + cooldown < 1; got \(formatParameter(schedule.warmup)) and \(formatParameter(schedule.cooldown))")
        }
        guard schedule.every >= 1 else { throw PruningError.invalid("every must be ≥ 1 step, got \(schedule.every)") }
        if method.schedules.isEmpty {
            if schedule.kind != method.defaultSchedule.kind {
                throw PruningError.schedule(method: name, given: schedule.kind.rawValue, accepted: [])
            }
        } else if method.learnsWhileTraining && schedule.kind == .oneshot {
            throw PruningError.invalid("\(name) learns its scores while training: use the schedule " + orList(method.schedules.map { "\"\($0.rawValue)\"" }))
        } else if !method.schedules.contains(schedule.kind) {
            throw PruningError.schedule(method: name, given: schedule.kind.rawValue, accepted: method.schedules.map(\.rawValue))
        }
        if !layerKeep.isEmpty && scope != .layer {
            throw PruningError.invalid("per-layer targets set each matrix's fraction; they need the layer scope, not \(scope.rawValue)")
        }
        switch granularity {
        case .element: break
        case let .nm(n, m):
            guard method.structured else { throw PruningError.invalid("\(name) prunes single weights; it has no \(granularity) granularity") }
            if let keep, Swift.abs(keep - Double(n) / Double(m)) > 1e-9 {
                throw PruningError.invalid("\(n):\(m) keeps \(formatParameter(Double(n) / Double(m))) of the weights, not \(formatParameter(keep))")
            }
            guard layerKeep.isEmpty, scope == .layer else {
                throw PruningError.invalid("\(n):\(m) keeps the same fraction of every group; it takes neither per-layer targets nor the \(scope.rawValue) scope")
            }
        case .block:
            guard method.structured else { throw PruningError.invalid("\(name) prunes single weights; it has no \(granularity) granularity") }
        }
        for p in method.parameters { if let v = settings.values[p.name] { try p.check(v) } }
    }

    /// The overall kept fraction the schedule ends at (N/M for N:M granularity).
    var finalKeep: Double? {
        if let keep { return keep }
        if case let .nm(n, m) = granularity { return Double(n) / Double(m) }
        return nil
    }
}

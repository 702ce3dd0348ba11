// Sparsity schedules: how much of each matrix is kept at a given step of training.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The kept fraction over a run of T steps, from `initial` (1: dense) to the target.
public struct PruneSchedule: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Prune to the target once, before the first step; the mask then stays fixed.
        case oneshot
        /// The target from the first step on, with the mask recomputed every `every` steps.
        case constant
        /// Linear from `initial` to the target between warm-up and cool-down.
        case linear
        /// Zhu & Gupta's cubic: fast pruning early, slow near the target.
        case cubic
    }
    public var kind: Kind
    /// Fraction of the run spent dense before pruning starts (t_i / T).
    public var warmup: Double
    /// Fraction of the run at the target at the end (t_f / T).
    public var cooldown: Double
    /// Masks are recomputed every this many steps (Δt).
    public var every: Int

    public init(_ kind: Kind = .cubic, warmup: Double = 0.1, cooldown: Double = 0.2, every: Int = 10) {
        self.kind = kind; self.warmup = warmup; self.cooldown = cooldown; self.every = every
    }

    /// Warm-up and cool-down in whole steps for a run of `total` steps.
    public func bounds(total: Int) -> (ti: Int, tf: Int) {
        let ti = Int((warmup * Double(total)).rounded()), tf = Int((cooldown * Double(total)).rounded())
        return (ti, tf)
    }

    /// The value at step `t` (0-based) of `total`, going from `initial` to `final`:
    /// before t_i it is `initial`; then v_f + (v_i − v_f)·(1 − (t − t_i)/(T − t_i − t_f))³ for
    /// cubic (linear likewise with the first power); from T − t_f on it is `final`.
    public func value(at t: Int, total: Int, initial: Double = 1, final: Double) -> Double {
        switch kind {
        case .oneshot, .constant: return final
        case .linear, .cubic:
            let (ti, tf) = bounds(total: total)
            let span = total - ti - tf
            if t < ti { return initial }
            if span <= 0 || t >= total - tf { return final }
            let progress = 1 - Double(t - ti) / Double(span)
            let shape = kind == .cubic ? progress * progress * progress : progress
            return final + (initial - final) * shape
        }
    }

    /// Whether masks are recomputed after step `t` (1-based) of `total`.
    public func updates(after t: Int, total: Int) -> Bool {
        switch kind {
        case .oneshot: return false
        case .constant, .linear, .cubic:
            return t % max(every, 1) == 0 || t == total
        }
    }
}

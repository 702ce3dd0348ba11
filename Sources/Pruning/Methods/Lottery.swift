// Lottery tickets (Frankle & Carbin 2019; rewinding, Frankle et al. 2020): train, prune by
// magnitude to keep^(r/rounds), rewind the survivors to their values at an early step, repeat;
// then train the final ticket.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

public final class Lottery: PruningMethod, TrainingProcedure {
    public static let name = "lottery"
    public static let summary = "iterative magnitude pruning between rounds of training, survivors rewound"
    public static let reference = "Frankle & Carbin 2019 (arXiv 1803.03635)"
    public static let parameters: [MethodParameter] = [
        .integer("rounds", 3, 1...100, "rounds of train, prune, rewind", displayed: true),
        .integer("rewind", 0, 0...Int.max, "the step whose weights survivors rewind to (0: initialisation)", displayed: true),
    ]
    public static let schedules: [PruneSchedule.Kind] = []
    let rounds: Int, rewind: Int
    /// Between rounds (and as a plain training hook) a ticket is ranked as magnitude ranks.
    let magnitude = Magnitude(settings: MethodSettings(Magnitude.parameters))

    public init(settings: MethodSettings) { rounds = settings.int("rounds"); rewind = settings.int("rewind") }

    public func updateMasks(_ pruner: Pruner, keep: Double) throws { try magnitude.updateMasks(pruner, keep: keep) }

    public func importance(_ pruner: Pruner) throws -> [Tensor] { try magnitude.importance(pruner) }

    public var procedure: TrainingProcedure? { self }

    /// Rounds of training (each with a fresh optimizer); histories are concatenated.
    public func train(_ run: TrainingRun, pruner: Pruner) throws -> History {
        let model = run.model
        try pruner.attach(to: model)
        let recorder = RewindPoint(model: model, step: rewind)
        var history = History()
        let target = pruner.overallKeep ?? 1
        for round in 0...rounds {
            let result = try run.fit(before: round == 0 ? [recorder] : [])
            TrainingRun.append(result, to: &history)
            if result.interrupted || round == rounds { break }
            let keep = Swift.max(target, exp(log(target) * Double(round + 1) / Double(rounds)))
            try pruner.pruneOnce(model, data: nil, keepOverride: keep)
            guard let snapshot = recorder.snapshot else {
                throw PruningError.invalid("lottery: the rewind step \(rewind) is past the end of a round (\(run.steps) steps)")
            }
            for (name, t) in model.namedParameters() + model.namedBuffers() { if let s = snapshot[name] { try t.assign(s) } }
            model.applyMasks()
        }
        return history
    }
}

/// Records the model's weights at one step of training (the lottery ticket's rewind point).
final class RewindPoint: TrainingHook {
    let model: Module
    let step: Int
    var snapshot: [String: Tensor]?
    init(model: Module, step: Int) {
        self.model = model; self.step = step
        if step == 0 { take() }
    }
    func take() {
        var s: [String: Tensor] = [:]
        for (name, t) in model.namedParameters() + model.namedBuffers() { s[name] = t.copy() }
        snapshot = s
    }
    func afterStep(step: Int) throws { if step == self.step { take() } }
}

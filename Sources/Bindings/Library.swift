// The library's side of the language: every topic's builtins registered in one place, the
// Ctrl-C check, the per-session random generator, and the library's errors worded as they are.
import Language
import FileIO
import Engine

public enum Library {
    /// Registers the library's builtins with the language (in the order help lists them) and
    /// routes the language's interrupt polls to the Ctrl-C flag. Idempotent; call it before the
    /// first session starts. Safe to call from several threads at once (tests start sessions in
    /// parallel): the work runs once, the first caller's, and the others wait for it.
    public static func install() { _ = installation }

    private static let installation: Void = {
        Interruption.requested = { Interrupt.requested }
        Builtins.register(Builtins.random + Builtins.tensors + Builtins.models + Builtins.layers + Builtins.pretrainedModels
                          + Builtins.speed + Builtins.data + Builtins.files + Builtins.text + Builtins.training
                          + Builtins.robust + Builtins.pruning + Builtins.watching + Builtins.transferring + Builtins.figures)
    }()
}

extension Session {
    /// The session's random generator (models, data shuffles), started from `seed`; `seed(n)`
    /// reseeds it.
    public var rng: RNG {
        if let r = attachments["rng"] as? RNG { return r }
        let r = RNG(seed: seed)
        attachments["rng"] = r
        return r
    }
}

extension Builtins {
    static let random: [Builtin] = [
        Builtin("seed", [BuiltinParam("n", nil, "a whole number ≥ 0")], topic: "core",
                summary: "Reseed the random generators, for reproducible runs.",
                example: "seed(42); randn([2])") { args in
            let n = try args.int("n")
            guard n >= 0 else { throw BuiltinError("seed: the seed must be ≥ 0, got \(n)") }
            args.session.rng.reseed(UInt64(n))
            return .nil_
        },
    ]
}

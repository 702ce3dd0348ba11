// The argument readers of the library's builtins: sizes of layers and tensors, seeds of the
// random generators, finite fractions. They live with the bindings because the language's own
// builtins need none of them; the general readers (numbers, strings, choices) are CallArgs' own.
import Language

extension CallArgs {
    /// A size (of a layer, a tensor axis, a dataset): a whole number from 1 to `limit`.
    public func size(_ name: String, limit: Int = 100_000) throws -> Int {
        try int(name, in: 1...limit)
    }

    /// A seed of a random generator: a whole number ≥ 0.
    public func seed(_ name: String = "seed") throws -> UInt64 {
        UInt64(try int(name, in: 0...Int.max))
    }

    /// A finite number (keep=, sparsity=, a schedule's warm-up fraction).
    public func fraction(_ name: String) throws -> Double {
        let x = try number(name)
        guard x.isFinite else { throw BuiltinError("\(builtin): argument '\(name)' must be a finite number") }
        return x
    }
}

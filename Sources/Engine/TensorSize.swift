// TensorSize: the one check every allocation from a shape goes through, so that a script's
// shape (or an op's output shape, or a file's header) cannot ask for more memory than a tensor
// may have, or overflow while its size is computed.

/// The element limit for tensors and the check that enforces it.
public enum TensorSize {
    /// The most elements one tensor may have: 2^30 floats (4 GiB).
    public static let maxElements = 1 << 30

    /// The number of elements of `shape`, after checking that every dimension is ≥ 0 and that
    /// the product of the non-zero dimensions (so a zero cannot hide a huge product that a
    /// reduction or a matrix product would later reveal) stays within `maxElements`. The
    /// product is computed without overflow.
    ///
    ///     try TensorSize.elements([128, 784])      // 100352
    ///     try TensorSize.elements([0, 100_000, 100_000])   // throws: too large
    @discardableResult
    public static func elements(_ shape: [Int]) throws -> Int {
        var nonzero = 1, hasZero = false
        for d in shape {
            guard d >= 0 else { throw EngineError("shape dimensions must be ≥ 0, got \(describe(shape: shape))") }
            if d == 0 { hasZero = true; continue }
            let (p, overflow) = nonzero.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else { throw tooLarge(shape) }
            nonzero = p
        }
        return hasZero ? 0 : nonzero
    }

    /// The error for a shape past the limit.
    static func tooLarge(_ shape: [Int]) -> EngineError {
        EngineError("a tensor of shape \(describe(shape: shape)) is too large (at most \(maxElements) elements)")
    }
}

extension Array where Element == Int {
    /// This shape with its last extent replaced by `n` (a layer's output from its input): one
    /// allocation, where `Array(dropLast()) + [n]` made two.
    public func replacingLast(with n: Int) -> [Int] {
        var s = self
        if s.isEmpty { s.append(n) } else { s[s.count - 1] = n }
        return s
    }
}

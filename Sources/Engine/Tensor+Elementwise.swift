// Elementwise ops with NumPy broadcasting, and their derivatives.
import Kernels

/// The broadcast shape of two shapes (NumPy rules), or nil when they are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        guard da == db || da == 1 || db == 1 else { return nil }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Row-major strides of `shape` laid out inside `outShape` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], into outShape: [Int]) -> [Int] {
    let r = outShape.count
    var strides = [Int](repeating: 0, count: r)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let o = i + (r - shape.count)
        strides[o] = shape[i] == 1 && outShape[o] != 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

extension Tensor {
    /// Applies a binary kernel with broadcasting; shapes must already be compatible, and
    /// `outShape` checked (`binaryOp`) or that of an existing tensor.
    static func broadcastApply(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ outShape: [Int]) -> Tensor {
        let out = Tensor.empty(existing: outShape)
        let n = out.count
        if n == 0 { return out }
        if a.count == n && b.count == n { binary(op, a.data, 1, b.data, 1, out.data, n); return out }
        if b.count == 1 && a.count == n { binary(op, a.data, 1, b.data, 0, out.data, n); return out }
        if a.count == 1 && b.count == n { binary(op, a.data, 0, b.data, 1, out.data, n); return out }
        // Collapse dimensions where both inputs stay contiguous, then walk the outer ones.
        var shape = outShape, sa = broadcastStrides(a.shape, into: outShape), sb = broadcastStrides(b.shape, into: outShape)
        var i = shape.count - 1
        while i > 0 {
            let canMerge = sa[i - 1] == sa[i] * shape[i] && sb[i - 1] == sb[i] * shape[i]
            if canMerge {
                shape[i - 1] *= shape[i]; sa[i - 1] = sa[i]; sb[i - 1] = sb[i]
                shape.remove(at: i); sa.remove(at: i); sb.remove(at: i)
            }
            i -= 1
        }
        let r = shape.count
        let inner = shape[r - 1], ia = sa[r - 1], ib = sb[r - 1]
        var idx = [Int](repeating: 0, count: r)
        var offA = 0, offB = 0, offO = 0
        let outerCount = n / inner
        for _ in 0..<outerCount {
            binary(op, a.data + offA, ia, b.data + offB, ib, out.data + offO, inner)
            offO += inner
            var d = r - 2
            while d >= 0 {
                idx[d] += 1; offA += sa[d]; offB += sb[d]
                if idx[d] < shape[d] { break }
                offA -= sa[d] * shape[d]; offB -= sb[d] * shape[d]; idx[d] = 0
                d -= 1
            }
        }
        return out
    }

    /// Sums a broadcast gradient back down to `target` (undoing broadcasting).
    func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        if target.reduce(1, *) == count { return reshaped(unchecked: target) }
        var t = self
        let lead = rank - target.count
        // Sum away the leading dimensions the target does not have.
        if lead > 0 {
            let outer = shape[0..<lead].reduce(1, *)
            t = t.reshaped(unchecked: [outer] + Array(shape[lead...])).sumAxis(0, keepDim: false)
        }
        for (i, d) in target.enumerated() where d == 1 && t.shape[i] != 1 {
            t = t.sumAxis(i, keepDim: true)
        }
        return t.shape == target ? t : t.reshaped(unchecked: target)
    }

    /// The shared implementation of every binary op: checks shapes, computes, records.
    static func binaryOp(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, name: String) throws -> Tensor {
        guard let outShape = broadcastShape(a.shape, b.shape) else {
            throw EngineError("\(name): shapes \(describe(shape: a.shape)) and \(describe(shape: b.shape)) cannot be broadcast together")
        }
        try TensorSize.elements(outShape)
        return binaryUnchecked(op, a, b, outShape)
    }

    static func binaryUnchecked(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ outShape: [Int]) -> Tensor {
        let out = broadcastApply(op, a, b, outShape)
        switch op {
        case .add:
            return record("add", out, [a, b]) { g in [g.sumToShape(a.shape), g.sumToShape(b.shape)] }
        case .sub:
            return record("sub", out, [a, b]) { g in [g.sumToShape(a.shape), b.requiresGrad ? g.negated().sumToShape(b.shape) : nil] }
        case .mul:
            return record("mul", out, [a, b]) { g in
                [a.requiresGrad ? g.multiplying(b).sumToShape(a.shape) : nil,
                 b.requiresGrad ? g.multiplying(a).sumToShape(b.shape) : nil]
            }
        case .div:
            return record("div", out, [a, b]) { g in
                [a.requiresGrad ? broadcastApply(.div, g, b, g.shape).sumToShape(a.shape) : nil,
                 b.requiresGrad ? broadcastApply(.div, g.multiplying(out), b, g.shape).negated().sumToShape(b.shape) : nil]
            }
        case .maximum, .minimum:
            return record(op == .maximum ? "maximum" : "minimum", out, [a, b]) { g in
                // The gradient goes to whichever input was chosen (to a on ties).
                let pickA = broadcastApply(.eq, a, out, out.shape)
                let pickB = broadcastApply(.sub, Tensor(1), pickA, out.shape)
                return [a.requiresGrad ? g.multiplying(pickA).sumToShape(a.shape) : nil,
                        b.requiresGrad ? g.multiplying(pickB).sumToShape(b.shape) : nil]
            }
        case .pow:
            return record("pow", out, [a, b]) { g in
                // d(a^b)/da = b·a^(b−1); d(a^b)/db = a^b·ln a.
                let ga = a.requiresGrad
                    ? g.multiplying(broadcastApply(.mul, b, broadcastApply(.pow, a, broadcastApply(.sub, b, Tensor(1), b.shape), out.shape), out.shape)).sumToShape(a.shape)
                    : nil
                let gb = b.requiresGrad ? g.multiplying(out).multiplying(a.unaryUnchecked(.log).broadcastTo(out.shape)).sumToShape(b.shape) : nil
                return [ga, gb]
            }
        case .eq, .ne, .lt, .le, .gt, .ge:
            return out  // comparisons are piecewise constant: no gradient
        }
    }

    // Non-throwing helpers for backward passes, where shapes are known to agree.
    /// self + o, unrecorded, for shapes known to agree (gradients being summed).
    public func adding(_ o: Tensor) -> Tensor { Tensor.binaryUnchecked(.add, self, o, broadcastShape(shape, o.shape) ?? shape) }
    func multiplying(_ o: Tensor) -> Tensor { Tensor.binaryUnchecked(.mul, self, o, broadcastShape(shape, o.shape) ?? shape) }
    func negated() -> Tensor { unaryUnchecked(.neg) }
    func broadcastTo(_ s: [Int]) -> Tensor { shape == s ? self : Tensor.broadcastApply(.add, self, Tensor(0), s) }

    /// a + b with broadcasting.
    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try binaryOp(.add, a, b, name: "add") }
    /// a − b with broadcasting.
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try binaryOp(.sub, a, b, name: "sub") }
    /// a ⊙ b with broadcasting.
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try binaryOp(.mul, a, b, name: "mul") }
    /// a / b with broadcasting.
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try binaryOp(.div, a, b, name: "div") }

    public static func + (a: Tensor, s: Float) -> Tensor { binaryUnchecked(.add, a, Tensor(s), a.shape) }
    public static func - (a: Tensor, s: Float) -> Tensor { binaryUnchecked(.sub, a, Tensor(s), a.shape) }
    public static func * (a: Tensor, s: Float) -> Tensor { binaryUnchecked(.mul, a, Tensor(s), a.shape) }
    public static func / (a: Tensor, s: Float) -> Tensor { binaryUnchecked(.div, a, Tensor(s), a.shape) }
    public static func + (s: Float, a: Tensor) -> Tensor { binaryUnchecked(.add, Tensor(s), a, a.shape) }
    public static func - (s: Float, a: Tensor) -> Tensor { binaryUnchecked(.sub, Tensor(s), a, a.shape) }
    public static func * (s: Float, a: Tensor) -> Tensor { binaryUnchecked(.mul, Tensor(s), a, a.shape) }
    public static func / (s: Float, a: Tensor) -> Tensor { binaryUnchecked(.div, Tensor(s), a, a.shape) }
    public static prefix func - (a: Tensor) -> Tensor { a.unary(.neg) }

    /// Elementwise maximum with broadcasting.
    public func maximum(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.maximum, self, o, name: "maximum") }
    /// Elementwise minimum with broadcasting.
    public func minimum(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.minimum, self, o, name: "minimum") }
    /// Elementwise power with broadcasting.
    public func pow(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.pow, self, o, name: "pow") }
    /// Elementwise power by a constant.
    public func pow(_ p: Float) -> Tensor { Tensor.binaryUnchecked(.pow, self, Tensor(p), shape) }

    /// Comparisons: 1 where true, 0 elsewhere; not differentiable.
    public func eq(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.eq, self, o, name: "==") }
    public func ne(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.ne, self, o, name: "!=") }
    public func lt(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.lt, self, o, name: "<") }
    public func le(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.le, self, o, name: "<=") }
    public func gt(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.gt, self, o, name: ">") }
    public func ge(_ o: Tensor) throws -> Tensor { try Tensor.binaryOp(.ge, self, o, name: ">=") }

    /// Picks `a` where `condition` is non-zero and `b` elsewhere (all three broadcast together).
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard let ab = broadcastShape(a.shape, b.shape), let shape = broadcastShape(condition.shape, ab) else {
            throw EngineError("where: shapes \(describe(shape: condition.shape)), \(describe(shape: a.shape)) and \(describe(shape: b.shape)) cannot be broadcast together")
        }
        let out = try Tensor.empty(shape)
        let c = condition.broadcastTo(shape), av = a.broadcastTo(shape), bv = b.broadcastTo(shape)
        select(c.data, av.data, bv.data, out.data, out.count)
        return record("where", out, [a, b]) { g in
            let zero = Tensor.zeros(like: out)
            let ga = Tensor.empty(like: out), gb = Tensor.empty(like: out)
            select(c.data, g.data, zero.data, ga.data, ga.count)
            select(c.data, zero.data, g.data, gb.data, gb.count)
            return [ga.sumToShape(a.shape), gb.sumToShape(b.shape)]
        }
    }

    // MARK: Unary

    func unaryUnchecked(_ op: UnaryOp) -> Tensor {
        let out = Tensor.empty(like: self)
        Kernels.unary(op, data, out.data, count)
        return out
    }

    func unary(_ op: UnaryOp) -> Tensor {
        let out = unaryUnchecked(op)
        return Tensor.record("\(op)", out, [self]) { g in
            let gi = Tensor.empty(like: self)
            unaryBackward(op, x: self.data, y: out.data, g: g.data, out: gi.data, self.count)
            return [gi]
        }
    }

    public func exp() -> Tensor { unary(.exp) }
    public func log() -> Tensor { unary(.log) }
    public func sqrt() -> Tensor { unary(.sqrt) }
    public func abs() -> Tensor { unary(.abs) }
    public func relu() -> Tensor { unary(.relu) }
    /// ReLU written over this tensor's own data, without recording: for a fresh output that
    /// nothing else holds (a layer's result in an evaluation pass). Same values as `relu()`.
    public func reluInPlace() { Kernels.unary(.relu, data, data, count) }
    public func tanh() -> Tensor { unary(.tanh) }
    public func sigmoid() -> Tensor { unary(.sigmoid) }
    /// Gaussian error linear unit, exact (erf) form as PyTorch's default.
    public func gelu() -> Tensor { unary(.gelu) }
    public func square() -> Tensor { unary(.square) }
    public func reciprocal() -> Tensor { unary(.reciprocal) }
    /// −1, 0 or 1 by sign; not differentiable (its gradient is zero).
    public func sign() -> Tensor { unaryUnchecked(.sign) }

    /// Clamps into [lo, hi]; the gradient passes where the input was inside.
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        let out = Tensor.empty(like: self)
        Kernels.clamp(data, lo, hi, out.data, count)
        return Tensor.record("clamp", out, [self]) { g in
            let gi = Tensor.empty(like: self)
            for i in 0..<self.count { let v = self.data[i]; gi.data[i] = v >= lo && v <= hi ? g.data[i] : 0 }
            return [gi]
        }
    }
}

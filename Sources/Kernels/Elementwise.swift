// Elementwise kernels over raw buffers. Built with -Ounchecked: callers check shapes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Binary elementwise operations. Comparisons produce 1 or 0.
public enum BinaryOp: Sendable {
    case add, sub, mul, div, maximum, minimum, pow, eq, ne, lt, le, gt, ge
}

/// Unary elementwise operations.
public enum UnaryOp: Sendable {
    case neg, exp, log, sqrt, abs, relu, tanh, sigmoid, gelu, square, sign, reciprocal
}

protocol BinaryFn { static func f(_ a: Float, _ b: Float) -> Float }
enum AddFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a + b } }
enum SubFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a - b } }
enum MulFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a * b } }
enum DivFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a / b } }
enum MaxFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a >= b ? a : b } }
enum MinFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a <= b ? a : b } }
enum PowFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { powf(a, b) } }
enum EqFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a == b ? 1 : 0 } }
enum NeFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a != b ? 1 : 0 } }
enum LtFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a < b ? 1 : 0 } }
enum LeFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a <= b ? 1 : 0 } }
enum GtFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a > b ? 1 : 0 } }
enum GeFn: BinaryFn { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a >= b ? 1 : 0 } }

@inline(__always)
func binaryLoop<F: BinaryFn>(_: F.Type, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>,
                             _ sb: Int, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    // Separate loops for the stride patterns so the compiler vectorises the common ones.
    if sa == 1 && sb == 1 {
        for i in 0..<n { out[i] = F.f(a[i], b[i]) }
    } else if sa == 1 && sb == 0 {
        let s = b[0]
        for i in 0..<n { out[i] = F.f(a[i], s) }
    } else if sa == 0 && sb == 1 {
        let s = a[0]
        for i in 0..<n { out[i] = F.f(s, b[i]) }
    } else {
        for i in 0..<n { out[i] = F.f(a[i * sa], b[i * sb]) }
    }
}

/// Runs `body(lo, hi)` over contiguous pieces of `0..<n`, on several threads when `n` is large.
/// Piece edges fall on multiples of 16 elements. For loops whose every element is independent,
/// so the split never changes a result.
@inline(__always)
public func splitElementwise(_ n: Int, _ body: (Int, Int) -> Void) {
    let threads = Parallel.threads
    if threads <= 1 || n < Parallel.minParallelElements {
        body(0, n)
        return
    }
    // A few pieces per thread, so that a thread the machine slows down does not hold up the rest.
    let blocks = (n + 15) / 16
    let parts = Swift.min(4 * threads, blocks)
    parallelFor(parts) { i in
        let lo = Swift.min(n, blocks * i / parts * 16), hi = Swift.min(n, blocks * (i + 1) / parts * 16)
        if hi > lo { body(lo, hi) }
    }
}

/// out[i] = op(a[i·sa], b[i·sb]) for i in 0..<n.
public func binary(_ op: BinaryOp, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                   _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in
        binarySerial(op, a + lo * sa, sa, b + lo * sb, sb, out + lo, hi - lo)
    }
}

func binarySerial(_ op: BinaryOp, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                  _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    switch op {
    case .add: binaryLoop(AddFn.self, a, sa, b, sb, out, n)
    case .sub: binaryLoop(SubFn.self, a, sa, b, sb, out, n)
    case .mul: binaryLoop(MulFn.self, a, sa, b, sb, out, n)
    case .div: binaryLoop(DivFn.self, a, sa, b, sb, out, n)
    case .maximum: binaryLoop(MaxFn.self, a, sa, b, sb, out, n)
    case .minimum: binaryLoop(MinFn.self, a, sa, b, sb, out, n)
    case .pow: binaryLoop(PowFn.self, a, sa, b, sb, out, n)
    case .eq: binaryLoop(EqFn.self, a, sa, b, sb, out, n)
    case .ne: binaryLoop(NeFn.self, a, sa, b, sb, out, n)
    case .lt: binaryLoop(LtFn.self, a, sa, b, sb, out, n)
    case .le: binaryLoop(LeFn.self, a, sa, b, sb, out, n)
    case .gt: binaryLoop(GtFn.self, a, sa, b, sb, out, n)
    case .ge: binaryLoop(GeFn.self, a, sa, b, sb, out, n)
    }
}

@inline(__always) func sigmoidf(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
let invSqrt2: Float = 0.70710678118654752
let invSqrt2Pi: Float = 0.39894228040143268

/// erf(x) by the rational approximation Eigen and XLA use for float (an odd polynomial over an
/// even one in x², x clamped to ±4): within 5e-7 of the exact value. Branch-free, so GELU's
/// loops vectorise; libm's erff is a call per element and took an eighth of a BERT step.
@inline(__always)
public func fastErf(_ x: Float) -> Float {
    let x = Swift.min(Swift.max(x, -4), 4), x2 = x * x
    var p: Float = -2.72614225801306e-10
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    var q: Float = -1.45660718464996e-05
    q = q * x2 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return x * p / q
}

/// eˣ by Cephes' expf (x = n·ln 2 + r, a degree-5 polynomial in r, 2ⁿ from the exponent bits):
/// within 1e-7 relative for x in [−87.3, 88.3]; x is clamped to that range. Branch-free.
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let x = Swift.min(Swift.max(x, -87.3), 88.3)
    let n = (x * 1.44269504088896341).rounded()
    let r = x - n * 0.693359375 + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    return y * Float(bitPattern: UInt32(bitPattern: Int32(n) + 127) << 23)
}

/// out[i] = op(x[i]).
public func unary(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in unarySerial(op, x + lo, out + lo, hi - lo) }
}

func unarySerial(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    switch op {
    case .neg: for i in 0..<n { out[i] = -x[i] }
    case .exp: for i in 0..<n { out[i] = expf(x[i]) }
    case .log: for i in 0..<n { out[i] = logf(x[i]) }
    case .sqrt: for i in 0..<n { out[i] = x[i].squareRoot() }
    case .abs: for i in 0..<n { out[i] = Swift.abs(x[i]) }
    case .relu: for i in 0..<n { out[i] = x[i] > 0 ? x[i] : 0 }
    case .tanh: for i in 0..<n { out[i] = tanhf(x[i]) }
    case .sigmoid: for i in 0..<n { out[i] = sigmoidf(x[i]) }
    case .gelu: for i in 0..<n { let v = x[i]; out[i] = 0.5 * v * (1 + fastErf(v * invSqrt2)) }
    case .square: for i in 0..<n { out[i] = x[i] * x[i] }
    case .sign: for i in 0..<n { out[i] = x[i] > 0 ? 1 : (x[i] < 0 ? -1 : 0) }
    case .reciprocal: for i in 0..<n { out[i] = 1 / x[i] }
    }
}

/// Gradient of a unary op: out = g ⊙ op'(x), given the input x and the forward output y.
public func unaryBackward(_ op: UnaryOp, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                          g: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in
        unaryBackwardSerial(op, x: x + lo, y: y + lo, g: g + lo, out: out + lo, hi - lo)
    }
}

func unaryBackwardSerial(_ op: UnaryOp, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                         g: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
    switch op {
    case .neg: for i in 0..<n { out[i] = -g[i] }
    case .exp: for i in 0..<n { out[i] = g[i] * y[i] }
    case .log: for i in 0..<n { out[i] = g[i] / x[i] }
    case .sqrt: for i in 0..<n { out[i] = g[i] * 0.5 / y[i] }
    case .abs: for i in 0..<n { out[i] = x[i] > 0 ? g[i] : (x[i] < 0 ? -g[i] : 0) }
    case .relu: for i in 0..<n { out[i] = x[i] > 0 ? g[i] : 0 }
    case .tanh: for i in 0..<n { out[i] = g[i] * (1 - y[i] * y[i]) }
    case .sigmoid: for i in 0..<n { out[i] = g[i] * y[i] * (1 - y[i]) }
    case .gelu:
        for i in 0..<n {
            let v = x[i]
            let cdf = 0.5 * (1 + fastErf(v * invSqrt2))
            out[i] = g[i] * (cdf + v * invSqrt2Pi * fastExp(-0.5 * v * v))
        }
    case .square: for i in 0..<n { out[i] = 2 * g[i] * x[i] }
    case .sign: for i in 0..<n { out[i] = 0 }
    case .reciprocal: for i in 0..<n { out[i] = -g[i] * y[i] * y[i] }
    }
}

/// out[i] = a[i] + b[i].
public func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { out[i] = a[i] + b[i] } }
}

/// y[i] += alpha · x[i].
public func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { y[i] += alpha * x[i] } }
}

/// out[i] = x[i] · s.
public func scale(_ x: UnsafePointer<Float>, _ s: Float, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { out[i] = x[i] * s } }
}

/// out[i] = x[i] · s + t.
public func affine(_ x: UnsafePointer<Float>, _ s: Float, _ t: Float, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { out[i] = x[i] * s + t } }
}

/// out[i] = min(max(x[i], lo), hi).
public func clamp(_ x: UnsafePointer<Float>, _ lo: Float, _ hi: Float, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { l, h in for i in l..<h { out[i] = Swift.min(Swift.max(x[i], lo), hi) } }
}

/// out[i] = c[i] != 0 ? a[i] : b[i].
public func select(_ c: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                   _ out: UnsafeMutablePointer<Float>, _ n: Int) {
    splitElementwise(n) { lo, hi in for i in lo..<hi { out[i] = c[i] != 0 ? a[i] : b[i] } }
}

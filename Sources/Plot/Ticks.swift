// Ticks: "nice" tick positions (1-2-5 steps on linear axes, powers of ten on log axes) and
// their labels, formatted without Foundation so that output never depends on the locale.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tick positions and labels.
public enum Ticks {
    /// Major ticks in [lo, hi] at the finest step of the form {1, 2, 5}·10^k that yields at most
    /// `maxCount` ticks.
    ///
    ///     Ticks.linear(0, 1)      // [0, 0.2, 0.4, 0.6, 0.8, 1]
    public static func linear(_ lo: Double, _ hi: Double, maxCount: Int = 6) -> [Double] {
        let step = linearStep(lo, hi, maxCount: maxCount)
        return multiples(of: step, in: lo, hi)
    }

    /// The step `linear` uses.
    public static func linearStep(_ lo: Double, _ hi: Double, maxCount: Int = 6) -> Double {
        let span = hi - lo
        guard span.isFinite, span > 0 else { return 1 }
        let cap = Swift.max(2, maxCount)
        var e = (span / Double(cap)).log10.rounded(.down) - 1
        while true {
            for m in [1.0, 2, 5] {
                let step = m * pow10(e)
                if multiples(of: step, in: lo, hi).count <= cap { return step }
            }
            e += 1
        }
    }

    /// Major and minor ticks in [lo, hi] (both > 0) on a log axis: powers of ten (every k-th
    /// decade when there are more than `maxCount`), minors at 2…9 × 10^k. A range narrower than
    /// two decades gets 1-2-5 majors instead, so that it still shows at least two labels.
    public static func log(_ lo: Double, _ hi: Double, maxCount: Int = 8) -> (major: [Double], minor: [Double]) {
        guard lo > 0, hi > lo, lo.isFinite, hi.isFinite else { return ([], []) }
        let eps = 1e-9
        let a = plotInt((lo.log10 - eps).rounded(.up)), b = plotInt((hi.log10 + eps).rounded(.down))
        var major: [Double] = []
        var stride = 1
        if b >= a {
            while (b - a) / stride + 1 > Swift.max(2, maxCount) { stride = stride == 1 ? 2 : stride == 2 ? 5 : stride * 2 }
            let first = plotInt((Double(a) / Double(stride)).rounded(.up)) * stride
            major = Swift.stride(from: first, through: b, by: stride).map { pow10(Double($0)) }
        }
        // Fewer than three decades: 1-2-5 majors label the range better (0.01, 0.02, 0.05, 0.1…)
        // when there is room for them.
        if major.count < 3 {
            let d0 = plotInt(lo.log10.rounded(.down)), d1 = plotInt(hi.log10.rounded(.up))
            var candidates: [Double] = []
            for d in d0...Swift.max(d0, d1) {
                let p = pow10(Double(d))
                candidates += [p, 2 * p, 5 * p]
            }
            let low = lo * (1 - eps), high = hi * (1 + eps)
            let dense = candidates.filter { v in v >= low && v <= high }
            if dense.count <= Swift.max(2, maxCount) && dense.count >= 2 { major = dense }
            if major.count < 2 { major = linear(lo, hi, maxCount: 4).filter { $0 > 0 } }
        }
        var minor: [Double] = []
        if stride == 1 {
            let d0 = plotInt(lo.log10.rounded(.down)), d1 = plotInt(hi.log10.rounded(.down))
            for d in d0...Swift.max(d0, d1) {
                for m in 2...9 {
                    let v = Double(m) * pow10(Double(d))
                    if v >= lo * (1 - eps), v <= hi * (1 + eps), !major.contains(where: { abs($0 - v) <= eps * v }) {
                        minor.append(v)
                    }
                }
            }
        }
        return (major, minor)
    }

    /// Labels for linear ticks spaced `step` apart: the same number of decimals on each.
    static func labels(_ ticks: [Double], step: Double) -> [String] {
        let biggest = ticks.map(abs).max() ?? 0
        if biggest >= 1e6 || (step < 1e-4 && biggest > 0) { return ticks.map(scientific) }
        let decimals = Swift.max(0, plotInt(-(step.log10 + 1e-9).rounded(.down)))
        return ticks.map { fixed($0, decimals) }
    }

    /// Labels for log ticks: plain decimals in a readable range, else 10 with a superscript.
    static func logLabels(_ ticks: [Double]) -> [String] {
        let decades = ticks.allSatisfy { abs($0.log10 - $0.log10.rounded()) < 1e-9 }
        if ticks.allSatisfy({ $0 >= 1e-4 && $0 < 1e5 }) || !decades { return ticks.map(format) }
        return ticks.map { "10" + superscript(plotInt($0.log10.rounded())) }
    }

    /// A short label for any number: integers without a point, otherwise up to six decimals,
    /// scientific notation for very large or small magnitudes; minus as U+2212.
    public static func format(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v < 0 ? "−∞" : "∞") }
        if v == 0 { return "0" }
        if abs(v) >= 1e15 || abs(v) < 1e-4 { return scientific(v) }
        for d in 0...6 {
            let scaled = v * pow10(Double(d))
            if abs(scaled - scaled.rounded()) < 1e-6 * Swift.max(1, abs(scaled)) { return fixed(v, d) }
        }
        return fixed(v, abs(v) >= 1000 ? 1 : 4)
    }

    /// A count with thousands separators: 235200 → "235,200".
    public static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "−" : "") + out
    }

    /// `v` with exactly `decimals` digits after the point.
    static func fixed(_ v: Double, _ decimals: Int) -> String {
        let scale = pow10(Double(decimals))
        let r = (abs(v) * scale).rounded()
        guard r < 9e15 else { return scientific(v) }
        var digits = String(Int64(r))
        if decimals > 0 {
            if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        return (v < 0 && r != 0 ? "−" : "") + digits
    }

    /// "2.5e−05" style, three significant digits at most.
    static func scientific(_ v: Double) -> String {
        guard v != 0, v.isFinite else { return format(v) }
        var e = plotInt(abs(v).log10.rounded(.down))
        var m = v / pow10(Double(e))
        if abs(m) >= 9.995 { m /= 10; e += 1 }
        let ms = format((m * 100).rounded() / 100)
        return ms + "e" + (e < 0 ? "−" : "") + String(abs(e))
    }

    static func superscript(_ n: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        return (n < 0 ? "⁻" : "") + String(abs(n)).compactMap { $0.wholeNumberValue.map { digits[$0] } }
    }

    /// Multiples of `step` within [lo, hi], allowing for rounding at the ends.
    static func multiples(of step: Double, in lo: Double, _ hi: Double) -> [Double] {
        guard step > 0, step.isFinite, lo.isFinite, hi.isFinite else { return [] }
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        // Beyond 2^53 a step of 1 no longer changes a Double, so the stride would never end.
        guard last >= first, last - first < 10_000, abs(first) < 1e15, abs(last) < 1e15 else { return [] }
        // i·step computed as a quotient for small steps, so 0.1·3 prints as 0.3 and compares equal.
        let inverse = (1 / step).rounded()
        let exact = step < 1 && abs(1 / step - inverse) < 1e-9
        return Swift.stride(from: first, through: last, by: 1).map { i in
            let v = exact ? i / inverse : i * step
            return v == 0 ? 0 : v
        }
    }
}

/// The bound of `plotInt`: 2^52, beyond which a Double no longer holds every integer.
let plotIntLimit = 1 << 52

/// A Double derived from user data as an Int, rounded toward zero, without ever trapping: NaN
/// gives 0 and anything beyond ±2^52 (infinities included) is clamped there. Every Double → Int
/// conversion in Plot goes through it: axis ranges in denormals or of 1e300 make divisions
/// give NaN and infinities that `Int(_:)` would crash on.
@inline(__always) func plotInt(_ x: Double) -> Int {
    guard !x.isNaN else { return 0 }
    return Int(Swift.max(-Double(plotIntLimit), Swift.min(Double(plotIntLimit), x)))
}

/// 10^e exactly for integral e in the usual range.
func pow10(_ e: Double) -> Double {
    var r = 1.0
    let n = plotInt(abs(e))
    for _ in 0..<Swift.min(n, 400) { r *= 10 }
    return e < 0 ? 1 / r : r
}

extension Double {
    /// Base-10 logarithm (−∞ at 0, NaN below).
    var log10: Double {
        #if canImport(Glibc)
        return Glibc.log10(self)
        #else
        return Darwin.log10(self)
        #endif
    }
}

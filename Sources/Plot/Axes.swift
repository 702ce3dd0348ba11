// Axes: data ranges (with margins, like matplotlib's 5 %), the mapping from data to the plot
// rectangle, and tick choice for a given axis length so that labels never collide.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One axis as laid out: its range, scale, ticks and labels.
struct AxisGeometry {
    var lo: Double
    var hi: Double
    var scale: Scale
    var inverted = false
    var hidden = false
    var major: [Double] = []
    var minor: [Double] = []
    var labels: [String] = []
    /// Rotation of the tick labels (x axes with long category names), radians.
    var angle = 0.0

    /// Where `v` falls from lo (0) to hi (1); values a log axis cannot show fall far below 0,
    /// but stay finite so that every backend can draw them clipped.
    func fraction(_ v: Double) -> Double {
        var t: Double
        if scale == .log {
            let a = lo.log10, b = hi.log10
            t = v > 0 ? (v.log10 - a) / (b - a) : -10
        } else {
            t = (v - lo) / (hi - lo)
        }
        if !t.isFinite { t = t.isNaN ? 0 : (t > 0 ? 10 : -10) }
        t = Swift.min(10, Swift.max(-10, t))
        return inverted ? 1 - t : t
    }

    /// The data value at fraction t (inverse of `fraction`, ignoring inversion).
    func value(at t: Double) -> Double {
        scale == .log ? pow10Real(lo.log10 + (hi.log10 - lo.log10) * t) : lo + (hi - lo) * t
    }
}

func pow10Real(_ e: Double) -> Double {
    #if canImport(Glibc)
    return Glibc.pow(10, e)
    #else
    return Darwin.pow(10, e)
    #endif
}

enum AxesLayout {
    /// The range an axis of `panel` shows: the user's limits, else the data's extent with a
    /// margin, where bars and histograms start exactly at zero (matplotlib's "sticky" edges).
    static func range(_ panel: Panel, horizontal: Bool) -> (Double, Double) {
        let axis = horizontal ? panel.x : panel.y
        let log = axis.scale == .log
        var lo = Double.infinity, hi = -Double.infinity
        var sticky = false, pad = true
        func add(_ v: Double) {
            guard v.isFinite, !log || v > 0 else { return }
            lo = Swift.min(lo, v); hi = Swift.max(hi, v)
        }
        if horizontal && !axis.categories.isEmpty {
            lo = -0.6; hi = Double(axis.categories.count) - 0.4; pad = false
        }
        for mark in panel.marks {
            switch mark {
            case .line(let s):
                (horizontal ? s.x : s.y).forEach(add)
                if !horizontal { s.lower?.forEach(add); s.upper?.forEach(add) }
            case .scatter(let s):
                (horizontal ? s.x : s.y).forEach(add)
            case .bar(let s):
                if !horizontal {
                    s.values.forEach(add); s.lower?.forEach(add); s.upper?.forEach(add)
                    if !log { add(0); sticky = true }
                }
            case .histogram(let s):
                if horizontal { s.edges.forEach(add) } else {
                    s.counts.filter { $0 > 0 }.forEach(add)
                    if !log { add(0); sticky = true }
                }
            case .heatmap(let h):
                lo = -0.5; hi = Double(horizontal ? h.cols : h.rows) - 0.5; pad = false
            case .reference(let r):
                if (r.orientation == .vertical) == horizontal { add(r.value) }
            case .key:
                break
            }
        }
        if !(lo <= hi) { (lo, hi) = log ? (0.1, 10) : (0, 1) }
        // A spread below double precision's resolution is no spread: show the value with room.
        if hi - lo <= 1e-12 * Swift.max(abs(lo), abs(hi)) { hi = lo }
        if lo == hi {
            if log { lo /= 3.16; hi *= 3.16 } else {
                let d = lo == 0 ? 1 : abs(lo) * 0.1
                lo -= d; hi += d
            }
        } else if pad {
            if log {
                let a = lo.log10, b = hi.log10, m = (b - a) * 0.05
                lo = pow10Real(a - m); hi = pow10Real(b + m)
            } else {
                let m = (hi - lo) * 0.05
                // Bars and histograms touch the zero line instead of floating above it.
                if !(sticky && lo == 0) { lo -= m }
                if !(sticky && hi == 0) { hi += m }
            }
        }
        if let a = axis.min, a.isFinite, !log || a > 0 { lo = a }
        if let b = axis.max, b.isFinite, !log || b > 0 { hi = b }
        if !(hi > lo) { hi = lo + (log ? lo * 9 : 1) }
        return (lo, hi)
    }

    /// Ticks and labels for an axis `length` points long, the densest that keeps at least
    /// `spacing` between labels.
    static func ticks(_ axis: Axis, lo: Double, hi: Double, length: Double, horizontal: Bool,
                      canvas: Canvas, font: Font) -> AxisGeometry {
        var g = AxisGeometry(lo: lo, hi: hi, scale: axis.scale, inverted: axis.inverted, hidden: axis.hidden)
        if axis.hidden { return g }
        let em = font.size
        if !axis.categories.isEmpty {
            g.major = axis.categories.indices.map(Double.init)
            g.labels = axis.categories
            if horizontal { fitCategories(&g, length: length, canvas: canvas, font: font) }
            return g
        }
        // The data's own values, when there are few and their labels fit.
        if !axis.ticks.isEmpty {
            let inside = axis.ticks.filter { $0.isFinite && $0 >= lo && $0 <= hi && (axis.scale == .linear || $0 > 0) }
            if inside.count >= 2 {
                g.major = inside
                g.labels = inside.map(Ticks.format)
                if !collide(g, length: length, horizontal: horizontal, canvas: canvas, font: font) { return g }
                g.major = []; g.labels = []
            }
        }
        // Room per tick: labels side by side along x, about three label heights along y.
        var maxCount = Swift.min(8, Swift.max(2, plotInt(length / (horizontal ? 4.5 * em : 3.6 * em)) + 1))
        while true {
            if axis.scale == .log {
                let t = Ticks.log(lo, hi, maxCount: maxCount)
                g.major = t.major
                g.minor = axis.minorTicks || t.major.count <= 4 ? t.minor : []
                g.labels = Ticks.logLabels(t.major)
            } else {
                var step = Ticks.linearStep(lo, hi, maxCount: maxCount)
                if axis.integerTicks { step = Swift.max(1, step) }
                g.major = Ticks.multiples(of: step, in: lo, hi)
                if axis.minorTicks {
                    // As matplotlib's AutoMinorLocator: 4 intervals for steps of 2·10^k, else 5.
                    let mantissa = (step / pow10(step.log10.rounded(.down))).rounded()
                    let minorStep = step / (mantissa == 2 ? 4 : 5)
                    g.minor = Ticks.multiples(of: minorStep, in: lo, hi)
                        .filter { v in !g.major.contains(where: { abs($0 - v) < step * 1e-6 }) }
                }
                g.labels = Ticks.labels(g.major, step: step)
            }
            if maxCount <= 2 || !collide(g, length: length, horizontal: horizontal, canvas: canvas, font: font) { break }
            maxCount -= 1
        }
        return g
    }

    /// Whether neighbouring labels would overlap or sit closer than half an em.
    static func collide(_ g: AxisGeometry, length: Double, horizontal: Bool, canvas: Canvas, font: Font) -> Bool {
        guard g.major.count > 1 else { return false }
        let sizes = g.labels.map { canvas.measure($0, font) }
        let pos = g.major.map { g.fraction($0) * length }
        for i in 1..<pos.count {
            let gap = abs(pos[i] - pos[i - 1])
            let need = horizontal ? (sizes[i].width + sizes[i - 1].width) / 2 + font.size : 2 * sizes[i].height
            if gap < need { return true }
        }
        return false
    }

    /// Rotates category labels by 45° (or 90°) when they do not fit side by side, and thins
    /// them out when even that is too crowded.
    static func fitCategories(_ g: inout AxisGeometry, length: Double, canvas: Canvas, font: Font) {
        let n = g.major.count
        guard n > 1 else { return }
        let spacing = length * abs(g.fraction(1) - g.fraction(0))
        let widths = g.labels.map { canvas.measure($0, font).width }
        let height = canvas.measure("Ag", font).height
        let widest = widths.max() ?? 0
        if widest + font.size * 0.6 <= spacing { return }
        g.angle = height * 1.5 <= spacing ? Double.pi / 4 : Double.pi / 2
        let perLabel = g.angle == Double.pi / 2 ? height * 1.2 : height * 1.5
        let every = Swift.max(1, plotInt((perLabel / Swift.max(spacing, 1e-9)).rounded(.up)))
        if every > 1 {
            let keep = Swift.stride(from: 0, to: n, by: every).map { $0 }
            g.major = keep.map { g.major[$0] }
            g.labels = keep.map { g.labels[$0] }
        }
    }

    /// The extent of x tick labels below the axis line and past its left and right ends.
    static func xLabelExtent(_ g: AxisGeometry, length: Double, canvas: Canvas, font: Font)
        -> (below: Double, left: Double, right: Double) {
        var below = 0.0, left = 0.0, right = 0.0
        for (v, s) in zip(g.major, g.labels) {
            let size = canvas.measure(s, font)
            let x = g.fraction(v) * length
            if g.angle == 0 {
                below = Swift.max(below, size.height)
                left = Swift.max(left, size.width / 2 - x)
                right = Swift.max(right, x + size.width / 2 - length)
            } else {
                // Rotated labels end at their tick (right-aligned), so they reach down and left.
                let c = cos(g.angle), sn = sin(g.angle)
                below = Swift.max(below, size.width * sn + size.height * c)
                left = Swift.max(left, size.width * c + size.height * sn / 2 - x)
                right = Swift.max(right, x + size.height * sn / 2 - length)
            }
        }
        return (below, left, right)
    }
}

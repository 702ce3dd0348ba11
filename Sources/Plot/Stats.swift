// Stats: turning table rows into plotted series: columns checked by name, rows split by a `by`
// column, repeated rows at one x (seeds) summarised as mean ± sd or ± se with their count n.

/// Mean, sample standard deviation, standard error and count of the finite values in a group.
public struct Summary: Equatable, Sendable {
    public var mean: Double
    public var sd: Double
    public var se: Double
    public var n: Int

    /// Summarises the finite values; nil when there are none. A single value has sd = se = 0.
    public init?(_ values: [Double]) {
        let finite = values.filter { $0.isFinite }
        guard !finite.isEmpty else { return nil }
        n = finite.count
        mean = finite.reduce(0, +) / Double(n)
        let m = mean
        // n − 1: seeds are a sample of the runs one could have made.
        sd = n > 1 ? (finite.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot() : 0
        se = sd / Double(n).squareRoot()
    }

    /// Half the width of the interval drawn for `dispersion`.
    public func spread(_ dispersion: Dispersion) -> Double {
        switch dispersion {
        case .none: return 0
        case .sd: return sd
        case .se: return se
        }
    }
}

/// One x with the summary of the y values seen there.
public struct AggregatedPoint: Equatable, Sendable {
    public var x: Double
    public var summary: Summary
}

public enum Stats {
    /// Groups y by equal x (ignoring rows where either is not finite), sorted by x.
    public static func aggregate(x: [Double], y: [Double]) -> [AggregatedPoint] {
        var byX: [Double: [Double]] = [:]
        for (a, b) in zip(x, y) where a.isFinite && b.isFinite { byX[a, default: []].append(b) }
        return byX.keys.sorted().compactMap { k in Summary(byX[k] ?? []).map { AggregatedPoint(x: k, summary: $0) } }
    }

    /// The legend suffix stating how many runs each point summarises: "(n=3)", "(n=2–5)", or ""
    /// when every point is a single run.
    static func countSuffix(_ points: [AggregatedPoint]) -> String {
        let ns = points.map(\.summary.n)
        guard let lo = ns.min(), let hi = ns.max(), hi > 1 else { return "" }
        return lo == hi ? " (n=\(lo))" : " (n=\(lo)–\(hi))"
    }

    /// Row indices split by the values of `column`: strings in order of first appearance (the
    /// order a script listed its methods in), numbers ascending. A nil column is one group "".
    static func groups(_ rows: [String: PlotColumn], by column: String?, count: Int) throws -> [(label: String, rows: [Int])] {
        guard let column else { return [("", Array(0..<count))] }
        switch try self.column(rows, column, count: count) {
        case .strings(let s):
            var order: [String] = [], members: [String: [Int]] = [:]
            for (i, v) in s.enumerated() {
                if members[v] == nil { order.append(v) }
                members[v, default: []].append(i)
            }
            return order.map { ($0, members[$0] ?? []) }
        case .numbers(let v):
            var members: [Double: [Int]] = [:]
            for (i, a) in v.enumerated() where !a.isNaN { members[a, default: []].append(i) }
            return members.keys.sorted().map { (Ticks.format($0), members[$0] ?? []) }
        }
    }

    /// The column called `name`, checked to have `count` rows.
    static func column(_ rows: [String: PlotColumn], _ name: String, count: Int? = nil) throws -> PlotColumn {
        guard let c = rows[name] else {
            let known = rows.keys.sorted().joined(separator: ", ")
            throw PlotError("no column '\(name)' in the table (columns: \(known.isEmpty ? "none" : known))")
        }
        if let count, c.count != count {
            throw PlotError("column '\(name)' has \(c.count) rows but others have \(count)")
        }
        return c
    }

    /// The numeric column called `name`.
    static func numbers(_ rows: [String: PlotColumn], _ name: String, count: Int? = nil) throws -> [Double] {
        switch try column(rows, name, count: count) {
        case .numbers(let v): return v
        case .strings: throw PlotError("column '\(name)' holds strings, but a number column is needed")
        }
    }

    /// The row count shared by the named columns; an error for a missing column, mismatched
    /// lengths or an empty table.
    static func rowCount(_ rows: [String: PlotColumn], _ names: [String]) throws -> Int {
        var count: Int?
        for name in names {
            let c = try column(rows, name)
            if let n = count, n != c.count {
                throw PlotError("columns have different lengths: '\(names[0])' has \(n) rows, '\(name)' has \(c.count)")
            }
            count = c.count
        }
        guard let n = count, n > 0 else { throw PlotError("the table has no rows to plot") }
        return n
    }
}

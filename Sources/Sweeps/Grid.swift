// A sweep's grid: named axes of `--set` values and a list of seeds; its points are every
// combination, seeds innermost, each keyed like a notebook cell (script text, settings, seed,
// prune's version) so a rerun finds what already ran.
import FileIO
import Language
import Bindings

/// An error in a sweep's grid, options or directory, worded for the command line.
public struct SweepError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One named axis: `--grid keep=0.5,0.1,0.03`.
public struct SweepAxis: Equatable {
    public var name: String
    public var values: [String]
    public init(name: String, values: [String]) { self.name = name; self.values = values }

    /// Parses `name=v1,v2,...` (spaces around names and values are ignored).
    public static func parse(_ spec: String) throws -> SweepAxis {
        guard let eq = spec.firstIndex(of: "=") else {
            throw SweepError("--grid \(spec): expected name=value1,value2,... (e.g. --grid keep=0.5,0.1)")
        }
        let name = trim(String(spec[..<eq]))
        guard isIdentifier(name) else {
            throw SweepError("--grid \(spec): '\(name)' is not a setting name (letters, digits and _, not starting with a digit)")
        }
        let values = spec[spec.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false).map { trim(String($0)) }
        if values == [""] { throw SweepError("--grid \(spec): the value list of '\(name)' is empty") }
        if values.contains("") { throw SweepError("--grid \(spec): an empty value in the list of '\(name)'") }
        for v in values where v.contains(where: { $0.isNewline || $0 == "\t" }) {
            throw SweepError("--grid \(spec): values may not contain tabs or line breaks")
        }
        if let dup = firstDuplicate(values) { throw SweepError("--grid \(spec): the value '\(dup)' appears twice") }
        return SweepAxis(name: name, values: values)
    }
}

/// One run of the script: its settings and seed, and the key naming its results.
public struct SweepPoint: Equatable {
    /// The point's position in the grid (seeds innermost).
    public var index: Int
    public var settings: [(name: String, value: String)]
    public var seed: UInt64
    /// Names the point's folder: the script's text, the settings, the seed and prune's version.
    public var key: String

    public static func == (a: SweepPoint, b: SweepPoint) -> Bool {
        a.index == b.index && a.seed == b.seed && a.key == b.key
            && a.settings.map(\.name) == b.settings.map(\.name) && a.settings.map(\.value) == b.settings.map(\.value)
    }

    /// `method=movement keep=0.1 seed=2`, for progress lines and errors.
    public var label: String { (settings.map { "\($0.name)=\($0.value)" } + ["seed=\(seed)"]).joined(separator: " ") }

    static func key(script: String, settings: [(name: String, value: String)], seed: UInt64, version: String) -> String {
        ContentHash.of(["prune sweep point", version, script] + settings.sorted { $0.name < $1.name }.map { "\($0.name)=\($0.value)" } + ["seed=\(seed)"])
    }
}

/// Axes and seeds: the whole grid.
public struct SweepGrid: Equatable {
    public var axes: [SweepAxis]
    public var seeds: [UInt64]

    /// The largest grid a sweep accepts (a typo such as a runaway value list should fail early).
    public static let maxPoints = 100_000

    public init(axes: [SweepAxis], seeds: [UInt64]) throws {
        self.axes = axes; self.seeds = seeds
        if seeds.isEmpty { throw SweepError("--seeds: give a count (3 runs seeds 0, 1, 2) or a list (0,5,7)") }
        var names: Set<String> = []
        for a in axes {
            if a.name == "seed" { throw SweepError("--grid seed=...: seeds are given by --seeds (a count or a list)") }
            if !names.insert(a.name).inserted { throw SweepError("--grid: '\(a.name)' is given twice") }
        }
        var count = seeds.count
        for a in axes {
            let (p, overflow) = count.multipliedReportingOverflow(by: a.values.count)
            guard !overflow, p <= SweepGrid.maxPoints else {
                throw SweepError("the grid has more than \(SweepGrid.maxPoints) points")
            }
            count = p
        }
    }

    /// Parses `--grid` specs and a `--seeds` value: a count (`3`: seeds 0, 1, 2) or a list (`0,5,7`).
    public static func parse(grid specs: [String], seeds: String) throws -> SweepGrid {
        try SweepGrid(axes: specs.map(SweepAxis.parse), seeds: parseSeeds(seeds))
    }

    public static func parseSeeds(_ text: String) throws -> [UInt64] {
        let t = trim(text)
        if !t.contains(","), let n = Int(t) {
            guard n >= 1, n <= maxPoints else { throw SweepError("--seeds \(t): the count must be between 1 and \(maxPoints)") }
            return (0..<UInt64(n)).map { $0 }
        }
        let parts = t.split(separator: ",", omittingEmptySubsequences: false).map { trim(String($0)) }
        var seeds: [UInt64] = []
        for p in parts {
            guard let s = UInt64(p) else { throw SweepError("--seeds \(t): '\(p)' is not a whole number ≥ 0") }
            seeds.append(s)
        }
        if let dup = firstDuplicate(seeds.map(String.init)) { throw SweepError("--seeds \(t): the seed \(dup) appears twice") }
        return seeds
    }

    /// Every point, the first axis outermost and seeds innermost.
    public func points(script: String, version: String) -> [SweepPoint] {
        var combos: [[(name: String, value: String)]] = [[]]
        for a in axes {
            combos = combos.flatMap { c in a.values.map { c + [(name: a.name, value: $0)] } }
        }
        var points: [SweepPoint] = []
        for c in combos {
            for s in seeds {
                points.append(SweepPoint(index: points.count, settings: c, seed: s,
                                         key: SweepPoint.key(script: script, settings: c, seed: s, version: version)))
            }
        }
        return points
    }

    /// Checks the axes against what the script reads; an axis the script never reads is an error
    /// (it would run the same thing many times). Scripts that compute setting names pass.
    public func check(against read: SettingsRead, script: String) throws {
        guard read.complete else { return }
        for a in axes where !read.names.contains(a.name) {
            let known = read.names.sorted()
            let reads = known.isEmpty ? "it reads no settings" : "it reads " + known.joined(separator: ", ")
            throw SweepError("--grid \(a.name): \(script) never reads param(\"\(a.name)\") (\(reads))\(didYouMean(a.name, known))")
        }
    }
}

func trim(_ s: String) -> String { s.trimmingCharacters(" \t") }

func isIdentifier(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, first == "_" || (first.properties.isAlphabetic && first.isASCII) else { return false }
    return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
}

func firstDuplicate(_ xs: [String]) -> String? {
    var seen: Set<String> = []
    for x in xs where !seen.insert(x).inserted { return x }
    return nil
}

extension String {
    func trimmingCharacters(_ set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}

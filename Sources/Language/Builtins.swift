// The builtins registry: the language's core, display-option and table builtins (Builtins+Core,
// +Options, +Table) and the tables the modules above it register (the library's bindings,
// notebooks, sweeps). Help, completion, argument checking and the reference page all read this
// one list.

public enum Builtins {
    /// Every builtin, core first, then the registered tables in the order they were registered.
    public static var all: [Builtin] { core + options + tables + registered }

    /// The builtin called `name`.
    public static func named(_ name: String) -> Builtin? { byName[name] }

    /// Adds builtins defined in a module above the language, so the language need not know
    /// them. Call it before the first session starts (sessions copy the table).
    public static func register(_ builtins: [Builtin]) {
        for b in builtins where !registered.contains(where: { $0.name == b.name }) { registered.append(b) }
        byName = index()
    }

    nonisolated(unsafe) private static var registered: [Builtin] = []
    nonisolated(unsafe) private static var byName: [String: Builtin] = index()

    private static func index() -> [String: Builtin] {
        var d: [String: Builtin] = [:]
        for b in all where d[b.name] == nil { d[b.name] = b }
        return d
    }

    /// Topics in the order help lists them.
    public static var topics: [String] {
        var seen: [String] = []
        for b in all where !seen.contains(b.topic) { seen.append(b.topic) }
        return seen
    }
}

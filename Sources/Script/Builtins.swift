// The builtins registry: every builtin of the language, from the per-topic tables
// (Builtins+Core, +Tensor, +Model, +Data, +Train, +Pruning). Help, completion, argument checking and the
// reference page all read this one list.

public enum Builtins {
    /// Every builtin, core first.
    public static var all: [Builtin] { core + tensors + models + speed + data + training + pruning + transferring + figures + notebooks }

    /// The builtin called `name`.
    public static func named(_ name: String) -> Builtin? { byName[name] }

    static let byName: [String: Builtin] = {
        var d: [String: Builtin] = [:]
        for b in all where d[b.name] == nil { d[b.name] = b }
        return d
    }()

    /// Topics in the order help lists them.
    public static var topics: [String] {
        var seen: [String] = []
        for b in all where !seen.contains(b.topic) { seen.append(b.topic) }
        return seen
    }
}

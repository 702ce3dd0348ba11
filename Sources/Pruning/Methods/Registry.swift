// The registry: every method, by name, in the order help and the README list them. Adding a
// method is its file in this folder and one line here.
import Engine
import NN

public enum Methods {
    public static let all: [any PruningMethod.Type] = [
        RandomPruning.self,
        Magnitude.self,
        Movement.self,
        SoftMovement.self,
        L0.self,
        Taylor.self,
        SNIP.self,
        Lottery.self,
        STR.self,
        WoodFisher.self,
        OBD.self,
        RigL.self,
        ACDC.self,
        Channel.self,
        ChannelScaling.self,
        BasisPruning.self,
        CaP.self,
        Gates.self,
    ]

    public static var names: [String] { all.map { $0.name } }

    public static func named(_ name: String) -> (any PruningMethod.Type)? { all.first { $0.name == name } }

    /// The methods that declare a parameter of this name.
    public static func declaring(_ parameter: String) -> [String] {
        all.filter { $0.parameters.contains { $0.name == parameter } }.map { $0.name }
    }

    /// Rebuilds a saved gate transform by the name it saved under (nil: none of ours).
    public static func restoreTransform(name: String, settings: [String: Double], rng: RNG) -> GateTransform? {
        for m in all { if let t = m.restoreTransform(name: name, settings: settings, rng: rng) { return t } }
        return nil
    }

    /// The README's method table (scripts/method-table writes it; a test checks it is current).
    public static func markdownTable() -> String {
        var out = "| method | what it does | its parameters (default) | schedule | reference |\n|---|---|---|---|---|\n"
        for m in all {
            let params = m.parameters.map { "`\($0.name)` (\($0.defaultValue))" }.joined(separator: ", ")
            let target = m.target == .own ? "; reaches its own sparsity" : ""
            let schedule = m.schedules.isEmpty ? "its own" : "\(m.defaultSchedule.kind.rawValue), every \(m.defaultSchedule.every)"
            let cells = [m.summary + target, params.isEmpty ? "none" : params, schedule, m.reference]
            // A bare | would end the cell (|w| in a summary).
            out += "| `\(m.name)` | " + cells.map { cell in String(cell.flatMap { $0 == "|" ? ["\\", "|"] : [$0] }) }.joined(separator: " | ") + " |\n"
        }
        return out
    }
}

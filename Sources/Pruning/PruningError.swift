// PruningError: the failures of pruners, methods, transfer, distillation, diffs and adversaries,
// worded for a Swift user; the bindings add the language's wording (Builtins+Pruning.swift).
import FileIO

/// Errors of pruners, in the library's words; the language adds its own syntax (see the
/// Bindings module, Builtins+Pruning.swift), so a Swift user reads no script keywords here.
public enum PruningError: LibraryError, Equatable {
    case unknownMethod(String, known: [String])
    case unknownParameter(name: String, method: String, known: [String])
    case invalidParameter(name: String, value: ParameterValue, expected: String)
    /// The method needs a target fraction and none was given.
    case needsTarget(method: String)
    /// The method reaches its own sparsity and was given a target.
    case takesNoTarget(method: String)
    /// The method chooses what to remove from data (gradients, activations) and was given none.
    case needsData(method: String)
    /// The method learns its masks while training and cannot prune once.
    case learnsWhileTraining(method: String)
    /// The schedule is not one the method accepts.
    case schedule(method: String, given: String, accepted: [String])
    /// Structured pruning met a model structure it cannot follow (names the layer).
    case structure(String)
    /// The method trains or removes layers of its own (`layers`, such as "unit gates") that
    /// `insertedBy` puts into a model, and the model has none.
    case missingLayers(method: String, layers: String, insertedBy: String)
    /// The method prunes once, from data, and cannot follow a gradual schedule.
    case prunesOnceFromData(method: String)
    /// Any other failure of pruning, transfer, distillation, diffs or adversaries, in words.
    case invalid(String)

    public var message: String {
        switch self {
        case let .unknownMethod(name, known):
            return "unknown method \"\(name)\"; choose one of " + known.map { "\"\($0)\"" }.joined(separator: ", ")
        case let .unknownParameter(name, method, known):
            return "\(method) has no parameter '\(name)'" + (known.isEmpty ? " (it takes none of its own)" : " (it takes \(known.joined(separator: ", ")))")
        case let .invalidParameter(name, value, expected):
            return "\(name) must be \(expected), got \(value)"
        case let .needsTarget(method):
            return "\(method) needs a target: the fraction of weights to keep"
        case let .takesNoTarget(method):
            return "\(method) reaches the sparsity its penalty gives; it takes no target fraction"
        case let .needsData(method):
            return "\(method) chooses what to remove from data: it needs data"
        case let .learnsWhileTraining(method):
            return "\(method) learns its masks while training; it cannot prune once"
        case let .schedule(method, given, accepted):
            if accepted.isEmpty { return "\(method) takes no schedule (got \"\(given)\")" }
            return "\(method) takes the schedule " + orList(accepted.map { "\"\($0)\"" }) + ", not \"\(given)\""
        case let .missingLayers(method, layers, insertedBy):
            return "\(method) works on the \(layers) that \(insertedBy) inserts; this model has none"
        case let .prunesOnceFromData(method):
            return "\(method) prunes once, from data: call Pruner.pruneOnce(_:data:) with data, or use the one-shot schedule"
        case let .structure(message), let .invalid(message):
            return message
        }
    }
}

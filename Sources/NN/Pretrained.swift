// Pretrained models that ship as Python packages: where their folders are found on this
// machine. Nothing is downloaded; a package that is not installed is an error saying how to
// install it.
import Engine

/// One pretrained model: its short name and the Python package whose folder holds its files.
public struct PretrainedModel: Sendable {
    public let name: String
    /// Other names it answers to.
    public let aliases: [String]
    /// Where its files are installed (found by the one package finder, Engine's ModelPackage).
    public let package: ModelPackage
    public let summary: String
}

public enum Pretrained {
    /// The models `pretrained(name)` knows.
    public static let models: [PretrainedModel] = [
        PretrainedModel(name: "minilm", aliases: ["all-minilm-l6-v2", "all-MiniLM-L6-v2"], package: .minilm,
                        summary: "all-MiniLM-L6-v2: BERT layout, 6 layers, hidden 384, 12 heads, 22.7M parameters, mean pooling"),
    ]

    /// The model named `name` (or one of its aliases).
    public static func model(_ name: String) throws -> PretrainedModel {
        guard let m = models.first(where: { $0.name == name || $0.aliases.contains(name) }) else {
            throw NNError("pretrained: unknown model '\(name)' (known: \(models.map(\.name).joined(separator: ", ")))")
        }
        return m
    }

    /// The folder holding `model`'s files: the environment variable when set, else the first
    /// installed copy of the package found; an error saying how to install it otherwise.
    public static func folder(of model: PretrainedModel) throws -> String {
        do { return try model.package.folder() } catch let e as EngineError {
            throw NNError("pretrained: the model '\(model.name)': \(e.message)")
        }
    }
}

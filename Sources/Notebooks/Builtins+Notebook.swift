// Notebook builtins: run(file) runs a script's cells in the session; run(file, cell=n) brings
// the session to the state before code cell n, the document's In [n] (from the cell cache when
// it is valid), and runs it.
import FileIO
import Language
import Bindings
import Engine

extension Notebook {
    /// prune's version, part of every cell-cache key (the executable sets it at start-up).
    nonisolated(unsafe) public static var version = "dev"

    /// Registers the library's builtins and then the notebooks' (`run`) with the language.
    /// Idempotent and safe from several threads at once, as `Library.install`; call it before the
    /// first session starts. (Every test session calls it: registering on each call assigned the
    /// language's table of builtins from parallel tests at once, a data race on a dictionary that
    /// once corrupted the heap of a test run.)
    public static func install() { _ = installation }

    private static let installation: Void = {
        Library.install()
        Builtins.register(Builtins.notebooks)
    }()
}

extension Builtins {
    static let notebooks: [Builtin] = [
        Builtin("run", [BuiltinParam("file", nil, "a .prune script"),
                        BuiltinParam("cell", .nil_, "run only this code cell (In [n] in the rendered document, Markdown cells not counted), after restoring the state before it"),
                        BuiltinParam("seed", .number(0), "with cell=: the seed the file's run starts from (as prune --seed)"),
                        BuiltinParam("cache", .bool(true), "with cell=: use the cell cache in .prune-cache beside the file")],
                topic: "notebooks", summary: "Runs a script file (or one of its cells) in this session.",
                help: "run(file) runs every cell in order in this session, as `prune FILE` would (showing the value of each expression statement not ended by ;), and leaves its variables here. run(file, cell=3) restores the state before the third code cell (In [3] in the rendered document) from the cell cache when it is valid (the cells before it unchanged, the files they read untouched), and otherwise runs the cells before it quietly (storing them in the cache); then it runs cell 3, printing its output. The file's variables are merged into this session's; --set values apply.",
                example: "run(\"tutorials/01-quickstart.prune\", cell=3)") { args in
            let path = try args.string("file")
            guard !path.isEmpty else { throw BuiltinError("run: argument 'file' is empty") }
            let bytes: [UInt8]
            do {
                try InputFile.check(path)
                bytes = try WholeFile.readAll(path)
            } catch let e as LibraryError { throw BuiltinError("run: \(e.scriptText)") }
            let source = String(decoding: bytes, as: UTF8.self)
            let session = args.session
            if !args.has("cell") {
                try attachingSource(source) { try session.execute(source, file: path, echo: true) }
                return .nil_
            }
            let cell = try args.int("cell", in: 1...1_000_000)
            let options = NotebookOptions(file: path, version: Notebook.version, seed: try args.seed(),
                                          useCache: try args.bool("cache"))
            let runner = NotebookRunner(source: source, session: session, options: options)
            try attachingSource(source) { try runner.runCell(cell) }
            return .nil_
        },
    ]
}

/// Runs `body`, giving the script errors it throws the text of the file they point into (when
/// they carry none), so that they print with their source line.
private func attachingSource(_ source: String, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch var e as ScriptError {
        if e.sourceText == nil { e.sourceText = source }
        throw e
    } catch var e as ScriptErrors {
        for i in e.errors.indices where e.errors[i].sourceText == nil { e.errors[i].sourceText = source }
        throw e
    }
}

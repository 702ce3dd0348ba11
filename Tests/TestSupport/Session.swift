// What every script test starts from: a session with the library's and the notebooks' builtins
// installed, as `prune` installs them at start-up.
import Language
import Notebooks

func testSession(output: @escaping (String) -> Void = { print($0, terminator: "") }, settings: [String: String] = [:],
                 seed: UInt64 = 0) -> Session {
    Notebook.install()
    return Session(output: output, settings: settings, seed: seed)
}

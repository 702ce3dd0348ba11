// What every script test starts from: a session with the library's and the notebooks' builtins
// installed, as `prune` installs them at start-up, and a session that captures what it prints.
import Language
import Notebooks

public func testSession(output: @escaping (String) -> Void = { print($0, terminator: "") }, settings: [String: String] = [:],
                        seed: UInt64 = 0) -> Session {
    Notebook.install()
    return Session(output: output, settings: settings, seed: seed)
}

/// A test session whose printed output collects in `text`.
public final class Captured {
    public var text = ""
    public lazy var session = testSession(output: { [unowned self] in self.text += $0 })
    public init() {}
    @discardableResult
    public func run(_ source: String, echo: Bool = true) throws -> Value? { try session.execute(source, file: "test.prune", echo: echo) }
}

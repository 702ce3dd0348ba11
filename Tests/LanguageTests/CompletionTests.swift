// Tab completion from the session: builtins, variables, keyword names in a call, fields, paths.
import Foundation
import Testing
import TestSupport
@testable import Language
@testable import Bindings
@testable import Notebooks

@Suite struct CompletionTests {
    func complete(_ s: Session, _ line: String) -> [String] { s.completions(for: line, cursor: line.count) }

    @Test func builtinsAndVariables() throws {
        let s = testSession(output: { _ in })
        try s.execute("myvalue = 1\ndef myfunc(); end")
        #expect(complete(s, "pri") == ["print("])
        #expect(complete(s, "my") == ["myfunc(", "myvalue"])
        #expect(complete(s, "x = myv") == ["myvalue"])
        #expect(complete(s, "whi") == ["while"])
        #expect(complete(s, "# pri").isEmpty)
    }

    @Test func keywordsInsideACall() throws {
        let s = testSession(output: { _ in })
        #expect(complete(s, "range(1, st") == ["step=", "str("])
        #expect(complete(s, "range(1, step=2, ").contains("b="))
        #expect(!complete(s, "range(1, step=2, ").contains("step="))
        // (a prefix no builtin shares: "be" also offers bert()).
        try s.execute("def f(alpha, gamma=1); end")
        #expect(complete(s, "f(1, gam") == ["gamma="])
        if Builtins.named("train") != nil {
            #expect(complete(s, "train(net, ep").contains("epochs="))
        }
    }

    /// pruner's keywords: the shared ones, then the chosen method's own (from its declaration).
    @Test func prunerKeywordsFollowTheMethod() throws {
        let s = testSession(output: { _ in })
        func keywords(_ line: String) -> [String] { complete(s, line).filter { $0.hasSuffix("=") } }
        #expect(keywords("pruner(\"lottery\", keep=0.1, r") == ["rewind=", "rounds="])
        #expect(keywords("pruner(\"soft_movement\", th") == ["threshold="])
        #expect(keywords("pruner(\"movement\", ro").isEmpty)
        #expect(complete(s, "pruner(\"movement\", sc").contains("score_lr="))
        #expect(complete(s, "pruner(\"movement\", gra") == ["granularity="])
        // Before a method is named, every method's keywords are candidates.
        #expect(complete(s, "pruner(ro").contains("rounds="))
    }

    @Test func fieldsAfterADot() throws {
        let s = testSession(output: { _ in })
        try s.execute("r = {lr: 0.1, epochs: 3, inner: {depth: 2}}\nt = tensor([1, 2])")
        #expect(complete(s, "r.l") == ["lr"])
        #expect(complete(s, "r.inner.d") == ["depth"])
        #expect(complete(s, "t.sh") == ["shape"])
        #expect(complete(s, "nothing.x").isEmpty)
        if Builtins.named("mlp") != nil {
            try s.execute("net = mlp([2, 2])")
            #expect(complete(s, "net.lay") == ["layers"])
        }
    }

    @Test func pathsInsideAString() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prune-completion-\(getpid())")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir.appendingPathComponent("model.safetensors").path, contents: Data())
        FileManager.default.createFile(atPath: dir.appendingPathComponent("mask.safetensors").path, contents: Data())
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = testSession(output: { _ in })
        let base = dir.path + "/"
        #expect(complete(s, "load(\"\(base)mo") == [base + "model.safetensors"])
        #expect(complete(s, "load(\"\(base)") == [base + "mask.safetensors", base + "model.safetensors", base + "sub/"])
        #expect(complete(s, "x = \"\(base)su") == [base + "sub/"])
    }

    @Test func cursorInTheMiddle() {
        let s = testSession(output: { _ in })
        #expect(s.completions(for: "pri + 1", cursor: 3) == ["print("])
        #expect(s.completions(for: "", cursor: 100).contains("print("))
    }
}

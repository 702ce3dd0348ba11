// Models trained by PyTorch (scripts/torch_fixtures.py) load into prune models through
// rename=/strict= and give PyTorch's predictions on the fixture inputs; a model saved by prune
// loads back as the model itself.
import Foundation
import Testing
import TestSupport
import Engine
@testable import Language
@testable import Bindings
@testable import Notebooks

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fixtures/torch").path

/// Runs `source` in a fresh session and returns its last value and what it printed.
private func run(_ source: String) throws -> (value: Value?, output: String) {
    var printed = ""
    let session = testSession(output: { printed += $0 })
    let v = try session.execute(source, file: "torch.prune")
    return (v, printed)
}

/// The largest |a − b| over two tensors of one shape, and whether their row-wise argmax agree.
private func compare(_ v: Value?) -> (diff: Float, sameClasses: Bool)? {
    guard case .list(let l)? = v, l.items.count == 2, case .object(let a as Tensor) = l.items[0], case .object(let b as Tensor) = l.items[1],
          a.shape == b.shape, a.rank == 2 else { return nil }
    var diff: Float = 0, same = true
    let (n, k) = (a.shape[0], a.shape[1])
    let x = a.array, y = b.array
    for i in 0..<n {
        var (ia, ib) = (0, 0)
        for j in 0..<k {
            diff = max(diff, Swift.abs(x[i * k + j] - y[i * k + j]))
            if x[i * k + j] > x[i * k + ia] { ia = j }
            if y[i * k + j] > y[i * k + ib] { ib = j }
        }
        same = same && ia == ib
    }
    return (diff, same)
}

@Suite struct TorchImportTests {
    @Test func pytorchMLPGivesPyTorchPredictions() throws {
        let (v, out) = try run("""
            p = load("\(fixtures)/predictions.npz")
            net = mlp([64, 32, 10])
            load("\(fixtures)/mlp.safetensors", into=net, rename={"1.": "layers.1.", "3.": "layers.3."}, strict=false)
            [net(p.x), p.mlp]
            """)
        #expect(out.contains("skipped 1 tensor(s) of the file the model does not have: temperature"))
        let c = try #require(compare(v))
        #expect(c.diff < 1e-4)
        #expect(c.sameClasses)
    }

    @Test func pytorchCNNGivesPyTorchPredictions() throws {
        let (v, _) = try run("""
            p = load("\(fixtures)/predictions.npz")
            net = sequential([conv2d(1, 4, 3, padding=1), relu(), maxpool(2), conv2d(4, 8, 3, padding=1), relu(), maxpool(2),
                              flatten(), linear(32, 10)])
            load("\(fixtures)/cnn.safetensors", into=net, rename={"": "layers."})
            [net(p.x), p.cnn]
            """)
        let c = try #require(compare(v))
        #expect(c.diff < 1e-4)
        #expect(c.sameClasses)
    }

    @Test func strictLoadingNamesWhatDoesNotFit() throws {
        // Without strict=false the extra tensor is an error; without rename= nothing matches.
        #expect(throws: (any Error).self) {
            try run("net = mlp([64, 32, 10])\nload(\"\(fixtures)/mlp.safetensors\", into=net, rename={\"1.\": \"layers.1.\", \"3.\": \"layers.3.\"})")
        }
        let (_, out) = try run("net = mlp([64, 32, 10])\nload(\"\(fixtures)/mlp.safetensors\", into=net, strict=false)")
        #expect(out.contains("4 tensor(s) of the model are not in the file and keep their values: layers.1.weight"))
    }

    @Test func savedModelsLoadBackAsModels() throws {
        let path = NSTemporaryDirectory() + "prune-torch-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (v, _) = try run("""
            p = load("\(fixtures)/predictions.npz")
            net = sequential([conv2d(1, 4, 3, padding=1), relu(), maxpool(2), conv2d(4, 8, 3, padding=1), relu(), maxpool(2),
                              flatten(), linear(32, 10)])
            load("\(fixtures)/cnn.safetensors", into=net, rename={"": "layers."})
            save(net, "\(path)")
            back = load("\(path)")
            [back(p.x), p.cnn]
            """)
        let c = try #require(compare(v))
        #expect(c.diff < 1e-4)
    }
}

// Architectures in a checkpoint's metadata: the text form of a module spec round-trips, a saved
// model is rebuilt from its file alone, and malformed text is refused with a position.
import Foundation
import Testing
import TestSupport
@testable import NN
import Engine

@Suite struct ArchitectureTextTests {
    @Test func specTextRoundTrips() throws {
        let rng = RNG(seed: 1)
        let net = Sequential([try Conv2d(1, 4, kernel: 3, padding: 1, rng: rng), Activation(.gelu), MaxPool2d(2),
                              Residual(Sequential([try Linear(4, 4, rng: rng), Dropout(0.25, rng: rng)])), Flatten()])
        let spec = try ModuleCodec.describe(net)
        #expect(try ModuleSpec(text: spec.text) == spec)
        #expect(spec.text.hasPrefix("Sequential(Conv2d(bias=1, in=1, kernel=3, out=4, padding=1, stride=1), Activation(function=\"gelu\")"))
    }

    @Test func savedModelsRebuildThemselves() throws {
        let dir = try TempDir("architecture")
        defer { dir.cleanup() }
        let path = dir.file("net.safetensors")
        let rng = RNG(seed: 2)
        let net = Sequential([Flatten(), try Linear(6, 5, rng: rng), Activation(.relu), try Linear(5, 3, rng: rng)])
        try Checkpoint.save(net, to: path)
        let back = try Checkpoint.loadModel(from: path, rng: RNG(seed: 3))
        #expect(back.namedParameters().map(\.0) == net.namedParameters().map(\.0))
        let x = try Tensor.randn([2, 6], rng: rng)
        #expect(try back(x).array == (try net(x)).array)
    }

    @Test func malformedTextIsRefused() throws {
        for bad in ["Sequential(", "Linear(in=3, out=)", "Sequential(Flatten()) extra", String(repeating: "Sequential(", count: 100)] {
            #expect(throws: NNError.self) { try ModuleSpec(text: bad) }
        }
        #expect(throws: NNError.self) {
            try ModuleCodec.build(try ModuleSpec(text: "Linear(in=-3, out=2, bias=1)"), rng: RNG(seed: 0), dropoutRNG: RNG(seed: 0))
        }
    }

    @Test func renameAndNonStrictLoading() throws {
        let dir = try TempDir("rename")
        defer { dir.cleanup() }
        let path = dir.file("torch.safetensors")
        let rng = RNG(seed: 4)
        let w = try Tensor.randn([3, 2], rng: rng), b = try Tensor.randn([3], rng: rng)
        try Safetensors.save([(name: "0.weight", tensor: w), (name: "0.bias", tensor: b), (name: "extra", tensor: Tensor(1))], to: path)
        let net = Sequential([try Linear(2, 3, rng: rng)])
        var skipped = Checkpoint.Skipped()
        try Checkpoint.load(net, from: path, strict: false, rename: { "layers." + $0 }, skipped: { skipped = $0 })
        #expect(skipped == Checkpoint.Skipped(unused: ["extra"], missing: []))
        #expect(net.namedParameters()[0].1.array == w.array)
        #expect(throws: NNError.self) { try Checkpoint.load(net, from: path, rename: { _ in "same" }) }
    }
}

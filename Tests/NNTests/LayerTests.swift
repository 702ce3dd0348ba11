// Layers and models: whole-module gradient checks against finite differences, stable dotted
// names, parameter counts of the ready models, train/eval behaviour and the errors a shape
// mismatch between layers produces.
import Foundation
import Testing
import TestSupport
@testable import NN
import Engine

// MARK: - Gradient checks, one layer at a time

@Suite struct LayerGradientTests {
    @Test func gradCheckCatchesAWrongGradient() throws {
        // The helper is not vacuous: x·detached(x) has analytic gradient x but numeric 2x.
        let x = try rand([3], seed: 50)
        withKnownIssue {
            try gradCheck([x], "deliberately wrong") { t in try t[0] * t[0].detached() }
        }
    }

    @Test func linear() throws {
        let layer = try Linear(4, 3, rng: RNG(seed: 1))
        try moduleGradCheck(layer, rand([2, 4], seed: 2), "Linear")
        // Leading batch axes are folded into the rows.
        try moduleGradCheck(layer, rand([2, 3, 4], seed: 3), "Linear [2, 3, 4]")
    }

    @Test func linearWithoutBias() throws {
        let layer = try Linear(3, 2, bias: false, rng: RNG(seed: 1))
        #expect(layer.namedParameters().map(\.0) == ["weight"])
        try moduleGradCheck(layer, rand([3, 3], seed: 2), "Linear no bias")
    }

    @Test func conv2d() throws {
        let layer = try Conv2d(2, 3, kernel: 3, stride: 2, padding: 1, rng: RNG(seed: 4))
        try moduleGradCheck(layer, rand([2, 2, 5, 5], seed: 5), "Conv2d stride 2 pad 1")
        let plain = try Conv2d(2, 2, kernel: 2, bias: false, rng: RNG(seed: 6))
        try moduleGradCheck(plain, rand([1, 2, 4, 3], seed: 7), "Conv2d 2×2 no bias")
    }

    @Test func maxPool2d() throws {
        // Distinct values 0.1 apart, so a ±0.01 perturbation never changes a window's arg-max.
        let n = 2 * 2 * 4 * 4
        let perm = RNG(seed: 8).permutation(n)
        let x = try Tensor(shape: [2, 2, 4, 4], data: perm.map { Float($0) * 0.1 - 1.5 })
        try moduleGradCheck(MaxPool2d(2), x, "MaxPool2d(2)")
        try moduleGradCheck(MaxPool2d(3, stride: 1, padding: 1), x, "MaxPool2d(3, stride 1, pad 1)")
    }

    @Test func avgPool2d() throws {
        try moduleGradCheck(AvgPool2d(2), rand([2, 3, 4, 4], seed: 9), "AvgPool2d(2)")
        try moduleGradCheck(AvgPool2d(3, stride: 2, padding: 1), rand([1, 2, 5, 5], seed: 10), "AvgPool2d(3, 2, 1)")
    }

    @Test func globalAvgPool() throws {
        let x = try rand([2, 3, 3, 2], seed: 11)
        let y = try GlobalAvgPool()(x)
        #expect(y.shape == [2, 3])
        try moduleGradCheck(GlobalAvgPool(), x, "GlobalAvgPool")
    }

    @Test func batchNormTrainMode() throws {
        let bn = try BatchNorm(3)
        try randomize(bn.weight, seed: 12, offset: 1)
        try randomize(bn.bias, seed: 13)
        bn.train()
        try moduleGradCheck(bn, rand([4, 3], seed: 14, scale: 2), "BatchNorm [N, C] train")
        try moduleGradCheck(bn, rand([2, 3, 3, 2], seed: 15), "BatchNorm [N, C, H, W] train")
    }

    @Test func batchNormEvalMode() throws {
        let bn = try BatchNorm(2)
        try randomize(bn.weight, seed: 16, offset: 1)
        try randomize(bn.bias, seed: 17)
        try randomize(bn.runningMean, seed: 18)
        for i in 0..<2 { bn.runningVar.data[i] = 0.5 + Float(i) }
        bn.eval()
        try moduleGradCheck(bn, rand([3, 2, 2, 2], seed: 19), "BatchNorm eval")
    }

    @Test func layerNorm() throws {
        let ln = try LayerNorm(4)
        try randomize(ln.weight, seed: 20, offset: 1)
        try randomize(ln.bias, seed: 21)
        try moduleGradCheck(ln, rand([2, 3, 4], seed: 22, scale: 2), "LayerNorm")
    }

    @Test func embeddingParametersOnly() throws {
        let emb = try Embedding(5, 3, rng: RNG(seed: 23))
        // Index 2 repeats: its row's gradient must accumulate both uses.
        let idx = try Tensor(shape: [2, 3], data: [0, 2, 4, 2, 3, 1])
        let y = try emb(idx)
        #expect(y.shape == [2, 3, 3])
        #expect(Array(y.array[3..<6]) == Array(emb.weight.array[6..<9]))
        try moduleGradCheck(emb, idx, input: false, "Embedding")
    }

    @Test func embeddingRejectsBadIndices() throws {
        let emb = try Embedding(5, 3, rng: RNG(seed: 23))
        expectError(["embedding", "2.5"]) { _ = try emb(try Tensor(shape: [2], data: [1, 2.5])) }
        expectError(["embedding", "5", "out of range"]) { _ = try emb(try Tensor(shape: [2], data: [1, 5])) }
    }

    @Test(arguments: Activation.Kind.allCases)
    func activation(_ kind: Activation.Kind) throws {
        // Inputs kept away from ReLU's kink at zero.
        try moduleGradCheck(Activation(kind), randAwayFromZero([3, 4], seed: 24), "\(kind)")
    }

    @Test func activationsComputeTheirFunction() throws {
        let x = try Tensor(shape: [1, 4], data: [-2, -0.5, 0.5, 3])
        #expect(try ReLU()(x).array == [0, 0, 0.5, 3])
        assertClose(try Tanh()(x).array, x.array.map { Float(tanh(Double($0))) }, "tanh")
        assertClose(try Sigmoid()(x).array, x.array.map { 1 / (1 + Float(exp(Double(-$0)))) }, "sigmoid")
        let sm = try Softmax()(x).array
        let e = x.array.map { exp(Double($0)) }, s = e.reduce(0, +)
        assertClose(sm, e.map { Float($0 / s) }, "softmax")
        // Exact GELU: x·Φ(x).
        assertClose(try GELU()(x).array, x.array.map { Float(Double($0) * 0.5 * (1 + erf(Double($0) / 2.0.squareRoot()))) },
                    atol: 1e-5, rtol: 1e-4, "gelu")
        #expect(ReLU().typeName == "ReLU" && GELU().typeName == "GELU" && Softmax().typeName == "Softmax")
    }

    @Test func flatten() throws {
        let x = try rand([2, 3, 2, 2], seed: 25)
        let y = try Flatten()(x)
        #expect(y.shape == [2, 12])
        #expect(y.array == x.array)
        try moduleGradCheck(Flatten(), x, "Flatten")
    }

    @Test func sequential() throws {
        let rng = RNG(seed: 26)
        let model = Sequential([try Linear(4, 5, rng: rng), Tanh(), try Linear(5, 3, rng: rng), Sigmoid(), try Linear(3, 2, rng: rng)])
        #expect(model.namedParameters().map(\.0) == [
            "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias",
        ])
        try moduleGradCheck(model, rand([3, 4], seed: 27), "Sequential")
    }

    @Test func sequentialWithReLU() throws {
        let rng = RNG(seed: 28)
        let model = Sequential([try Linear(3, 4, rng: rng), ReLU(), try Linear(4, 2, rng: rng)])
        // One pre-activation is 0.006 from ReLU's kink: a step of 1e-3 stays on one side of it.
        try moduleGradCheck(model, rand([2, 3], seed: 29), eps: 1e-3, "Sequential with ReLU")
    }

    @Test func residualIdentityShortcut() throws {
        let rng = RNG(seed: 30)
        let block = Residual(Sequential([try Linear(3, 3, rng: rng), Tanh()]))
        #expect(block.namedParameters().map(\.0) == ["body.layers.0.weight", "body.layers.0.bias"])
        let x = try rand([2, 3], seed: 31)
        let expected = try Sequential([block.body])(x).array.enumerated().map { $0.element + x.data[$0.offset] }
        assertClose(try block(x).array, expected, "identity residual")
        try moduleGradCheck(block, x, "Residual identity")
    }

    @Test func residualWithShortcut() throws {
        let rng = RNG(seed: 32)
        let block = Residual(Sequential([try Linear(3, 4, rng: rng), Tanh()]), shortcut: try Linear(3, 4, rng: rng))
        #expect(block.namedParameters().map(\.0) == [
            "body.layers.0.weight", "body.layers.0.bias", "shortcut.weight", "shortcut.bias",
        ])
        try moduleGradCheck(block, rand([2, 3], seed: 33), "Residual projection")
    }

    @Test func multiHeadSelfAttention() throws {
        let attn = try MultiHeadSelfAttention(dim: 4, heads: 2, rng: RNG(seed: 34))
        #expect(attn.namedParameters().map(\.0) == ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias"])
        let x = try rand([2, 3, 4], seed: 35)
        #expect(try attn(x).shape == [2, 3, 4])
        try moduleGradCheck(attn, x, "MultiHeadSelfAttention")
    }

    @Test func attentionMatchesHandComputation() throws {
        // One head, one sequence: softmax(q·kᵀ/√d)·v, then the output projection.
        let attn = try MultiHeadSelfAttention(dim: 2, heads: 1, rng: RNG(seed: 36))
        let x = try rand([1, 3, 2], seed: 37)
        let qkv = try Tensor.linear(x, weight: attn.qkv.weight, bias: attn.qkv.bias).array  // [3 tokens, 6]
        var merged = [Float]()
        for i in 0..<3 {
            let q = [qkv[i * 6], qkv[i * 6 + 1]]
            var scores = (0..<3).map { j in Double(q[0] * qkv[j * 6 + 2] + q[1] * qkv[j * 6 + 3]) / 2.0.squareRoot() }
            let m = scores.max()!
            scores = scores.map { exp($0 - m) }
            let s = scores.reduce(0, +)
            for c in 0..<2 {
                merged.append(Float((0..<3).reduce(0.0) { $0 + scores[$1] / s * Double(qkv[$1 * 6 + 4 + c]) }))
            }
        }
        let expected = try Tensor.linear(try Tensor(shape: [1, 3, 2], data: merged), weight: attn.proj.weight, bias: attn.proj.bias)
        assertClose(try attn(x).array, expected.array, "attention")
    }

    @Test func attentionErrors() throws {
        expectError(["attention", "not divisible", "3"]) { _ = try MultiHeadSelfAttention(dim: 4, heads: 3, rng: RNG(seed: 0)) }
        let attn = try MultiHeadSelfAttention(dim: 4, heads: 2, rng: RNG(seed: 0))
        expectError(["attention", "[2, 4]"]) { _ = try attn(rand([2, 4])) }
        expectError(["attention", "[1, 2, 5]"]) { _ = try attn(rand([1, 2, 5])) }
    }

    @Test func transformerBlock() throws {
        let block = try TransformerBlock(dim: 4, heads: 2, hidden: 6, rng: RNG(seed: 38))
        try randomize(block.ln1.weight, seed: 39, offset: 1)
        try randomize(block.ln2.bias, seed: 40)
        #expect(block.namedParameters().map(\.0) == [
            "ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
            "ln2.weight", "ln2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
        ])
        try moduleGradCheck(block, rand([2, 3, 4], seed: 41), "TransformerBlock")
    }

    @Test func basicBlockIdentityShortcut() throws {
        let block = try BasicBlock(2, 2, stride: 1, rng: RNG(seed: 42))
        #expect(block.shortcut == nil)
        #expect(block.namedParameters().map(\.0) == ["conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"])
        try randomize(block.bn1.bias, seed: 43)
        try randomize(block.bn2.bias, seed: 44, offset: 0.5)
        block.train()
        // Batch norm over 32 values per channel puts some ReLU inputs near zero and makes the
        // block strongly curved: a finite-difference step of 1e-3 avoids both kinks and curvature.
        try moduleGradCheck(block, rand([2, 2, 4, 4], seed: 45), eps: 1e-3, "BasicBlock identity")
    }

    @Test func basicBlockDownsamplingShortcut() throws {
        let block = try BasicBlock(2, 3, stride: 2, rng: RNG(seed: 46))
        #expect(block.shortcut != nil)
        #expect(block.namedParameters().map(\.0) == [
            "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias",
            "shortcut.layers.0.weight", "shortcut.layers.1.weight", "shortcut.layers.1.bias",
        ])
        #expect(block.namedBuffers().map(\.0) == [
            "bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var",
            "shortcut.layers.1.running_mean", "shortcut.layers.1.running_var",
        ])
        try randomize(block.bn1.bias, seed: 47)
        try randomize(block.bn2.bias, seed: 48, offset: 0.5)
        block.train()
        let x = try rand([2, 2, 4, 4], seed: 49)
        #expect(try block(x).shape == [2, 3, 2, 2])
        try moduleGradCheck(block, x, eps: 1e-3, "BasicBlock downsampling")
    }
}

// MARK: - Names and parameter counts

@Suite struct NamingTests {
    @Test func mlpNames() throws {
        let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 0))
        #expect(model.namedParameters().map(\.0) == ["layers.1.weight", "layers.1.bias", "layers.3.weight", "layers.3.bias"])
        #expect(model.namedParameters().map(\.1.shape) == [[3, 4], [3], [2, 3], [2]])
        #expect(model.namedBuffers().isEmpty)
        let deeper = try Models.mlp([784, 300, 100, 10], rng: RNG(seed: 0))
        #expect(deeper.namedParameters().map(\.0) == [
            "layers.1.weight", "layers.1.bias", "layers.3.weight", "layers.3.bias", "layers.5.weight", "layers.5.bias",
        ])
    }

    @Test func namesAreStableAcrossCallsAndSeeds() throws {
        let a = try Models.resnet(widths: [4, 8], rng: RNG(seed: 1))
        let b = try Models.resnet(widths: [4, 8], rng: RNG(seed: 2))
        #expect(a.namedParameters().map(\.0) == a.namedParameters().map(\.0))
        #expect(a.namedParameters().map(\.0) == b.namedParameters().map(\.0))
        #expect(a.namedBuffers().map(\.0) == b.namedBuffers().map(\.0))
        #expect(Set(a.namedParameters().map(\.0)).count == a.namedParameters().count, "names are unique")
    }

    @Test func resnetNames() throws {
        // Stem conv (0), BN (1), ReLU (2), one basic block per width (3, 4, 5), pooling (6), head (7).
        // The first block keeps 16 channels at stride 1, so only blocks 4 and 5 have a shortcut.
        let model = try Models.resnet(rng: RNG(seed: 0))
        let names = model.namedParameters().map(\.0)
        for expected in ["layers.0.weight", "layers.1.weight", "layers.1.bias",
                         "layers.3.conv1.weight", "layers.3.bn1.weight", "layers.3.conv2.weight", "layers.3.bn2.bias",
                         "layers.4.conv1.weight", "layers.4.shortcut.layers.0.weight", "layers.4.shortcut.layers.1.weight",
                         "layers.5.shortcut.layers.0.weight", "layers.7.weight", "layers.7.bias"] {
            #expect(names.contains(expected), "missing \(expected)")
        }
        #expect(!names.contains("layers.0.bias"), "the stem conv has no bias")
        #expect(!names.contains { $0.hasPrefix("layers.3.shortcut") }, "the first block has an identity shortcut")
        #expect(names.first == "layers.0.weight" && names.last == "layers.7.bias")
        let buffers = model.namedBuffers().map(\.0)
        for expected in ["layers.1.running_mean", "layers.1.running_var", "layers.3.bn1.running_mean",
                         "layers.4.shortcut.layers.1.running_var"] {
            #expect(buffers.contains(expected), "missing buffer \(expected)")
        }
        let modules = model.namedModules().map(\.0)
        #expect(modules.first == "")
        #expect(modules.contains("layers.4.shortcut.layers.0"))
        #expect(model.namedModules().first { $0.0 == "layers.3" }?.1 is BasicBlock)
    }

    @Test func resnetTwoBlocksPerStage() throws {
        // Stem 0–2; stage 1: layers.3, layers.4 (4 → 4); stage 2: layers.5 (4 → 8, stride 2, with a
        // shortcut), layers.6 (8 → 8); pooling 7; head 8.
        let model = try Models.resnet(widths: [4, 8], blocks: 2, rng: RNG(seed: 0))
        let names = model.namedParameters().map(\.0)
        #expect(names.contains("layers.5.shortcut.layers.0.weight"))
        #expect(!names.contains { $0.hasPrefix("layers.3.shortcut") || $0.hasPrefix("layers.4.shortcut") || $0.hasPrefix("layers.6.shortcut") })
        #expect(names.last == "layers.8.bias")
    }

    @Test func vitNames() throws {
        let model = try Models.vit(size: 8, patch: 4, dim: 8, depth: 2, heads: 2, rng: RNG(seed: 0))
        let names = model.namedParameters().map(\.0)
        #expect(names.first == "pos_embed")
        for expected in ["patch_embed.weight", "patch_embed.bias", "blocks.0.ln1.weight", "blocks.0.attn.qkv.weight",
                         "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight", "blocks.0.fc1.weight", "blocks.0.fc2.bias",
                         "blocks.1.attn.qkv.weight", "norm.weight", "norm.bias", "head.weight", "head.bias"] {
            #expect(names.contains(expected), "missing \(expected)")
        }
        #expect(!names.contains("blocks.2.attn.qkv.weight"))
        #expect(model.namedParameters().first { $0.0 == "pos_embed" }?.1.shape == [4, 8])
        let y = try model(rand([3, 1, 8, 8], seed: 1))
        #expect(y.shape == [3, 10])
        expectError(["vit", "[3, 1, 9, 9]"]) { _ = try model(rand([3, 1, 9, 9])) }
    }

    @Test func cnnAndLenetNames() throws {
        let cnn = try Models.cnn(rng: RNG(seed: 0))
        #expect(cnn.namedParameters().map(\.0) == [
            "layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias",
            "layers.7.weight", "layers.7.bias", "layers.9.weight", "layers.9.bias",
        ])
        let lenet = try Models.lenet5(rng: RNG(seed: 0))
        #expect(lenet.namedParameters().map(\.0) == [
            "layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias", "layers.7.weight", "layers.7.bias",
            "layers.9.weight", "layers.9.bias", "layers.11.weight", "layers.11.bias",
        ])
    }

    @Test func parameterCounts() throws {
        // MLP 784-300-100-10: (784·300 + 300) + (300·100 + 100) + (100·10 + 10).
        #expect(try Models.mlp([784, 300, 100, 10], rng: RNG(seed: 0)).parameterCount == 266_610)
        let mlpCount: Int = (784 * 300 + 300) + (300 * 100 + 100) + (100 * 10 + 10)
        #expect(mlpCount == 266_610)
        // Small CNN: conv 1→32 3×3 (288 + 32), conv 32→64 3×3 (18432 + 64), FC 64·7·7→128
        // (401408 + 128), FC 128→10 (1280 + 10).
        #expect(try Models.cnn(rng: RNG(seed: 0)).parameterCount == 421_642)
        let cnnCount: Int = (9 * 32 + 32) + (32 * 9 * 64 + 64) + (64 * 7 * 7 * 128 + 128) + (128 * 10 + 10)
        #expect(cnnCount == 421_642)
        // LeNet-5: conv 1→6 5×5 (150 + 6), conv 6→16 5×5 (2400 + 16), FC 400→120 (48000 + 120),
        // FC 120→84 (10080 + 84), FC 84→10 (840 + 10).
        let lenetCount: Int = (25 * 6 + 6) + (6 * 25 * 16 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
        #expect(lenetCount == 61_706)
        #expect(try Models.lenet5(rng: RNG(seed: 0)).parameterCount == 61_706)
        // ResNet [16, 32, 64], one block each: stem 144 + BN 32; block 16→16: 2304 + 32 + 2304 + 32;
        // block 16→32/2: 4608 + 64 + 9216 + 64 + shortcut 512 + 64; block 32→64/2: 18432 + 128 +
        // 36864 + 128 + shortcut 2048 + 128; head 640 + 10.
        let resnetCount: Int = 176 + 4_672 + 14_528 + 57_728 + 650
        #expect(resnetCount == 77_754)
        #expect(try Models.resnet(rng: RNG(seed: 0)).parameterCount == resnetCount)
        // ViT 28/7, dim 64, depth 4, heads 4, MLP 128: patch embed 49·64 + 64, positions 16·64;
        // per block LN 128 + qkv 64·192 + 192 + proj 64·64 + 64 + LN 128 + fc1 64·128 + 128 +
        // fc2 128·64 + 64 = 33472; final LN 128; head 64·10 + 10.
        let block: Int = 128 + (64 * 192 + 192) + (64 * 64 + 64) + 128 + (64 * 128 + 128) + (128 * 64 + 64)
        #expect(block == 33_472)
        let vitCount: Int = 3_200 + 1_024 + 4 * block + 128 + 650
        #expect(vitCount == 138_890)
        #expect(try Models.vit(rng: RNG(seed: 0)).parameterCount == vitCount)
    }

    @Test func modelArgumentErrors() throws {
        expectError(["mlp"]) { _ = try Models.mlp([4], rng: RNG(seed: 0)) }
        expectError(["mlp"]) { _ = try Models.mlp([4, 0, 2], rng: RNG(seed: 0)) }
        expectError(["cnn"]) { _ = try Models.cnn(size: 30, rng: RNG(seed: 0)) }
        expectError(["resnet"]) { _ = try Models.resnet(widths: [], rng: RNG(seed: 0)) }
        expectError(["vit", "29", "7"]) { _ = try Models.vit(size: 29, rng: RNG(seed: 0)) }
    }

    @Test func readyModelsRunForward() throws {
        let x = try rand([2, 1, 28, 28], seed: 3)
        for model in [try Models.mlp([784, 32, 10], rng: RNG(seed: 0)), try Models.cnn(rng: RNG(seed: 0)),
                      try Models.lenet5(rng: RNG(seed: 0)), try Models.resnet(widths: [4, 8], rng: RNG(seed: 0))] as [Module] {
            let y = try model(x)
            #expect(y.shape == [2, 10], "\(model)")
            let finite = y.array.allSatisfy { $0.isFinite }
            #expect(finite)
        }
    }
}

// MARK: - Modes

@Suite struct ModeTests {
    @Test func trainEvalPropagatesToChildren() throws {
        let model = try Models.resnet(widths: [4, 8], rng: RNG(seed: 0))
        #expect(model.namedModules().allSatisfy { $0.1.training }, "modules start in training mode")
        model.eval()
        for (path, m) in model.namedModules() { #expect(!m.training, "\(path) still training after eval()") }
        model.train()
        for (path, m) in model.namedModules() { #expect(m.training, "\(path) not training after train()") }
        model.train(false)
        #expect(model.namedModules().allSatisfy { !$0.1.training })

        // The module tree is stable: asking twice gives the same objects (with the same modes).
        let first = model.namedModules(), second = model.namedModules()
        #expect(first.map(\.0) == second.map(\.0))
        #expect(zip(first, second).allSatisfy { $0.1 === $1.1 })
        model.eval()
        try model.replace(at: 6, with: try Linear(8, 3, rng: RNG(seed: 1)))
        #expect(model.namedModules().first { $0.0 == "layers" }?.1.training == false, "replace keeps the list's mode")
        #expect(try model(rand([1, 1, 8, 8])).shape == [1, 3])

        let vit = try Models.vit(size: 8, patch: 4, dim: 8, depth: 2, heads: 2, rng: RNG(seed: 0))
        vit.eval()
        #expect(vit.namedModules().count > 10)
        for (path, m) in vit.namedModules() { #expect(!m.training, "\(path) still training after eval()") }
    }

    @Test func dropoutIsIdentityInEval() throws {
        let drop = Dropout(0.5, rng: RNG(seed: 1))
        let x = try rand([20, 50], seed: 2)
        drop.eval()
        #expect(try drop(x).array == x.array)

        drop.train()
        let y = try drop(x).array
        let zeros = y.filter { $0 == 0 }.count
        #expect(zeros > 400 && zeros < 600, "about half dropped, got \(zeros) of 1000")
        for (a, b) in zip(y, x.array) where a != 0 { #expect(a == 2 * b, "kept values are scaled by 1/(1 − p)") }
    }

    @Test func dropoutInsideAModelFollowsTheModelsMode() throws {
        let rng = RNG(seed: 3)
        let model = Sequential([try Linear(4, 8, rng: rng), Dropout(0.5, rng: rng), try Linear(8, 2, rng: rng)])
        let x = try rand([5, 4], seed: 4)
        model.eval()
        let a = try model(x).array, b = try model(x).array
        #expect(a == b, "evaluation is deterministic")
        model.train()
        #expect(try model(x).array != a, "training applies dropout")
    }

    @Test func batchNormTrainingUpdatesRunningStatistics() throws {
        let bn = try BatchNorm(2, momentum: 0.1)
        // Channel 0 holds 1, 2, 3, 4 (mean 2.5, unbiased var 5/3); channel 1 holds 10, 10, 10, 14.
        let x = try Tensor(shape: [2, 2, 1, 2], data: [1, 2, 10, 10, 3, 4, 10, 14])
        bn.train()
        let y = try bn(x)
        assertClose(bn.runningMean.array, [0.25, 1.1], "running mean")
        assertClose(bn.runningVar.array, [0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 12 / 3], "running var (unbiased)")
        // Training normalises with the batch statistics (biased variance).
        let v0: Float = 1.25
        assertClose([y[0, 0, 0, 0]], [(1 - 2.5) / (v0 + 1e-5).squareRoot()], "normalised with batch stats")
    }

    @Test func batchNormEvalUsesRunningStatistics() throws {
        let bn = try BatchNorm(2)
        bn.runningMean.data[0] = 1; bn.runningMean.data[1] = -2
        bn.runningVar.data[0] = 4; bn.runningVar.data[1] = 0.25
        bn.weight.data[0] = 2; bn.weight.data[1] = 0.5
        bn.bias.data[0] = 0.1; bn.bias.data[1] = -0.3
        bn.eval()
        let x = try rand([3, 2, 2, 2], seed: 5)
        let y = try bn(x)
        var expected = [Float]()
        for n in 0..<3 { for c in 0..<2 { for i in 0..<4 {
            let v = x.data[(n * 2 + c) * 4 + i]
            let mean: Float = c == 0 ? 1 : -2, variance: Float = c == 0 ? 4 : 0.25
            let gamma: Float = c == 0 ? 2 : 0.5, beta: Float = c == 0 ? 0.1 : -0.3
            expected.append((v - mean) / (variance + 1e-5).squareRoot() * gamma + beta)
        } } }
        assertClose(y.array, expected, "eval batch norm")
        #expect(bn.runningMean.array == [1, -2] && bn.runningVar.array == [4, 0.25], "eval leaves the running stats alone")

        // A single sample works in eval mode (it would not in training).
        #expect(try bn(rand([1, 2], seed: 6)).shape == [1, 2])
        bn.train()
        expectError(["batchNorm", "[1, 2]"]) { _ = try bn(rand([1, 2], seed: 6)) }
    }
}

// MARK: - Errors naming the layer

@Suite struct LayerErrorTests {
    @Test func mlpFedAnImageOfTheWrongSize() throws {
        let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 0))
        // Flatten gives [2, 75], which the first Linear (layers.1, 4 inputs) cannot take.
        expectError(["layers.1", "Linear(4 → 3)", "[2, 75]", "[3, 4]"]) { _ = try model(rand([2, 3, 5, 5])) }
    }

    @Test func sequentialWithMismatchedLinears() throws {
        let rng = RNG(seed: 1)
        let model = Sequential([try Linear(10, 5, rng: rng), try Linear(6, 2, rng: rng)])
        let message = expectError(["layers.1", "Linear(6 → 2)", "[3, 5]", "[2, 6]"]) { _ = try model(rand([3, 10])) }
        #expect(message?.hasPrefix("layers.1") == true, "the path leads the message: \(message ?? "")")
        #expect(message?.contains("layers.0") == false)
    }

    @Test func firstLayerMismatch() throws {
        let cnn = try Models.cnn(rng: RNG(seed: 0))
        expectError(["layers.0", "Conv2d", "3 channels", "[2, 3, 28, 28]"]) { _ = try cnn(rand([2, 3, 28, 28])) }
        expectError(["layers.7", "Linear", "[2, 1024]"]) { _ = try cnn(rand([2, 1, 16, 16])) }
    }

    @Test func sequentialReplace() throws {
        let model = try Models.mlp([4, 3, 2], rng: RNG(seed: 0))
        try model.replace(at: 3, with: try Linear(3, 5, rng: RNG(seed: 1)))
        #expect(try model(rand([2, 4])).shape == [2, 5])
        #expect(model.namedParameters().map(\.1.shape).last == [5])
        expectError(["no layer 9", "4"]) { try model.replace(at: 9, with: ReLU()) }
    }
}

/// Sequential runs ReLU then MaxPool2d as one pass when nothing is recorded: the same outputs as
/// the layers one by one.
@Test func sequentialReLUThenPoolingMatchesTheLayersOneByOne() throws {
    let model = try Models.lenet5(rng: RNG(seed: 3))
    model.eval()
    let x = try Tensor.uniform([3, 1, 28, 28], low: -1, high: 1, rng: RNG(seed: 4))
    let whole = try GradMode.noGrad { try model(x) }
    var h = x
    for layer in model.layers { h = try GradMode.noGrad { try layer(h) } }
    #expect(whole.array == h.array)
}

@Suite struct EvaluationPassTests {
    /// Without recording, a Sequential rectifies a Linear's or Conv2d's fresh output in place:
    /// the same values as the ReLU layer, and the pass's input is never written.
    @Test func inPlaceReluMatchesTheLayerAndSparesTheInput() throws {
        let net = Sequential([try Linear(6, 5, rng: RNG(seed: 2)), ReLU(), try Linear(5, 4, rng: RNG(seed: 3)), ReLU()])
        let lead = Sequential([ReLU(), try Linear(6, 4, rng: RNG(seed: 4))])
        let x = try rand([3, 6], seed: 9) - 0.5
        let before = x.array
        let fused = try GradMode.noGrad { try net(x) }
        var h = x
        for layer in net.layers { h = try layer(h) }
        #expect(fused.array == h.array)
        _ = try GradMode.noGrad { try lead(x) }
        #expect(x.array == before, "a ReLU first in the model rectifies a copy")
        let conv = Sequential([try Conv2d(1, 2, kernel: 3, padding: 1, rng: RNG(seed: 5)), ReLU(), Flatten()])
        let image = try rand([2, 1, 4, 4], seed: 3) - 0.5
        var c = image
        for layer in conv.layers { c = try layer(c) }
        #expect(try GradMode.noGrad { try conv(image) }.array == c.array)
    }
}

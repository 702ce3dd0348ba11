// Ready models: MLP, the small CNN, LeNet-5, a small ResNet and a tiny vision transformer.
import Engine
import FileIO

public enum Models {
    /// The ready models by name, for 28×28 greyscale images and 10 classes (what `prune --demo`
    /// trains on Fashion-MNIST), in the order help lists them.
    public static let ready: [(name: String, make: (RNG) throws -> Module)] = [
        ("mlp", { try mlp([784, 300, 100, 10], rng: $0) }),
        ("cnn", { try cnn(rng: $0) }),
        ("lenet5", { try lenet5(rng: $0) }),
        ("resnet", { try resnet(rng: $0) }),
        ("vit", { try vit(rng: $0) }),
    ]

    /// "mlp, cnn, lenet5, resnet or vit".
    public static var readyNames: String {
        orList(ready.map(\.name))
    }

    /// A multi-layer perceptron over flattened inputs: widths [784, 300, 100, 10] gives
    /// Flatten, Linear 784→300, ReLU, Linear 300→100, ReLU, Linear 100→10.
    public static func mlp(_ widths: [Int], activation: Activation.Kind = .relu, rng: RNG) throws -> Sequential {
        guard widths.count >= 2, widths.allSatisfy({ $0 > 0 }) else {
            throw NNError("mlp: needs at least two positive widths (inputs and outputs), got \(widths)")
        }
        var layers: [Module] = [Flatten()]
        for i in 0..<(widths.count - 1) {
            layers.append(try Linear(widths[i], widths[i + 1], rng: rng))
            if i < widths.count - 2 { layers.append(Activation(activation)) }
        }
        return Sequential(layers)
    }

    /// The small CNN: conv 32 3×3 → pool → conv 64 3×3 → pool → FC 128 → FC classes.
    public static func cnn(classes: Int = 10, channels: Int = 1, size: Int = 28, rng: RNG) throws -> Sequential {
        guard classes > 0, size % 4 == 0 else { throw NNError("cnn: needs classes > 0 and an input size divisible by 4") }
        return Sequential([
            try Conv2d(channels, 32, kernel: 3, padding: 1, rng: rng), ReLU(), MaxPool2d(2),
            try Conv2d(32, 64, kernel: 3, padding: 1, rng: rng), ReLU(), MaxPool2d(2),
            Flatten(), try Linear(64 * (size / 4) * (size / 4), 128, rng: rng), ReLU(), try Linear(128, classes, rng: rng),
        ])
    }

    /// LeNet-5 (with ReLU and max pooling, the common modern form) for 28×28 inputs.
    public static func lenet5(classes: Int = 10, channels: Int = 1, rng: RNG) throws -> Sequential {
        guard classes > 0 else { throw NNError("lenet5: needs classes > 0") }
        return Sequential([
            try Conv2d(channels, 6, kernel: 5, padding: 2, rng: rng), ReLU(), MaxPool2d(2),
            try Conv2d(6, 16, kernel: 5, rng: rng), ReLU(), MaxPool2d(2),
            Flatten(), try Linear(400, 120, rng: rng), ReLU(), try Linear(120, 84, rng: rng), ReLU(),
            try Linear(84, classes, rng: rng),
        ])
    }

    /// A small ResNet for 28×28 inputs: a 3×3 stem, three stages of basic blocks with widths
    /// `widths` (the 2nd and 3rd downsample by 2), global average pooling, a linear classifier.
    public static func resnet(classes: Int = 10, channels: Int = 1, widths: [Int] = [16, 32, 64],
                              blocks: Int = 1, rng: RNG) throws -> Sequential {
        guard classes > 0, !widths.isEmpty, widths.allSatisfy({ $0 > 0 }), blocks > 0 else {
            throw NNError("resnet: needs classes > 0, positive widths and blocks > 0")
        }
        var layers: [Module] = [try Conv2d(channels, widths[0], kernel: 3, padding: 1, bias: false, rng: rng),
                                try BatchNorm(widths[0]), ReLU()]
        var inC = widths[0]
        for (s, w) in widths.enumerated() {
            for b in 0..<blocks {
                layers.append(try BasicBlock(inC, w, stride: s > 0 && b == 0 ? 2 : 1, rng: rng))
                inC = w
            }
        }
        layers += [GlobalAvgPool(), try Linear(inC, classes, rng: rng)]
        return Sequential(layers)
    }

    /// A tiny vision transformer over non-overlapping patches.
    public static func vit(classes: Int = 10, channels: Int = 1, size: Int = 28, patch: Int = 7, dim: Int = 64,
                           depth: Int = 4, heads: Int = 4, mlpRatio: Int = 2, rng: RNG) throws -> ViT {
        try ViT(classes: classes, channels: channels, size: size, patch: patch, dim: dim, depth: depth,
                heads: heads, hidden: dim * mlpRatio, rng: rng)
    }
}

/// The ResNet basic block: conv3×3 → BN → ReLU → conv3×3 → BN, plus a shortcut (1×1 conv and
/// BN when the shape changes, or when `projection` asks for one), then ReLU. `mid` channels
/// between the two convolutions (default `outC`; structured pruning narrows it).
public final class BasicBlock: Module {
    public let conv1: Conv2d, bn1: BatchNorm, conv2: Conv2d, bn2: BatchNorm
    public let shortcut: Sequential?
    public init(_ inC: Int, _ outC: Int, stride: Int, mid: Int? = nil, projection: Bool = false, rng: RNG) throws {
        let mid = mid ?? outC
        conv1 = try Conv2d(inC, mid, kernel: 3, stride: stride, padding: 1, bias: false, rng: rng)
        bn1 = try BatchNorm(mid)
        conv2 = try Conv2d(mid, outC, kernel: 3, padding: 1, bias: false, rng: rng)
        bn2 = try BatchNorm(outC)
        shortcut = projection || stride != 1 || inC != outC
            ? Sequential([try Conv2d(inC, outC, kernel: 1, stride: stride, bias: false, rng: rng), try BatchNorm(outC)]) : nil
    }
    public override func forward(_ x: Tensor) throws -> Tensor {
        let h = try bn2(conv2(bn1(conv1(x)).relu()))
        let s = try shortcut.map { try $0(x) } ?? x
        return try (h + s).relu()
    }
    public override var children: [(String, Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)] + (shortcut.map { [("shortcut", $0)] } ?? [])
    }
    public override var typeName: String {
        "BasicBlock(\(conv1.inChannels) → \(conv2.outChannels)" + (conv1.outChannels != conv2.outChannels ? ", mid \(conv1.outChannels)" : "")
            + (conv1.stride != 1 ? ", stride \(conv1.stride)" : "") + ")"
    }
}

/// Vision transformer: patches → linear embedding + learned positions → pre-norm blocks →
/// LayerNorm → mean over tokens → linear classifier.
public final class ViT: Module {
    public let patchEmbed: Linear
    public let posEmbed: Tensor
    public let blocks: ModuleList
    public let norm: LayerNorm
    public let head: Linear
    public let channels: Int, size: Int, patch: Int

    init(classes: Int, channels: Int, size: Int, patch: Int, dim: Int, depth: Int, heads: Int, hidden: Int, rng: RNG) throws {
        guard patch > 0, size % patch == 0, classes > 0, depth > 0 else {
            throw NNError("vit: image size \(size) must be a multiple of the patch size \(patch), with classes and depth > 0")
        }
        self.channels = channels; self.size = size; self.patch = patch
        let tokens = (size / patch) * (size / patch)
        patchEmbed = try Linear(channels * patch * patch, dim, rng: rng)
        posEmbed = try Tensor.randn([tokens, dim], std: 0.02, rng: rng).requiringGrad()
        blocks = ModuleList(try (0..<depth).map { _ in try TransformerBlock(dim: dim, heads: heads, hidden: hidden, rng: rng) })
        norm = try LayerNorm(dim)
        head = try Linear(dim, classes, rng: rng)
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[1] == channels, x.shape[2] == size, x.shape[3] == size else {
            throw NNError("vit: expects input [batch, \(channels), \(size), \(size)], got \(describe(shape: x.shape))")
        }
        let b = x.shape[0], g = size / patch
        // [B, C, g, p, g, p] → [B, g, g, C, p, p] → [B, tokens, C·p·p]
        let patches = try x.reshaped([b, channels, g, patch, g, patch]).permuted([0, 2, 4, 1, 3, 5])
            .reshaped([b, g * g, channels * patch * patch])
        var h = try patchEmbed(patches) + effective("pos_embed", posEmbed)
        for block in blocks.modules { h = try block(h) }
        return try head(norm(h).mean(axes: [1]))
    }
    public override var localParameters: [(String, Tensor)] { [("pos_embed", posEmbed)] }
    public override var children: [(String, Module)] {
        [("patch_embed", patchEmbed), ("blocks", blocks), ("norm", norm), ("head", head)]
    }
    public override var typeName: String { "ViT(patch \(patch), dim \(patchEmbed.outFeatures), depth \(blocks.modules.count))" }
}

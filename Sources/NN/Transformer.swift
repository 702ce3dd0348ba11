// Transformer pieces: Embedding, multi-head self-attention and a pre-norm block (LayerNorm is
// with the other normalisations in NormLayers.swift).
import Engine

/// A lookup table: integer indices (stored as floats) → rows of `weight` [count, dim].
public final class Embedding: Module {
    public let weight: Tensor
    public let count: Int, dim: Int
    public init(_ count: Int, _ dim: Int, rng: RNG) throws {
        self.count = count; self.dim = dim
        weight = try Tensor.randn([count, dim], rng: rng).requiringGrad()
    }
    public override func forward(_ x: Tensor) throws -> Tensor {
        var idx = [Int](); idx.reserveCapacity(x.count)
        for i in 0..<x.count {
            let v = x.data[i]
            guard v.isFinite, v == v.rounded() else { throw NNError("embedding: index \(v) is not an integer") }
            idx.append(Int(v))
        }
        return try Tensor.embedding(idx, shape: x.shape, weight: effective("weight", weight))
    }
    public override var localParameters: [(String, Tensor)] { [("weight", weight)] }
    public override var typeName: String { "Embedding(\(count), \(dim))" }
}

/// Multi-head self-attention over [B, T, D]: one projection to q, k, v; softmax(q·kᵀ/√d)·v per
/// head (`Tensor.attention`); an output projection. BERT's attention (Bert.swift) is the same
/// computation with separate query, key and value layers and a padding mask.
public final class MultiHeadSelfAttention: Module {
    public let qkv: Linear, proj: Linear
    public let dim: Int, heads: Int

    public init(dim: Int, heads: Int, rng: RNG) throws {
        guard heads > 0, dim % heads == 0 else { throw NNError("attention: dim \(dim) is not divisible by \(heads) heads") }
        self.dim = dim; self.heads = heads
        qkv = try Linear(dim, 3 * dim, rng: rng)
        proj = try Linear(dim, dim, rng: rng)
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 3, x.shape[2] == dim else {
            throw NNError("attention: expects [batch, tokens, \(dim)], got \(describe(shape: x.shape))")
        }
        let qkv = try self.qkv(x)                                               // [B, T, 3·D]
        let q = try qkv.sliced(axis: 2, start: 0, end: dim)
        let k = try qkv.sliced(axis: 2, start: dim, end: 2 * dim)
        let v = try qkv.sliced(axis: 2, start: 2 * dim, end: 3 * dim)
        let merged = try Tensor.attention(q: q, k: k, v: v, heads: heads)
        return try proj(merged)
    }
    public override var children: [(String, Module)] { [("qkv", qkv), ("proj", proj)] }
    public override var typeName: String { "MultiHeadSelfAttention(\(dim), heads \(heads))" }
}

/// Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x)) with a GELU MLP.
public final class TransformerBlock: Module {
    public let ln1: LayerNorm, attn: MultiHeadSelfAttention, ln2: LayerNorm, fc1: Linear, fc2: Linear
    public init(dim: Int, heads: Int, hidden: Int, rng: RNG) throws {
        ln1 = try LayerNorm(dim)
        attn = try MultiHeadSelfAttention(dim: dim, heads: heads, rng: rng)
        ln2 = try LayerNorm(dim)
        fc1 = try Linear(dim, hidden, rng: rng)
        fc2 = try Linear(hidden, dim, rng: rng)
    }
    public override func forward(_ x: Tensor) throws -> Tensor {
        let h = try x + attn(ln1(x))
        return try h + fc2(fc1(ln2(h)).gelu())
    }
    public override var children: [(String, Module)] {
        [("ln1", ln1), ("attn", attn), ("ln2", ln2), ("fc1", fc1), ("fc2", fc2)]
    }
    public override var typeName: String { "TransformerBlock(\(attn.dim), heads \(attn.heads), mlp \(fc1.outFeatures))" }
}

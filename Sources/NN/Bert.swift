// A BERT-family text encoder (BERT, MiniLM, …) laid out as Hugging Face's BertModel, so its
// dotted parameter names (`encoder.layer.0.attention.self.query.weight`) are the checkpoint's
// own: post-norm layers of self-attention and a GELU feed-forward, every projection an ordinary
// prunable Linear. Loading from a model folder is in Bert+Load.swift.
import Engine
import FileIO

/// The architecture fields of a BERT config.json.
public struct BertConfig: Equatable, Sendable {
    public var vocabSize = 30522, hiddenSize = 768, layers = 12, heads = 12, intermediateSize = 3072
    public var maxPositions = 512, typeVocabSize = 2
    public var layerNormEps: Float = 1e-12
    public var hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1
    /// The id of [PAD]: tokens with this id are masked out of attention and pooling.
    public var padTokenId = 0
    public init() {}

    /// Checks the sizes before any allocation (they may come from a file).
    public func validate() throws {
        let sizes = [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", layers),
                     ("num_attention_heads", heads), ("intermediate_size", intermediateSize),
                     ("max_position_embeddings", maxPositions), ("type_vocab_size", typeVocabSize)]
        for (name, v) in sizes where v < 1 || v > 1 << 20 {
            throw NNError("bert config: '\(name)' must be between 1 and \(1 << 20), got \(v)")
        }
        guard hiddenSize % heads == 0 else {
            throw NNError("bert config: 'hidden_size' (\(hiddenSize)) is not divisible by 'num_attention_heads' (\(heads))")
        }
        for (name, p) in [("hidden_dropout_prob", hiddenDropout), ("attention_probs_dropout_prob", attentionDropout)] where !(p >= 0 && p < 1) {
            throw NNError("bert config: '\(name)' must be in [0, 1), got \(p)")
        }
        guard layerNormEps >= 0, layerNormEps.isFinite else { throw NNError("bert config: 'layer_norm_eps' must be ≥ 0, got \(layerNormEps)") }
        guard padTokenId >= 0, padTokenId < vocabSize else {
            throw NNError("bert config: 'pad_token_id' \(padTokenId) is outside the vocabulary of \(vocabSize)")
        }
        // In Double: sizes up to 2²⁰ each would overflow Int products.
        let h = Double(hiddenSize)
        let params = Double(vocabSize) * h + Double(layers) * (4 * h * h + 2 * h * Double(intermediateSize))
        guard params < Double(1 << 40) else { throw NNError("bert config: \(params) parameters are too many") }
        try TensorSize.elements([Int(params)])
    }
}

/// How token states become one vector per sequence.
public enum BertPooling: String, Sendable, CaseIterable {
    /// The mean over real (non-padding) tokens, as sentence-transformers.
    case mean
    /// The state of the first token, [CLS].
    case cls
}

/// Word, position and token-type embeddings, summed, then LayerNorm and dropout.
public final class BertEmbeddings: Module {
    public let wordEmbeddings: Embedding, positionEmbeddings: Embedding, tokenTypeEmbeddings: Embedding
    public let layerNorm: LayerNorm
    public let dropout: Dropout
    public init(_ c: BertConfig, rng: RNG, dropoutRNG: RNG) throws {
        wordEmbeddings = try Embedding(c.vocabSize, c.hiddenSize, rng: rng)
        positionEmbeddings = try Embedding(c.maxPositions, c.hiddenSize, rng: rng)
        tokenTypeEmbeddings = try Embedding(c.typeVocabSize, c.hiddenSize, rng: rng)
        layerNorm = try LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        dropout = Dropout(c.hiddenDropout, rng: dropoutRNG)
    }
    /// ids [B, T] → [B, T, H]; positions 0..<T, token type 0 everywhere.
    public override func forward(_ ids: Tensor) throws -> Tensor {
        guard ids.rank == 2 else {
            throw NNError("bert embeddings: expects token ids [batch, tokens], got \(describe(shape: ids.shape))")
        }
        let t = ids.shape[1]
        guard t <= positionEmbeddings.count else {
            throw NNError("bert: sequences of \(t) tokens are longer than the model's \(positionEmbeddings.count) positions")
        }
        let positions = Tensor(vector: (0..<t).map(Float.init))
        let words = try wordEmbeddings(ids)
        let extra = try positionEmbeddings(positions) + tokenTypeEmbeddings(Tensor.zeros([t]))   // [T, H]
        return try dropout(layerNorm(words + extra))
    }
    public override var children: [(String, Module)] {
        [("word_embeddings", wordEmbeddings), ("position_embeddings", positionEmbeddings),
         ("token_type_embeddings", tokenTypeEmbeddings), ("LayerNorm", layerNorm), ("dropout", dropout)]
    }
    public override var typeName: String { "BertEmbeddings(\(wordEmbeddings.count) words, \(wordEmbeddings.dim))" }
}

/// Query, key and value projections and multi-head attention with a padding mask
/// (`attention.self` in a checkpoint).
public final class BertSelfAttention: Module {
    public let query: Linear, key: Linear, value: Linear
    public let heads: Int, dropoutP: Float
    let rng: RNG
    public init(_ c: BertConfig, rng: RNG, dropoutRNG: RNG) throws {
        query = try Linear(c.hiddenSize, c.hiddenSize, rng: rng)
        key = try Linear(c.hiddenSize, c.hiddenSize, rng: rng)
        value = try Linear(c.hiddenSize, c.hiddenSize, rng: rng)
        heads = c.heads; dropoutP = c.attentionDropout; self.rng = dropoutRNG
    }
    /// x [B, T, H], keyMask [B, T] (1 real, 0 padding) or nil → [B, T, H].
    public func forward(_ x: Tensor, keyMask: Tensor?) throws -> Tensor {
        try Tensor.attention(q: query(x), k: key(x), v: value(x), heads: heads, keyMask: keyMask,
                             dropout: training ? dropoutP : 0, rng: rng)
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try forward(x, keyMask: nil) }
    public override var children: [(String, Module)] { [("query", query), ("key", key), ("value", value)] }
    public override var typeName: String { "BertSelfAttention(\(query.inFeatures), heads \(heads))" }
}

/// BERT's post-norm residual: LayerNorm(dropout(dense(h)) + input). Both `attention.output`
/// and `output` of a layer are one.
public final class BertResidualOutput: Module {
    public let dense: Linear, layerNorm: LayerNorm, dropout: Dropout
    public init(_ inFeatures: Int, _ c: BertConfig, rng: RNG, dropoutRNG: RNG) throws {
        dense = try Linear(inFeatures, c.hiddenSize, rng: rng)
        layerNorm = try LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        dropout = Dropout(c.hiddenDropout, rng: dropoutRNG)
    }
    public func forward(_ h: Tensor, residual: Tensor) throws -> Tensor {
        try layerNorm(dropout(dense(h)) + residual)
    }
    public override var children: [(String, Module)] { [("dense", dense), ("LayerNorm", layerNorm), ("dropout", dropout)] }
    public override var typeName: String { "BertOutput(\(dense.inFeatures) → \(dense.outFeatures))" }
}

/// Self-attention and its residual output (`attention` in a checkpoint).
public final class BertAttention: Module {
    public let selfAttention: BertSelfAttention, output: BertResidualOutput
    public init(_ c: BertConfig, rng: RNG, dropoutRNG: RNG) throws {
        selfAttention = try BertSelfAttention(c, rng: rng, dropoutRNG: dropoutRNG)
        output = try BertResidualOutput(c.hiddenSize, c, rng: rng, dropoutRNG: dropoutRNG)
    }
    public func forward(_ x: Tensor, keyMask: Tensor?) throws -> Tensor {
        try output.forward(selfAttention.forward(x, keyMask: keyMask), residual: x)
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try forward(x, keyMask: nil) }
    public override var children: [(String, Module)] { [("self", selfAttention), ("output", output)] }
}

/// The feed-forward expansion with GELU (erf form), `intermediate` in a checkpoint.
public final class BertIntermediate: Module {
    public let dense: Linear
    public init(_ c: BertConfig, rng: RNG) throws { dense = try Linear(c.hiddenSize, c.intermediateSize, rng: rng) }
    public override func forward(_ x: Tensor) throws -> Tensor { try dense(x).gelu() }
    public override var children: [(String, Module)] { [("dense", dense)] }
}

/// One encoder layer: attention, then the feed-forward block, each a post-norm residual.
public final class BertLayer: Module {
    public let attention: BertAttention, intermediate: BertIntermediate, output: BertResidualOutput
    public init(_ c: BertConfig, rng: RNG, dropoutRNG: RNG) throws {
        attention = try BertAttention(c, rng: rng, dropoutRNG: dropoutRNG)
        intermediate = try BertIntermediate(c, rng: rng)
        output = try BertResidualOutput(c.intermediateSize, c, rng: rng, dropoutRNG: dropoutRNG)
    }
    public func forward(_ x: Tensor, keyMask: Tensor?) throws -> Tensor {
        let h = try attention.forward(x, keyMask: keyMask)
        return try output.forward(intermediate(h), residual: h)
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try forward(x, keyMask: nil) }
    public override var children: [(String, Module)] {
        [("attention", attention), ("intermediate", intermediate), ("output", output)]
    }
}

/// The stack of layers (`encoder` in a checkpoint; its child `layer` lists them).
public final class BertEncoder: Module {
    public let layer: ModuleList
    public init(_ c: BertConfig, rng: RNG, dropoutRNG: RNG) throws {
        layer = ModuleList(try (0..<c.layers).map { _ in try BertLayer(c, rng: rng, dropoutRNG: dropoutRNG) })
    }
    public func forward(_ x: Tensor, keyMask: Tensor?) throws -> Tensor {
        var h = x
        for (i, m) in layer.modules.enumerated() {
            guard let l = m as? BertLayer else { continue }
            do { h = try l.forward(h, keyMask: keyMask) } catch let e as LibraryError { throw e.inLayer("encoder.layer.\(i)", l) }
        }
        return h
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try forward(x, keyMask: nil) }
    public override var children: [(String, Module)] { [("layer", layer)] }
}

/// A BERT encoder over token ids [B, T] (floats holding integers, padded with the config's
/// pad id) giving one pooled vector per sequence [B, H]. The attention mask is derived from
/// the ids (id ≠ pad), token types are 0.
public final class BertModel: Module {
    public let config: BertConfig
    public let embeddings: BertEmbeddings
    public let encoder: BertEncoder
    public let pooling: BertPooling

    public init(_ config: BertConfig, pooling: BertPooling = .mean, rng: RNG, dropoutRNG: RNG) throws {
        try config.validate()
        self.config = config; self.pooling = pooling
        embeddings = try BertEmbeddings(config, rng: rng, dropoutRNG: dropoutRNG)
        encoder = try BertEncoder(config, rng: rng, dropoutRNG: dropoutRNG)
    }

    /// 1 for real tokens, 0 for padding: [B, T].
    public func keyMask(_ ids: Tensor) throws -> Tensor {
        try ids.ne(Tensor(Float(config.padTokenId)))
    }

    /// The last layer's token states [B, T, H].
    public func hiddenStates(_ ids: Tensor) throws -> Tensor {
        guard ids.rank == 2 else {
            throw NNError("bert: expects token ids [batch, tokens], got \(describe(shape: ids.shape))")
        }
        let mask = try keyMask(ids)
        // No padding at all: attention needs no mask.
        let needsMask = (0..<mask.count).contains { mask.data[$0] == 0 }
        let h: Tensor
        do { h = try embeddings(ids) } catch let e as LibraryError { throw e.inLayer("embeddings", embeddings) }
        return try encoder.forward(h, keyMask: needsMask ? mask : nil)
    }

    public override func forward(_ ids: Tensor) throws -> Tensor {
        let h = try hiddenStates(ids)
        let b = h.shape[0], t = h.shape[1], d = h.shape[2]
        switch pooling {
        case .cls:
            return try h.sliced(axis: 1, start: 0, end: 1).reshaped([b, d])
        case .mean:
            // Σ over real tokens / their count (at least 1e-9, as sentence-transformers).
            let m = try keyMask(ids).reshaped([b, t, 1])
            let count = try m.sum(axes: [1]).clamped(min: 1e-9)          // [B, 1]
            return try (h * m).sum(axes: [1]) / count
        }
    }

    /// Sentence embeddings in evaluation mode, without gradients, optionally scaled to unit
    /// length: [B, H].
    public func embed(_ ids: Tensor, normalize: Bool = true) throws -> Tensor {
        let wasTraining = training
        eval()
        defer { train(wasTraining) }
        return try GradMode.noGrad {
            let e = try forward(ids)
            guard normalize else { return e }
            let norm = try (e * e).sum(axes: [1], keepDims: true).sqrt().clamped(min: 1e-12)
            return try e / norm
        }
    }

    public override var children: [(String, Module)] { [("embeddings", embeddings), ("encoder", encoder)] }
    public override var endsInClassifier: Bool { false }
    public override var typeName: String {
        "BertModel(\(config.layers) layers, hidden \(config.hiddenSize), heads \(config.heads), \(pooling.rawValue) pooling)"
    }
}

// Loading a BERT-family encoder from a Hugging Face-layout folder (config.json,
// model.safetensors), every tensor's name and shape checked, and the sequence classifier built
// on it.
import FileIO
import Engine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension BertConfig {
    /// Reads the fields of a Hugging Face BERT config.json. Fields that would change the
    /// computation in ways this encoder does not implement (another activation, relative
    /// positions, a decoder) are errors naming the field; fields that do not matter here
    /// (architectures, initializer_range, use_cache, …) are ignored.
    public static func parse(_ json: JSON, file: String = "config.json") throws -> BertConfig {
        guard case .object = json else { throw NNError("\(file): expected a JSON object, got a JSON \(json.kind)") }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            switch json[key] {
            case .integer(let v)?: return v
            case nil, .null?:
                guard let value else { throw NNError("\(file): the field '\(key)' is missing") }
                return value
            case let other?: throw NNError("\(file): '\(key)' is a JSON \(other.kind), expected an integer")
            }
        }
        func float(_ key: String, default value: Float) throws -> Float {
            switch json[key] {
            case .integer(let v)?: return Float(v)
            case .number(let text)?:
                guard let v = Float(text), v.isFinite else { throw NNError("\(file): '\(key)' = \(text) is not a usable number") }
                return v
            case nil, .null?: return value
            case let other?: throw NNError("\(file): '\(key)' is a JSON \(other.kind), expected a number")
            }
        }
        func text(_ key: String) throws -> String? {
            switch json[key] {
            case .string(let s)?: return s
            case nil, .null?: return nil
            case let other?: throw NNError("\(file): '\(key)' is a JSON \(other.kind), expected a string")
            }
        }
        func unsupported(_ key: String, _ value: String, _ supported: String) -> NNError {
            NNError("\(file): unsupported \(key) '\(value)' (prune's BERT encoder supports \(supported))")
        }
        if let type = try text("model_type"), type != "bert" { throw unsupported("model_type", type, "'bert' only") }
        if let act = try text("hidden_act"), act != "gelu" { throw unsupported("hidden_act", act, "'gelu', the erf form, only") }
        if let pos = try text("position_embedding_type"), pos != "absolute" {
            throw unsupported("position_embedding_type", pos, "'absolute' only")
        }
        for flag in ["is_decoder", "add_cross_attention"] {
            if case .bool(true)? = json[flag] { throw unsupported(flag, "true", "encoders only") }
        }
        var c = BertConfig()
        c.vocabSize = try int("vocab_size")
        c.hiddenSize = try int("hidden_size")
        c.layers = try int("num_hidden_layers")
        c.heads = try int("num_attention_heads")
        c.intermediateSize = try int("intermediate_size")
        c.maxPositions = try int("max_position_embeddings", default: c.maxPositions)
        c.typeVocabSize = try int("type_vocab_size", default: c.typeVocabSize)
        c.layerNormEps = try float("layer_norm_eps", default: c.layerNormEps)
        c.hiddenDropout = try float("hidden_dropout_prob", default: c.hiddenDropout)
        c.attentionDropout = try float("attention_probs_dropout_prob", default: c.attentionDropout)
        c.padTokenId = try int("pad_token_id", default: 0)
        do { try c.validate() } catch let e as NNError { throw NNError("\(file): \(e.message)") }
        return c
    }
}

extension BertModel {
    /// Tensors of a Hugging Face checkpoint that this encoder does not use: the pooler and
    /// pre-training heads, and the position-id buffer (positions are 0..<T).
    static func isUnused(_ name: String) -> Bool {
        name.hasPrefix("pooler.") || name.hasPrefix("cls.") || name == "embeddings.position_ids"
    }

    /// Loads the encoder in `folder` (config.json and model.safetensors, as Hugging Face saves
    /// them; names may carry a `bert.` prefix). Every parameter must be in the file with its
    /// shape; any other tensor but the pooler, pre-training heads and position ids is an error.
    /// `pooling` nil: the folder's 1_Pooling/config.json (sentence-transformers) if any, else mean.
    public static func load(folder: String, pooling: BertPooling? = nil, dropoutRNG: RNG) throws -> BertModel {
        let dir = folder.hasSuffix("/") && folder.count > 1 ? String(folder.dropLast()) : folder
        guard isDirectory(dir) else { throw NNError("bert: no model folder at '\(folder)'") }
        let configPath = dir + "/config.json", weightsPath = dir + "/model.safetensors"
        guard fileExists(configPath) else { throw NNError("bert: '\(folder)' has no config.json") }
        guard fileExists(weightsPath) else {
            let other = ["pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"].first { fileExists(dir + "/" + $0) }
            throw NNError("bert: '\(folder)' has no model.safetensors" + (other.map { " (it has \($0); only safetensors weights can be read)" } ?? ""))
        }
        let config = try BertConfig.parse(try readJSON(configPath), file: configPath)
        let pooling = try pooling ?? poolingOf(folder: dir)
        let model = try BertModel(config, pooling: pooling, rng: RNG(seed: 0), dropoutRNG: dropoutRNG)
        try model.loadWeights(weightsPath)
        return model
    }

    /// Fills the parameters from a Hugging Face safetensors file, checking every name and shape
    /// before anything changes.
    public func loadWeights(_ path: String) throws {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        let (tensors, skipped, _) = try Safetensors.loadForeign(path)
        let prefixed = tensors.map(\.name) + skipped.map(\.name)
        let strip = !prefixed.isEmpty && prefixed.allSatisfy { $0.hasPrefix("bert.") || $0.hasPrefix("cls.") }
        func key(_ name: String) -> String { strip && name.hasPrefix("bert.") ? String(name.dropFirst(5)) : name }
        var byName: [String: Tensor] = [:]
        for (name, t) in tensors { byName[key(name)] = t }
        let wanted = namedParameters()
        let wantedNames = Set(wanted.map(\.0))
        for s in skipped where wantedNames.contains(key(s.name)) {
            throw NNError("\(file): '\(s.name)' has dtype \(s.dtype); prune reads F32 weights only")
        }
        var missing: [String] = []
        for (name, p) in wanted {
            guard let t = byName[name] else { missing.append(name); continue }
            guard t.shape == p.shape else {
                throw NNError("\(file): '\(name)' has shape \(describe(shape: t.shape)) in the file, but the config (\(config.layers) layers, hidden \(config.hiddenSize), vocabulary \(config.vocabSize)) needs \(describe(shape: p.shape))")
            }
        }
        if !missing.isEmpty {
            throw NNError("\(file): missing \(missing.count) tensor(s) the model needs: \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? ", …" : "")")
        }
        let extra = tensors.map { key($0.name) }.filter { !wantedNames.contains($0) && !BertModel.isUnused($0) }
        if !extra.isEmpty {
            throw NNError("\(file): \(extra.count) tensor(s) a BERT encoder of this config does not have: \(extra.prefix(5).joined(separator: ", "))\(extra.count > 5 ? ", …" : "")")
        }
        for (name, p) in wanted { if let t = byName[name] { try p.assign(t) } }
    }

    /// The pooling a sentence-transformers folder declares in 1_Pooling/config.json; mean when
    /// there is none.
    static func poolingOf(folder: String) throws -> BertPooling {
        let path = folder + "/1_Pooling/config.json"
        guard fileExists(path) else { return .mean }
        let json = try readJSON(path)
        func on(_ key: String) -> Bool { if case .bool(true)? = json[key] { return true } else { return false } }
        if on("pooling_mode_mean_tokens") { return .mean }
        if on("pooling_mode_cls_token") { return .cls }
        let modes = ["pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"].filter(on)
        let mode = modes.first ?? "(none set)"
        throw NNError("\(path): unsupported pooling \(mode) (prune pools by mean or [CLS]; pass the pooling, .mean or .cls)",
                      kind: .unsupportedPooling(file: path, mode: mode))
    }

    static func readJSON(_ path: String) throws -> JSON {
        try InputFile.check(path)
        let bytes = try WholeFile.readAll(path)
        InputFiles.read(path)
        do { return try JSON.parse(bytes) } catch let e as JSONError { throw NNError("\(path): \(e)") }
    }
}

func fileExists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
}

func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

extension Models {
    /// A sequence classifier: the encoder's pooled vector, dropout (the encoder's hidden
    /// dropout), a Linear head to `classes` logits. A Sequential whose last layer is the head,
    /// so training, transfer and the pruners' default targets treat it like every classifier.
    public static func bertClassifier(_ encoder: BertModel, classes: Int, rng: RNG, dropoutRNG: RNG) throws -> Sequential {
        guard classes > 0 else { throw NNError("bert classifier: needs classes > 0") }
        return Sequential([encoder, Dropout(encoder.config.hiddenDropout, rng: dropoutRNG),
                           try Linear(encoder.config.hiddenSize, classes, rng: rng)])
    }
}

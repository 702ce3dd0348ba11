// Core builtins: printing, help, variables, lengths, ranges, copies, seeds, timing, settings,
// results tables and a few list/record helpers.

extension Builtins {
    static let core: [Builtin] = [
        Builtin("print", variadic: true, topic: "core",
                summary: "Print values separated by spaces (strings without quotes).",
                example: "print(\"loss\", 0.25, [1, 2])") { args in
            if args.rest.count == 1, case .table = args.rest[0], let present = args.session.present {
                present(args.rest[0])
                return .nil_
            }
            args.session.write(args.rest.map(displayRaw).joined(separator: " ") + "\n")
            return .nil_
        },
        Builtin("help", [BuiltinParam("name", .nil_, "a builtin (by name or value) or a function")], topic: "core",
                summary: "List the builtins by topic, or describe one.",
                help: "help() lists every builtin by topic; help(\"train\") or help(train) shows its signature, description and an example. At the prompt, ?train does the same.",
                example: "help(\"range\")") { args in
            args.session.write(try helpText(args.value("name"), args.session))
            return .nil_
        },
        Builtin("vars", topic: "core",
                summary: "List your variables with their types and values.",
                example: "x = 3; vars()") { args in
            args.session.write(varsText(args.session))
            return .nil_
        },
        Builtin("len", [BuiltinParam("x", nil, "a list, string, record, range, tensor, table, dataset or model")], topic: "core",
                summary: "The number of items in a collection.",
                help: "Lists: items; strings: characters; records: fields; ranges: numbers; tensors: the size of the first axis; tables: rows; datasets: samples; models: layers.",
                example: "len([1, 2, 3])") { args in
            let v = args.value("x")
            switch v {
            case .list(let l): return .number(Double(l.items.count))
            case .string(let s): return .number(Double(s.count))
            case .record(let r): return .number(Double(r.keys.count))
            case .range(let a, let b): return .number(Double(a <= b ? b - a + 1 : 0))
            case .table(let t): return .number(Double(t.rows.count))
            case .object(let o):
                guard let n = try o.scriptLength() else { throw BuiltinError("len: a \(v.typeName) has no length") }
                return .number(Double(n))
            default: throw BuiltinError("len: a \(v.typeName) has no length")
            }
        },
        Builtin("range", [BuiltinParam("a", nil, "the end (alone) or the start"), BuiltinParam("b", .nil_, "the end, excluded"),
                          BuiltinParam("step", .number(1), "the step (may be negative)")], topic: "core",
                summary: "A list of numbers from a up to but not including b (half-open, as in Python).",
                help: "range(5) is [0, 1, 2, 3, 4]; range(2, 5) is [2, 3, 4]; range(0, 1, 0.25) is [0, 0.25, 0.5, 0.75]. The range literal 0:4 includes its end.",
                example: "range(0, 10, 2)") { args in
            var start = try args.number("a"), end = 0.0
            if args.has("b") { end = try args.number("b") } else { end = start; start = 0 }
            let step = try args.number("step")
            guard step != 0, step.isFinite, start.isFinite, end.isFinite else {
                throw BuiltinError("range: the step must be a non-zero finite number and the bounds finite")
            }
            let n = Swift.max(0, ((end - start) / step).rounded(.up))
            let limit = args.session.interp.maxElements
            guard n <= Double(limit) else { throw BuiltinError("range: too many numbers (\(formatNumber(n)), at most \(limit))") }
            return .list(ListRef((0..<Int(n)).map { .number(start + Double($0) * step) }))
        },
        Builtin("copy", [BuiltinParam("x", nil, "the value to copy")], topic: "core",
                summary: "A deep copy: lists, records and tables are duplicated, tensors copied.",
                help: "Lists, records and tables are shared when assigned (b = a); copy(a) makes an independent one. Tensors are copied (detached from autodiff). Models (every ready model, and any built from the standard layers) are copied with their parameters, buffers and masks.",
                example: "a = [1, [2, 3]]; b = copy(a); b[1][0] = 9; a") { args in
            var memo: [ObjectIdentifier: Value] = [:]
            var budget = args.session.interp.maxWalk
            return try deepCopy(args.value("x"), &memo, &budget)
        },
        Builtin("time", [BuiltinParam("expr", nil, "any expression")], topic: "core",
                summary: "Evaluate an expression, print how long it took, and return its value.",
                example: "time(sum(randn([1000, 1000])))") { args in
            args.value("expr")
        },
        Builtin("param", [BuiltinParam("name", nil, "the setting's name"), BuiltinParam("default", .nil_, "the value when it is not set")],
                topic: "core",
                summary: "A value set on the command line with --set name=value, or the default.",
                help: "Values read as numbers, true/false or text, so scripts can be run in a quick mode: epochs = param(\"epochs\", 10).",
                example: "epochs = param(\"epochs\", 3)") { args in
            args.session.setting(try args.string("name")) ?? args.value("default")
        },
        Builtin("here", [BuiltinParam("path", .string(""), "a path relative to the script's folder")], topic: "core",
                summary: "A path in the folder of the running script, wherever prune was started.",
                help: "here(\"../plots\") in tutorials/01-quickstart.prune is tutorials/../plots, whether prune runs from the repository or from tutorials/. At the prompt and with -e it is relative to the current folder; an absolute path stays as it is.",
                example: "here(\"plots/figure.png\")") { args in
            let path = try args.string("path")
            if path.hasPrefix("/") { return .string(path) }
            let file = args.file
            guard !file.hasPrefix("<"), let slash = file.lastIndex(of: "/") else { return .string(path.isEmpty ? "." : path) }
            let folder = slash == file.startIndex ? "/" : String(file[..<slash])
            if path.isEmpty { return .string(folder) }
            return .string(folder.hasSuffix("/") ? folder + path : folder + "/" + path)
        },
        Builtin("push", [BuiltinParam("list", nil, "a list"), BuiltinParam("value", nil, "the item to append")], topic: "core",
                summary: "Append an item to a list (in place).",
                example: "xs = [1, 2]; push(xs, 3); xs") { args in
            guard case .list(let l) = args.value("list") else { throw args.wrong("list", "a list") }
            guard l.items.count < args.session.interp.maxElements else { throw BuiltinError("push: the list is too long") }
            l.items.append(args.value("value"))
            return .nil_
        },
        Builtin("keys", [BuiltinParam("r", nil, "a record")], topic: "core",
                summary: "The field names of a record, in order.",
                example: "keys({lr: 0.1, epochs: 3})") { args in
            guard case .record(let r) = args.value("r") else { throw args.wrong("r", "a record") }
            return .list(ListRef(r.keys.map { .string($0) }))
        },
        Builtin("str", [BuiltinParam("x", nil, "any value"),
                        BuiltinParam("digits", .nil_, "significant digits of a number (default: the session's, options())")], topic: "core",
                summary: "A value as text, as print shows it.",
                help: "Numbers show the session's significant digits (options(digits=...)); str(x, digits=15) gives a number with more.",
                example: "str(0.5) + \"!\"\nstr(2 / 3, digits=8)") { args in
            if args.has("digits") {
                let digits = try args.int("digits", in: DisplayOptions.digitsRange)
                guard case .number(let x) = args.value("x") else { throw BuiltinError("str: digits= applies to a number, got \(args.value("x").typeName)") }
                return .string(formatNumber(x, digits: digits))
            }
            return .string(displayRaw(args.value("x")))
        },
        Builtin("type", [BuiltinParam("x", nil, "any value")], topic: "core",
                summary: "The type of a value, as a string: \"number\", \"list\", \"tensor\", ….",
                example: "type(1:3)") { args in
            .string(args.value("x").typeName)
        },
        Builtin("assert", [BuiltinParam("condition", nil, "must be true"), BuiltinParam("message", .string("assertion failed"), "the error message")],
                topic: "core",
                summary: "Stop with an error unless the condition holds.",
                example: "assert(1 + 1 == 2, \"arithmetic\")") { args in
            if !args.value("condition").isTruthy { throw BuiltinError(try args.string("message")) }
            return .nil_
        },
        Builtin("round", [BuiltinParam("x", nil, "a number"), BuiltinParam("digits", .number(0), "digits after the decimal point")],
                topic: "core", summary: "x rounded to a number of decimal digits (halves away from zero).",
                example: "round(0.91666, 3)") { args in
            let x = try args.number("x")
            let d = try args.int("digits", in: 0...15)
            var p = 1.0
            for _ in 0..<d { p *= 10 }
            return .number((x * p).rounded() / p)
        },
    ]

    // MARK: help and vars

    /// The text help(x) prints.
    static func helpText(_ x: Value, _ session: Session) throws -> String {
        switch x {
        case .nil_:
            var out = "Builtins by topic (help(\"name\") or ?name for one):\n"
            let width = (topics.map(\.count).max() ?? 0) + 1
            for t in topics {
                let names = all.filter { $0.topic == t }.map(\.name)
                out += "  " + (t + ":").padding(width) + " " + names.joined(separator: " ") + "\n"
            }
            out += """
            Language: x = 1; if c ... elseif c ... else ... end; for x in xs ... end; while c ... end;
              def f(a, b=1) ... return a + b end; break; continue; lists [1, 2]; records {lr: 0.1};
              ranges 0:4 (inclusive); strings "x = ${x}"; operators + - * / ^ % @ == != < <= > >= and or not;
              indexing xs[0], t[0, :], t[:, 1:3] (0-based, half-open slices); # comments; ';' silences a value.

            """
            return out
        case .string(let name):
            if let b = named(name) { return builtinHelp(b) }
            if let kw = Lexer.keywords[name] { return "'\(kw.rawValue)' is a keyword of the language; help() shows the syntax.\n" }
            if let v = session.globals[name] { return try helpText(v, session) }
            throw BuiltinError("help: no builtin named '\(name)'" + didYouMean(name, all.map(\.name)))
        case .function(let f):
            switch f.body {
            case .builtin(let b): return builtinHelp(b)
            case .user(let params, _, let file):
                return "\(f.name)(\(formatParameters(params)))\n  a function defined in \(file)\n"
            }
        default:
            return "\(display(x).prefix(200))\n  a \(x.typeName)" + (Fields.names(of: x).isEmpty ? "" : "; fields: " + Fields.names(of: x).joined(separator: ", ")) + "\n"
        }
    }

    static func builtinHelp(_ b: Builtin) -> String {
        var out = wrapSignature(b.signature) + "  " + b.summary + "\n"
        if !b.help.isEmpty { out += "\n" + wrap(b.help, indent: "  ") }
        let documented = b.params.filter { !$0.help.isEmpty }
        if !documented.isEmpty {
            out += "\n"
            let w = documented.map(\.name.count).max() ?? 0
            // A long description wraps under itself, past the column of names.
            let hang = String(repeating: " ", count: w + 4)
            for p in documented {
                let text = p.help + (p.defaultValue.map { v in
                    if case .nil_ = v { return " (optional)" }
                    return " (default \(display(v)))"
                } ?? "")
                out += "  " + p.name.padding(w) + "  " + wrapParagraph(text, indent: hang).dropFirst(hang.count)
            }
        }
        out += "\nexample:\n" + b.example.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n"
        return out
    }

    /// Wraps text at about 90 columns, each line of `text` a paragraph of its own.
    static func wrap(_ text: String, indent: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { wrapParagraph(String($0), indent: indent) }.joined()
    }

    /// A signature longer than a line, broken after commas and continued under its first
    /// parameter.
    static func wrapSignature(_ signature: String) -> String {
        guard signature.count > 90, let open = signature.firstIndex(of: "(") else { return signature + "\n" }
        let hang = String(repeating: " ", count: signature.distance(from: signature.startIndex, to: open) + 1)
        var out = "", line = ""
        for piece in signature.split(separator: ", ", omittingEmptySubsequences: false) {
            if !line.isEmpty && line.count + piece.count + 2 > 90 { out += line + ",\n"; line = hang + piece; continue }
            line += (line.isEmpty ? "" : ", ") + piece
        }
        return out + line + "\n"
    }

    static func wrapParagraph(_ text: String, indent: String) -> String {
        var out = "", line = indent
        for word in text.split(separator: " ") {
            if line.count + word.count + 1 > 90 && line.count > indent.count { out += line + "\n"; line = indent }
            line += (line.count > indent.count ? " " : "") + word
        }
        return out + line + "\n"
    }

    /// The text vars() prints: each variable, its type and a one-line value.
    static func varsText(_ session: Session) -> String {
        let names = session.globalNames
        if names.isEmpty { return "no variables\n" }
        let g = session.globals
        var rows: [[String]] = [["name", "type", "value"]]
        for n in names {
            guard let v = g[n] else { continue }
            var s = display(v)
            // A table's first display line is its header: say what it is instead.
            if case .table(let t) = v { s = "table \(t.rows.count)×\(t.columns.count)" + (t.columns.isEmpty ? "" : ": " + t.columns.joined(separator: ", ")) }
            if let nl = s.firstIndex(of: "\n") { s = String(s[..<nl]) + " …" }
            if s.count > 60 { s = String(s.prefix(59)) + "…" }
            rows.append([n, v.typeName, s])
        }
        return alignedColumns(rows, rightAligned: [], rule: true, indent: "")
    }

    // MARK: copy

    /// A deep copy that keeps sharing and cycles (each container is copied once).
    static func deepCopy(_ v: Value, _ memo: inout [ObjectIdentifier: Value], _ budget: inout Int, depth: Int = 0) throws -> Value {
        budget -= 1
        if budget < 0 { throw BuiltinError("copy: the value is too large") }
        if depth > Interpreter.maxNesting { throw BuiltinError("copy: the value is nested too deeply") }
        switch v {
        case .list(let l):
            if let done = memo[ObjectIdentifier(l)] { return done }
            let n = ListRef([])
            memo[ObjectIdentifier(l)] = .list(n)
            n.items = try l.items.map { try deepCopy($0, &memo, &budget, depth: depth + 1) }
            return .list(n)
        case .record(let r):
            if let done = memo[ObjectIdentifier(r)] { return done }
            let n = RecordRef()
            memo[ObjectIdentifier(r)] = .record(n)
            for (k, x) in r.pairs { n[k] = try deepCopy(x, &memo, &budget, depth: depth + 1) }
            return .record(n)
        case .table(let t):
            if let done = memo[ObjectIdentifier(t)] { return done }
            let n = Table()
            memo[ObjectIdentifier(t)] = .table(n)
            n.columns = t.columns
            n.rows = try t.rows.map { row in try row.mapValues { try deepCopy($0, &memo, &budget, depth: depth + 1) } }
            return .table(n)
        case .object(let o):
            if let done = memo[ObjectIdentifier(o)] { return done }
            guard let c = try o.scriptCopied() else { return v }
            memo[ObjectIdentifier(o)] = .object(c)
            return .object(c)
        default:
            return v
        }
    }
}

extension String {
    /// Pads with spaces on the right to `width` characters.
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

// The builtins table: one entry per builtin holds its name, signature, keyword defaults, help
// text and an example; help, completion, argument checking and the reference page all read it.

/// One parameter of a builtin. `defaultValue == nil` makes it required.
public struct BuiltinParam {
    public var name: String
    public var defaultValue: Value?
    public var help: String
    public init(_ name: String, _ defaultValue: Value? = nil, _ help: String = "") {
        self.name = name; self.defaultValue = defaultValue; self.help = help
    }
}

/// A builtin function of the language.
public struct Builtin {
    public var name: String
    public var params: [BuiltinParam]
    /// Accepts any number of extra positional arguments after `params` (e.g. print).
    public var variadic: Bool
    /// Accepts keyword arguments that are not in `params` (e.g. add(table, acc=0.9)).
    public var extraKeywords: Bool
    /// One line: what it does.
    public var summary: String
    /// More detail (may be empty).
    public var help: String
    /// A runnable example.
    public var example: String
    /// The topic it is listed under in help and the reference ("tensors", "models", …).
    public var topic: String
    public var body: (inout CallArgs) throws -> Value
    /// For builtins with `extraKeywords`: checks an extra keyword against the arguments bound so
    /// far (nil: accepted; else the error message, reported at the keyword).
    public var checkKeyword: ((_ keyword: String, _ named: [String: Value]) -> String?)?
    /// For builtins with `extraKeywords`: the keywords completion offers beyond `params`, given
    /// the call's text so far.
    public var moreKeywords: ((_ callText: String) -> [String])?

    public init(_ name: String, _ params: [BuiltinParam] = [], variadic: Bool = false, extraKeywords: Bool = false,
                topic: String, summary: String, help: String = "", example: String,
                body: @escaping (inout CallArgs) throws -> Value) {
        self.name = name; self.params = params; self.variadic = variadic; self.extraKeywords = extraKeywords
        self.topic = topic; self.summary = summary; self.help = help; self.example = example; self.body = body
    }

    /// `train(net, data, epochs=1, lr=0.05, ...)`.
    public var signature: String {
        let ps = params.map { p in p.defaultValue.map { "\(p.name)=\(display($0))" } ?? p.name }
        return "\(name)(" + (ps + (variadic ? ["..."] : []) + (extraKeywords ? ["key=value..."] : [])).joined(separator: ", ") + ")"
    }
}

/// An error raised by a builtin; the interpreter adds the call's location.
public struct BuiltinError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

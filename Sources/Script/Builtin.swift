// The builtins table: one entry per builtin holds its name, signature, keyword defaults, help
// text and an example; help, completion, argument checking and the reference page all read it.
import Engine

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

/// The arguments of one builtin call, bound to its parameters (defaults filled in).
public struct CallArgs {
    public let builtin: String
    /// Bound values by parameter name (defaults filled in).
    public var named: [String: Value]
    /// Extra positional arguments of a variadic builtin.
    public var rest: [Value]
    /// Keyword arguments not among the parameters, in call order (for extraKeywords builtins).
    public var extra: [(String, Value)]
    /// Positional arguments, in order, as given (for builtins that inspect them).
    public var positional: [Value]
    /// The session the call runs in (globals, output, random generator, settings).
    public unowned let session: Session
    /// Where the call is, `file:line` (figures record it as their source).
    public var location: String = ""

    public init(builtin: String, named: [String: Value], rest: [Value], extra: [(String, Value)], positional: [Value], session: Session) {
        self.builtin = builtin; self.named = named; self.rest = rest; self.extra = extra; self.positional = positional; self.session = session
    }

    public func value(_ name: String) -> Value { named[name] ?? .nil_ }
    public func has(_ name: String) -> Bool { if case .nil_ = value(name) { return false } else { return true } }

    public func wrong(_ name: String, _ expected: String) -> BuiltinError {
        BuiltinError("\(builtin): argument '\(name)' must be \(expected), got \(value(name).typeName)")
    }
    public func number(_ name: String) throws -> Double {
        if case .number(let x) = value(name) { return x }
        if case .bool(let b) = value(name) { return b ? 1 : 0 }
        throw wrong(name, "a number")
    }
    public func float(_ name: String) throws -> Float { Float(try number(name)) }
    public func int(_ name: String) throws -> Int {
        let x = try number(name)
        guard x == x.rounded(), abs(x) < 1e15 else { throw BuiltinError("\(builtin): argument '\(name)' must be a whole number, got \(display(.number(x)))") }
        return Int(x)
    }
    public func bool(_ name: String) throws -> Bool {
        if case .bool(let b) = value(name) { return b }
        throw wrong(name, "true or false")
    }
    public func string(_ name: String) throws -> String {
        if case .string(let s) = value(name) { return s }
        throw wrong(name, "a string")
    }
    public func tensor(_ name: String) throws -> Tensor {
        switch value(name) {
        case .tensor(let t): return t
        case .number(let x): return Tensor(Float(x))
        case .list, .range: return try session.tensor(from: value(name), what: "\(builtin): argument '\(name)'")
        default: throw wrong(name, "a tensor")
        }
    }
    /// A list of numbers (from a list, a range or a 1-D tensor).
    public func numbers(_ name: String) throws -> [Double] {
        switch value(name) {
        case .list(let l):
            return try l.items.map { v in
                guard case .number(let x) = v else { throw wrong(name, "a list of numbers") }
                return x
            }
        case .range(let a, let b): return try Value.rangeNumbers(a, b, limit: session.interp.maxElements)
        case .tensor(let t): return t.array.map(Double.init)
        case .number(let x): return [x]
        default: throw wrong(name, "a list of numbers")
        }
    }
    public func ints(_ name: String) throws -> [Int] {
        try numbers(name).map { x in
            guard x == x.rounded(), abs(x) < 1e15 else { throw wrong(name, "a list of whole numbers") }
            return Int(x)
        }
    }
}

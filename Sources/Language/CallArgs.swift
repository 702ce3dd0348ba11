// The arguments of one builtin call, bound to its parameters, and the readers that check them
// ("argument 'lr' must be a number, got string").

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
    /// The file the call is in, as it was named when run (`tutorials/01-quickstart.prune`,
    /// `<stdin>:3` at the prompt).
    public var file: String = ""

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
    /// A list of numbers (from a list, a range, a number or an object's numbers: a tensor's elements).
    public func numbers(_ name: String) throws -> [Double] {
        switch value(name) {
        case .list(let l):
            return try l.items.map { v in
                guard case .number(let x) = v else { throw wrong(name, "a list of numbers") }
                return x
            }
        case .range(let a, let b): return try Value.rangeNumbers(a, b, limit: session.interp.maxElements)
        case .object(let o):
            guard let xs = o.scriptNumbers() else { throw wrong(name, "a list of numbers") }
            return xs
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

    /// A whole number within `range`, with a message naming the argument.
    public func int(_ name: String, in range: ClosedRange<Int>) throws -> Int {
        let x = try int(name)
        guard range.contains(x) else {
            let bound = range.upperBound == Int.max ? "≥ \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            throw BuiltinError("\(builtin): argument '\(name)' must be \(bound), got \(x)")
        }
        return x
    }

    /// A whole number, or nil when the argument is nil.
    public func optionalInt(_ name: String) throws -> Int? {
        has(name) ? try int(name) : nil
    }

    /// A string, or nil when the argument is nil.
    public func optionalString(_ name: String) throws -> String? {
        has(name) ? try string(name) : nil
    }

    /// One of `choices`, with a suggestion for a near miss.
    public func choice(_ name: String, _ choices: [String]) throws -> String {
        let s = try string(name)
        guard choices.contains(s) else {
            let hint = closest(s, choices).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw BuiltinError("\(builtin): unknown \(name) \"\(s)\"\(hint); choose one of " + choices.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        return s
    }
}

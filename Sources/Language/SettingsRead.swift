// Which `--set` names a script reads, found in its syntax tree without running it, so a sweep
// can reject a grid name the script never reads before anything runs.

/// The settings a script reads with `param("name", ...)`.
public struct SettingsRead: Equatable {
    /// The names given to `param` as plain string literals.
    public var names: Set<String>
    /// False when the script may read settings the scan cannot see: `param` called with a
    /// computed name or passed around as a value, or another script run with `run`.
    public var complete: Bool

    public init(names: Set<String>, complete: Bool) { self.names = names; self.complete = complete }

    public static func == (a: SettingsRead, b: SettingsRead) -> Bool { a.names == b.names && a.complete == b.complete }

    /// Scans `source`; nil when it does not parse (running it reports the syntax errors).
    public static func scan(_ source: String, file: String = "<input>") -> SettingsRead? {
        let (statements, errors) = Parser.parse(source, file: file)
        guard errors.isEmpty else { return nil }
        var scan = SettingsRead(names: [], complete: true)
        scan.shadowed = SettingsRead.definedFunctions(statements)
        scan.visit(statements)
        return scan
    }

    /// Builtins the script replaces with its own `def` (a user's `run` is not the builtin).
    private var shadowed: Set<String> = []

    private static func definedFunctions(_ statements: [Stmt]) -> Set<String> {
        var names: Set<String> = []
        for s in statements {
            switch s.kind {
            case .def(let name, _, let body): names.insert(name); names.formUnion(definedFunctions(body))
            case .if_(let branches, let otherwise):
                for (_, body) in branches { names.formUnion(definedFunctions(body)) }
                if let otherwise { names.formUnion(definedFunctions(otherwise)) }
            case .for_(_, _, let body), .while_(_, let body): names.formUnion(definedFunctions(body))
            default: break
            }
        }
        return names
    }

    private func special(_ name: String) -> Bool { (name == "param" || name == "run") && !shadowed.contains(name) }

    private mutating func visit(_ statements: [Stmt]) {
        for s in statements { visit(s) }
    }

    private mutating func visit(_ s: Stmt) {
        switch s.kind {
        case .expression(let e, _): visit(e)
        case .assign(let target, let value): visit(target); visit(value)
        case .if_(let branches, let otherwise):
            for (c, body) in branches { visit(c); visit(body) }
            if let otherwise { visit(otherwise) }
        case .for_(_, let e, let body): visit(e); visit(body)
        case .while_(let c, let body): visit(c); visit(body)
        case .def(_, let params, let body):
            for p in params { if let d = p.defaultValue { visit(d) } }
            visit(body)
        case .return_(let e): if let e { visit(e) }
        case .break_, .continue_: break
        }
    }

    private mutating func visit(_ e: Expr) {
        switch e.kind {
        case .number, .bool, .nil_: break
        case .name(let n):
            // `param` or `run` used as a value (f = param): any name may be read through it.
            if special(n) { complete = false }
        case .string(let parts):
            for case .expr(let x) in parts { visit(x) }
        case .list(let items): for x in items { visit(x) }
        case .record(let fields): for (_, x) in fields { visit(x) }
        case .range(let a, let b), .binary(_, let a, let b): visit(a); visit(b)
        case .unary(_, let x), .field(let x, _): visit(x)
        case .index(let x, let subscripts):
            visit(x)
            for sub in subscripts {
                switch sub {
                case .index(let i): visit(i)
                case .slice(let a, let b): if let a { visit(a) }; if let b { visit(b) }
                }
            }
        case .call(let callee, let args):
            if case .name(let n) = callee.kind, special(n) {
                if n == "param", let name = args.first(where: { $0.name == nil || $0.name == "name" }),
                   case .string(let parts) = name.value.kind, parts.count <= 1, let text = SettingsRead.literal(parts) {
                    names.insert(text)
                } else {
                    complete = false
                }
            } else {
                visit(callee)
            }
            for a in args { visit(a.value) }
        }
    }

    private static func literal(_ parts: [StringPart]) -> String? {
        guard let first = parts.first else { return "" }
        if case .text(let t) = first { return t }
        return nil
    }
}

// The syntax tree of the prune language. Every node carries the location it starts at, so
// errors point at the exact spot.

/// A position in a source text: 1-based line and column.
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

/// Binary operators, in the language's spelling.
public enum BinaryOperator: String, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/", pow = "^", mod = "%", matmul = "@"
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    case and, or
}

/// Unary operators.
public enum UnaryOperator: String, Sendable { case neg = "-", not }

/// One argument of a call: positional when `name` is nil.
public struct Argument: Sendable {
    public var name: String?
    public var value: Expr
    public var location: SourceLocation
    public init(name: String?, value: Expr, location: SourceLocation) { self.name = name; self.value = value; self.location = location }
}

/// One index of a subscript: a single expression, or a slice `a:b` with either side optional
/// (`:` alone selects everything).
public indirect enum Subscript: Sendable {
    case index(Expr)
    case slice(Expr?, Expr?)
}

/// A piece of an interpolated string: literal text or `${expr}`.
public indirect enum StringPart: Sendable {
    case text(String)
    case expr(Expr)
}

/// Expressions.
public indirect enum ExprKind: Sendable {
    case number(Double)
    case string([StringPart])
    case bool(Bool)
    case nil_
    case name(String)
    case list([Expr])
    case record([(String, Expr)])
    /// Inclusive range `lo:hi`.
    case range(Expr, Expr)
    case unary(UnaryOperator, Expr)
    case binary(BinaryOperator, Expr, Expr)
    case call(Expr, [Argument])
    case field(Expr, String)
    case index(Expr, [Subscript])
}

public struct Expr: Sendable {
    public var kind: ExprKind
    public var location: SourceLocation
    public init(_ kind: ExprKind, _ location: SourceLocation) { self.kind = kind; self.location = location }
}

/// A parameter of a user function, with an optional default.
public struct Parameter: Sendable {
    public var name: String
    public var defaultValue: Expr?
    public init(name: String, defaultValue: Expr?) { self.name = name; self.defaultValue = defaultValue }
}

/// Statements.
public indirect enum StmtKind: Sendable {
    /// An expression evaluated for its value (printed at the REPL unless `silent`, i.e. ended by `;`).
    case expression(Expr, silent: Bool)
    /// `target = value`, where target is a name, a field (`r.x`) or an index (`xs[0]`).
    case assign(Expr, Expr)
    /// `if c ... elseif c ... else ... end`
    case if_([(Expr, [Stmt])], else_: [Stmt]?)
    case for_(String, Expr, [Stmt])
    case while_(Expr, [Stmt])
    case def(String, [Parameter], [Stmt])
    case return_(Expr?)
    case break_
    case continue_
}

public struct Stmt: Sendable {
    public var kind: StmtKind
    public var location: SourceLocation
    public init(_ kind: StmtKind, _ location: SourceLocation) { self.kind = kind; self.location = location }
}

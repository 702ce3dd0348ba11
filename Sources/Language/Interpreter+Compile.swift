// Compiling syntax trees to nodes: names become slots. Inside a function, a name is local when
// the function assigns it (a parameter, `x = …`, a `for` variable or a nested `def`); every
// other name is global, falling back to the builtin of that name.

/// The variables visible to the code being compiled.
final class Scope {
    /// nil at the top level: everything is global.
    let function: CompiledFunction?
    var locals: [String: Int] = [:]
    init(function: CompiledFunction?) { self.function = function }
}

struct Compiler {
    let interp: Interpreter
    let unit: Unit

    /// Compiles top-level statements (global scope).
    func compileProgram(_ stmts: [Stmt]) -> [StmtNode] {
        let scope = Scope(function: nil)
        return stmts.map { statement($0, scope) }
    }

    func block(_ stmts: [Stmt], _ scope: Scope) -> Block { Block(stmts.map { statement($0, scope) }) }

    func variable(_ name: String, _ scope: Scope) -> VariableSlot {
        if let s = scope.locals[name] { return .local(s) }
        return .global(interp.globalSlot(name))
    }

    func statement(_ s: Stmt, _ scope: Scope) -> StmtNode {
        let loc = s.location
        switch s.kind {
        case .expression(let e, let silent):
            return ExprStmtNode(expr(e, scope), silent: silent, loc)
        case .assign(let target, let value):
            let v = expr(value, scope)
            switch target.kind {
            case .name(let n):
                switch variable(n, scope) {
                case .global(let slot): return AssignGlobalNode(slot: slot, v, loc)
                case .local(let slot): return AssignLocalNode(slot: slot, v, loc)
                }
            case .field(let obj, let name):
                return AssignFieldNode(expr(obj, scope), name, v, target.location)
            case .index(let obj, let subs):
                return AssignIndexNode(IndexNode(expr(obj, scope), subscripts(subs, scope), target.location), v, loc)
            default:
                // The parser rejects other targets; evaluate for effect.
                return ExprStmtNode(v, silent: true, loc)
            }
        case .if_(let branches, let elseBlock):
            return IfNode(branches.map { (expr($0.0, scope), block($0.1, scope)) }, elseBlock.map { block($0, scope) }, loc)
        case .for_(let name, let iterable, let body):
            return ForNode(variable(name, scope), expr(iterable, scope), block(body, scope), loc)
        case .while_(let cond, let body):
            return WhileNode(expr(cond, scope), block(body, scope), loc)
        case .def(let name, let params, let body):
            let fn = function(name, params, body)
            return DefNode(variable(name, scope), fn, loc)
        case .return_(let value):
            return ReturnNode(value.map { expr($0, scope) }, loc)
        case .break_: return BreakNode(loc)
        case .continue_: return ContinueNode(loc)
        }
    }

    /// Compiles a user function with its own scope.
    func function(_ name: String, _ params: [Parameter], _ body: [Stmt]) -> Function {
        let fn = Function(name: name, body: .user(params: params, body: body, file: unit.file))
        fn.code = code(name, params, body)
        return fn
    }

    /// The code of a user function, for this compiler's interpreter.
    func code(_ name: String, _ params: [Parameter], _ body: [Stmt]) -> CompiledFunction {
        let code = CompiledFunction(name: name, unit: unit, paramNames: params.map(\.name), owner: interp)
        let scope = Scope(function: code)
        var names: [String] = []
        func declare(_ n: String) {
            if scope.locals[n] == nil { scope.locals[n] = names.count; names.append(n) }
        }
        for p in params { declare(p.name) }
        Compiler.assignedNames(body, declare)
        code.localNames = names
        code.defaults = params.map { p in p.defaultValue.map { expr($0, scope) } }
        code.body = block(body, scope)
        return code
    }

    /// Names a function body assigns (its locals), not looking inside nested functions.
    static func assignedNames(_ stmts: [Stmt], _ declare: (String) -> Void) {
        for s in stmts {
            switch s.kind {
            case .assign(let t, _): if case .name(let n) = t.kind { declare(n) }
            case .for_(let n, _, let body): declare(n); assignedNames(body, declare)
            case .while_(_, let body): assignedNames(body, declare)
            case .if_(let branches, let e):
                for (_, b) in branches { assignedNames(b, declare) }
                if let e { assignedNames(e, declare) }
            case .def(let n, _, _): declare(n)
            default: break
            }
        }
    }

    func name(_ n: String, _ loc: SourceLocation, _ scope: Scope) -> ExprNode {
        let global = GlobalNode(slot: interp.globalSlot(n), name: n, builtin: interp.builtinValues[n], loc)
        if let s = scope.locals[n] { return LocalNode(slot: s, global: global) }
        return global
    }

    func subscripts(_ subs: [Subscript], _ scope: Scope) -> [SubscriptNode] {
        subs.map { s in
            switch s {
            case .index(let e): return .index(expr(e, scope))
            case .slice(let a, let b): return .slice(a.map { expr($0, scope) }, b.map { expr($0, scope) })
            }
        }
    }

    func expr(_ e: Expr, _ scope: Scope) -> ExprNode {
        let loc = e.location
        switch e.kind {
        case .number(let x): return ConstNode(.number(x), loc)
        case .bool(let b): return ConstNode(.bool(b), loc)
        case .nil_: return ConstNode(.nil_, loc)
        case .string(let parts):
            if parts.isEmpty { return ConstNode(.string(""), loc) }
            if parts.count == 1, case .text(let t) = parts[0] { return ConstNode(.string(t), loc) }
            return InterpolationNode(parts.map { p in
                switch p {
                case .text(let t): return .text(t)
                case .expr(let x): return .expr(expr(x, scope))
                }
            }, loc)
        case .name(let n): return name(n, loc, scope)
        case .list(let items): return ListNode(items.map { expr($0, scope) }, loc)
        case .record(let pairs): return RecordNode(pairs.map(\.0), pairs.map { expr($0.1, scope) }, loc)
        case .range(let a, let b): return RangeNode(expr(a, scope), expr(b, scope), loc)
        case .unary(let op, let x):
            return op == .neg ? NegNode(expr(x, scope), loc) : NotNode(expr(x, scope), loc)
        case .binary(let op, let a, let b):
            switch op {
            case .and: return LogicNode(isAnd: true, expr(a, scope), expr(b, scope), loc)
            case .or: return LogicNode(isAnd: false, expr(a, scope), expr(b, scope), loc)
            default: return BinaryNode(op, expr(a, scope), expr(b, scope), loc)
            }
        case .call(let callee, let args):
            let argNodes = args.map { ArgNode(name: $0.name, value: expr($0.value, scope), loc: $0.location) }
            if case .field(let obj, let fieldName) = callee.kind {
                let call = CallNode(ConstNode(.nil_, callee.location), argNodes, loc)
                return MethodCallNode(expr(obj, scope), fieldName, call, function: name(fieldName, callee.location, scope))
            }
            return CallNode(expr(callee, scope), argNodes, loc)
        case .field(let obj, let n): return FieldNode(expr(obj, scope), n, loc)
        case .index(let obj, let subs): return IndexNode(expr(obj, scope), subscripts(subs, scope), loc)
        }
    }
}

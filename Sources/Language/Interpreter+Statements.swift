// Statement nodes: expression statements, assignments to names, fields and indices, if, while,
// for (ranges and lists walked without building a list), def, return, break and continue. Each
// returns the Flow its block should follow.

/// A compiled statement.
class StmtNode {
    let loc: SourceLocation
    init(_ loc: SourceLocation) { self.loc = loc }
    func exec(_ f: Frame) throws -> Flow { .next }
}

final class ExprStmtNode: StmtNode {
    let expr: ExprNode
    let silent: Bool
    init(_ expr: ExprNode, silent: Bool, _ loc: SourceLocation) { self.expr = expr; self.silent = silent; super.init(loc) }
    override func exec(_ f: Frame) throws -> Flow {
        _ = try expr.eval(f)
        return .next
    }
}

final class AssignGlobalNode: StmtNode {
    let slot: Int
    let value: ExprNode
    init(slot: Int, _ value: ExprNode, _ loc: SourceLocation) { self.slot = slot; self.value = value; super.init(loc) }
    override func exec(_ f: Frame) throws -> Flow {
        let v = try value.eval(f)
        f.interp.globals[slot] = v
        return .next
    }
}

final class AssignLocalNode: StmtNode {
    let slot: Int
    let value: ExprNode
    init(slot: Int, _ value: ExprNode, _ loc: SourceLocation) { self.slot = slot; self.value = value; super.init(loc) }
    override func exec(_ f: Frame) throws -> Flow {
        f.locals[slot] = try value.eval(f)
        return .next
    }
}

/// `obj.name = value`
final class AssignFieldNode: StmtNode {
    let object: ExprNode
    let name: String
    let value: ExprNode
    init(_ object: ExprNode, _ name: String, _ value: ExprNode, _ loc: SourceLocation) {
        self.object = object; self.name = name; self.value = value; super.init(loc)
    }
    override func exec(_ f: Frame) throws -> Flow {
        let obj = try object.eval(f)
        let v = try value.eval(f)
        try f.interp.setField(obj, name, v, loc, f)
        return .next
    }
}

/// `obj[subs] = value`
final class AssignIndexNode: StmtNode {
    let target: IndexNode
    let value: ExprNode
    init(_ target: IndexNode, _ value: ExprNode, _ loc: SourceLocation) { self.target = target; self.value = value; super.init(loc) }
    override func exec(_ f: Frame) throws -> Flow {
        let obj = try target.object.eval(f)
        let subs = try target.evalSubs(f)
        let v = try value.eval(f)
        try f.interp.setIndex(obj, subs, v, target.loc, f)
        return .next
    }
}

/// Where a loop variable or a `def` stores its value.
enum VariableSlot {
    case global(Int)
    case local(Int)
    @inline(__always) func set(_ v: Value, _ f: Frame) {
        switch self {
        case .global(let s): f.interp.globals[s] = v
        case .local(let s): f.locals[s] = v
        }
    }
}

final class IfNode: StmtNode {
    let branches: [(ExprNode, Block)]
    let elseBlock: Block?
    init(_ branches: [(ExprNode, Block)], _ elseBlock: Block?, _ loc: SourceLocation) {
        self.branches = branches; self.elseBlock = elseBlock; super.init(loc)
    }
    override func exec(_ f: Frame) throws -> Flow {
        for (cond, block) in branches where try cond.eval(f).isTruthy {
            return try Interpreter.run(block, f)
        }
        if let e = elseBlock { return try Interpreter.run(e, f) }
        return .next
    }
}

final class WhileNode: StmtNode {
    let cond: ExprNode
    let body: Block
    init(_ cond: ExprNode, _ body: Block, _ loc: SourceLocation) { self.cond = cond; self.body = body; super.init(loc) }
    override func exec(_ f: Frame) throws -> Flow {
        let interp = f.interp
        while try cond.eval(f).isTruthy {
            try interp.poll(loc, f)
            switch try Interpreter.run(body, f) {
            case .breakLoop: return .next
            case .returned: return .returned
            case .next, .continueLoop: break
            }
        }
        return .next
    }
}

final class ForNode: StmtNode {
    let variable: VariableSlot
    let iterable: ExprNode
    let body: Block
    init(_ variable: VariableSlot, _ iterable: ExprNode, _ body: Block, _ loc: SourceLocation) {
        self.variable = variable; self.iterable = iterable; self.body = body; super.init(loc)
    }

    /// Runs the body once with the loop variable set to `v`; false when the loop must stop.
    @inline(__always) func step(_ v: Value, _ f: Frame, _ flow: inout Flow) throws -> Bool {
        variable.set(v, f)
        try f.interp.poll(loc, f)
        switch try Interpreter.run(body, f) {
        case .breakLoop: flow = .next; return false
        case .returned: flow = .returned; return false
        case .next, .continueLoop: return true
        }
    }

    override func exec(_ f: Frame) throws -> Flow {
        let seq = try iterable.eval(f)
        var flow = Flow.next
        switch seq {
        case .range(let a, let b):
            var i = a
            while i <= b {
                if !(try step(.number(Double(i)), f, &flow)) { break }
                if i == Int.max { break }
                i += 1
            }
        case .list(let l):
            var i = 0
            while i < l.items.count {
                if !(try step(l.items[i], f, &flow)) { break }
                i += 1
            }
        default:
            let items = try f.interp.iterationItems(seq, iterable.loc, f)
            for v in items where !(try step(v, f, &flow)) { break }
        }
        return flow
    }
}

/// `def name(params) … end`: binds the function value.
final class DefNode: StmtNode {
    let variable: VariableSlot
    let function: Function
    init(_ variable: VariableSlot, _ function: Function, _ loc: SourceLocation) {
        self.variable = variable; self.function = function; super.init(loc)
    }
    override func exec(_ f: Frame) throws -> Flow {
        variable.set(.function(function), f)
        return .next
    }
}

final class ReturnNode: StmtNode {
    let value: ExprNode?
    init(_ value: ExprNode?, _ loc: SourceLocation) { self.value = value; super.init(loc) }
    override func exec(_ f: Frame) throws -> Flow {
        f.returnValue = try value?.eval(f) ?? .nil_
        return .returned
    }
}

final class BreakNode: StmtNode {
    override func exec(_ f: Frame) throws -> Flow { .breakLoop }
}

final class ContinueNode: StmtNode {
    override func exec(_ f: Frame) throws -> Flow { .continueLoop }
}

// Calls: binding arguments to a user function's parameters or to a builtin's table entry,
// checking them (unknown keywords with a suggestion, missing and surplus arguments), the depth
// limit, and turning library errors into located script errors.
import FileIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Interpreter {
    /// Calls a function value.
    func call(_ callee: Value, _ positional: [Value], _ keywords: [(String, Value)], _ loc: SourceLocation,
              _ f: Frame, site: CallNode? = nil) throws -> Value {
        if case .object(let o) = callee, let r = try located(loc, f, { try o.scriptCall(positional, keywords) }) { return r }
        guard case .function(let fn) = callee else {
            throw f.error(loc, "cannot call a \(callee.typeName) (it is not a function)")
        }
        switch fn.body {
        case .builtin(let b): return try callBuiltin(b, positional, keywords, loc, f, site: site)
        case .user(let params, let body, let file):
            guard let code = fn.code else { throw f.error(loc, "function '\(fn.name)' has no code") }
            if code.owner == ObjectIdentifier(self) { return try callUser(fn, code, positional, keywords, loc, f, site: site) }
            // Defined in another session: its code names that session's slots.
            let id = ObjectIdentifier(fn)
            let mine = foreignCode[id]?.1 ?? Compiler(interp: self, unit: Unit(file: file, source: code.unit.source)).code(fn.name, params, body)
            foreignCode[id] = (fn, mine)
            return try callUser(fn, mine, positional, keywords, loc, f, site: site)
        }
    }

    func callUser(_ fn: Function, _ code: CompiledFunction, _ positional: [Value], _ keywords: [(String, Value)],
                  _ loc: SourceLocation, _ caller: Frame, site: CallNode?) throws -> Value {
        try enterCall(fn.name, loc, caller)
        let n = code.paramNames.count
        let signature = "\(fn.name)(\(code.paramNames.joined(separator: ", ")))"
        guard positional.count <= n else {
            throw caller.error(loc, "too many arguments for \(signature): expected at most \(n), got \(positional.count)")
        }
        let frame = Frame(interp: self, unit: code.unit, localCount: code.localNames.count, code: code)
        for (i, v) in positional.enumerated() { frame.locals[i] = v }
        for (k, v) in keywords {
            guard let i = code.paramNames.firstIndex(of: k) else {
                throw caller.error(site?.location(ofKeyword: k) ?? loc,
                                   "unknown keyword '\(k)' for \(fn.name)" + didYouMean(k, code.paramNames))
            }
            if frame.locals[i] != nil {
                throw caller.error(site?.location(ofKeyword: k) ?? loc, "argument '\(k)' of \(fn.name) given twice")
            }
            frame.locals[i] = v
        }
        callDepth += 1
        defer { callDepth -= 1 }
        do {
            for i in 0..<n where frame.locals[i] == nil {
                guard let d = code.defaults[i] else {
                    throw caller.error(loc, "missing argument '\(code.paramNames[i])' for \(signature)")
                }
                frame.locals[i] = try d.eval(frame)
            }
            _ = try Interpreter.run(code.body, frame)
        } catch var e as ScriptError {
            if e.callChain.count < 30 { e.callChain.insert((function: fn.name, location: loc), at: 0) }
            throw e
        }
        return frame.returnValue
    }

    func callBuiltin(_ b: Builtin, _ positional: [Value], _ keywords: [(String, Value)], _ loc: SourceLocation,
                     _ f: Frame, site: CallNode?) throws -> Value {
        var named: [String: Value] = [:]
        var rest: [Value] = []
        var extra: [(String, Value)] = []
        if positional.count > b.params.count && !b.variadic {
            let m = b.params.count
            throw f.error(loc, "too many arguments for \(b.name): expected at most \(m) positional argument\(m == 1 ? "" : "s"), got \(positional.count) — \(b.signature)")
        }
        // A variadic builtin's positional arguments fill its parameters only up to the first one
        // given by keyword, so `randn(2, 3, std=0.1)` reads 2 and 3 as dimensions.
        let fillable = b.variadic
            ? (b.params.firstIndex { p in keywords.contains { $0.0 == p.name } } ?? b.params.count)
            : b.params.count
        for (i, v) in positional.enumerated() {
            if i < fillable { named[b.params[i].name] = v } else { rest.append(v) }
        }
        for (k, v) in keywords {
            if b.params.contains(where: { $0.name == k }) {
                if named[k] != nil {
                    throw f.error(site?.location(ofKeyword: k) ?? loc, "argument '\(k)' of \(b.name) given twice")
                }
                named[k] = v
            } else if b.extraKeywords {
                if let message = b.checkKeyword?(k, named) { throw f.error(site?.location(ofKeyword: k) ?? loc, message) }
                extra.append((k, v))
            } else {
                throw f.error(site?.location(ofKeyword: k) ?? loc,
                              "unknown keyword '\(k)' for \(b.name)" + didYouMean(k, b.params.map(\.name)))
            }
        }
        for p in b.params where named[p.name] == nil {
            guard let d = p.defaultValue else {
                throw f.error(loc, "missing argument '\(p.name)' for \(b.signature)")
            }
            named[p.name] = d
        }
        var args = CallArgs(builtin: b.name, named: named, rest: rest, extra: extra, positional: positional, session: session)
        args.location = "\(f.unit.file):\(loc.line)"
        args.file = f.unit.file
        // Builtins count toward the depth limit too: run() of a file that runs itself, or a
        // builtin calling back into a function that calls it, must stop with an error.
        try enterCall(b.name, loc, f)
        callDepth += 1
        defer { callDepth -= 1 }
        do {
            // A builtin that stopped early on Ctrl-C (train) returns its partial result, which an
            // assignment keeps; the command stops at its next call or loop iteration.
            return try checkedResult(try b.body(&args), b.name, loc, f)
        } catch var e as ScriptError {
            // Raised where a builtin called a function through `Session.call`, which has no
            // source of its own: the user's call of this builtin is where it happened.
            if e.file == Session.callUnitName && e.location.line == 0 {
                let interrupt = e.isInterrupt
                e = f.error(loc, e.message)
                e.isInterrupt = interrupt
            }
            throw e
        } catch let e as ScriptErrors {
            throw e
        } catch {
            if interruptCheck() { throw interrupted(loc, f) }
            // The builtin's name leads the message, once.
            func named(_ m: String) -> String { m.hasPrefix("\(b.name):") ? m : "\(b.name): \(m)" }
            let message: String
            switch error {
            case let e as BuiltinError: message = e.message
            case let e as LibraryError:
                let m = e.scriptText
                message = m.hasPrefix(b.name) ? m : "\(b.name): \(m)"
            case let e as ScriptWorded: message = named(e.scriptMessage)
            default: message = named("\(error)")
            }
            throw f.error(argumentLocation(message, b, positional: positional.count, site: site) ?? loc, message)
        }
    }

    /// Where the argument an error names ("argument 'lr'", "keep=") is written, so that the
    /// caret points at it; nil when the message names none or the call site is unknown.
    func argumentLocation(_ message: String, _ b: Builtin, positional: Int, site: CallNode?) -> SourceLocation? {
        guard let site else { return nil }
        let prepended = max(0, positional - site.args.filter { $0.name == nil }.count)
        let m = Array(message.unicodeScalars)
        let marker = Array("argument '".unicodeScalars)
        var i = 0
        while i + marker.count < m.count {
            if Array(m[i..<(i + marker.count)]) == marker {
                var name = ""
                var j = i + marker.count
                while j < m.count, m[j] != "'" { name.unicodeScalars.append(m[j]); j += 1 }
                if let l = site.location(ofArgument: name, of: b, prepended: prepended) { return l }
                i = j
            }
            i += 1
        }
        // "pruner: unknown method …": the first parameter, when only one is named in the message.
        for p in b.params where message.contains("\(p.name)=") || message.contains("unknown \(p.name) ") {
            if let l = site.location(ofArgument: p.name, of: b, prepended: prepended) { return l }
        }
        return nil
    }

    /// The checks before any call: the depth limit and Ctrl-C.
    @inline(__always) func enterCall(_ name: String, _ loc: SourceLocation, _ f: Frame) throws {
        if callDepth >= Interpreter.maxCallDepth {
            throw f.error(loc, "stack overflow: more than \(Interpreter.maxCallDepth) nested calls (is '\(name)' recursing without end?)")
        }
        try poll(loc, f)
    }

    /// A builtin's result, refused when it is a string or list past `maxElements` (`str` of a
    /// list of long strings, `join` and the like would otherwise double without bound).
    @inline(__always) func checkedResult(_ v: Value, _ name: String, _ loc: SourceLocation, _ f: Frame) throws -> Value {
        switch v {
        case .string(let s) where s.utf8.count > maxElements:
            throw f.error(loc, "\(name): string too long (more than \(maxElements) bytes)")
        case .list(let l) where l.items.count > maxElements:
            throw f.error(loc, "\(name): list too long (more than \(maxElements) items)")
        default:
            return v
        }
    }

    /// `time(expr)`: evaluates its argument, prints how long it took, returns its value.
    func timeSpecialForm(_ call: CallNode, _ f: Frame) throws -> Value {
        guard call.args.count == 1, call.args[0].name == nil else {
            throw f.error(call.loc, "time takes one expression, e.g. time(train(net, data))")
        }
        let start = monotonicSeconds()
        let v = try call.args[0].value.eval(f)
        session.write("time: \(cFormat("%.3f", monotonicSeconds() - start)) s\n")
        return v
    }
}

/// A library error that the language words in its own syntax (keywords, calls). The bindings
/// add the conformance; a `LibraryError` may have it too, for the failures it marks by kind.
public protocol ScriptWorded: Error {
    var scriptMessage: String { get }
}

extension LibraryError {
    /// The message as the language shows it: the script's wording where the bindings give one.
    public var scriptText: String { (self as? ScriptWorded)?.scriptMessage ?? message }
}

extension Interpreter {
    /// Runs library code (an object's operator, index or field), turning its error into one
    /// located at `loc`; the language's own errors pass through.
    func located<T>(_ loc: SourceLocation, _ f: Frame, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ScriptError { throw e } catch let e as ScriptErrors { throw e } catch {
            throw f.error(loc, Interpreter.message(of: error))
        }
    }

    /// The user-facing message of an error raised below the language.
    static func message(of error: Error) -> String {
        switch error {
        case let e as BuiltinError: e.message
        case let e as LibraryError: e.scriptText
        case let e as ScriptWorded: e.scriptMessage
        default: "\(error)"
        }
    }
}

/// ` (did you mean 'net'?)` when one of `candidates` is a likely misspelling of `name`, else "".
public func didYouMean(_ name: String, _ candidates: [String]) -> String {
    guard let best = closest(name, candidates) else { return "" }
    return " (did you mean '\(best)'?)"
}

/// The candidate nearest to `name` by edit distance, when it is close enough to be a typo.
public func closest(_ name: String, _ candidates: [String]) -> String? {
    let limit = name.count <= 3 ? 1 : (name.count <= 6 ? 2 : 3)
    var best: (Int, String)?
    for c in Set(candidates).sorted() where c != name {
        if Swift.abs(c.count - name.count) > limit { continue }
        let d = levenshtein(name, c)
        if d <= limit && d < name.count && (best.map { d < $0.0 } ?? true) { best = (d, c) }
    }
    return best?.1
}

/// The edit distance between two strings (insertions, deletions, substitutions).
func levenshtein(_ a: String, _ b: String) -> Int {
    let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    var cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        cur[0] = i
        for j in 1...y.count {
            cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[y.count]
}

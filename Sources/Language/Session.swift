// A session: the globals, settings and random generator one user (a REPL, a script run, a test)
// works in, and the entry point that parses and runs source text.
import FileIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where prune code runs.
///
///     let s = Session()
///     _ = try s.execute("x = 1 + 2\nx * 10", file: "demo.prune", echo: true)   // prints 30
public final class Session {
    /// Receives everything the session prints (`print`, echoed values, `time`, progress lines).
    public var output: (String) -> Void
    /// Shows a table printed on its own (`print(t)`), when a front end draws tables itself (a
    /// notebook document); nil: its display goes to `output` as text.
    public var present: ((Value) -> Void)?
    /// Receives warnings (a file's value ignored, and the like): standard error by default.
    public var warn: (String) -> Void = { fputs("warning: \($0)\n", stderr) }
    /// How numbers and tables are shown (`options(digits=6, rows=20)`).
    public var displayOptions = DisplayOptions()
    /// Values for `param(name, default)`, from `--set name=value`.
    public var settings: [String: String]
    /// The seed the session started with (the library's random generator starts from it).
    public let seed: UInt64
    /// State that the modules above the language keep per session (the random generator, …),
    /// by a key of their choosing.
    public var attachments: [String: AnyObject] = [:]
    /// The result rows `record(...)` collected; a sweep gathers them from every run.
    public let records = Table()
    /// Polled between loop iterations and calls: returning true stops the running code with an
    /// "interrupted" error (`ScriptError.isInterrupt`). Tests swap in a step budget.
    public var interruptCheck: () -> Bool {
        get { interp.interruptCheck }
        set { interp.interruptCheck = newValue }
    }
    lazy var interp = Interpreter(session: self)

    public init(output: @escaping (String) -> Void = { print($0, terminator: "") }, settings: [String: String] = [:], seed: UInt64 = 0) {
        self.output = output
        self.settings = settings
        self.seed = seed
    }

    /// Writes text to the session's output.
    public func write(_ text: String) { output(text) }

    /// Sets the global variable `name` (the prompt keeps the last value shown in `ans`).
    public func setGlobal(_ name: String, _ value: Value) { interp.globals[interp.globalSlot(name)] = value }

    /// The user's variables (builtins not included). Setting it replaces them all.
    public var globals: [String: Value] {
        get {
            var d: [String: Value] = [:]
            for i in interp.globals.indices { if let v = interp.globals[i] { d[interp.globalNames[i]] = v } }
            return d
        }
        set {
            for i in interp.globals.indices { interp.globals[i] = nil }
            // The slot first: creating one may move the slots' buffer.
            for (k, v) in newValue { let slot = interp.globalSlot(k); interp.globals[slot] = v }
        }
    }

    /// Names of the user's variables in the order they were first assigned.
    public var globalNames: [String] { interp.globalNames.indices.filter { interp.globals[$0] != nil }.map { interp.globalNames[$0] } }

    /// Parses and runs `source`. Syntax errors are thrown together as `ScriptErrors` (nothing
    /// runs); a runtime error is thrown as a `ScriptError`. With `echo`, the value of each
    /// top-level expression statement not ended by `;` (and not nil) is written to the output,
    /// as the prompt shows it. Returns the value of the last statement when it is an expression.
    /// `show`, when given, receives each echoed value instead (a notebook shows a figure as an
    /// image).
    @discardableResult
    public func execute(_ source: String, file: String = "<input>", echo: Bool = false,
                        show: ((Value) -> Void)? = nil) throws -> Value? {
        return try onLargeStack { try DisplayOptions.using(self) {
            let (program, errors) = Parser.parse(source, file: file)
            if !errors.isEmpty { throw ScriptErrors(errors) }
            let unit = Unit(file: file, source: source)
            let nodes = Compiler(interp: interp, unit: unit).compileProgram(program)
            let frame = Frame(interp: interp, unit: unit, localCount: 0, code: nil)
            var last: Value?
            for node in nodes {
                if let e = node as? ExprStmtNode {
                    let v = try e.expr.eval(frame)
                    last = v
                    if echo && !e.silent {
                        if let show { show(v) } else if case .nil_ = v {} else { output(display(v) + "\n") }
                    }
                } else {
                    _ = try node.exec(frame)
                    last = nil
                }
            }
            return last
        } }
    }

    /// True when `source` stops inside a block, a bracket or a string, or after an operator
    /// (the prompt then reads another line instead of reporting an error). A block whose first
    /// line parsed stays open after a syntax error further in: its remaining lines belong to
    /// it, so the prompt reads up to its `end` and then reports the errors with nothing of the
    /// block run. An error on the first line is reported at once.
    public static func isIncomplete(_ source: String) -> Bool {
        let errors = (try? onLargeStack { Parser.parse(source, file: "<input>").errors }) ?? []
        return errors.contains(where: \.isIncompleteInput) && errors.allSatisfy { $0.isIncompleteInput || $0.location.line > 1 }
    }

    /// The builtin called `name` as a value, as this session's code sees it.
    public func builtinValue(_ name: String) -> Value? { interp.builtinValues[name] }

    /// The file name of errors raised at the boundary of `call` (a builtin's caller relocates them).
    static let callUnitName = "<call>"

    /// Calls a function value (a builtin or a user function) from Swift, e.g. a callback
    /// passed to a builtin.
    public func call(_ function: Value, _ positional: [Value], keywords: [(String, Value)] = []) throws -> Value {
        let unit = Unit(file: Session.callUnitName, source: "")
        let frame = Frame(interp: interp, unit: unit, localCount: 0, code: nil)
        return try DisplayOptions.using(self) { try interp.call(function, positional, keywords, SourceLocation(line: 0, column: 0), frame) }
    }

    /// A setting's value parsed as the language would read it: a number, true/false, or text.
    public func setting(_ name: String) -> Value? {
        settings[name].map(Session.settingValue)
    }

    /// How a `--set` value reads in the language: a number, true/false, nil, or text (quotes
    /// around it are dropped).
    public static func settingValue(_ s: String) -> Value {
        let t = s.trimmingSpaces
        if let x = Double(t) { return .number(x) }
        if t == "true" { return .bool(true) }
        if t == "false" { return .bool(false) }
        if t == "nil" { return .nil_ }
        if t.count >= 2, t.hasPrefix("\""), t.hasSuffix("\"") { return .string(String(t.dropFirst().dropLast())) }
        return .string(s)
    }

    /// The most items a value walked in one operation may have (a list turned into a tensor, a
    /// deep copy): beyond it the operation stops with an error instead of exhausting memory.
    public var maxWalk: Int { interp.maxWalk }
    /// `maxWalk` unless a test lowers it; what objects use when they convert an operand.
    public static let defaultMaxWalk = 50_000_000

    /// Limits used by the fuzz test: the largest list or string an operation may build.
    public var maxElements: Int {
        get { interp.maxElements }
        set { interp.maxElements = newValue; interp.maxWalk = newValue }
    }
}

/// Whether Ctrl-C was pressed: what sessions poll between loop iterations and calls. The
/// language cannot see the signal handler; the module that owns it installs the check.
public enum Interruption {
    nonisolated(unsafe) public static var requested: () -> Bool = { false }
}

// MARK: - A deep stack

/// Runs `body` on a thread with a large stack, so that deep (but bounded) recursion in user
/// code, nested expressions and nested blocks never overflows the caller's small stack (test
/// runners and dispatch threads have 512 KiB–8 MiB). Nested calls run inline.
public func onLargeStack<T>(_ body: () throws -> T) throws -> T {
    #if os(Linux)
    if LargeStack.isCurrent { return try body() }
    return try withoutActuallyEscaping(body) { escapable -> T in
        var result: Result<T, Error>?
        let job = LargeStack.Job {
            LargeStack.isCurrent = true
            result = Result { try escapable() }
        }
        if !LargeStack.run(job) { return try escapable() }
        guard let result else { return try escapable() }
        return try result.get()
    }
    #else
    return try body()
    #endif
}

#if os(Linux)
enum LargeStack {
    static let size = 256 << 20
    /// Marks the threads this file starts.
    nonisolated(unsafe) static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()
    static var isCurrent: Bool {
        get { pthread_getspecific(key) != nil }
        set { pthread_setspecific(key, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }

    final class Job {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    /// Runs the job on a new thread and waits for it; false when no thread could be started.
    static func run(_ job: Job) -> Bool {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, size)
        let ctx = Unmanaged.passRetained(job).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, &attr, { ctx in
            guard let ctx else { return nil }
            let job = Unmanaged<Job>.fromOpaque(ctx).takeRetainedValue()
            job.work()
            return nil
        }, ctx)
        if rc != 0 {
            Unmanaged<Job>.fromOpaque(ctx).release()
            return false
        }
        pthread_join(tid, nil)
        return true
    }
}
#endif

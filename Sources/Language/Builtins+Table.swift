// Table builtins: building results tables (table, add), recording a run's results (record,
// recorded), and the tools experiments need on them (group with mean ± sd over seeds, where,
// repeat over seeds).

extension CallArgs {
    /// Argument `name` as a table.
    public func table(_ name: String) throws -> Table {
        if case .table(let t) = value(name) { return t }
        throw wrong(name, "a table")
    }

    /// The columns named by a string or a list of strings, each checked against the table.
    public func columns(_ name: String, in t: Table) throws -> [String] {
        var names: [String] = []
        switch value(name) {
        case .string(let s): names = [s]
        case .list(let l):
            for v in l.items {
                guard case .string(let s) = v else { throw wrong(name, "a column name or a list of column names") }
                names.append(s)
            }
        default: throw wrong(name, "a column name or a list of column names")
        }
        for n in names where !t.columns.contains(n) {
            throw BuiltinError("\(builtin): no column '\(n)' in the table" + didYouMean(n, t.columns))
        }
        return names
    }
}

extension Table {
    /// Groups rows by the values of `by` (first appearance order) and summarises `y` columns:
    /// mean, sample standard deviation (nil for a single row) and the row count.
    static func groupedRows(_ t: Table, by: [String], y: [String]) -> Table {
        var order: [[Value]] = [], members: [[Int]] = []
        for (i, row) in t.rows.enumerated() {
            let key = by.map { row[$0] ?? .nil_ }
            if let j = order.firstIndex(where: { sameKey($0, key) }) { members[j].append(i) } else { order.append(key); members.append([i]) }
        }
        let out = Table()
        out.columns = by + y.flatMap { [$0, $0 + "_sd"] } + ["n"]
        for (key, rows) in zip(order, members) {
            var row: [String: Value] = [:]
            for (c, v) in zip(by, key) { row[c] = v }
            for c in y {
                let xs = rows.compactMap { r -> Double? in if case .number(let x) = t.rows[r][c] ?? .nil_ { return x } else { return nil } }
                guard !xs.isEmpty else { continue }
                let mean = xs.reduce(0, +) / Double(xs.count)
                row[c] = .number(mean)
                if xs.count > 1 {
                    let v = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)
                    row[c + "_sd"] = .number(v.squareRoot())
                }
            }
            row["n"] = .number(Double(rows.count))
            out.rows.append(row)
        }
        return out
    }

    static func sameKey(_ a: [Value], _ b: [Value]) -> Bool {
        zip(a, b).allSatisfy { x, y in
            switch (x, y) {
            case (.number(let p), .number(let q)): return p == q
            case (.string(let p), .string(let q)): return p == q
            case (.bool(let p), .bool(let q)): return p == q
            case (.nil_, .nil_): return true
            default: return display(x) == display(y)
            }
        }
    }
}

extension Builtins {
    static let tables: [Builtin] = [
        Builtin("table", topic: "core",
                summary: "A new empty results table (add rows with add).",
                example: "results = table(); add(results, method=\"magnitude\", acc=0.91); results") { _ in
            .table(Table())
        },
        Builtin("add", [BuiltinParam("t", nil, "a table")], extraKeywords: true, topic: "core",
                summary: "Append a row to a table: add(t, key=value, ...). New keys become new columns.",
                example: "results = table(); add(results, keep=0.1, acc=0.87); results") { args in
            guard case .table(let t) = args.value("t") else { throw args.wrong("t", "a table") }
            guard !args.extra.isEmpty else { throw BuiltinError("add: give the row as keywords, e.g. add(t, keep=0.1, acc=0.9)") }
            t.add(args.extra)
            return .nil_
        },
        Builtin("record", [BuiltinParam("rows", .nil_, "a table whose rows to record (or give one row as keywords)")],
                extraKeywords: true, topic: "core",
                summary: "Record a result: one row as keywords (record(keep=0.1, acc=0.87)) or every row of a table.",
                help: """
                    What a run records is its result: `prune sweep` runs a script once per grid point and \
                    gathers every point's recorded rows, with the point's settings and seed as extra \
                    columns, into one results.csv; `prune FILE --record out.csv` writes them for a single run. \
                    Cells are numbers, text, true/false or nil. recorded() shows the rows so far.
                    """,
                example: "record(method=\"magnitude\", keep=0.1, acc=0.87); recorded()") { args in
            let records = args.session.records
            switch args.value("rows") {
            case .nil_:
                guard !args.extra.isEmpty else {
                    throw BuiltinError("record: give the row as keywords, e.g. record(keep=0.1, acc=0.9), or a table")
                }
                try Table.checkCells(args.extra, what: "record")
                records.add(args.extra)
            case .table(let t):
                guard args.extra.isEmpty else { throw BuiltinError("record: give either a table or keywords, not both") }
                for row in t.rows {
                    let cells = t.columns.compactMap { c in row[c].map { (c, $0) } }
                    try Table.checkCells(cells, what: "record")
                    records.add(cells)
                }
            default: throw args.wrong("rows", "a table (or give the row as keywords)")
            }
            return .nil_
        },
        Builtin("recorded", topic: "core",
                summary: "The rows record(...) collected in this run, as a table.",
                example: "record(acc=0.9); recorded()") { args in
            let copy = Table()
            copy.columns = args.session.records.columns
            copy.rows = args.session.records.rows
            return .table(copy)
        },
        Builtin("group", [BuiltinParam("t", nil, "a table"),
                          BuiltinParam("by", nil, "the column (or list of columns) to group by"),
                          BuiltinParam("y", .nil_, "the columns to summarise (default: every numeric column except by and seed)")],
                topic: "tables", summary: "Rows grouped by columns, with the mean, the standard deviation and the count of each group.",
                help: "For each summarised column c the result has c (the mean over the group's rows), c_sd (the sample standard deviation, nil for one row) and n (rows in the group). Groups keep the order of their first row.",
                example: "t = table()\nfor s in 0:2\n  add(t, method=\"magnitude\", seed=s, acc=0.8 + s / 100)\nend\ngroup(t, by=\"method\")") { args in
            let t = try args.table("t")
            let by = try args.columns("by", in: t)
            var y: [String]
            if args.has("y") {
                y = try args.columns("y", in: t)
            } else {
                y = t.columns.filter { c in
                    !by.contains(c) && c != "seed" && c != "n" && t.rows.contains { if case .number = $0[c] ?? .nil_ { return true } else { return false } }
                        && t.rows.allSatisfy { r in switch r[c] ?? .nil_ { case .number, .nil_: return true; default: return false } }
                }
            }
            if let clash = y.first(where: { by.contains($0) }) { throw BuiltinError("group: column '\(clash)' is both grouped by and summarised") }
            return .table(Table.groupedRows(t, by: by, y: y))
        },
        Builtin("where", [BuiltinParam("t", nil, "a table")], extraKeywords: true,
                topic: "tables", summary: "The rows of a table whose columns equal the given values: where(t, method=\"movement\", distil=false).",
                help: "A new table with the same columns; the rows are shared values, not copies. A list value matches any of its items: where(t, keep=[0.1, 0.03]).",
                example: "t = table(); add(t, m=\"a\", acc=1); add(t, m=\"b\", acc=2)\nwhere(t, m=\"b\")") { args in
            let t = try args.table("t")
            for (k, _) in args.extra where !t.columns.contains(k) {
                throw BuiltinError("where: no column '\(k)' in the table" + didYouMean(k, t.columns))
            }
            let out = Table()
            out.columns = t.columns
            out.rows = t.rows.filter { row in
                args.extra.allSatisfy { k, v in
                    let cell = row[k] ?? .nil_
                    if case .list(let l) = v { return l.items.contains { Table.sameKey([cell], [$0]) } }
                    return Table.sameKey([cell], [v])
                }
            }
            return .table(out)
        },
        Builtin("repeat", [BuiltinParam("f", nil, "a function of the seed returning a record (one row), a list of records or a table"),
                           BuiltinParam("seeds", .number(3), "run f for seeds 0, 1, …, seeds − 1")],
                topic: "tables", summary: "Runs f(seed) for every seed and collects what it returns into one table, with a seed column.",
                example: "def run(seed)\n  return {acc: 0.8 + seed / 100}\nend\nrepeat(run, seeds=3)") { args in
            let f = args.value("f")
            guard case .function = f else { throw args.wrong("f", "a function") }
            let n = try args.int("seeds", in: 1...100_000)
            let out = Table()
            for s in 0..<n {
                let seedValue = Value.number(Double(s))
                func addRecord(_ r: RecordRef) { out.add([("seed", seedValue)] + r.pairs.filter { $0.0 != "seed" }) }
                switch try args.session.call(f, [seedValue]) {
                case .record(let r): addRecord(r)
                case .list(let l):
                    for item in l.items {
                        guard case .record(let r) = item else { throw BuiltinError("repeat: f returned a list holding a \(item.typeName); return records") }
                        addRecord(r)
                    }
                case .table(let t):
                    for row in t.rows { out.add([("seed", seedValue)] + t.columns.compactMap { c in c == "seed" ? nil : row[c].map { (c, $0) } }) }
                case .nil_: continue
                case let v: throw BuiltinError("repeat: f returned a \(v.typeName); return a record (one row), a list of records or a table")
                }
            }
            return .table(out)
        },
    ]
}

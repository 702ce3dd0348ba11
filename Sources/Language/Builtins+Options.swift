// The display options builtin: options() shows how numbers and tables are displayed in this
// session, options(digits=6, rows=20) changes it (DisplayOptions.swift does the formatting).

extension Builtins {
    static let options: [Builtin] = [
        Builtin("options", [BuiltinParam("digits", .nil_, "significant digits of numbers that are not whole, \(DisplayOptions.digitsRange.lowerBound) to \(DisplayOptions.digitsRange.upperBound) (default \(DisplayOptions().digits))"),
                            BuiltinParam("rows", .nil_, "a table with more rows shows its first and last rows only (default \(DisplayOptions().rows))")],
                topic: "core",
                summary: "Show or set how numbers and tables are displayed (significant digits, table rows).",
                help: "Numbers that are not whole show `digits` significant digits wherever prune shows them: at the prompt, in print, str and \"${x}\", tables, tensors and notebook documents (2 / 3 is 0.6667 with the default 4). Whole numbers show every digit; tables give counts thousands separators (60,000), line up each column of numbers on one number of decimals (0.50, 0.10, 0.03, as pandas does) and show a missing value as –. A table longer than `rows` shows its first and last rows and how many it left out. Saved files (CSV, safetensors) keep every digit. With no argument, options() returns the current settings; setting one returns nothing. The settings belong to the session (a rendered notebook keeps them from cell to cell).",
                example: "options(digits=6)\n2 / 3\noptions(digits=4)\noptions()") { args in
            let session = args.session
            if !args.has("digits") && !args.has("rows") {
                let o = session.displayOptions
                return .record(RecordRef([("digits", .number(Double(o.digits))), ("rows", .number(Double(o.rows)))]))
            }
            var o = session.displayOptions
            if args.has("digits") { o.digits = try args.int("digits", in: DisplayOptions.digitsRange) }
            if args.has("rows") { o.rows = try args.int("rows", in: DisplayOptions.minRows...Int.max) }
            session.displayOptions = o
            return .nil_
        },
    ]
}

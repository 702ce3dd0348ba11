// Watching a pruner: history(p) gives, per recorded mask update and per layer, the sparsity
// reached and (for learned scores) the threshold and the fraction of mask entries that changed,
// so that curves can show the schedule and the churn.
import Language
import Engine
import NN
import Pruning

extension EngineArgs {
    /// A fresh pruner from the pruner value in argument `name`, remembered by that value so
    /// that history(p) can show the run.
    static func startPruner(_ args: CallArgs, _ name: String) throws -> Pruner {
        let pruner = try Pruner(try EngineArgs.pruner(args, name))
        if case .object(let o) = args.value(name), let p = o as? PrunerObject { p.lastRun = pruner }
        return pruner
    }

    /// The mask log as a table: step, layer, sparsity, then threshold and changed where known;
    /// an "all" row per step gives the overall figures (weighted by layer size).
    static func logTable(_ log: PrunerLog) -> Table {
        let table = Table()
        let learned = log.records.contains { $0.threshold != nil }
        func cells(_ step: Int, _ layer: String, _ sparsity: Double, _ threshold: Double?, _ changed: Double?) -> [(String, Value)] {
            var row: [(String, Value)] = [("step", .number(Double(step))), ("layer", .string(layer)), ("sparsity", .number(sparsity))]
            if learned {
                row.append(("threshold", threshold.map { .number($0) } ?? .nil_))
                row.append(("changed", changed.map { .number($0) } ?? .nil_))
            }
            return row
        }
        var i = 0
        while i < log.records.count {
            let step = log.records[i].step
            var j = i
            while j < log.records.count && log.records[j].step == step { j += 1 }
            let group = Array(log.records[i..<j])
            for r in group { table.add(cells(r.step, r.layer, r.sparsity, r.threshold, r.changed)) }
            let o = PrunerLog.overall(group)
            table.add(cells(step, "all", o.sparsity, o.threshold, o.changed))
            i = j
        }
        if table.rows.isEmpty { table.columns = ["step", "layer", "sparsity"] }
        return table
    }
}

extension Builtins {
    static let watching: [Builtin] = [
        Builtin("history", [BuiltinParam("p", nil, "a pruner that has been used by train, transfer or prune")],
                topic: "pruning", summary: "What a pruner did in its last run: per mask update and per layer, the sparsity (and for learned scores the threshold and the fraction of mask entries changed).",
                help: "Rows per recorded update (about 100 per run at most; every update of a short run) and per pruned layer, then a row \"all\" with the overall figures. threshold is the smallest kept score; changed is the fraction of the layer's mask entries that differ from the previous row's. Plot it with curves(history(p), y=\"sparsity\", by=\"layer\").",
                example: "p = pruner(\"magnitude\", keep=0.2)\ntrain(mlp([784, 100, 10]), fashion_mnist(\"train\", limit=1000), epochs=2, pruner=p, quiet=true)\ncurves(history(p), y=\"sparsity\", by=\"layer\")") { args in
            guard case .object(let o) = args.value("p"), let p = o as? PrunerObject else { throw args.wrong("p", "a pruner") }
            guard let run = p.lastRun else {
                throw BuiltinError("history: this pruner has not run yet; use it in train(…, pruner=p), transfer(…, pruner=p) or prune(net, p) first")
            }
            return .table(EngineArgs.logTable(run.maskLog))
        },
    ]
}

// The prune> prompt through a real pseudo-terminal.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fresh history file path in a temporary folder.
func tempHistoryPath() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prune-cli-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent("history").path
}

/// Starts the prompt with history off (unless given) and waits for the first prompt.
func startREPL(history: String = "", extraArgs: [String] = []) throws -> PTYProcess {
    let p = try PTYProcess(["-q"] + extraArgs, env: ["PRUNE_HISTORY": history])
    #expect(p.expect("prune> "), "no prompt; screen:\n\(p.screen)")
    return p
}

@Suite(.serialized) struct PruneREPL {
    @Test func promptEvaluatesAndEchoes() throws {
        let p = try startREPL()
        p.send("1 + 2\n")
        #expect(p.expect("3"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("x = 20; x + 1;\n")        // a trailing ; silences the value
        #expect(p.expect("prune> "))
        p.send("x * 2 + 2\n")
        #expect(p.expect("42"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
        #expect(!p.screen.contains("21"), "a trailing ; prints nothing; screen:\n\(p.screen)")
    }

    @Test func bannerUnlessQuiet() throws {
        let p = try PTYProcess([], env: ["PRUNE_HISTORY": ""])
        #expect(p.expect("help"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func multiLineDefinitionUsesContinuationPrompt() throws {
        let p = try startREPL()
        p.send("def twice(x)\n")
        #expect(p.expect("...> "), "no continuation prompt; screen:\n\(p.screen)")
        p.send("return 2 * x\n")
        #expect(p.expect("...> "))
        p.send("end\n")
        #expect(p.expect("prune> "))
        p.send("for i in 1:3\n")
        #expect(p.expect("...> "))
        p.send("print(twice(i) + 100)\n")
        #expect(p.expect("...> "))
        p.send("end\n")
        #expect(p.expect("102"), "screen:\n\(p.screen)")
        #expect(p.expect("104"))
        #expect(p.expect("106"))
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func errorsNameTheCommandAndShowACaret() throws {
        let p = try startREPL()
        p.send("1 + 1\n")
        #expect(p.expect("prune> "))
        p.send("y = 1 + nosuchname\n")
        #expect(p.expect("<stdin>:2: error:"), "screen:\n\(p.screen)")
        #expect(p.expect("        ^"), "the caret is under column 9; screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        // A two-line command: its second line is line 4 of the session.
        p.send("if true\n")
        #expect(p.expect("...> "))
        p.send("  z = nosuchname\nend\n")
        #expect(p.expect("<stdin>:4: error:"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
        #expect(!p.screen.contains("<stdin>:2:1:9"))
    }

    @Test func ansHoldsTheLastValueShown() throws {
        let p = try startREPL()
        p.send("6 * 7\n")
        #expect(p.expect("42"))
        #expect(p.expect("prune> "))
        p.send("x = 1\n")
        #expect(p.expect("prune> "))
        p.send("ans + 1\n")
        #expect(p.expect("43"), "ans is the last value shown, not the assignment; screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("ans * 2\n")
        #expect(p.expect("86"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func tabCompletesBuiltinsAndVariables() throws {
        let p = try startREPL()
        p.send("fashion_mn\t")
        #expect(p.expect("fashion_mnist"), "builtin not completed; screen:\n\(p.screen)")
        p.send("\u{15}")                    // Ctrl-U: drop the line
        p.send("my_long_variable = 41\n")
        #expect(p.expect("prune> "))
        p.send("my_long_v\t + 1\n")
        #expect(p.expect("42"), "variable not completed; screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("record = {alpha_field: 5, beta: 6}\n")
        #expect(p.expect("prune> "))
        p.send("record.alpha_f\t * 2\n")
        #expect(p.expect("10"), "field not completed; screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("train(mlp([4, 2]), ep\t")
        #expect(p.expect("epochs="), "keyword not completed; screen:\n\(p.screen)")
        p.send("\u{15}")
        let dir = (tempHistoryPath() as NSString).deletingLastPathComponent
        FileManager.default.createFile(atPath: dir + "/unique_script_name.prune", contents: Data())
        p.send("path = \"\(dir)/unique_scr\t\"\n")
        #expect(p.expect("prune> "))
        p.send("path\n")
        #expect(p.expect("unique_script_name.prune\""), "path not completed; screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func historyPersistsAcrossSessions() throws {
        let path = tempHistoryPath()
        do {
            let p = try startREPL(history: path)
            p.send("617 * 2\n")
            #expect(p.expect("1234"))
            #expect(p.expect("prune> "))
            p.send("for i in 1:2\n")
            #expect(p.expect("...> "))
            p.send("print(i + 500)\n")
            #expect(p.expect("...> "))
            p.send("end\n")
            #expect(p.expect("502"))
            #expect(p.expect("prune> "))
            p.send("\u{04}")
            #expect(p.waitForExit() == 0)
        }
        let saved = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        #expect(saved.contains("617 * 2"), "history file: \(saved)")
        #expect(saved.split(separator: "\n").count == 2, "one entry per command, the loop included: \(saved)")

        let p = try startREPL(history: path)
        p.send("\u{1B}[A")                  // Up: the multi-line loop, as one entry
        p.send("\n")
        #expect(p.expect("501"), "screen:\n\(p.screen)")
        #expect(p.expect("502"))
        #expect(p.expect("prune> "))
        p.send("\u{1B}[A\u{1B}[A\n")        // Up twice: 617 * 2
        #expect(p.expect("1234"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func emptyHistoryVariableDisablesHistory() throws {
        let path = tempHistoryPath()
        let p = try PTYProcess(["-q"], env: ["PRUNE_HISTORY": "", "HOME": (path as NSString).deletingLastPathComponent])
        #expect(p.expect("prune> "))
        p.send("1 + 1\n")
        #expect(p.expect("2"))
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
        let home = (path as NSString).deletingLastPathComponent
        #expect(!FileManager.default.fileExists(atPath: home + "/.prune_history"))
    }

    @Test func ctrlCStopsALoopAndKeepsVariables() throws {
        let p = try startREPL()
        p.send("kept = 7\n")
        #expect(p.expect("prune> "))
        p.send("print(\"loop \" + \"started\"); while true; x = 1; end\n")
        #expect(p.expect("loop started"), "screen:\n\(p.screen)")
        p.drain(0.2)
        p.send("\u{03}")
        #expect(p.expect("interrupted", timeout: 10), "Ctrl-C did not stop the loop; screen:\n\(p.screen)")
        #expect(p.expect("prune> ", timeout: 10))
        p.send("1 + 1\n")
        #expect(p.expect("2"))
        #expect(p.expect("prune> "))
        p.send("kept + x\n")
        #expect(p.expect("8"), "variables lost; screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func ctrlCStopsTraining() throws {
        let p = try startREPL()
        p.send("kept = 5\n")
        #expect(p.expect("prune> "))
        p.send("train(mlp([784, 10]), fashion_mnist(\"train\"), epochs=50)\n")
        // The progress line (stderr is the terminal) shows training has begun.
        #expect(p.expect("epoch 1/50", timeout: 60), "no progress line; screen:\n\(p.screen)")
        p.send("\u{03}")
        #expect(p.expect("interrupted", timeout: 30), "Ctrl-C did not stop training; screen:\n\(p.screen)")
        #expect(p.expect("prune> ", timeout: 30))
        #expect(!p.screen.contains("epoch 50/50"), "training ran to the end; screen:\n\(p.screen)")
        p.send("1 + 1\n")
        #expect(p.expect("2"))
        #expect(p.expect("prune> "))
        p.send("kept * 3\n")
        #expect(p.expect("15"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func ctrlCDuringAnAssignedTrainingKeepsThePartialHistory() throws {
        let p = try startREPL()
        p.send("d = synthetic(classes=2, per_class=2000, shape=[1, 8, 8]); net = mlp([64, 32, 2])\n")
        #expect(p.expect("prune> ", timeout: 60))
        p.send("h = train(net, d, epochs=100000, lr=0.01)\n")
        #expect(p.expect("epoch 2/100000", timeout: 60), "no progress line; screen:\n\(p.screen)")
        p.send("\u{03}")
        #expect(p.expect("interrupted", timeout: 30), "screen:\n\(p.screen)")
        #expect(p.expect("prune> ", timeout: 30))
        p.send("print(\"rows\", len(h) > 0 and len(h) < 100000)\n")
        #expect(p.expect("rows true"), "h was not assigned the partial history; screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func progressLineShowsThePrunersSparsity() throws {
        let p = try startREPL()
        p.send("d = synthetic(classes=2, per_class=2000, shape=[1, 8, 8]); net = mlp([64, 32, 2])\n")
        #expect(p.expect("prune> ", timeout: 60))
        p.send("h = train(net, d, epochs=100000, lr=0.01, pruner=pruner(\"magnitude\", keep=0.5))\n")
        #expect(p.expect("sparsity 0.", timeout: 60), "no sparsity on the progress line; screen:\n\(p.screen)")
        p.send("\u{03}")
        #expect(p.expect("prune> ", timeout: 30))
        p.send("h.columns\n")
        #expect(p.expect("\"sparsity\""), "the history has no sparsity column; screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func syntaxErrorInsideABlockDiscardsTheWholeBlock() throws {
        let p = try startREPL()
        p.send("def f(x)\n")
        #expect(p.expect("...> "), "screen:\n\(p.screen)")
        p.send("y = )\n")
        // The block is still open: its remaining lines belong to it, not to the top level.
        #expect(p.expect("...> ", timeout: 10), "the block was abandoned after the error; screen:\n\(p.screen)")
        p.send("print(\"LEA\" + \"KED\")\n")
        #expect(p.expect("...> ", timeout: 10), "screen:\n\(p.screen)")
        p.send("end\n")
        #expect(p.expect("error"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("print(\"after\" + \"wards\")\n")
        #expect(p.expect("afterwards"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        #expect(!p.screen.contains("LEAKED"), "a line of the broken block ran; screen:\n\(p.screen)")
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func ctrlCAtThePromptClearsTheLine() throws {
        let p = try startREPL()
        p.send("this is not code")
        #expect(p.expect("this is not code"))
        p.send("\u{03}")
        #expect(p.expect("prune> "), "screen:\n\(p.screen)")
        p.send("1 + 1\n")
        #expect(p.expect("2"))
        #expect(p.expect("prune> "))
        #expect(!p.screen.contains("error"), "the cleared line ran; screen:\n\(p.screen)")
        // Also inside an unfinished block: Ctrl-C drops the block.
        p.send("for i in 1:3\n")
        #expect(p.expect("...> "))
        p.send("\u{03}")
        #expect(p.expect("prune> "))
        p.send("40 + 2\n")
        #expect(p.expect("42"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    // (Ctrl-Z is checked by hand: a pty session made by setsid is an orphaned process group,
    // where the kernel discards terminal stop signals.)

    @Test func windowResizeAtThePromptKeepsGoing() throws {
        let p = try startREPL()
        p.send("abc")
        #expect(p.expect("abc"))
        p.resize(rows: 30, columns: 100)    // SIGWINCH to prune
        p.drain(0.3)
        p.send("\u{15}40 + 2\n")
        #expect(p.expect("42"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func ctrlDExitsWithZero() throws {
        let p = try startREPL()
        p.send("\u{04}")
        #expect(p.waitForExit() == 0, "screen:\n\(p.screen)")
    }

    @Test func helpAndVars() throws {
        let p = try startREPL()
        p.send("help\n")
        #expect(p.expect("train"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("help fashion_mnist\n")
        #expect(p.expect("fashion_mnist("), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("?mlp\n")
        #expect(p.expect("mlp("), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("seen_value = 3\n")
        #expect(p.expect("prune> "))
        p.send("vars\n")
        #expect(p.expect("seen_value"), "screen:\n\(p.screen)")
        #expect(p.expect("prune> "))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)
    }

    @Test func errorsAreColouredOnATerminalUnlessNoColor() throws {
        let p = try startREPL()
        p.send("nosuchname\n")
        #expect(p.expect("prune> "))
        #expect(String(decoding: p.raw, as: UTF8.self).contains("\u{1B}[1;31m"))
        p.send("\u{04}")
        #expect(p.waitForExit() == 0)

        let q = try PTYProcess(["-q"], env: ["PRUNE_HISTORY": "", "NO_COLOR": "1"])
        #expect(q.expect("prune> "))
        q.send("nosuchname\n")
        #expect(q.expect("error"))
        #expect(q.expect("prune> "))
        #expect(!String(decoding: q.raw, as: UTF8.self).contains("\u{1B}[1;31m"))
        q.send("\u{04}")
        #expect(q.waitForExit() == 0)
    }
}

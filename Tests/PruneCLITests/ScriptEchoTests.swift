// A script run shows what its rendered document shows: the value of each expression statement
// not ended by ';' (as at the prompt), from a file and from stdin, and the same text in the
// document (tables there as tables).
import Foundation
import Testing

private let script = """
    # %% A
    x = 2 / 3
    x
    y = [1, 2];
    [3, 4];
    print("p")
    # %% B
    t = table()
    add(t, a=1, b=0.25)
    t
    nil
    """

@Suite struct ScriptEchoTests {
    @Test func aScriptRunPrintsWhatItsDocumentShows() throws {
        let path = try tempScript(script, name: "echo.prune")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let run = try runPrune([path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "0.6667\np\na     b\n-  ----\n1  0.25\n", "\(run.stdout)")
        let stdin = try runPrune(["-"], stdin: script)
        #expect(stdin.stdout == run.stdout)
        let md = (path as NSString).deletingLastPathComponent + "/echo.md"
        let render = try runPrune(["render", path, "-o", md, "--no-cache", "-q"])
        #expect(render.status == 0, "\(render.stderr)")
        let doc = (try? String(contentsOfFile: md, encoding: .utf8)) ?? ""
        #expect(doc.contains("```text\n0.6667\np\n```"), "\(doc)")
        #expect(doc.contains("| a | b |\n| ---: | ---: |\n| 1 | 0.25 |"), "\(doc)")
        #expect(!doc.contains("[1, 2]") || doc.contains("y = [1, 2];"))
        #expect(!doc.contains("```text\n[3, 4]"))
    }
}

// `prune render` and `prune cache clear` through the built binary: HTML and Markdown documents,
// figures beside the document or embedded, a failing cell, usage errors, the cache on disk, and
// refusals (what is not a cache, a document that cannot be written, markup in titles), and
// (when Chromium is installed) a look at the page in a headless browser.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory holding `nb.prune`.
private func notebookDir(_ source: String) throws -> String {
    let path = try tempScript(source, name: "nb.prune")
    return (path as NSString).deletingLastPathComponent
}

private func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

private let sample = """
    # %% [markdown]
    # # Sample
    # A *tiny* notebook.
    # %% Data
    t = table()
    add(t, x=1, y=0.5)
    add(t, x=2, y=0.7)
    print("rows:", len(t.rows))
    # %% Figure
    plot(t, x="x", y="y", title="y by x")
    """

@Suite struct RenderTests {
    @Test func rendersHTMLWithFiguresBesideIt() throws {
        let dir = try notebookDir(sample)
        let r = try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.html"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let html = read(dir + "/out.html")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<h1>Sample</h1>") && html.contains("<em>tiny</em>"))
        #expect(html.contains("rows: 2"))
        #expect(html.contains("<img src=\"out_files/cell-3-1.png\""))
        #expect(FileManager.default.fileExists(atPath: dir + "/out_files/cell-3-1.png"))
        #expect(r.stderr.contains("render: In [1] (Data): ran"), "\(r.stderr)")
        // Again: everything from the cache.
        let again = try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.html"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("0 cells ran, 2 from the cache"), "\(again.stderr)")
        #expect(read(dir + "/out.html").contains("(cached)"))
    }

    @Test func rendersMarkdownAndEmbedsFigures() throws {
        let dir = try notebookDir(sample)
        let md = try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.md", "--no-cache", "-q"])
        #expect(md.status == 0, "stderr: \(md.stderr)")
        #expect(md.stderr.isEmpty)
        let text = read(dir + "/out.md")
        #expect(text.contains("# Sample") && text.contains("```prune\nt = table()"))
        #expect(text.contains("![figure 1 of cell 3](out_files/cell-3-1.png)"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/.prune-cache"))
        let embedded = try runPrune(["render", dir + "/nb.prune", "-o", dir + "/e.html", "--embed", "--no-cache"])
        #expect(embedded.status == 0)
        #expect(read(dir + "/e.html").contains("src=\"data:image/png;base64,iVBORw0KGgo"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/e_files"))
    }

    @Test func aFailingCellStillWritesTheDocumentAndExitsWithOne() throws {
        let dir = try notebookDir("# %% Fine\nprint(\"fine\")\n# %% Broken\nx = undefined_name + 1\n# %% Later\nprint(\"later\")\n")
        let r = try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.html"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("nb.prune:4:5: error:"), "\(r.stderr)")
        let html = read(dir + "/out.html")
        #expect(html.contains("fine"))
        #expect(html.contains("<pre class=\"error\">") && html.contains("undefined_name"))
        #expect(html.contains("cell code not-run"))
        #expect(!html.contains(">later\n"))
    }

    @Test func settingsReachTheScript() throws {
        let dir = try notebookDir("# %% A\nprint(\"n =\", param(\"n\", 1))\n")
        let r = try runPrune(["render", dir + "/nb.prune", "-o", dir + "/o.md", "--set", "n=7"])
        #expect(r.status == 0)
        #expect(read(dir + "/o.md").contains("n = 7"))
    }

    @Test func usageErrorsExitWithTwo() throws {
        let dir = try notebookDir("x = 1\n")
        #expect(try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.txt"]).status == 2)
        #expect(try runPrune(["render"]).status == 2)
        #expect(try runPrune(["render", dir + "/missing.prune"]).status == 2)
        #expect(try runPrune(["cache", "flush"]).status == 2)
    }

    @Test func cacheClearRemovesTheCacheBesideAScript() throws {
        let dir = try notebookDir(sample)
        #expect(try runPrune(["render", dir + "/nb.prune", "-q"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/nb.html"))
        #expect(FileManager.default.fileExists(atPath: dir + "/.prune-cache/entries"))
        let r = try runPrune(["cache", "clear", dir + "/nb.prune"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/.prune-cache"))
    }

    /// `cache clear` deletes only what is a cell cache, whatever the directory is called.
    @Test func cacheClearRefusesWhatIsNotACache() throws {
        let dir = try notebookDir(sample)
        let precious = dir + "/thesis.prune-cache"
        try FileManager.default.createDirectory(atPath: precious + "/entries", withIntermediateDirectories: true)
        try "chapter 1".write(toFile: precious + "/thesis.tex", atomically: true, encoding: .utf8)
        let r = try runPrune(["cache", "clear", precious])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("not a prune cell cache"), "\(r.stderr)")
        #expect(read(precious + "/thesis.tex") == "chapter 1")
        // A directory given for its cache, holding something else under that name.
        try FileManager.default.createDirectory(atPath: dir + "/.prune-cache", withIntermediateDirectories: true)
        try "keep".write(toFile: dir + "/.prune-cache/notes.txt", atomically: true, encoding: .utf8)
        #expect(try runPrune(["cache", "clear", dir]).status == 1)
        #expect(read(dir + "/.prune-cache/notes.txt") == "keep")
        // Nothing to clear is not an error.
        let empty = try notebookDir(sample)
        let none = try runPrune(["cache", "clear", empty])
        #expect(none.status == 0, "\(none.stderr)")
    }

    /// A document that cannot be written (read-only, or a directory in its place) fails the
    /// render with a clear error and leaves no figures behind for it.
    @Test func aDocumentThatCannotBeWrittenLeavesNothingBehind() throws {
        let dir = try notebookDir(sample)
        try "old page".write(toFile: dir + "/out.html", atomically: true, encoding: .utf8)
        #expect(chmod(dir + "/out.html", 0o444) == 0)
        let r = try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.html", "-q"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("out.html") && r.stderr.contains("read-only"), "\(r.stderr)")
        #expect(read(dir + "/out.html") == "old page")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out_files"))
        try FileManager.default.createDirectory(atPath: dir + "/page.md", withIntermediateDirectories: true)
        let d = try runPrune(["render", dir + "/nb.prune", "-o", dir + "/page.md", "-q"])
        #expect(d.status == 1)
        #expect(d.stderr.contains("page.md") && d.stderr.contains("directory"), "\(d.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/page_files"))
        // An earlier render's figures stay when a later one cannot write its document.
        #expect(try runPrune(["render", dir + "/nb.prune", "-o", dir + "/ok.html", "-q"]).status == 0)
        let figure = try Data(contentsOf: URL(fileURLWithPath: dir + "/ok_files/cell-3-1.png"))
        try "# %% Data\nprint(1)\n".write(toFile: dir + "/nb.prune", atomically: true, encoding: .utf8)
        #expect(chmod(dir + "/ok.html", 0o444) == 0)
        #expect(try runPrune(["render", dir + "/nb.prune", "-o", dir + "/ok.html", "-q"]).status == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/ok_files/cell-3-1.png")) == figure)
    }

    /// Cell titles are text in both formats, never markup.
    @Test func markdownDocumentsEscapeCellTitles() throws {
        let dir = try notebookDir("# %% <img src=x onerror=alert(1)> *not bold* [x](javascript:alert(1))\nprint(1)\n")
        #expect(try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.md", "-q", "--no-cache"]).status == 0)
        let md = read(dir + "/out.md")
        #expect(!md.contains("<img"), "\(md)")
        #expect(md.contains("&lt;img src=x onerror=alert(1)&gt;"), "\(md)")
        #expect(md.contains("\\*not bold\\*") && md.contains("\\[x\\](javascript:alert(1))"), "\(md)")
    }

    @Test func plainRunsIgnoreCells() throws {
        let dir = try notebookDir(sample)
        let r = try runPrune([dir + "/nb.prune"])
        #expect(r.status == 0)
        // The cell markers are comments; the figure the last cell shows prints as its text preview.
        #expect(r.stdout.hasPrefix("rows: 2\nfigure (1 panel, 6.4×4.8 in, 150 dpi)\ny by x\n"), "\(r.stdout)")
    }

    /// The documented browser check: Chromium opens the page headless and takes a screenshot,
    /// which must be a real image of the page (not blank). Skipped where Chromium is absent.
    @Test(.enabled(if: chromium() != nil, "needs chromium (apt-get install chromium)"))
    func htmlDisplaysInAHeadlessBrowser() throws {
        guard let browser = chromium() else { return }
        let dir = try notebookDir(sample)
        #expect(try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.html", "-q"]).status == 0)
        let shot = dir + "/shot.png"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: browser)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1400",
                       "--screenshot=" + shot, "file://" + dir + "/out.html"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        // A blank page compresses to a few kilobytes; text, code and a figure do not.
        #expect(png.count > 30_000, "screenshot of \(png.count) bytes at \(shot)")
    }

    /// scripts/check-html at 1280 px: a two-panel figure 12 in wide, shrunk to the document's
    /// column, still shows its tick labels at least 11 px tall, and the page does not overflow.
    @Test(.enabled(if: chromium() != nil, "needs chromium (apt-get install chromium)"))
    func twoPanelFiguresAreReadableAtTheColumnWidth() throws {
        let dir = try notebookDir("""
            # %% Two panels
            t = table()
            for k in [0.5, 0.1, 0.03]
              add(t, keep=k, acc=0.9 - k / 10, method="magnitude")
              add(t, keep=k, acc=0.85 - k / 10, method="movement")
            end
            panels([plot(t, x="keep", y="acc", by="method", logx=true, baseline=0.95),
                    plot(t, x="keep", y="acc", by="method", baseline=0.95)], cols=2, width=12, height=4.5, sharey=true)

            """)
        #expect(try runPrune(["render", dir + "/nb.prune", "-o", dir + "/out.html", "-q"]).status == 0)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("scripts/check-html").path, "--screenshots", dir, dir + "/out.html"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(out)")
        #expect(out.contains("out.html: ok (1 figures"), "\(out)")
        #expect(FileManager.default.fileExists(atPath: dir + "/out.png"))
    }
}

/// The Chromium binary, if installed.
private func chromium() -> String? {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

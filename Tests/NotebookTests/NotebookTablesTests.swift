// Notebook documents as a reader sees them: tables drawn as HTML tables (Markdown tables in .md)
// and kept so through the cell cache, long tables as head and tail with a count, code cells
// numbered In [n] among the code cells, no note about the cache in the document, and the display
// options carried from cell to cell through the cache.
import Foundation
import Testing
import TestSupport
@testable import Language
@testable import Bindings
@testable import Notebooks

private let tables = """
    # %% [markdown]
    # Results
    # %% Build
    t = table()
    add(t, method="magnitude", keep=0.5, acc=0.912, n=12345)
    add(t, method="movement", keep=0.1, acc=nil, n=7)
    fig = plot(t, x="keep", y="n")
    t
    # %% [markdown]
    # More
    # %% Print
    print("before")
    print(t)
    print("after")
    # %% Long
    long = table()
    for i in 0:99
      add(long, i=i)
    end
    long
    """

private func document(_ r: NotebookResult, _ format: NotebookDocument.Format) -> String {
    format == .html ? NotebookDocument.html(r, images: r.cells.map { _ in [] }, version: "test")
        : NotebookDocument.markdown(r, images: r.cells.map { _ in [] }, version: "test")
}

@Suite struct NotebookTablesTests {
    @Test func tablesAreTablesInBothDocuments() throws {
        let lab = try Lab(tables)
        for cached in [false, true] {
            let r = try lab.render()
            #expect(statuses(r) == (cached ? [.cached, .cached, .cached] : [.ran, .ran, .ran]))
            let html = document(r, .html)
            #expect(html.contains("<th>method</th><th class=\"r\">keep</th><th class=\"r\">acc</th><th class=\"r\">n</th>"), "\(html)")
            #expect(html.contains("<td>magnitude</td><td class=\"r\">0.5</td><td class=\"r\">0.912</td><td class=\"r\">12,345</td>"))
            #expect(html.contains("<td>movement</td><td class=\"r\">0.1</td><td class=\"r\">–</td><td class=\"r\">7</td>"))
            // Text printed around a table stays text, before and after it.
            #expect(html.contains("<pre class=\"output\">before</pre>\n<div class=\"table\"><table>"))
            #expect(html.contains("</div>\n<pre class=\"output\">after</pre>"))
            // The long table: 10 rows, a row of "…", 10 rows, and the count of rows left out.
            #expect(html.components(separatedBy: "<tr class=\"gap\">").count == 2)
            #expect(html.contains("<p class=\"table-foot\">[100 rows × 1 column, 80 not shown]</p>"))
            #expect(!html.contains("<td class=\"r\">50</td>"))
            #expect(html.contains("<td class=\"r\">99</td>"))
            let md = document(r, .markdown)
            #expect(md.contains("| method | keep | acc | n |\n| --- | ---: | ---: | ---: |\n| magnitude | 0.5 | 0.912 | 12,345 |\n| movement | 0.1 | – | 7 |\n"), "\(md)")
            #expect(md.contains("```text\nbefore\n```\n\n| method |"))
            #expect(md.contains("| … |\n| 90 |"))
            #expect(md.contains("\n\\[100 rows × 1 column, 80 not shown\\]\n"), "\(md)")
            // The cell's text output still holds the table as text (what a script run prints).
            #expect(r.cells[3].output.hasPrefix("before\nmethod     keep    acc       n\n"))
        }
    }

    @Test func codeCellsAreNumberedAmongCodeCells() throws {
        let lab = try Lab(tables)
        let r = try lab.render()
        #expect(r.cells.compactMap(\.codeNumber) == [1, 2, 3])
        let html = document(r, .html)
        for n in 1...3 { #expect(html.contains("<span class=\"in\">In [\(n)]</span>")) }
        #expect(!html.contains("In [4]") && !html.contains("In [5]"))
        let md = document(r, .markdown)
        #expect(md.contains("**In [2] Print** ·"))
        #expect(lab.log.contains { $0.hasPrefix("In [3] (Long): ran in") }, "\(lab.log)")
    }

    @Test func cacheNotesStayOutOfTheDocument() throws {
        let lab = try Lab(tables)
        let r = try lab.render()
        // fig cannot be stored: the log says so, the document does not.
        #expect(r.cells[1].note?.contains("fig") == true)
        #expect(lab.log.contains { $0.contains("not in the cached state: fig") })
        for format in [NotebookDocument.Format.html, .markdown] {
            let d = document(r, format)
            #expect(!d.contains("not in the cached state") && !d.contains("cannot be stored"))
        }
    }

    @Test func displayOptionsSurviveTheCache() throws {
        let source = """
            # %% A
            options(digits=7, rows=5)
            x = 2 / 3
            # %% B
            x
            """
        let lab = try Lab(source)
        let first = try lab.render()
        #expect(first.cells[1].output == "0.6666667\n")
        try lab.write(source + "\nx * 2")
        let again = try lab.render()
        #expect(statuses(again) == [.cached, .ran])
        #expect(again.cells[1].output == "0.6666667\n1.333333\n")
    }

    @Test func damagedStoredTablesShowAsText() {
        let view = TableView(columns: ["a"], head: [["1"]], tail: [], numeric: [0], total: 1)
        let good = OutputTable(start: 2, length: 9, view: view)
        let output = "x\na\n-\n1\n\ny\n"
        #expect(OutputTable.decode(.array([good.json]), output: output).count == 1)
        // Past the end of the output, or rows wider than the header: left out.
        let past = OutputTable(start: 20, length: 9, view: view)
        let wide = OutputTable(start: 2, length: 9, view: TableView(columns: ["a"], head: [["1", "2"]], tail: [], numeric: [], total: 1))
        #expect(OutputTable.decode(.array([past.json, wide.json]), output: output).isEmpty)
        #expect(OutputTable.decode(.string("junk"), output: output).isEmpty)
    }
}

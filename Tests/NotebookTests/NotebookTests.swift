// Notebook cells (jupytext percent format), the Markdown converter and the highlighter.
import Testing
import TestSupport
@testable import Language
@testable import Bindings
@testable import Notebooks

@Suite struct NotebookCellTests {
    @Test func markersSplitCodeAndMarkdownCells() {
        let cells = Notebook.cells("""
            # %% [markdown]
            # # Title
            #
            # Text with `code`.

            # %% Load data
            x = 1

            # %%
            y = x + 1
            """)
        #expect(cells.count == 3)
        #expect(cells[0].kind == .markdown)
        #expect(cells[0].text == "# Title\n\nText with `code`.")
        #expect(cells[1].kind == .code && cells[1].title == "Load data" && cells[1].text == "x = 1")
        #expect(cells[1].markerLine == 6 && cells[1].firstLine == 7)
        #expect(cells[2].title == nil && cells[2].text == "y = x + 1")
        #expect(cells[2].runnableSource == String(repeating: "\n", count: 9) + "y = x + 1")
    }

    @Test func aFileWithoutMarkersIsOneCell() {
        let cells = Notebook.cells("x = 1\n# a comment\ny = 2\n")
        #expect(cells.count == 1)
        #expect(cells[0].kind == .code && cells[0].text == "x = 1\n# a comment\ny = 2" && cells[0].firstLine == 1)
    }

    @Test func textBeforeTheFirstMarkerIsACellUnlessBlank() {
        #expect(Notebook.cells("x = 1\n# %% B\ny = 2").map(\.text) == ["x = 1", "y = 2"])
        #expect(Notebook.cells("\n# just a comment\n# %% B\ny = 2").map(\.text) == ["y = 2"])
    }

    @Test func markerVariants() {
        #expect(Notebook.parseMarker("#%% T")?.title == "T")
        #expect(Notebook.parseMarker("# %% [md] Notes")?.kind == .markdown)
        #expect(Notebook.parseMarker("# %% [markdown] Notes")?.title == "Notes")
        #expect(Notebook.parseMarker("# %%% not a marker") == nil)
        #expect(Notebook.parseMarker("x = 1 # %%") == nil)
        #expect(Notebook.parseMarker("  # %% indented") == nil)
    }

    @Test func plainRunsIgnoreTheMarkers() throws {
        var out = ""
        let s = testSession(output: { out += $0 })
        try s.execute("# %% [markdown]\n# text\n# %% A\nprint(1)\n# %% B\nprint(2)\n", file: "n.prune")
        #expect(out == "1\n2\n")
    }
}

@Suite struct NotebookMarkdownTests {
    @Test func headingsParagraphsListsAndInlineMarkup() {
        let html = Markdown.html("# Title\n\nSome *em*, **strong**, `x < y` and [a link](https://e.org).\n\n- one\n- two\n\n1. first\n2. second")
        #expect(html.contains("<h1>Title</h1>"))
        #expect(html.contains("<p>Some <em>em</em>, <strong>strong</strong>, <code>x &lt; y</code> and <a href=\"https://e.org\">a link</a>.</p>"))
        #expect(html.contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>"))
        #expect(html.contains("<ol>\n<li>first</li>\n<li>second</li>\n</ol>"))
    }

    @Test func htmlIsEscapedAndScriptLinksAreDropped() {
        let html = Markdown.html("<script>alert(1)</script> & [x](javascript:alert(1))")
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;") && html.contains("&amp;"))
        #expect(html.contains("href=\"#\""))
    }

    /// Only http, https, mailto and relative links survive, however the scheme is disguised:
    /// browsers drop tabs and newlines inside a URL and control characters and spaces around
    /// it, and ignore the case of a scheme.
    @Test func onlyWebMailAndRelativeLinksSurvive() {
        let hostile = ["java\tscript:alert(1)", "\u{1}javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\nscript:alert(1)",
                       "jav\u{0}ascript:alert(1)", "\u{7F}javascript:alert(1)", "&#106;avascript:alert(1)",
                       "&#x6A;avascript:alert(1)", "javascript&colon;alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
                       "vbscript:msgbox", "file:///etc/passwd", "  java script:alert(1)", "\u{200B}javascript:alert(1)"]
        for url in hostile {
            for text in ["[click me](\(url))", "![image](\(url))"] {
                let html = Markdown.html(text)
                #expect(html.contains("href=\"#\""), "\(url.debugDescription) gave \(html)")
                #expect(!html.lowercased().contains("script:") || !html.contains("href=\"java"), "\(html)")
            }
        }
        let allowed = ["https://e.org/a?b=1#c": "https://e.org/a?b=1#c", "http://e.org": "http://e.org",
                       "mailto:a@b.org": "mailto:a@b.org", "HTTPS://E.ORG": "HTTPS://E.ORG",
                       "notes/page.html": "notes/page.html", "../up.html#x": "../up.html#x", "#section": "#section",
                       "//cdn.e.org/x": "//cdn.e.org/x", "?q=1": "?q=1", "/abs/path": "/abs/path",
                       "a/b:c": "a/b:c", "ht\ttps://e.org": "https://e.org"]
        for (url, href) in allowed {
            #expect(Markdown.html("[x](\(url))").contains("href=\"\(Markdown.escape(href))\""), "\(url.debugDescription)")
        }
    }

    @Test func fencedCodeIsKeptVerbatim() {
        let html = Markdown.html("```\na = <b>\n```")
        #expect(html == "<pre class=\"md-code\"><code>a = &lt;b&gt;</code></pre>\n")
    }

    @Test func snakeCaseNamesAreNotEmphasis() {
        #expect(Markdown.inline("per_class and fashion_mnist") == "per_class and fashion_mnist")
    }
}

@Suite struct NotebookHighlightTests {
    @Test func tokensGetClassesAndTextIsEscaped() {
        let html = Highlight.html("def f(x) # note <b>\n  return print(\"a<b\", 1e-3)\nend")
        #expect(html.contains("<span class=\"kw\">def</span> <span class=\"def\">f</span>"))
        #expect(html.contains("<span class=\"com\"># note &lt;b&gt;</span>"))
        #expect(html.contains("<span class=\"bi\">print</span>"))
        #expect(html.contains("<span class=\"str\">&quot;a&lt;b&quot;</span>"))
        #expect(html.contains("<span class=\"num\">1e-3</span>"))
    }

    @Test func unterminatedStringsDoNotSwallowTheFile() {
        let html = Highlight.html("s = \"open\nx = 1")
        #expect(html.contains("x = <span class=\"num\">1</span>"))
    }
}

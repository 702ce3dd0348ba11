// Trimming spaces, tabs and line ends from text (CSV cells, notebook lines, settings), shared by
// every module.

extension String {
    /// Without leading and trailing spaces, tabs, "\n" and "\r".
    package var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" || c == "\r" { s.removeLast() }
        return String(s)
    }
}

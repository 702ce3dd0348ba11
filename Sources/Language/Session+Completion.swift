// Tab completion: what could finish the word before the cursor. Builtins (as `name(`), variables,
// keyword names inside a call (`train(net, ep` → `epochs=`), fields after a dot, and file paths
// inside a string literal.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FileIO

extension Session {
    /// Candidates for the word that ends at `cursor` (a count of characters into `line`). Each
    /// candidate begins with that word: an identifier, a field name after `.`, or the whole path
    /// typed so far inside a string. Functions end in `(`, keyword arguments in `=`, folders in `/`.
    public func completions(for line: String, cursor: Int) -> [String] {
        let chars = Array(line.prefix(Swift.max(0, cursor)))
        // Where are we: in a string? after a comment?
        var inString = false, stringStart = 0, i = 0
        while i < chars.count {
            let c = chars[i]
            if inString {
                if c == "\\" { i += 1 } else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true; stringStart = i + 1
            } else if c == "#" {
                return []
            }
            i += 1
        }
        if inString { return pathCompletions(String(chars[stringStart...])) }

        var wordStart = chars.count
        while wordStart > 0, isIdentChar(chars[wordStart - 1]) { wordStart -= 1 }
        let word = String(chars[wordStart...])
        if let first = word.first, first.isNumber { return [] }

        // After a dot: the fields of the value named before it.
        if wordStart > 0 && chars[wordStart - 1] == "." {
            guard let base = dottedValue(chars[..<(wordStart - 1)]) else { return [] }
            return Set(Fields.names(of: base).filter { $0.hasPrefix(word) }).sorted()
        }

        var out = Set<String>()
        // Inside a call: its keyword names.
        if let (callee, argsText) = enclosingCall(chars[..<wordStart]) {
            var params: [String] = []
            if let b = interp.builtinValues[callee].flatMap({ v -> Builtin? in
                if case .function(let f) = v, case .builtin(let b) = f.body { return b } else { return nil }
            }), globals[callee] == nil {
                params = b.params.map(\.name) + (b.moreKeywords?(String(argsText)) ?? [])
            } else if case .function(let f)? = globals[callee], case .user(let ps, _, _) = f.body {
                params = ps.map(\.name)
            }
            for p in params where p.hasPrefix(word) && !argsText.contains(p + "=") { out.insert(p + "=") }
        }
        let vars = globals
        for (name, v) in vars where name.hasPrefix(word) {
            if case .function = v { out.insert(name + "(") } else { out.insert(name) }
        }
        if !word.isEmpty || out.isEmpty {
            for name in interp.builtinValues.keys where name.hasPrefix(word) && vars[name] == nil { out.insert(name + "(") }
        }
        if !word.isEmpty {
            for kw in Lexer.keywords.keys where kw.hasPrefix(word) { out.insert(kw) }
        }
        return out.sorted()
    }

    func isIdentChar(_ c: Character) -> Bool { c == "_" || c.isLetter || c.isNumber }

    /// The value of `a.b.c` ending the text, looked up without running anything.
    func dottedValue(_ text: ArraySlice<Character>) -> Value? {
        var end = text.endIndex, start = end
        while start > text.startIndex, isIdentChar(text[start - 1]) || text[start - 1] == "." { start -= 1 }
        let path = String(text[start..<end]).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        end = start
        guard let first = path.first, !first.isEmpty, var v = globals[first] else { return nil }
        for name in path.dropFirst() {
            guard !name.isEmpty, let next = try? Fields.get(v, name) else { return nil }
            v = next
        }
        return v
    }

    /// The name of the innermost call left open in `text`, with the text of its arguments so far.
    func enclosingCall(_ text: ArraySlice<Character>) -> (String, String)? {
        var depth = 0
        var k = text.endIndex
        var inString = false
        while k > text.startIndex {
            k -= 1
            let c = text[k]
            if c == "\"" { inString.toggle(); continue }
            if inString { continue }
            if c == ")" || c == "]" || c == "}" { depth += 1 }
            if c == "(" || c == "[" || c == "{" {
                if depth == 0 {
                    guard c == "(" else { return nil }
                    var s = k
                    while s > text.startIndex, isIdentChar(text[s - 1]) { s -= 1 }
                    guard s < k else { return nil }
                    return (String(text[s..<k]), String(text[(k + 1)...]))
                }
                depth -= 1
            }
        }
        return nil
    }

    /// Paths that complete `typed` (the text of a string literal so far).
    func pathCompletions(_ typed: String) -> [String] {
        var dir = "", base = typed
        if let slash = typed.lastIndex(of: "/") {
            dir = String(typed[...slash])
            base = String(typed[typed.index(after: slash)...])
        }
        guard let d = opendir(dir.isEmpty ? "." : dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let entry = readdir(d) {
            let name = Directories.entryName(entry)
            if name == "." || name == ".." { continue }
            if name.hasPrefix(".") && !base.hasPrefix(".") { continue }
            guard name.hasPrefix(base) else { continue }
            var st = stat()
            let full = dir + name
            let isDir = stat(full, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            out.append(full + (isDir ? "/" : ""))
            if out.count > 1000 { break }
        }
        return out.sorted()
    }
}

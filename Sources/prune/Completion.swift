// Tab completion at the prompt: readline asks, the session answers (builtins, variables,
// keyword names inside a call, fields after `.`, file paths inside strings).
import CReadline
import Language
import Bindings
import Notebooks
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Characters that end the word readline completes: in code, anything that is not part of an
/// identifier (after `net.` the word is the field); inside a string, only the quote (the word is
/// the whole path typed so far). `matches` below lines the session's candidates up with the
/// word readline picked in any case.
nonisolated(unsafe) private let codeWordBreaks = strdup(" \t\n\"'`@$><=;|&{(}[],+-*/%^!:#.?~\\")
nonisolated(unsafe) private let stringWordBreaks = strdup("\"")

extension REPL {
    func installCompletion() {
        prune_rl_set_word_breaks(codeWordBreaks)
        // No quote handling: readline would otherwise close the string after a path.
        prune_rl_no_quote_characters()
        rl_completion_word_break_hook = {
            let line = Array(String(cString: prune_rl_line_buffer()).utf8)
            return REPL.insideString(line, before: Int(prune_rl_point())) ? stringWordBreaks : codeWordBreaks
        }
        rl_attempted_completion_function = { _, start, end in
            // Never fall back to readline's own file-name completion.
            rl_attempted_completion_over = 1
            guard let repl = REPL.current else { return nil }
            let bytes = Array(String(cString: prune_rl_line_buffer()).utf8)
            let s = Int(max(0, start)), e = Int(min(Int32(bytes.count), max(end, start)))
            let matches = REPL.matches(line: bytes, start: s, end: e, candidates: repl.candidates(line: bytes, cursor: e))
            guard !matches.isEmpty else { return nil }
            // Candidates carry their own endings (`(`, `=`, `/`); readline adds nothing.
            rl_completion_suppress_append = 1
            return REPL.matchArray(matches)
        }
    }

    /// Whether byte `before` of `line` is inside a string literal (after an odd number of
    /// unescaped quotes, outside comments).
    static func insideString(_ line: [UInt8], before: Int) -> Bool {
        var inString = false, i = 0
        let end = min(before, line.count)
        while i < end {
            let c = line[i]
            if inString {
                if c == UInt8(ascii: "\\") { i += 1 } else if c == UInt8(ascii: "\"") { inString = false }
            } else if c == UInt8(ascii: "\"") {
                inString = true
            } else if c == UInt8(ascii: "#") {
                return false
            }
            i += 1
        }
        return inString
    }

    /// The session's candidates for the line with the cursor at byte `cursor`.
    func candidates(line: [UInt8], cursor: Int) -> [String] {
        let text = String(decoding: line, as: UTF8.self)
        let before = String(decoding: line[..<cursor], as: UTF8.self)
        return session.completions(for: text, cursor: before.count)
    }

    /// The candidates as replacements for the word readline picked (bytes `start..<end`). A
    /// candidate replaces the longest stretch before the cursor it starts with (a name, a
    /// field, a path); that stretch and readline's word may begin at different places.
    static func matches(line: [UInt8], start: Int, end: Int, candidates: [String]) -> [String] {
        let cands = candidates.map { Array($0.utf8) }
        guard !cands.isEmpty else { return [] }
        // The longest suffix of line[..<end] that every candidate begins with.
        var wordStart = end
        var k = end
        while k > 0 {
            k -= 1
            let suffix = line[k..<end]
            if cands.allSatisfy({ $0.starts(with: suffix) }) { wordStart = k }
        }
        var out: [String] = []
        for c in cands {
            var r: [UInt8]
            if wordStart >= start {
                r = Array(line[start..<wordStart]) + c
            } else {
                r = Array(c.dropFirst(start - wordStart))
            }
            let s = String(decoding: r, as: UTF8.self)
            if !out.contains(s) { out.append(s) }
        }
        return out
    }

    /// Readline's match array: the longest common prefix first (what replaces the word), then
    /// the candidates; malloc'd, readline frees it.
    static func matchArray(_ matches: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        guard let array = prune_rl_match_array(Int32(matches.count)) else { return nil }
        let common: String
        if matches.count == 1 {
            common = matches[0]
        } else {
            var prefix = Array(matches[0].utf8)
            for m in matches.dropFirst() {
                let b = Array(m.utf8)
                var n = 0
                while n < prefix.count && n < b.count && prefix[n] == b[n] { n += 1 }
                prefix = Array(prefix[..<n])
            }
            // Never cut a multi-byte character in half.
            while !prefix.isEmpty, String(validating: prefix, as: UTF8.self) == nil { prefix.removeLast() }
            common = String(decoding: prefix, as: UTF8.self)
        }
        array[0] = strdup(common)
        // One match: readline wants it alone ([match, NULL]) to insert it whole.
        if matches.count > 1 {
            for (i, m) in matches.enumerated() { array[i + 1] = strdup(m) }
        }
        return array
    }
}

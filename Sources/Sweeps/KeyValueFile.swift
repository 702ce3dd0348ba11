// A small line format for sweep files and the sweep's own settings: `key = value` lines,
// `[section]` headers, `#` comments. Values are single lines of text.

struct KeyValueFile: Equatable {
    /// Entries in file order; `section` is "" before the first header.
    var entries: [(section: String, key: String, value: String, line: Int)] = []

    static func == (a: KeyValueFile, b: KeyValueFile) -> Bool {
        a.entries.map { "\($0.section)\u{1F}\($0.key)\u{1F}\($0.value)" } == b.entries.map { "\($0.section)\u{1F}\($0.key)\u{1F}\($0.value)" }
    }

    /// Parses `text`; `file` names it in errors, with the line.
    static func parse(_ text: String, file: String) throws -> KeyValueFile {
        var result = KeyValueFile()
        var section = ""
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = trim(String(raw.hasSuffix("\r") ? raw.dropLast() : raw))
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw SweepError("\(file):\(i + 1): a section header reads [name]") }
                section = trim(String(line.dropFirst().dropLast()))
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw SweepError("\(file):\(i + 1): expected key = value, got '\(line)'")
            }
            let key = trim(String(line[..<eq]))
            guard !key.isEmpty else { throw SweepError("\(file):\(i + 1): a key is missing before '='") }
            result.entries.append((section, key, trim(String(line[line.index(after: eq)...])), i + 1))
        }
        return result
    }

    func value(_ key: String, section: String = "") -> String? {
        entries.last { $0.section == section && $0.key == key }?.value
    }

    func entries(in section: String) -> [(key: String, value: String, line: Int)] {
        entries.filter { $0.section == section }.map { ($0.key, $0.value, $0.line) }
    }

    mutating func set(_ key: String, _ value: String, section: String = "") {
        entries.removeAll { $0.section == section && $0.key == key }
        entries.append((section, key, value, 0))
    }

    var text: String {
        var sections = [""]
        for e in entries where !sections.contains(e.section) { sections.append(e.section) }
        var out = ""
        for s in sections {
            if !s.isEmpty { out += "\n[\(s)]\n" }
            for e in entries where e.section == s { out += "\(e.key) = \(e.value)\n" }
        }
        return out
    }
}

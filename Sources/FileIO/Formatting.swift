// Counts as people read them, for every module that prints them (the language's displays,
// training progress).

/// A count with thousands separators: `12345678` → `12,345,678`.
public func thousands(_ n: Int) -> String {
    let digits = Array(String(n.magnitude))
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

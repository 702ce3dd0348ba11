// Counts and durations as people read them, for every module that prints them (the language's
// displays, training progress, sweeps).

/// Choices as a sentence lists them: "a", "a or b", "a, b or c".
public func orList(_ items: [String]) -> String {
    items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " or " + (items.last ?? "")
}

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

/// A duration as progress lines show it: `42s`, `3m05s`, `1h02m`.
public func duration(_ seconds: Double) -> String {
    let s = Int(max(0, seconds.isFinite ? min(seconds, 1e9) : 0).rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m" + (s % 60 < 10 ? "0" : "") + "\(s % 60)s" }
    return "\(s / 3600)h" + ((s % 3600) / 60 < 10 ? "0" : "") + "\((s % 3600) / 60)m"
}

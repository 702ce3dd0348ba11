// Text classification datasets: texts tokenized to a fixed number of ids, stored as an ordinary
// Dataset whose "images" are [N, length] token ids (floats, exact below 2^24), and the user's own
// labelled texts from a CSV file.
import FileIO
import Engine

extension Dataset {
    /// Texts as a classification dataset: `images` is [N, length] token ids ([CLS] first, [SEP]
    /// after the last kept piece, [PAD] after that); the attention mask is `attentionMask(images,
    /// padID: tokenizer.padID)`.
    ///
    ///     let d = try Dataset.text(name: "reviews", texts: ["good", "bad"], labels: [1, 0],
    ///                              classNames: ["neg", "pos"], tokenizer: try .standard(), length: 16)
    public static func text(name: String, texts: [String], labels: [Int], classNames: [String],
                            tokenizer: Tokenizer, length: Int = 64) throws -> Dataset {
        guard texts.count == labels.count else {
            throw DataError("dataset \(name): \(texts.count) texts but \(labels.count) labels")
        }
        guard (2...4096).contains(length) else {
            throw DataError("dataset \(name): the length must be in 2…4096 tokens, got \(length)")
        }
        let (ids, _) = try tokenizer.encode(texts, length: length)
        return try Dataset(name: name, images: ids, labels: labels, classes: classNames.count, classNames: classNames)
    }
}

/// Labelled texts read from a CSV file with a header row.
public enum TextCSV {
    /// The texts and labels of columns `text` and `label` of the CSV file at `path` (gzip when
    /// it ends in .gz). Labels that are all whole numbers ≥ 0 are class indices (names "0", "1",
    /// …); otherwise each distinct label is a class, named by it, in sorted order. Errors name
    /// the file and line.
    public static func read(_ path: String, text: String = "text", label: String = "label") throws
        -> (texts: [String], labels: [Int], classNames: [String]) {
        let records = try CSV.records(try readText(path), file: path)
        let names = try CSV.header(records, file: path)
        guard let ti = names.firstIndex(of: text) else { throw missingColumn(text, names, path) }
        guard let li = names.firstIndex(of: label) else { throw missingColumn(label, names, path) }
        var texts: [String] = [], raw: [(line: Int, label: String)] = []
        for record in records.dropFirst() {
            try CSV.checkWidth(record, columns: names.count, file: path)
            let l = record.fields[li].text.trimmingSpaces
            guard !l.isEmpty else { throw DataError("\(path):\(record.line): the label (column '\(label)') is empty") }
            texts.append(record.fields[ti].text)
            raw.append((record.line, l))
        }
        guard !texts.isEmpty else { throw DataError("\(path): no rows after the header") }

        if raw.allSatisfy({ Double($0.label) != nil }) {
            var labels: [Int] = []
            for (line, l) in raw {
                guard let v = Double(l), v == v.rounded(), v >= 0, v < 100_000 else {
                    throw DataError("\(path):\(line): label '\(l)' is not a class: numeric labels must be whole numbers in 0…99999 (or use class names)")
                }
                labels.append(Int(v))
            }
            let k = (labels.max() ?? 0) + 1
            return (texts, labels, (0..<k).map(String.init))
        }
        let classNames = Set(raw.map(\.label)).sorted()
        let index = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        return (texts, raw.map { index[$0.label] ?? 0 }, classNames)
    }

    /// The file as UTF-8 text (gunzipped when the name ends in .gz).
    static func readText(_ path: String) throws -> String {
        try InputFile.check(path)
        var bytes = try WholeFile.readAll(path)
        InputFiles.read(path)
        if path.hasSuffix(".gz") { bytes = try IDX.gunzip(bytes, file: path) }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw DataError("\(path) is not UTF-8 text") }
        return s
    }

    private static func missingColumn(_ name: String, _ names: [String], _ path: String) -> DataError {
        DataError("\(path): no column '\(name)'; the columns are " + names.map { "'\($0)'" }.joined(separator: ", "))
    }
}

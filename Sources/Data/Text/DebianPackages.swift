// Debian package descriptions labelled by archive section: a real topic-classification task that
// ships with prune as scripts/debian-packages.csv.gz (made by scripts/debian-packages.py from
// `apt-cache dumpavail` and the English translations; its header says what was kept).
#if canImport(Glibc)
import FileIO
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine

/// The Debian package-section task.
///
///     let train = try DebianPackages.load(.train, tokenizer: try .standard())
///     let few = try train.perClass(20, seed: 1)
public enum DebianPackages {
    public enum Split: String, CaseIterable, Sendable { case train, test, all }

    /// One package of the snapshot.
    public struct Package: Sendable {
        public var name: String
        public var section: String
        public var text: String
    }

    /// The environment variable that names another snapshot file.
    public static let environmentVariable = "PRUNE_DEBIAN_PACKAGES"
    static let fileName = "scripts/debian-packages.csv.gz"

    /// The snapshot: `path`, else `$PRUNE_DEBIAN_PACKAGES`, else scripts/debian-packages.csv.gz
    /// of the checkout prune was built from, else of a checkout above the executable.
    public static func snapshotPath(_ path: String? = nil) throws -> String {
        if let path, !path.isEmpty { return path }
        if let env = ModelPackage.environment(environmentVariable) { return env }
        var candidates: [String] = []
        // This file is Sources/Data/Text/DebianPackages.swift in the checkout.
        var source = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        if source.count > 4 { source.removeLast(4); candidates.append(source.joined(separator: "/") + "/" + fileName) }
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/self/exe", &buffer, 4096)
        if n > 0 {
            var dir = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            for _ in 0..<6 {
                guard let slash = dir.lastIndex(of: "/") else { break }
                dir = String(dir[..<slash])
                candidates.append(dir + "/" + fileName)
            }
        }
        if let hit = candidates.first(where: { access($0, R_OK) == 0 }) { return hit }
        throw DataError("the Debian package snapshot (\(fileName)) was not found; run prune from its checkout, or set \(environmentVariable) to the file (scripts/debian-packages.py makes it)")
    }

    /// Whether `package` belongs to the test split: FNV-1a (64-bit) of its name's UTF-8 bytes is
    /// divisible by 5. Fixed by the name alone, so a package keeps its split across snapshots.
    public static func isTest(_ package: String) -> Bool { fnv1a64(package) % 5 == 0 }

    /// FNV-1a, 64-bit, of the UTF-8 bytes of `s`.
    public static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// Every package of the snapshot, in file order (read once per path).
    public static func packages(path: String? = nil) throws -> [Package] {
        let file = try snapshotPath(path)
        InputFiles.read(file)
        return try snapshots.value(for: file) { try parse(try TextCSV.readText(file), file: file) }
    }

    /// The section names, sorted: the classes, the same for every split.
    public static func sections(path: String? = nil) throws -> [String] {
        Set(try packages(path: path).map(\.section)).sorted()
    }

    /// The packages of `split`.
    public static func packages(_ split: Split, path: String? = nil) throws -> [Package] {
        let all = try packages(path: path)
        switch split {
        case .all: return all
        case .train: return all.filter { !isTest($0.name) }
        case .test: return all.filter { isTest($0.name) }
        }
    }

    /// The split as a tokenized dataset (see `Dataset.text`), labelled by section, the class
    /// names being the sorted sections.
    public static func load(_ split: Split, tokenizer: Tokenizer, length: Int = 64, path: String? = nil) throws -> Dataset {
        let file = try snapshotPath(path)
        let key = "\(file)#\(split.rawValue)#\(length)#\(tokenizer.vocabulary.path)#\(tokenizer.vocabulary.count)"
        let names = try sections(path: file)
        let chosen = try packages(split, path: file)
        func make() throws -> Dataset {
            let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            return try Dataset.text(name: "debian_packages/\(split.rawValue)", texts: chosen.map(\.text),
                                    labels: chosen.map { index[$0.section] ?? 0 }, classNames: names,
                                    tokenizer: tokenizer, length: length)
        }
        // A vocabulary built in memory has no path to key the cache on.
        guard !tokenizer.vocabulary.path.isEmpty else { return try make() }
        return try datasets.value(for: key, load: make)
    }

    static func parse(_ text: String, file: String) throws -> [Package] {
        let records = try CSV.records(text, file: file)
        let header = try CSV.header(records, file: file)
        guard header == ["package", "section", "text"] else {
            throw DataError("\(file): the columns are \(header.joined(separator: ", ")), not package, section, text; remake it with scripts/debian-packages.py")
        }
        var out: [Package] = []
        out.reserveCapacity(records.count)
        for r in records.dropFirst() {
            try CSV.checkWidth(r, columns: 3, file: file)
            guard !r.fields[0].text.isEmpty, !r.fields[1].text.isEmpty else {
                throw DataError("\(file):\(r.line): a package without a name or a section")
            }
            out.append(Package(name: r.fields[0].text, section: r.fields[1].text, text: r.fields[2].text))
        }
        guard !out.isEmpty else { throw DataError("\(file): no packages") }
        return out
    }

    private static let snapshots = LoadCache<[Package]>()
    private static let datasets = LoadCache<Dataset>()
}

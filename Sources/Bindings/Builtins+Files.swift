// Bringing your own data: `dataset` from tensors, NumPy files, CSV tables and image folders,
// and what `load` reads by file type (safetensors, CSV, NPY, NPZ, PNG).
import Language
import Engine
import NN
import Data
import FileIO

extension EngineArgs {
    /// The file types `load` reads, by extension, as the error for any other lists them.
    static let loadable = [".safetensors", ".csv", ".npy", ".npz", ".png"]

    /// The lower-cased extension of `path` with its dot (".npy"), or "" when it has none.
    static func fileExtension(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return name[dot...].lowercased()
    }

    /// `unsupported file type .xyz for load (supported: .safetensors, …)`.
    static func unsupported(_ path: String, _ fn: String, _ supported: [String]) -> BuiltinError {
        let ext = fileExtension(path)
        return BuiltinError("\(fn): unsupported file type \(ext.isEmpty ? "(no extension)" : ext) for \(fn) (supported: \(supported.joined(separator: ", ")))")
    }

    /// A PNG file as a tensor [channels, height, width] in [0, 1] (grey or RGB; alpha dropped).
    static func pngTensor(_ path: String) throws -> Tensor {
        let image = try PNGImage.read(path)
        let c = image.isColour ? 3 : 1
        return try Tensor(shape: [c, image.height, image.width], data: image.planes(channels: c, height: image.height, width: image.width))
    }

    /// Labels from a tensor, a list or a range: whole numbers ≥ 0.
    static func labels(_ v: Value, _ args: CallArgs, what: String) throws -> [Int] {
        let values: [Float]
        switch v {
        case .object(let t as Tensor): values = t.array
        case .list, .range: values = try args.session.tensor(from: v, what: "\(args.builtin): \(what)").array
        default: throw BuiltinError("\(args.builtin): \(what) must be a tensor or list of class numbers, got \(v.typeName)")
        }
        return try values.enumerated().map { i, x in
            guard x >= 0, x == x.rounded(), x < 1e9 else {
                throw BuiltinError("\(args.builtin): \(what) must hold class numbers 0, 1, 2, …; label \(i) is \(display(.number(Double(x))))")
            }
            return Int(x)
        }
    }

    /// A dataset from a features tensor and labels, with the call's classes= and names=.
    static func labelled(_ x: Tensor, _ labels: [Int], name: String, _ args: CallArgs) throws -> Dataset {
        guard x.rank >= 1, x.shape[0] == labels.count else {
            throw BuiltinError("\(args.builtin): \(x.rank >= 1 ? x.shape[0] : 0) samples but \(labels.count) labels")
        }
        let samples = x.rank == 1 ? try x.reshaped([x.shape[0], 1]) : x
        var names: [String]?
        if args.has("names") {
            guard case .list(let l) = args.value("names") else { throw args.wrong("names", "a list of class names") }
            names = try l.items.map { item in
                guard case .string(let s) = item else { throw args.wrong("names", "a list of class names") }
                return s
            }
        }
        let classes = args.has("classes") ? try args.int("classes", in: 1...1_000_000) : nil
        do {
            return try Dataset(name: name, images: samples.detached().copy(), labels: labels, classes: classes ?? names?.count, classNames: names)
        } catch let e as LibraryError { throw BuiltinError("\(args.builtin): \(e.scriptText)") }
    }

    /// `dataset(path, …)`: a folder of class folders, .npy, .npz or .csv.
    static func datasetFromFile(_ path: String, _ args: CallArgs) throws -> Dataset {
        let base = (path.split(separator: "/").last.map(String.init) ?? path)
        if Directories.isDirectory(path) {
            var size: (height: Int, width: Int)?
            if args.has("size") {
                let dims = try args.ints("size")
                guard dims.count == 1 || dims.count == 2, dims.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else {
                    throw BuiltinError("dataset: argument 'size' must be a size or [height, width] between 1 and 4096")
                }
                size = (dims[0], dims.count == 2 ? dims[1] : dims[0])
            }
            let colour = try args.choice("color", ImageFolder.Colour.allCases.map(\.rawValue))
            guard !args.has("y") else { throw BuiltinError("dataset: an image folder's labels are its class folders; y= is for tensors and files") }
            let d = try ImageFolder.load(path, size: size, colour: ImageFolder.Colour(rawValue: colour) ?? .auto)
            if args.has("names") || args.has("classes") { return try labelled(d.images, d.labels, name: d.name, args) }
            return d
        }
        let ext = fileExtension(path)
        switch ext {
        case ".npy":
            let x = try NPY.read(path)
            switch args.value("y") {
            case .nil_: throw BuiltinError("dataset: a .npy file holds one array; give the labels as y= (a tensor, a list or another .npy file)")
            case .string(let ypath):
                guard fileExtension(ypath) == ".npy" else { throw BuiltinError("dataset: y= names a file; give a .npy file of labels") }
                return try labelled(x, try labels(.tensor(try NPY.read(ypath)), args, what: "the labels in \(ypath)"), name: base, args)
            case let v: return try labelled(x, try labels(v, args, what: "argument 'y'"), name: base, args)
            }
        case ".npz":
            let arrays = try NPY.readArchive(path)
            let yName = args.has("y") ? try args.string("y") : "y"
            guard let y = arrays.first(where: { $0.name == yName }) else {
                throw BuiltinError("dataset: \(base) has no array '\(yName)' for the labels (it holds \(arrays.map { "'\($0.name)'" }.joined(separator: ", "))); name it with y=")
            }
            let others = arrays.filter { $0.name != yName }
            guard let x = others.first(where: { $0.name == "x" }) ?? (others.count == 1 ? others.first : nil) else {
                throw BuiltinError("dataset: \(base) holds \(arrays.map { "'\($0.name)'" }.joined(separator: ", ")); the features are the array 'x' or the only array besides the labels")
            }
            return try labelled(x.tensor, try labels(.tensor(y.tensor), args, what: "the labels '\(yName)' in \(base)"), name: base, args)
        case ".csv":
            let table = try Table.load(csv: path)
            let yName = args.has("y") ? try args.string("y") : "label"
            guard table.columns.contains(yName) else {
                throw BuiltinError("dataset: \(base) has no column '\(yName)' for the labels\(didYouMean(yName, table.columns)); name it with y= (columns: \(table.columns.joined(separator: ", ")))")
            }
            let features = table.columns.filter { $0 != yName }
            guard !features.isEmpty else { throw BuiltinError("dataset: \(base) has no feature columns besides '\(yName)'") }
            var values: [Float] = []
            values.reserveCapacity(table.rows.count * features.count)
            var ys: [Float] = []
            for (r, row) in table.rows.enumerated() {
                for c in features + [yName] {
                    guard case .number(let v) = row[c] ?? .nil_ else {
                        throw BuiltinError("dataset: \(base) row \(r + 1), column '\(c)' is \((row[c] ?? .nil_).typeName == "nil" ? "empty" : "not a number"); every feature and label must be a number")
                    }
                    if c == yName { ys.append(Float(v)) } else { values.append(Float(v)) }
                }
            }
            let x = try Tensor(shape: [table.rows.count, features.count], data: values)
            return try labelled(x, try labels(.tensor(Tensor(vector: ys)), args, what: "column '\(yName)'"), name: base, args)
        default:
            throw unsupported(path, "dataset", [".npy", ".npz", ".csv", "a folder of class folders of .png files"])
        }
    }
}

extension Builtins {
    static let files: [Builtin] = [
        Builtin("dataset", [BuiltinParam("x", nil, "the samples: a tensor [N, …], or a file (.npy, .npz, .csv) or folder to read"),
                            BuiltinParam("y", .nil_, "the labels: a tensor or list of class numbers (or a .npy file); for .npz and .csv the name of the labels array or column"),
                            BuiltinParam("classes", .nil_, "the number of classes (default: the largest label + 1)"),
                            BuiltinParam("names", .nil_, "a list of class names"),
                            BuiltinParam("size", .nil_, "an image folder: resize every image to this size (or [height, width])"),
                            BuiltinParam("color", .string("auto"), "an image folder: \"grey\", \"rgb\" or \"auto\" (rgb when any image has colour)")],
                topic: "data", summary: "A dataset of your own: from tensors, NumPy .npy/.npz files, a CSV table, or a folder of PNG images.",
                help: "dataset(x, y) pairs samples [N, …] with N class numbers. dataset(\"x.npy\", y=\"y.npy\") reads NumPy arrays; dataset(\"data.npz\") takes the arrays 'x' and 'y' (y= names another). dataset(\"table.csv\") uses the column 'label' (y= names another) and every other column as a feature. dataset(\"folder\") reads folder/<class>/*.png: classes are the sub-folders in sorted order, pixels are scaled to [0, 1] as [channels, height, width].",
                example: "d = dataset(randn(6, 4), [0, 1, 2, 0, 1, 2], names=[\"a\", \"b\", \"c\"])\nd") { args in
            switch args.value("x") {
            case .string(let path): return .dataset(try EngineArgs.datasetFromFile(path, args))
            case .object(is Tensor), .list:
                let x = try args.tensor("x")
                guard args.has("y") else { throw BuiltinError("dataset: give the labels as y= (one class number per sample)") }
                if case .string = args.value("y") { throw BuiltinError("dataset: y= names a file or column only when x is a file; give the labels of a tensor as a tensor or list") }
                return .dataset(try EngineArgs.labelled(x, try EngineArgs.labels(args.value("y"), args, what: "argument 'y'"), name: "dataset", args))
            default: throw args.wrong("x", "a tensor or a path")
            }
        },
    ]
}

extension EngineArgs {
    /// The `rename=` argument of load: a record of prefixes (the longest matching prefix of a
    /// name is replaced) or a function of the name; nil when not given.
    static func renaming(_ args: CallArgs) throws -> ((String) throws -> String)? {
        switch args.value("rename") {
        case .nil_: return nil
        case .record(let r):
            var pairs: [(String, String)] = []
            for (k, v) in r.pairs {
                guard case .string(let to) = v else { throw BuiltinError("load: rename= maps name prefixes to text; '\(k)' maps to a \(v.typeName)") }
                pairs.append((k, to))
            }
            pairs.sort { $0.0.count > $1.0.count }
            return { name in
                guard let (from, to) = pairs.first(where: { name.hasPrefix($0.0) }) else { return name }
                return to + name.dropFirst(from.count)
            }
        case .function:
            let f = args.value("rename")
            let session = args.session
            return { name in
                guard case .string(let s) = try session.call(f, [.string(name)]) else {
                    throw BuiltinError("load: the rename function must return a string for '\(name)'")
                }
                return s
            }
        default: throw args.wrong("rename", "a record of name prefixes or a function")
        }
    }
}

extension EngineArgs {
    /// Creates the folder a file is written into when it is missing (as `mkdir -p`), or says
    /// which folder could not be made and why.
    static func makeParent(of path: String, _ fn: String) throws {
        guard let slash = path.lastIndex(of: "/"), slash > path.startIndex else { return }
        let parent = String(path[..<slash])
        guard !Directories.isDirectory(parent) else { return }
        do { try Directories.make(parent) } catch let e as FileError {
            throw BuiltinError("\(fn): the folder \(parent) does not exist and could not be created (\(e.message))")
        }
    }
}

// FashionMNIST: loads Zalando's Fashion-MNIST from the IDX files Debian installs, scaled to
// [0, 1], and keeps each decoded split in memory so tests and sweeps decode it once.
#if canImport(Glibc)
import FileIO
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Engine
import NN

/// Fashion-MNIST: 28×28 grey images of clothing in 10 classes, 60 000 for training and
/// 10 000 for testing.
///
///     let train = try FashionMNIST.load(.train)   // Dataset fashion_mnist/train: 60000 samples, …
public enum FashionMNIST {
    public enum Split: String, Sendable, CaseIterable {
        case train, test
        /// The file name prefix Zalando uses for this split.
        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// The ten class names, by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// The environment variable that overrides `defaultDirectory`.
    public static let environmentVariable = "PRUNE_FASHION_MNIST"
    /// What to do when a file is missing.
    static let installHint = "install Debian's dataset-fashion-mnist or set \(environmentVariable)"

    /// The directory to read: `directory` if given, else `$PRUNE_FASHION_MNIST` if set and
    /// non-empty, else `defaultDirectory`.
    public static func resolveDirectory(_ directory: String? = nil) -> String {
        resolveDirectory(directory, environment: getenv(environmentVariable).map { String(cString: $0) })
    }

    /// The resolution rule with the environment value passed in, so tests need not set it
    /// process-wide (which would redirect loads running in parallel).
    static func resolveDirectory(_ directory: String?, environment: String?) -> String {
        if let directory, !directory.isEmpty { return directory }
        if let environment, !environment.isEmpty { return environment }
        return defaultDirectory
    }

    /// The image and label files of `split` in `directory`.
    public static func files(_ split: Split, directory: String) -> (images: String, labels: String) {
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return ("\(dir)/\(split.filePrefix)-images-idx3-ubyte.gz", "\(dir)/\(split.filePrefix)-labels-idx1-ubyte.gz")
    }

    /// Loads `split` as [N, 1, 28, 28] floats in [0, 1], from the cache when this process has
    /// already decoded it. The returned dataset is shared; it is immutable, so that is safe.
    public static func load(_ split: Split, directory: String? = nil) throws -> Dataset {
        let dir = resolveDirectory(directory)
        // Key on the canonical path so "dir" and "dir/" (or a symlink) share one entry.
        let key = canonical(dir) + "#" + split.rawValue
        // A notebook cell that loads the split depends on its files, even from the cache.
        let (imagesFile, labelsFile) = files(split, directory: dir)
        InputFiles.read(imagesFile)
        InputFiles.read(labelsFile)
        return try cache.value(for: key) {
            let (images, labels) = files(split, directory: dir)
            return try IDX.dataset(images: images, labels: labels, name: "fashion_mnist/\(split.rawValue)",
                                   classNames: classNames, hint: installHint)
        }
    }

    private static let cache = LoadCache<Dataset>()

    private static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A thread-safe map from path to what was decoded from it (a dataset, a vocabulary). The lock
/// is held while decoding, so two threads asking for the same file decode it once; failures are
/// not cached, so fixing the installation and retrying works.
final class LoadCache<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var entries: [String: Value] = [:]

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func value(for key: String, load: () throws -> Value) throws -> Value {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let hit = entries[key] { return hit }
        let fresh = try load()
        entries[key] = fresh
        return fresh
    }

    func removeAll() {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        entries.removeAll()
    }
}

extension IDX {
    /// A classification dataset from an IDX image file [n, rows, cols] and an IDX label file
    /// [n]: pixels scaled from 0…255 to [0, 1] as [n, 1, rows, cols], labels checked against
    /// `classNames`. Errors name the offending file.
    public static func dataset(images imagesPath: String, labels labelsPath: String, name: String,
                               classNames: [String], hint: String? = nil) throws -> Dataset {
        let images = try read(imagesPath, magic: imagesMagic, hint: hint)
        let labels = try read(labelsPath, magic: labelsMagic, hint: hint)
        let n = images.dims[0], rows = images.dims[1], cols = images.dims[2]
        guard labels.dims[0] == n else {
            throw DataError("\(imagesPath) holds \(n) images but \(labelsPath) holds \(labels.dims[0]) labels")
        }
        let y = labels.withPayload { $0.map(Int.init) }
        if let bad = y.firstIndex(where: { $0 >= classNames.count }) {
            throw DataError("\(labelsPath): label \(y[bad]) of sample \(bad) is outside 0..<\(classNames.count)")
        }
        let x = try Tensor.empty([n, 1, rows, cols])
        // A true division (not a multiply by 1/255) so that 255 maps to exactly 1; the loop
        // vectorises, so it costs no more than a table lookup.
        images.withPayload { pixels in
            let dst = x.data
            for i in 0..<pixels.count { dst[i] = Float(pixels[i]) / 255 }
        }
        return try Dataset(name: name, images: x, labels: y, classes: classNames.count, classNames: classNames,
                           valueRange: ValueRange(unit: 1))
    }
}

// The datasets transfer experiments add: UCI digits (from python3-sklearn's CSV), synthetic
// tasks, and augmentation of training batches.
import FileIO
import Testing
import TestSupport
import Engine
import NN
@testable import Data

@Suite struct DigitsTests {
    func write(_ text: String) throws -> (String, String) {
        let dir = try makeDirectory()
        let path = dir + "/digits.csv.gz"
        try writeGzip(Array(text.utf8), to: path)
        return (dir, path)
    }

    @Test func parsesAndUpscales() throws {
        // Two digits: a uniform 16 (all ones) labelled 3, and a single bright pixel labelled 7.
        let ones = Array(repeating: "16", count: 64).joined(separator: ",") + ",3"
        var corner = Array(repeating: "0", count: 64)
        corner[0] = "16"
        let (dir, path) = try write(ones + "\n" + corner.joined(separator: ",") + ",7\n")
        defer { removeDirectory(dir) }
        let d = try Digits.load(path: path)
        #expect(d.count == 2 && d.labels == [3, 7] && d.classes == 10 && d.sampleShape == [1, 28, 28])
        #expect(d.images.array.prefix(784).allSatisfy { abs($0 - 1) < 1e-6 })
        let second = Array(d.images.array[784...])
        #expect(second[0] == 1, "the top-left corner keeps the bright pixel")
        #expect(second[27] == 0 && second[783] == 0)
        #expect(second.allSatisfy { $0 >= 0 && $0 <= 1 })
        let raw = try Digits.load(path: path, size: 8)
        #expect(raw.images.array[64...].first == 1 && raw.images.array[65...].prefix(63).allSatisfy { $0 == 0 })
    }

    @Test func corruptFilesSayWhereAndWhy() throws {
        let cases: [(String, String)] = [
            ("1,2,3\n", ":1: expected 65 comma-separated numbers"),
            (Array(repeating: "0", count: 64).joined(separator: ",") + ",12\n", ":1: label 12 is outside 0…9"),
            (Array(repeating: "0", count: 64).joined(separator: ",") + ",1\n" + Array(repeating: "17", count: 64).joined(separator: ",") + ",1\n",
             ":2: pixel 1 is 17, outside 0…16"),
            ("0,x\n", ":1: unexpected character 'x'"),
        ]
        for (text, expected) in cases {
            let (dir, path) = try write(text)
            defer { removeDirectory(dir) }
            let msg = errorMessage { _ = try Digits.load(path: path) }
            #expect(msg?.contains(expected) == true, "\(msg ?? "no error") should contain \(expected)")
        }
        let missing = errorMessage { _ = try Digits.load(path: "/nonexistent/digits.csv.gz") }
        #expect(missing?.contains("python3-sklearn") == true, "\(missing ?? "no error")")
    }

    @Test(.enabled(if: Digits.installed)) func realFile() throws {
        let d = try Digits.load()
        #expect(d.count == 1797 && d.classCounts().allSatisfy { $0 >= 170 })
        #expect(d.images.array.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}

@Suite struct SyntheticTests {
    @Test func sameSeedSameTask() throws {
        let a = try Synthetic.task(classes: 3, perClass: 5, shape: [1, 6, 6], seed: 4)
        let b = try Synthetic.task(classes: 3, perClass: 5, shape: [1, 6, 6], seed: 4)
        let c = try Synthetic.task(classes: 3, perClass: 5, shape: [1, 6, 6], seed: 4, sampleSeed: 9)
        #expect(a.images.array == b.images.array && a.labels == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
        #expect(a.images.array != c.images.array)
        // Same prototypes: the class means of two draws without noise agree exactly.
        let p = try Synthetic.task(classes: 2, perClass: 1, shape: [8], noise: 0, seed: 4)
        let q = try Synthetic.task(classes: 2, perClass: 1, shape: [8], noise: 0, seed: 4, sampleSeed: 3)
        #expect(p.images.array == q.images.array)
        #expect(errorMessage { _ = try Synthetic.task(classes: 0, perClass: 1) }?.contains("classes") == true)
    }
}

@Suite struct AugmentationTests {
    func grid() throws -> Dataset {
        // One 1×3×3 image 1…9 per sample, four samples.
        let x = try Tensor(shape: [4, 1, 3, 3], data: (0..<36).map { Float($0 % 9 + 1) })
        return try Dataset(name: "grid", images: x, labels: [0, 1, 0, 1])
    }

    @Test func shiftsAndFlipsAreRigid() throws {
        let aug = Augmentation(shift: 1, flip: true)
        let x = try Tensor(shape: [64, 1, 3, 3], data: (0..<576).map { Float($0 % 9 + 1) })
        aug.apply(to: x, rng: RNG(seed: 1))
        var seen = Set<[Float]>()
        for s in 0..<64 {
            let img = Array(x.array[s * 9..<(s + 1) * 9])
            seen.insert(img)
            // Every non-zero pixel is one of the original values, each at most once.
            let nonzero = img.filter { $0 != 0 }
            #expect(Set(nonzero).count == nonzero.count)
            #expect(!nonzero.isEmpty)
        }
        #expect(seen.contains([3, 2, 1, 6, 5, 4, 9, 8, 7]), "a pure flip occurs")
        #expect(seen.contains([0, 0, 0, 1, 2, 3, 4, 5, 6]), "a pure downward shift occurs")
        #expect(seen.contains([1, 2, 3, 4, 5, 6, 7, 8, 9]), "an unchanged sample occurs")
        #expect(seen.count > 10)
    }

    @Test func onlyTrainingBatchesChange() throws {
        let d = try grid().augmented(Augmentation(shift: 1))
        #expect(d.augments)
        let plain = Array(d.makeBatches(size: 4, shuffle: false, rng: RNG(seed: 0)))
        #expect(plain[0].x.array == d.images.array)
        let rng = RNG(seed: 3)
        var changed = false
        for _ in 0..<5 { for (x, _) in d.makeBatches(size: 4, shuffle: true, rng: rng) where x.array.contains(0) { changed = true } }
        #expect(changed)
        // The order of samples is the one without augmentation.
        let base = try grid()
        let a = Array(d.makeBatches(size: 4, shuffle: true, rng: RNG(seed: 5))).flatMap(\.y)
        let b = Array(base.makeBatches(size: 4, shuffle: true, rng: RNG(seed: 5))).flatMap(\.y)
        #expect(a == b)
        #expect(errorMessage { _ = try base.augmented(Augmentation(shift: 3)) }?.contains("not smaller") == true)
    }
}

/// Loaders report the files they read, so that a notebook cell that loaded data re-runs when
/// the data changes (also when the data came from the in-memory cache).
@Suite struct LoaderFileReadsTests {
    @Test func fashionMNISTAndDigitsRecordTheirFiles() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try writeIDXPair(dir, n: 5)
        let (images, labels) = FashionMNIST.files(.train, directory: dir)
        for _ in 0..<2 {     // the second load is served from the cache and still records
            let (_, read) = try InputFiles.collect { try FashionMNIST.load(.train, directory: dir) }
            #expect(read == [images, labels])
        }
        let digits = dir + "/digits.csv.gz"
        try writeGzip(Array((Array(repeating: "0", count: 64).joined(separator: ",") + ",1\n").utf8), to: digits)
        let (_, read) = try InputFiles.collect { try Digits.load(path: digits) }
        #expect(read == [digits])
    }
}

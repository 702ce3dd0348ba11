// WholeFile tests: replacement is all-or-nothing, failures name the path and the OS reason,
// and no temporary file survives a failure.
import Foundation
import Testing
import TestSupport

import FileIO

/// The id of a process that has exited (a child that was started and reaped).
private func deadProcessID() -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/true")
    try? p.run()
    p.waitUntilExit()
    return p.processIdentifier
}

/// Names in `directory`, so tests can see that no temporary file was left behind.
private func listing(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

@Suite struct WholeFileTests {
    @Test func writeReadAndReplace() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/data.bin"
        let first: [UInt8] = Array(0..<255) + Array(0..<255)
        try WholeFile.write(first, to: path)
        #expect(try WholeFile.readAll(path) == first)
        // A shorter replacement must not keep a tail of the old contents.
        try WholeFile.write([1, 2, 3], to: path)
        #expect(try WholeFile.readAll(path) == [1, 2, 3])
        try WholeFile.write("héllo\n", to: path)
        #expect(try WholeFile.readAll(path) == Array("héllo\n".utf8))
        try WholeFile.write([UInt8](), to: path)
        #expect(try WholeFile.readAll(path) == [])
        #expect(listing(dir) == ["data.bin"])
    }

    @Test func relativePathAndLargeFile() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761) >> 7) }
        try WholeFile.write(big, to: dir + "/big")
        #expect(try WholeFile.readAll(dir + "/big") == big)
    }

    @Test func keepsPermissionsOfReplacedFile() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/secret"
        try WholeFile.write([1], to: path)
        #expect(chmod(path, 0o600) == 0)
        try WholeFile.write([2], to: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o600)
    }

    @Test func writesThroughSymlink() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try WholeFile.write([1], to: dir + "/real")
        #expect(symlink(dir + "/real", dir + "/link") == 0)
        try WholeFile.write([9, 9], to: dir + "/link")
        #expect(try WholeFile.readAll(dir + "/real") == [9, 9])
        var info = stat()
        #expect(lstat(dir + "/link", &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFLNK)
        #expect(listing(dir) == ["link", "real"])
    }

    @Test func missingDirectoryNamesPath() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/no/such/dir/out.bin"
        let message = errorMessage { try WholeFile.write([1, 2], to: path) }
        #expect(message?.contains(path) == true, "\(message ?? "")")
        #expect(message?.contains("No such file or directory") == true, "\(message ?? "")")
        #expect(listing(dir) == [])

        // A path through a regular file fails the same way, with ENOTDIR.
        try WholeFile.write([0], to: dir + "/file")
        let through = errorMessage { try WholeFile.write([1], to: dir + "/file/out.bin") }
        #expect(through?.contains(dir + "/file/out.bin") == true, "\(through ?? "")")
        #expect(through?.contains("Not a directory") == true, "\(through ?? "")")
    }

    @Test func directoryTargetIsRefused() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: false)
        try WholeFile.write([7], to: dir + "/sub/keep")
        let message = errorMessage { try WholeFile.write([1], to: dir + "/sub") }
        #expect(message?.contains(dir + "/sub") == true, "\(message ?? "")")
        #expect(try WholeFile.readAll(dir + "/sub/keep") == [7])
        #expect(listing(dir) == ["sub"])
    }

    /// Injected failures at each stage after the temporary file exists: the old file survives
    /// byte for byte and the temporary file is gone.
    @Test(arguments: [WholeFile.Fault.shortWrite, .fsync, .rename])
    func failedWriteLeavesOldFile(fault: WholeFile.Fault) throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/model.safetensors"
        let old: [UInt8] = Array("the old checkpoint".utf8)
        try WholeFile.write(old, to: path)
        let new = [UInt8](repeating: 0xAB, count: 100_000)
        let message = errorMessage {
            try new.withUnsafeBytes { try WholeFile.write($0, to: path, fault: fault) }
        }
        #expect(message?.contains(path) == true, "\(message ?? "")")
        switch fault {
        case .shortWrite: #expect(message?.contains("short write") == true, "\(message ?? "")")
        case .fsync: #expect(message?.contains("Input/output error") == true, "\(message ?? "")")
        case .rename: #expect(message?.contains("rename") == true, "\(message ?? "")")
        }
        #expect(try WholeFile.readAll(path) == old)
        #expect(listing(dir) == ["model.safetensors"])
    }

    /// A real OS failure: an unwritable directory (only meaningful when not root, since root
    /// ignores permission bits).
    @Test func unwritableDirectory() throws {
        guard geteuid() != 0 else { return }
        let dir = try makeDirectory()
        defer { _ = chmod(dir, 0o700); removeDirectory(dir) }
        try WholeFile.write([5], to: dir + "/old")
        #expect(chmod(dir, 0o500) == 0)
        let message = errorMessage { try WholeFile.write([6], to: dir + "/old") }
        #expect(message?.contains(dir + "/old") == true, "\(message ?? "")")
        #expect(message?.contains("Permission denied") == true, "\(message ?? "")")
        #expect(try WholeFile.readAll(dir + "/old") == [5])
        #expect(listing(dir) == ["old"])
    }

    /// /dev/full fails every write with ENOSPC, standing in for a full disk. Devices are written
    /// in place, so the device node itself is never replaced and nothing is created in /dev.
    @Test func diskFull() throws {
        var info = stat()
        guard stat("/dev/full", &info) == 0 else { return }  // not Linux
        let before = listing("/dev").filter { WholeFile.temporaryProcess($0) != nil }
        let message = errorMessage { try WholeFile.write([UInt8](repeating: 1, count: 4096), to: "/dev/full") }
        #expect(message?.contains("/dev/full") == true, "\(message ?? "")")
        #expect(message?.contains("No space left on device") == true, "\(message ?? "")")
        #expect(stat("/dev/full", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        #expect(listing("/dev").filter { WholeFile.temporaryProcess($0) != nil } == before)
    }

    /// A write killed before its rename leaves a temporary file; the next write into that
    /// folder removes it once the process that made it is gone, and leaves a live process's
    /// temporaries and files that merely look alike.
    @Test func staleTemporariesGoOnTheNextWrite() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let dead = deadProcessID()
        let stale = WholeFile.temporaryName(for: "model.safetensors", pid: dead)
        let legacy = ".model.safetensors.tmp-\(dead)-3f9a0c"
        let live = WholeFile.temporaryName(for: "model.safetensors", pid: getpid())
        let lookalikes = ["notes.tmp-\(dead)-3f9a0c", ".x.prune-tmp-abc-12", "plain.txt"]
        // Made directly: a write through WholeFile would already sweep the stale ones.
        for name in [stale, legacy, live] + lookalikes { #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([1]))) }
        #expect(WholeFile.temporaryProcess(stale) == dead)
        #expect(WholeFile.temporaryProcess(legacy) == dead)
        #expect(WholeFile.temporaryProcess("model.safetensors") == nil)
        #expect(lookalikes.allSatisfy { WholeFile.temporaryProcess($0) == nil })
        #expect(Set(listing(dir)) == Set([stale, legacy, live] + lookalikes))
        try WholeFile.write([2], to: dir + "/model.safetensors")
        #expect(Set(listing(dir)) == Set([live, "model.safetensors"] + lookalikes))
        // The sweep on its own (what cache eviction calls).
        #expect(FileManager.default.createFile(atPath: dir + "/" + stale, contents: Data([3])))
        #expect(WholeFile.removeStaleTemporaries(in: dir) == 1)
        #expect(Set(listing(dir)) == Set([live, "model.safetensors"] + lookalikes))
    }

    /// Replacing a read-only file is refused, as cp refuses, unless the caller asks for it.
    @Test func readOnlyTargetsAreRefused() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let path = dir + "/results.csv"
        try WholeFile.write(Array("old".utf8), to: path)
        #expect(chmod(path, 0o444) == 0)
        let message = errorMessage { try WholeFile.write(Array("new".utf8), to: path) }
        #expect(message?.contains(path) == true && message?.contains("read-only") == true, "\(message ?? "")")
        #expect(try WholeFile.readAll(path) == Array("old".utf8))
        #expect(listing(dir) == ["results.csv"])
        try WholeFile.write(Array("new".utf8), to: path, replacingReadOnly: true)
        #expect(try WholeFile.readAll(path) == Array("new".utf8))
    }

    @Test func devNullAcceptsWrites() throws {
        var info = stat()
        guard stat("/dev/null", &info) == 0 else { return }
        try WholeFile.write([1, 2, 3], to: "/dev/null")
        #expect(stat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
    }

    @Test func readErrorsNamePath() throws {
        let dir = try makeDirectory()
        defer { removeDirectory(dir) }
        let missing = errorMessage { _ = try WholeFile.readAll(dir + "/absent.bin") }
        #expect(missing?.contains(dir + "/absent.bin") == true, "\(missing ?? "")")
        #expect(missing?.contains("No such file or directory") == true, "\(missing ?? "")")
        let directory = errorMessage { _ = try WholeFile.readAll(dir) }
        #expect(directory?.contains(dir) == true, "\(directory ?? "")")
        #expect(directory?.contains("directory") == true, "\(directory ?? "")")
    }
}

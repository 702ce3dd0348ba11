// The module graph as docs/architecture.md draws it, read from the sources' import lines: the
// language knows nothing of the library or of notebooks, notebooks sit above the language, and
// nothing below the language imports it.
import Foundation
import Testing

@Suite struct ModuleGraphTests {
    /// Sources/, found from this file's path (Tests/LanguageTests/ModuleGraphTests.swift).
    static let sources: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/Sources"
    }()

    /// The modules each module's files import (system modules left out).
    static func imports(of module: String) throws -> [String: Set<String>] {
        let system: Set<String> = ["Glibc", "Darwin", "Foundation", "Testing"]
        var out: [String: Set<String>] = [:]
        for file in try swiftFiles(in: sources + "/" + module) {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("import ") || line.hasPrefix("@testable import ") {
                let name = String(line.split(separator: " ").last ?? "")
                if !system.contains(name) { out[file, default: []].insert(name) }
            }
        }
        return out
    }

    static func swiftFiles(in dir: String) throws -> [String] {
        let names = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []
        return names.filter { $0.hasSuffix(".swift") }.map { dir + "/" + $0 }.sorted()
    }

    @Test func theLanguageImportsNeitherTheLibraryNorNotebooks() throws {
        let allowed: Set<String> = ["FileIO"]
        let found = try Self.imports(of: "Language")
        #expect(try Self.swiftFiles(in: Self.sources + "/Language").count > 10)
        for (file, names) in found {
            #expect(names.isSubset(of: allowed), "\(file) imports \(names.subtracting(allowed).sorted())")
        }
    }

    @Test func notebooksSitAboveTheLanguageAndTheBindingsBelowNotebooks() throws {
        for (file, names) in try Self.imports(of: "Bindings") {
            #expect(!names.contains("Notebooks") && !names.contains("Sweeps"), "\(file) imports \(names.sorted())")
        }
        let notebooks = try Self.imports(of: "Notebooks")
        #expect(notebooks.values.contains { $0.contains("Language") })
        for (file, names) in notebooks { #expect(!names.contains("Sweeps"), "\(file) imports Sweeps") }
    }

    @Test func nothingBelowTheLanguageImportsIt() throws {
        let above: Set<String> = ["Language", "Bindings", "Notebooks", "Sweeps"]
        for module in ["FileIO", "Kernels", "KernelsAVX512", "Engine", "NN", "Data", "Pruning", "Plot"] {
            for (file, names) in try Self.imports(of: module) {
                #expect(names.isDisjoint(with: above), "\(file) imports \(names.intersection(above).sorted())")
            }
        }
    }

    /// The library's errors are worded for a Swift user: no message thrown below the language
    /// names a keyword argument (`keep=`), a script call on `net`/`data`/`path`, or `no_grad`
    /// (the bindings word those through `ScriptWorded`).
    @Test func errorsBelowTheLanguageUseNoScriptSyntax() throws {
        let keyword = try Regex(#"[a-z_]=[^= ]"#)
        let call = try Regex(#"\b[a-z_]+\((net|data|path|p|x)[,)]"#)
        var checked = 0
        for module in ["Kernels", "Engine", "NN", "Data", "Pruning", "Plot"] {
            for file in try Self.swiftFiles(in: Self.sources + "/" + module) {
                let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
                for (n, line) in lines.enumerated() where line.contains("throw ") && line.contains("\"") {
                    checked += 1
                    // Only the string literals of the line.
                    let literals = line.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
                        .filter { $0.offset % 2 == 1 }.map { String($0.element) }.joined(separator: " ")
                    let bad = literals.contains(keyword) || literals.contains(call) || literals.contains("no_grad")
                    #expect(!bad, "\(file):\(n + 1) words an error in the language's syntax: \(line)")
                }
            }
        }
        #expect(checked > 100)
    }
}

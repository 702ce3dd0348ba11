// swift-tools-version: 6.0
// prune: a laboratory for pruning neural networks in the transfer-learning regime.
import PackageDescription

// Kernels and KernelsAVX512 are the only targets built with unchecked arithmetic and a wider
// instruction set.
#if arch(x86_64)
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-Xcc", "-march=x86-64-v3"])]
// The sixteen-lane movement pass; called only where the CPU has AVX-512 (checked at run time).
let avx512Flags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-Xcc", "-march=x86-64-v4"])]
#else
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
let avx512Flags = kernelFlags
#endif

let package = Package(
    name: "prune",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "prune", targets: ["prune"]),
        .executable(name: "prune-bench", targets: ["prune-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CReadline", path: "Sources/CReadline",
                       providers: [.apt(["libreadline-dev"])]),
        .target(name: "CPNG", path: "Sources/CPNG", linkerSettings: [.linkedLibrary("png")]),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"])]),

        // Raw-buffer kernels: the hot loops, built unchecked.
        .systemLibrary(name: "CPrefetch", path: "Sources/CPrefetch"),
        .target(name: "Kernels", dependencies: ["CPrefetch"], swiftSettings: kernelFlags),
        .target(name: "KernelsAVX512", dependencies: ["Kernels", "CPrefetch"], swiftSettings: avx512Flags),
        // Atomic whole-file writes and checked reads (checkpoints, tables, notebooks, figures), and
        // the one JSON reader/writer (safetensors headers, config.json, the notebook cache).
        .target(name: "FileIO", dependencies: ["CPNG"]),
        // Tensors, BLAS calls, reverse-mode autodiff, random numbers.
        .target(name: "Engine", dependencies: ["CBLAS", "Kernels", "KernelsAVX512", "FileIO"]),
        // Layers, models, losses, optimizers, schedules, training loop, checkpoints.
        .target(name: "NN", dependencies: ["FileIO", "Engine", "Kernels", "KernelsAVX512"]),
        // Dataset loaders, splits, batches (datasets are batch sources for NN training).
        .target(name: "Data", dependencies: ["FileIO", "Engine", "NN", "CZlib", "CPNG"]),
        // Masks, pruners, schedules, reports, pruned training.
        .target(name: "Pruning", dependencies: ["Engine", "Kernels", "KernelsAVX512", "NN", "FileIO"]),
        // Figures: model, layout, cairo rendering to PNG/SVG/PDF, text previews.
        .target(name: "Plot", dependencies: ["CCairo", "FileIO"]),
        // The language: lexer, parser, AST, interpreter, values, diagnostics, the builtins table
        // and the core builtins. It knows nothing of tensors, models or notebooks: library values
        // are ScriptObjects, library builtins are registered from above.
        .target(name: "Language", dependencies: ["FileIO"]),
        // The bindings: the library's builtins (one file per topic) and its values as objects of
        // the language (tensors, models, datasets with their operators, indexing and fields).
        .target(name: "Bindings", dependencies: ["Language", "FileIO", "Engine", "NN", "Data", "Pruning", "Plot"]),
        // Notebooks: cells, runner, cell cache and state, documents (HTML, Markdown), highlighting.
        .target(name: "Notebooks", dependencies: ["Language", "Bindings", "FileIO", "Engine", "NN", "Data", "Pruning", "Plot"]),
        // Sweeps: grids of runs of a script, on local worker processes or as a Slurm job array,
        // gathered into one table; keyed like the notebook cache.
        .target(name: "Sweeps", dependencies: ["FileIO", "Engine", "Language", "Bindings", "Notebooks"]),
        // The thin command-line front end: REPL, scripts.
        .executableTarget(name: "prune", dependencies: [
            "FileIO", "Engine", "Kernels", "NN", "Data", "Language", "Bindings", "Notebooks", "Sweeps", "CReadline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Throughput benchmarks behind scripts/bench.
        .executableTarget(name: "prune-bench", dependencies: ["FileIO", "Engine", "Kernels", "KernelsAVX512", "NN", "Data", "Pruning", "Plot"]),

        // What the test targets share: assertClose, the gradient check, temporary folders and
        // the capture of library errors.
        .target(name: "TestSupport", dependencies: ["FileIO", "Engine", "Language", "Notebooks"], path: "Tests/TestSupport"),

        .testTarget(name: "FileIOTests", dependencies: ["FileIO", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Kernels", "KernelsAVX512", "FileIO", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Engine", "Kernels", "KernelsAVX512", "FileIO", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "Engine", "NN", "CPNG", "FileIO", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LanguageTests", dependencies: ["Language", "Bindings", "Notebooks", "FileIO", "Engine", "NN", "Data", "TestSupport"], exclude: ["golden"]),
        .testTarget(name: "BindingsTests", dependencies: ["Language", "Bindings", "Notebooks", "FileIO", "Engine", "NN", "Data", "Pruning", "TestSupport"], exclude: ["fixtures"]),
        .testTarget(name: "NotebookTests", dependencies: ["Language", "Bindings", "Notebooks", "FileIO", "Engine", "NN", "Data", "Pruning", "TestSupport"]),
        .testTarget(name: "PruningTests", dependencies: ["Pruning", "NN", "Data", "Engine", "Kernels", "KernelsAVX512", "TestSupport"]),
        .testTarget(name: "PlotTests", dependencies: ["Plot", "CPNG", "FileIO"], exclude: ["golden"]),
        .testTarget(name: "TrainingTests", dependencies: ["NN", "Data", "Engine", "Pruning", "FileIO"]),
        .testTarget(name: "PruneCLITests", dependencies: []),
        .testTarget(name: "SweepTests", dependencies: ["Sweeps", "Language", "Bindings", "Notebooks", "FileIO"], exclude: ["golden"]),
    ],
    swiftLanguageModes: [.v5]
)

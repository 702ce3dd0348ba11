// The one file that calls OpenBLAS.
import CBLAS
import Kernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over OpenBLAS, row-major.
public enum BLAS {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major with leading dimensions
    /// implied by the (untransposed) storage shapes. Large products are split into `threads`
    /// independent slabs of C (OpenBLAS itself runs single-threaded; see `setThreads`).
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            beta: Float = 0, _ c: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        countFlops(2 * m * n * k)
        if k == 0 {
            if beta == 0 { c.update(repeating: 0, count: m * n) } else { for i in 0..<(m * n) { c[i] *= beta } }
            return
        }
        let lda = transA ? m : k, ldb = transB ? k : n
        if splitGEMM && Parallel.threads > 1 && m * n * k >= minSplitWork {
            gemmSplit(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda, b, ldb, beta: beta, c, n)
            return
        }
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
             beta: beta, c, ldc: n)
    }

    /// One OpenBLAS call with explicit leading dimensions; not counted in `flops`.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Below this m·n·k a product runs as one call: OpenBLAS's own threshold for threading.
    static let minSplitWork = 1 << 18

    /// Splits C into slabs of whole rows (when A is the larger operand, so each call packs only
    /// its rows of A and all of the smaller B) or of whole columns, one call per slab, run
    /// concurrently. Each element of C sees the same sequence of operations as in one call.
    static func gemmSplit(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                          beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        let byRows = m >= n
        let extent = byRows ? m : n
        // Slab edges on multiples of 16, OpenBLAS's register-block width, so that no slab gets
        // an extra ragged edge; enough slabs that an unlucky thread does not hold the rest up.
        let blocks = (extent + 15) / 16
        let parts = Swift.max(1, Swift.min(blocks, Parallel.threads))
        parallelFor(parts) { i in
            let lo = Swift.min(extent, blocks * i / parts * 16), hi = Swift.min(extent, blocks * (i + 1) / parts * 16)
            if hi <= lo { return }
            if byRows {
                gemm(transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha,
                     a + (transA ? lo : lo * lda), lda: lda, b, ldb: ldb, beta: beta, c + lo * ldc, ldc: ldc)
            } else {
                gemm(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha,
                     a, lda: lda, b + (transB ? lo * ldb : lo), ldb: ldb, beta: beta, c + lo, ldc: ldc)
            }
        }
    }

    /// Floating-point operations issued to GEMM so far (2·m·n·k per call), and to the direct
    /// convolution that stands in for a GEMM (Tensor+Conv.swift), for benchmarks. An atomic
    /// counter: products run on several threads (and tests in parallel).
    public static var flops: Int { flopCounter.load(ordering: .relaxed) }
    private static let flopCounter = Atomic<Int>(0)

    /// Adds `n` to `flops`.
    @inline(__always) static func countFlops(_ n: Int) { flopCounter.wrappingAdd(n, ordering: .relaxed) }

    /// Sets the number of threads for all math: the engine's kernels and GEMM. OpenBLAS itself
    /// runs single-threaded and large products are split by `gemm` instead, so that OpenBLAS's
    /// workers never spin for CPU time while the engine's own threads run the other kernels.
    public static func setThreads(_ n: Int) {
        let n = Swift.max(1, n)
        Parallel.threads = n
        openblas_set_num_threads(splitGEMM ? 1 : Int32(n))
    }

    /// The number of threads the math uses.
    public static var threads: Int { Parallel.threads }

    nonisolated(unsafe) static var splitGEMM = getenv("PRUNE_OB_THREADS") == nil

    /// The kernel family OpenBLAS picked for this CPU (e.g. "Haswell", "SkylakeX").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Symmetric eigen-decomposition of an n×n matrix (row-major; symmetric so layout does not
    /// matter): eigenvalues ascending, eigenvectors as the rows of the returned matrix.
    public static func symmetricEigen(_ a: [Float], n: Int) throws -> (values: [Float], vectors: [Float]) {
        var m = a, w = [Float](repeating: 0, count: n)
        var nn = Int32(n), lwork = Int32(-1), info = Int32(0), query: Float = 0
        let jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "U"))
        withUnsafePointer(to: jobz) { jz in withUnsafePointer(to: uplo) { up in
            ssyev_(jz, up, &nn, &m, &nn, &w, &query, &lwork, &info)
        } }
        var work = [Float](repeating: 0, count: Swift.max(1, Int(query)))
        lwork = Int32(work.count)
        withUnsafePointer(to: jobz) { jz in withUnsafePointer(to: uplo) { up in
            ssyev_(jz, up, &nn, &m, &nn, &w, &work, &lwork, &info)
        } }
        guard info == 0 else { throw EngineError("eigen-decomposition failed (LAPACK ssyev info \(info))") }
        return (w, m)  // column-major eigenvectors read row-major = one vector per row
    }

    /// Thin SVD of a row-major m×n matrix by LAPACK's divide and conquer (sgesdd): a = U·diag(s)·Vᵀ
    /// with r = min(m, n); `u` is m×r and `vt` r×n, row-major, singular values descending.
    public static func svd(_ a: [Float], m: Int, n: Int) throws -> (u: [Float], s: [Float], vt: [Float]) {
        guard m > 0, n > 0, a.count == m * n, m <= 1 << 20, n <= 1 << 20 else {
            throw EngineError("svd: needs a non-empty m×n matrix, got \(m)×\(n) with \(a.count) values")
        }
        let r = Swift.min(m, n)
        // Row-major a is column-major aᵀ (n×m): aᵀ = V·S·Uᵀ, so LAPACK's U is our V and its Vᵀ our Uᵀ.
        var at = a, s = [Float](repeating: 0, count: r)
        var lu = [Float](repeating: 0, count: n * r), lvt = [Float](repeating: 0, count: r * m)
        var rows = Int32(n), cols = Int32(m), ldu = Int32(n), ldvt = Int32(r), info = Int32(0)
        var iwork = [Int32](repeating: 0, count: 8 * r)
        let jobz = Int8(UInt8(ascii: "S"))
        var query: Float = 0, lwork = Int32(-1)
        withUnsafePointer(to: jobz) { jz in
            sgesdd_(jz, &rows, &cols, &at, &rows, &s, &lu, &ldu, &lvt, &ldvt, &query, &lwork, &iwork, &info)
        }
        var work = [Float](repeating: 0, count: Swift.max(1, Int(query)))
        lwork = Int32(work.count)
        withUnsafePointer(to: jobz) { jz in
            sgesdd_(jz, &rows, &cols, &at, &rows, &s, &lu, &ldu, &lvt, &ldvt, &work, &lwork, &iwork, &info)
        }
        guard info == 0 else { throw EngineError("svd failed (LAPACK sgesdd info \(info))") }
        // lvt is r×m column-major (= Uᵀ column-major = U row-major m×r). lu is n×r column-major
        // (= V column-major), i.e. Vᵀ row-major r×n.
        return (lvt, s, lu)
    }
}

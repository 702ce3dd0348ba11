// The one file that calls OpenBLAS.
import CBLAS

/// Thin wrappers over OpenBLAS, row-major.
public enum BLAS {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major with leading dimensions
    /// implied by the (untransposed) storage shapes.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            beta: Float = 0, _ c: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        flops &+= 2 * m * n * k
        if k == 0 {
            if beta == 0 { c.update(repeating: 0, count: m * n) } else { for i in 0..<(m * n) { c[i] *= beta } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transA ? m : k), b, Int32(transB ? k : n),
                    beta, c, Int32(n))
    }

    /// Floating-point operations issued to GEMM so far (2·m·n·k per call), for benchmarks.
    nonisolated(unsafe) public static var flops = 0

    /// Sets the number of threads OpenBLAS uses.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(Swift.max(1, n))) }

    /// The number of threads OpenBLAS uses.
    public static var threads: Int { Int(openblas_get_num_threads()) }

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
}

// Re-executes the process with OPENBLAS_CORETYPE=SKYLAKEX on AVX-512 CPUs: Debian's OpenBLAS
// 0.3.21 takes unknown AVX-512 CPUs for Haswell, and its SkylakeX kernels are about twice as
// fast there. The variable is read only when the library loads, hence the re-exec.
#if canImport(Glibc)
import Glibc
import Kernels

func reexecWithFastBLASIfNeeded() {
    guard getenv("OPENBLAS_CORETYPE") == nil, getenv("PRUNE_NO_REEXEC") == nil, AVX512.available else { return }
    setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1)
    let args = CommandLine.arguments
    var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
    cargs.append(nil)
    execv("/proc/self/exe", &cargs)
    // execv only returns on failure: carry on with the default kernels.
}
#else
func reexecWithFastBLASIfNeeded() {}
#endif

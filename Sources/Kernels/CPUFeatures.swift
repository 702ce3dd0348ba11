// What this CPU can run, asked once at start-up: AVX-512 (through the C shim in CPrefetch, which
// reads CPUID and XGETBV), and the switch that turns the sixteen-lane paths off.
import CPrefetch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether the sixteen-lane passes (KernelsAVX512: movement, sparse products) may run: the check
/// lives here, in code built for AVX2, because nothing in the AVX-512 target may run on a CPU
/// without it.
public enum AVX512 {
    /// Whether this CPU runs AVX-512 F, CD, BW, DQ and VL and the operating system saves its state
    /// (also what the prune binary asks before choosing OpenBLAS's SkylakeX kernels).
    public static let available: Bool = prune_cpu_has_avx512() != 0

    /// Whether to use it: when available, unless PRUNE_NO_AVX512 is set. Tests switch it off to
    /// compare the passes; switching it on where it is not available has no effect.
    public static var enabled: Bool {
        get { available && wanted }
        set { wanted = newValue }
    }
    nonisolated(unsafe) private static var wanted = getenv("PRUNE_NO_AVX512") == nil
}

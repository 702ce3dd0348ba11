// CPU helpers Swift cannot spell: software prefetch (the kernels that stream many buffers at
// once ask for each one's next lines themselves), a CPU feature check, and AVX-512 compares.
static inline void prune_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void prune_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

// Whether this CPU runs AVX-512 F, CD, BW, DQ and VL (x86-64-v4) and the operating system saves
// its registers (XCR0: SSE, AVX, opmask and both halves of the ZMM state).
#if defined(__x86_64__)
#include <cpuid.h>
static inline int prune_cpu_has_avx512(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6u) != 0xE6u) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    return (b & need) == need;
}
#else
static inline int prune_cpu_has_avx512(void) { return 0; }
#endif

// AVX-512 integer compares into mask registers, which the compiler's headers define as macros
// (Swift imports functions only). Built for AVX-512 whatever the includer's target; only
// KernelsAVX512 calls them, after checking the CPU.
#if defined(__x86_64__)
#include <immintrin.h>
#define PRUNE_AVX512 __attribute__((target("avx512f"), always_inline))
PRUNE_AVX512 static inline __mmask16 prune_cmpgt_epi32_mask(__m512i a, __m512i b) { return _mm512_cmpgt_epi32_mask(a, b); }
PRUNE_AVX512 static inline __mmask16 prune_cmpeq_epi32_mask(__m512i a, __m512i b) { return _mm512_cmpeq_epi32_mask(a, b); }
PRUNE_AVX512 static inline __mmask16 prune_cmple_epu32_mask(__m512i a, __m512i b) { return _mm512_cmple_epu32_mask(a, b); }
#undef PRUNE_AVX512
#endif

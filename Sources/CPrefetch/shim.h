// Software prefetch, which Swift cannot spell: the kernels that stream many buffers at once
// ask for each one's next lines themselves.
static inline void prune_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void prune_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

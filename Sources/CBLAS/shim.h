// OpenBLAS: CBLAS for dense math, plus the few LAPACK routines prune needs (Fortran ABI).
#include <cblas.h>

// Symmetric eigen-decomposition and SVD from LAPACK (column-major, Fortran calling convention).
void ssyev_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
            float *w, float *work, const int *lwork, int *info);
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work,
             const int *lwork, int *iwork, int *info);

// glibc's allocator tuning (mallopt), used by the engine's storage to keep large buffers in the heap.
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// A tiny C shim over libpng: libpng reports errors by longjmp, which Swift cannot catch, so
// the setjmp lives here and every call returns 0 on success or -1 with a message in `err`.
#ifndef PRUNE_PNG_H
#define PRUNE_PNG_H
#include <stddef.h>
#include <stdint.h>

/// Encodes an 8-bit image (channels 1 gray, 3 RGB, 4 RGBA, rows top to bottom) as PNG into
/// memory: `*out` (free with prune_png_free) holds `*outlen` bytes. `dpi` > 0 writes a pHYs
/// chunk; `keys`/`values` are `ntext` tEXt chunks. Callers write the bytes to files themselves
/// (atomically), so that every format goes through one file writer.
int prune_png_encode(const uint8_t *pixels, int width, int height, int channels, double dpi,
                     const char *const *keys, const char *const *values, int ntext,
                     uint8_t **out, size_t *outlen, char *err, size_t errlen);

/// Facts read back from a PNG file (for tests and `load`).
typedef struct {
    int width, height, channels;
    double dpi;          // 0 when there is no pHYs chunk in metres
    int ntext;
} prune_png_info;

/// Reads `path`; pixels (width*height*channels bytes) are returned in `*pixels` (free with
/// prune_png_free). Text chunks are copied into `keys`/`values` (up to `maxtext`, each freed
/// with prune_png_free).
int prune_png_read(const char *path, prune_png_info *info, uint8_t **pixels, char **keys,
                   char **values, int maxtext, char *err, size_t errlen);

void prune_png_free(void *p);
#endif

// libpng behind setjmp: see prune_png.h.
#include "prune_png.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

typedef struct { jmp_buf jmp; char *err; size_t errlen; } guard;

static void on_error(png_structp png, png_const_charp msg) {
    guard *g = (guard *)png_get_error_ptr(png);
    snprintf(g->err, g->errlen, "libpng: %s", msg);
    longjmp(g->jmp, 1);
}
static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

/* A growing buffer that libpng writes into. */
typedef struct { uint8_t *data; size_t len, cap; } membuf;

static void on_write(png_structp png, png_bytep bytes, png_size_t n) {
    membuf *m = (membuf *)png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->len + n) cap *= 2;
        uint8_t *grown = realloc(m->data, cap);
        if (!grown) png_error(png, "out of memory");
        m->data = grown; m->cap = cap;
    }
    memcpy(m->data + m->len, bytes, n);
    m->len += n;
}
static void on_flush(png_structp png) { (void)png; }

int prune_png_encode(const uint8_t *pixels, int width, int height, int channels, double dpi,
                     const char *const *keys, const char *const *values, int ntext,
                     uint8_t **out, size_t *outlen, char *err, size_t errlen) {
    *out = NULL; *outlen = 0;
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4 || channels == 2) {
        snprintf(err, errlen, "invalid image %dx%d with %d channels", width, height, channels);
        return -1;
    }
    guard g; g.err = err; g.errlen = errlen;
    membuf m = { NULL, 0, 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &g, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_textp text = NULL;
    if (!png || !info) {
        snprintf(err, errlen, "libpng: out of memory");
        if (png) png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(g.jmp)) {
        png_destroy_write_struct(&png, &info);
        free(text);
        free(m.data);
        return -1;
    }
    png_set_write_fn(png, &m, on_write, on_flush);
    int type = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB
                                                                  : PNG_COLOR_TYPE_RGBA;
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (dpi > 0) {
        png_uint_32 ppm = (png_uint_32)(dpi / 0.0254 + 0.5);
        png_set_pHYs(png, info, ppm, ppm, PNG_RESOLUTION_METER);
    }
    if (ntext > 0) {
        text = calloc((size_t)ntext, sizeof(png_text));
        if (!text) { snprintf(err, errlen, "out of memory"); longjmp(g.jmp, 1); }
        for (int i = 0; i < ntext; i++) {
            text[i].compression = PNG_TEXT_COMPRESSION_NONE;
            text[i].key = (png_charp)keys[i];
            text[i].text = (png_charp)values[i];
        }
        png_set_text(png, info, text, ntext);
    }
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(text);
    *out = m.data; *outlen = m.len;
    return 0;
}

int prune_png_read(const char *path, prune_png_info *out, uint8_t **pixels, char **keys,
                   char **values, int maxtext, char *err, size_t errlen) {
    *pixels = NULL;
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno)); return -1; }
    guard g; g.err = err; g.errlen = errlen;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &g, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *buf = NULL;
    if (!png || !info) {
        snprintf(err, errlen, "libpng: out of memory");
        if (png) png_destroy_read_struct(&png, NULL, NULL);
        fclose(f);
        return -1;
    }
    if (setjmp(g.jmp)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(buf);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_set_strip_16(png);
    png_set_packing(png);
    png_set_expand(png);
    png_read_update_info(png, info);
    int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
    int ch = (int)png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    /* A forged header must not make us allocate gigabytes: at most 256 MiB of pixels. */
    if (rowbytes == 0 || h <= 0 || (size_t)h > ((size_t)1 << 28) / rowbytes) {
        snprintf(err, errlen, "image %dx%d is too large to read (at most 256 MiB of pixels)", w, h);
        longjmp(g.jmp, 1);
    }
    buf = malloc(rowbytes * (size_t)h);
    if (!buf) { snprintf(err, errlen, "out of memory"); longjmp(g.jmp, 1); }
    for (int y = 0; y < h; y++) png_read_row(png, buf + (size_t)y * rowbytes, NULL);
    png_uint_32 rx = 0, ry = 0; int unit = 0;
    if (png_get_pHYs(png, info, &rx, &ry, &unit) && unit == PNG_RESOLUTION_METER)
        out->dpi = rx * 0.0254;
    png_textp text = NULL; int ntext = 0;
    png_get_text(png, info, &text, &ntext);
    int n = ntext < maxtext ? ntext : maxtext;
    for (int i = 0; i < n; i++) { keys[i] = strdup(text[i].key); values[i] = strdup(text[i].text); }
    out->width = w; out->height = h; out->channels = ch; out->ntext = n;
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    *pixels = buf;
    return 0;
}

void prune_png_free(void *p) { free(p); }

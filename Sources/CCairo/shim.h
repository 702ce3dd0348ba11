// cairo: antialiased 2-D drawing and font text for figures, with image, SVG and PDF surfaces.
// Included by path under cairo/ so that the module builds even where pkg-config is missing.
#include <cairo/cairo.h>
#include <cairo/cairo-svg.h>
#include <cairo/cairo-pdf.h>

/*
 * A small RGB canvas for the fleet replay's chart: lines, rectangles, text
 * in a 5x7 bitmap font (printable ASCII), written as PNG with libpng.
 *
 * Errors: 0 or -errno; plot__new returns NULL and sets errno.
 */
#ifndef RINGWARD_FLEET_PLOT_H
#define RINGWARD_FLEET_PLOT_H

#include <stdint.h>

#define PLOT_GLYPH_W	5
#define PLOT_GLYPH_H	7

struct plot {
	int w, h;
	uint8_t *px;		/* w x h x 3, from malloc; plot__free frees it */
};

/* A white canvas; free with plot__free (NULL-safe). */
struct plot *plot__new(int w, int h);
void plot__free(struct plot *pl);

/* Colours are 0xRRGGBB. Everything clips at the canvas's edges. */
void plot__pixel(struct plot *pl, int x, int y, uint32_t rgb);
void plot__rect(struct plot *pl, int x0, int y0, int x1, int y1, uint32_t rgb);	/* filled */
void plot__frame(struct plot *pl, int x0, int y0, int x1, int y1, uint32_t rgb);
/* A line width px thick; dash > 0: dash px on, dash px off. */
void plot__line(struct plot *pl, int x0, int y0, int x1, int y1, int width, int dash,
		uint32_t rgb);
/* Text with its top-left at (x, y), each font pixel scale x scale; returns
 * its width in pixels. plot__text_w measures without drawing. */
int plot__text(struct plot *pl, int x, int y, int scale, uint32_t rgb, const char *s);
int plot__text_w(int scale, const char *s);
/* Write as an 8-bit RGB PNG. */
int plot__write_png(const struct plot *pl, const char *path);

#endif

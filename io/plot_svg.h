/* plot_svg.h — a latency–quality plot (e.g. AL vs BLEU, one curve per decision head) as a
 * self-contained SVG file, written by hand (no plotting library): round axis ticks, grid, axis
 * labels, title, legend, a colour-blind-friendly colour and a marker shape per series, and small
 * labels beside the points. Any browser shows it; rsvg-convert or ImageMagick turn it into PNG. */
#ifndef PROACT_PLOT_SVG_H
#define PROACT_PLOT_SVG_H

#include <stddef.h>

typedef struct {
    const char *label;   /* legend entry, e.g. "entropy" */
    const double *x, *y; /* [n] points, drawn in the given order, joined by a line */
    int n;
    const char *const *point_labels; /* optional [n]: a short label per point, e.g. "τ=2.5" (NULL: none) */
} PlotSeries;

/* Writes the plot (800 x 560 px) to path, atomically. Texts may hold any UTF-8 (they are
 * XML-escaped; invalid bytes become U+FFFD). Points with a NaN or infinite coordinate are
 * skipped; one point or all-equal values still get a sensible axis. 0, or -1 with px_error. */
int plot_svg_write(const char *path, const char *title, const char *xlabel, const char *ylabel, const PlotSeries *s,
                   int n_series);

/* Axis ticks: lo, lo + step, ..., hi (n ticks), step = 1, 2 or 5 x 10^k. */
typedef struct {
    double lo, hi, step;
    int n;
} PlotTicks;

/* Round ticks covering [min, max] with about `intervals` (>= 1) steps between them: the
 * smallest round step >= (max - min) / intervals, lo and hi the multiples of it at or beyond
 * min and max. Equal min and max get a range around them ([0, 1] for 0). E.g. 0.37..9.2 with 5
 * intervals -> 0, 2, 4, 6, 8, 10. -1 with px_error for non-finite input. */
int plot_nice_ticks(double min, double max, int intervals, PlotTicks *out);

/* The label of tick value v on an axis with this step: as many decimals as the step needs
 * ("0.2", "10", "0.05"), never "-0". */
void plot_tick_label(double v, double step, char *buf, size_t size);

#endif

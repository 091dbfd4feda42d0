/* plot_svg.c — latency–quality plots as hand-written SVG (plot_svg.h).
 *
 * Layout (pixels, y down): the plot area is [PL, PR] x [PT, PB]; the legend sits in a panel to
 * its right so that it never hides a point; the title is above, the axis labels below and left. */
#include "io/plot_svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "src/base/common.h"
#include "src/base/utf8.h"

enum { W = 800, H = 560, PL = 78, PR = 600, PT = 52, PB = 492, LEGEND_X = 622 };

/* Okabe & Ito's colour-blind-safe palette (its yellow, too pale on white, replaced by Tol's
 * wine), in an order where neighbours differ most. */
static const char *const COLORS[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                     "#E69F00", "#56B4E9", "#000000", "#882255"};
enum { N_COLORS = sizeof COLORS / sizeof COLORS[0], N_SHAPES = 7 };

/* ---- ticks ------------------------------------------------------------------------------- */

int plot_nice_ticks(double min, double max, int intervals, PlotTicks *out) {
    if (!isfinite(min) || !isfinite(max)) return px_error("plot: axis range is not finite");
    if (intervals < 1) intervals = 1;
    if (min > max) {
        double t = min;
        min = max;
        max = t;
    }
    if (max - min <= 1e-12 * fmax(fabs(min), fabs(max))) { /* one value: a range around it */
        double pad = min == 0 ? 1 : fabs(min) * 0.1;
        if (min == 0) {
            max = 1;
        } else {
            min -= pad;
            max += pad;
        }
    }
    double raw = (max - min) / intervals;
    double mag = pow(10, floor(log10(raw)));
    double r = raw / mag;
    double step = (r <= 1 + 1e-9 ? 1 : r <= 2 + 1e-9 ? 2 : r <= 5 + 1e-9 ? 5 : 10) * mag;
    /* the tolerance keeps 0.6 / 0.2 = 2.9999999999999996 at 3 */
    double k_lo = floor(min / step + 1e-9), k_hi = ceil(max / step - 1e-9);
    out->step = step;
    out->lo = k_lo * step;
    out->hi = k_hi * step;
    out->n = (int)(k_hi - k_lo) + 1;
    return 0;
}

void plot_tick_label(double v, double step, char *buf, size_t size) {
    int decimals = (int)-floor(log10(step) + 1e-9);
    if (decimals < 0) decimals = 0;
    if (fabs(v) < step * 1e-6) v = 0; /* no "-0" or "1e-17" */
    if (fabs(v) >= 1e7 || decimals > 8) snprintf(buf, size, "%g", v);
    else snprintf(buf, size, "%.*f", decimals, v);
}

/* ---- text ---------------------------------------------------------------------------------- */

/* Writes text XML-escaped: invalid UTF-8 becomes U+FFFD, control characters a space (XML 1.0
 * forbids most of them). With max_chars > 0, longer text is cut to max_chars - 1 characters and "…". */
static void put_text(FILE *fp, const char *text, int max_chars) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t len = strlen((const char *)s);
    int chars = 0;
    for (size_t i = 0; i < len;) {
        int k = utf8_step(s + i, len - i);
        if (max_chars > 0 && chars == max_chars - 1) {
            /* is this the last character? then it fits */
            size_t rest = k > 0 ? (size_t)k : (size_t)-k;
            if (i + rest < len) {
                fputs("\xE2\x80\xA6", fp); /* … */
                return;
            }
        }
        chars++;
        if (k < 0) {
            fputs(UTF8_REPLACEMENT, fp);
            i += (size_t)-k;
            continue;
        }
        unsigned char c = s[i];
        if (k == 1) {
            switch (c) {
                case '&': fputs("&amp;", fp); break;
                case '<': fputs("&lt;", fp); break;
                case '>': fputs("&gt;", fp); break;
                case '"': fputs("&quot;", fp); break;
                case '\'': fputs("&apos;", fp); break;
                default: fputc(c < 0x20 || c == 0x7F ? ' ' : c, fp);
            }
        } else {
            fwrite(s + i, 1, (size_t)k, fp);
        }
        i += (size_t)k;
    }
}

/* <text ...>escaped</text>; attrs is the rest of the opening tag. */
static void text_el(FILE *fp, double x, double y, const char *attrs, const char *text, int max_chars) {
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" %s>", x, y, attrs);
    put_text(fp, text, max_chars);
    fputs("</text>\n", fp);
}

/* ---- markers ------------------------------------------------------------------------------- */

/* Marker `shape` centred at (x, y): circle, square, triangle up, diamond, triangle down,
 * pentagon, hexagon — sized to look about equally heavy. */
static void marker(FILE *fp, int shape, double x, double y, const char *color, const char *cls) {
    if (shape == 0) {
        fprintf(
            fp,
            "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" stroke=\"white\" stroke-width=\"1\"/>\n",
            cls, x, y, color);
        return;
    }
    static const struct {
        int sides;
        double rot, radius; /* degrees (0 = a vertex to the right), px */
    } P[N_SHAPES] = {{0, 0, 0}, {4, 45, 6.4}, {3, -90, 7.2}, {4, 0, 6.8}, {3, 90, 7.2}, {5, -90, 6.2}, {6, 0, 5.8}};
    const double pi = 3.14159265358979323846;
    fprintf(fp, "<path class=\"%s\" d=\"", cls);
    for (int i = 0; i < P[shape].sides; i++) {
        double a = (P[shape].rot + 360.0 * i / P[shape].sides) * pi / 180;
        fprintf(fp, "%s%.1f,%.1f", i ? " L" : "M", x + P[shape].radius * cos(a), y + P[shape].radius * sin(a));
    }
    fprintf(fp, " Z\" fill=\"%s\" stroke=\"white\" stroke-width=\"1\"/>\n", color);
}

/* ---- the plot ---------------------------------------------------------------------------------- */

typedef struct {
    const char *title, *xlabel, *ylabel;
    const PlotSeries *s;
    int n_series;
    PlotTicks tx, ty;
    int n_points; /* finite points in all series */
} Plot;

static int finite_point(const PlotSeries *s, int i) { return isfinite(s->x[i]) && isfinite(s->y[i]); }

/* Tick i of an axis, as an integer multiple of the step (no drift from repeated adds). */
static double tick_value(const PlotTicks *t, int i) { return (floor(t->lo / t->step + 0.5) + i) * t->step; }

static double px_x(const Plot *p, double x) { return PL + (x - p->tx.lo) / (p->tx.hi - p->tx.lo) * (PR - PL); }
static double px_y(const Plot *p, double y) { return PB - (y - p->ty.lo) / (p->ty.hi - p->ty.lo) * (PB - PT); }

static void draw_axes(FILE *fp, const Plot *p) {
    char label[64];
    fputs("<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n", fp);
    for (int i = 0; i < p->tx.n; i++) {
        double x = px_x(p, tick_value(&p->tx, i));
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", x, PT, x, PB);
    }
    for (int i = 0; i < p->ty.n; i++) {
        double y = px_y(p, tick_value(&p->ty, i));
        fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", PL, y, PR, y);
    }
    fputs("</g>\n", fp);
    fprintf(fp,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\" stroke-width=\"1\"/>\n",
            PL, PT, PR - PL, PB - PT);
    fputs("<g class=\"ticks\" font-size=\"12\" fill=\"#333\">\n", fp);
    for (int i = 0; i < p->tx.n; i++) {
        double v = tick_value(&p->tx, i), x = px_x(p, v);
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n", x, PB, x, PB + 5);
        plot_tick_label(v, p->tx.step, label, sizeof label);
        text_el(fp, x, PB + 19, "text-anchor=\"middle\"", label, 0);
    }
    for (int i = 0; i < p->ty.n; i++) {
        double v = tick_value(&p->ty, i), y = px_y(p, v);
        fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n", PL - 5, y, PL, y);
        plot_tick_label(v, p->ty.step, label, sizeof label);
        text_el(fp, PL - 8, y + 4, "text-anchor=\"end\"", label, 0);
    }
    fputs("</g>\n", fp);
    text_el(fp, (PL + PR) / 2.0, PB + 44, "text-anchor=\"middle\" font-size=\"14\" fill=\"#222\"", p->xlabel, 70);
    char attrs[128];
    snprintf(attrs, sizeof attrs,
             "text-anchor=\"middle\" font-size=\"14\" fill=\"#222\" transform=\"rotate(-90 20 %.1f)\"",
             (PT + PB) / 2.0);
    text_el(fp, 20, (PT + PB) / 2.0, attrs, p->ylabel, 55);
    text_el(fp, W / 2.0, 30, "text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\" fill=\"#111\"", p->title,
            80);
}

static void draw_series(FILE *fp, const Plot *p, int k) {
    const PlotSeries *s = &p->s[k];
    const char *color = COLORS[k % N_COLORS];
    int shape = k % N_SHAPES;
    fprintf(fp,
            "<g class=\"series\">\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" "
            "points=\"",
            color);
    int first = 1;
    for (int i = 0; i < s->n; i++) {
        if (!finite_point(s, i)) continue; /* skipped: its neighbours are joined */
        fprintf(fp, "%s%.1f,%.1f", first ? "" : " ", px_x(p, s->x[i]), px_y(p, s->y[i]));
        first = 0;
    }
    fputs("\"/>\n", fp);
    for (int i = 0; i < s->n; i++)
        if (finite_point(s, i)) marker(fp, shape, px_x(p, s->x[i]), px_y(p, s->y[i]), color, "marker");
    /* point labels after all markers, so that no marker covers a label */
    for (int i = 0; s->point_labels && i < s->n; i++) {
        if (!finite_point(s, i) || !s->point_labels[i] || !s->point_labels[i][0]) continue;
        double x = px_x(p, s->x[i]), y = px_y(p, s->y[i]);
        char attrs[160];
        int left = x > PR - 60; /* near the right edge: label on the left of the point */
        double lx = left ? x - 8 : x + 8, ly = y < PT + 14 ? y + 14 : y - 6;
        /* a white halo underneath keeps the label readable where it crosses a line (drawn as a
         * second element: paint-order is not understood by every renderer) */
        snprintf(attrs, sizeof attrs,
                 "class=\"point-label-halo\" font-size=\"10\" fill=\"white\" stroke=\"white\" stroke-width=\"3\" "
                 "stroke-linejoin=\"round\"%s",
                 left ? " text-anchor=\"end\"" : "");
        text_el(fp, lx, ly, attrs, s->point_labels[i], 16);
        snprintf(attrs, sizeof attrs, "class=\"point-label\" font-size=\"10\" fill=\"%s\"%s", color,
                 left ? " text-anchor=\"end\"" : "");
        text_el(fp, lx, ly, attrs, s->point_labels[i], 16);
    }
    fputs("</g>\n", fp);
}

static void draw_legend(FILE *fp, const Plot *p) {
    if (p->n_series == 0) return;
    int rows = p->n_series;
    fprintf(
        fp,
        "<g class=\"legend\">\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" stroke=\"#bbb\"/>\n",
        LEGEND_X, PT, W - LEGEND_X - 10, 14 + 22 * rows);
    for (int k = 0; k < rows; k++) {
        double y = PT + 18 + 22 * k;
        const char *color = COLORS[k % N_COLORS];
        fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                LEGEND_X + 8, y, LEGEND_X + 36, y, color);
        marker(fp, k % N_SHAPES, LEGEND_X + 22, y, color, "legend-marker");
        text_el(fp, LEGEND_X + 44, y + 4, "font-size=\"12\" fill=\"#222\"", p->s[k].label, 17);
    }
    fputs("</g>\n", fp);
}

static int plot_body(FILE *fp, void *ctx) {
    const Plot *p = ctx;
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
            W, H, W, H, W, H);
    draw_axes(fp, p);
    for (int k = 0; k < p->n_series; k++) draw_series(fp, p, k);
    if (p->n_points == 0)
        text_el(fp, (PL + PR) / 2.0, (PT + PB) / 2.0, "text-anchor=\"middle\" font-size=\"14\" fill=\"#888\"",
                "no data", 0);
    draw_legend(fp, p);
    fputs("</svg>\n", fp);
    return ferror(fp) ? -1 : 0;
}

int plot_svg_write(const char *path, const char *title, const char *xlabel, const char *ylabel, const PlotSeries *s,
                   int n_series) {
    if (n_series < 0 || (n_series > 0 && !s)) return px_error("%s: plot: bad series", path);
    Plot p;
    memset(&p, 0, sizeof p);
    p.title = title;
    p.xlabel = xlabel;
    p.ylabel = ylabel;
    p.s = s;
    p.n_series = n_series;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < n_series; k++) {
        if (s[k].n < 0 || (s[k].n > 0 && (!s[k].x || !s[k].y)))
            return px_error("%s: plot: series %d ('%s') has no points", path, k, s[k].label ? s[k].label : "");
        for (int i = 0; i < s[k].n; i++) {
            if (!finite_point(&s[k], i)) continue;
            x0 = fmin(x0, s[k].x[i]);
            x1 = fmax(x1, s[k].x[i]);
            y0 = fmin(y0, s[k].y[i]);
            y1 = fmax(y1, s[k].y[i]);
            p.n_points++;
        }
    }
    if (p.n_points == 0) x0 = x1 = y0 = y1 = 0; /* empty axes, 0..1 */
    /* about 6 intervals on the wider x axis, 5 on y (the plot is wider than tall) */
    if (plot_nice_ticks(x0, x1, 6, &p.tx) || plot_nice_ticks(y0, y1, 5, &p.ty)) return -1;
    return atomic_write(path, plot_body, &p);
}

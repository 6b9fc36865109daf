/* map_svg.c — the pictures' SVG: state colours, legend, RSS plot, bands,
 * and `faultline map --svg`, one frame drawn whole.
 *
 * The page's script (map_html.c) draws chunks and pages with the same
 * geometry as draw_span() below: a range is cut at row boundaries, x is
 * the offset within the row scaled to FL_MAP_ROW_PX. */
#include <stdlib.h>
#include <string.h>

#include "view/map_view.h"

/* Exact colours: the Chromium test counts pixels of each. */
static const char *state_colour[FL_CHUNK_STATE_COUNT] = {
    [FL_CHUNK_INUSE] = "#4c78a8",    [FL_CHUNK_TCACHE] = "#f58518", [FL_CHUNK_FASTBIN] = "#e45756",
    [FL_CHUNK_UNSORTED] = "#b279a2", [FL_CHUNK_SMALL] = "#54a24b",  [FL_CHUNK_LARGE] = "#eeca3b",
    [FL_CHUNK_TOP] = "#72b7b2",      [FL_CHUNK_MAPPED] = "#ff9da6", [FL_CHUNK_FENCE] = "#79706e",
};
static const char *state_label[FL_CHUNK_STATE_COUNT] = {
    [FL_CHUNK_INUSE] = "in use",     [FL_CHUNK_TCACHE] = "tcache",    [FL_CHUNK_FASTBIN] = "fastbin",
    [FL_CHUNK_UNSORTED] = "unsorted", [FL_CHUNK_SMALL] = "small bin", [FL_CHUNK_LARGE] = "large bin",
    [FL_CHUNK_TOP] = "top",          [FL_CHUNK_MAPPED] = "mapped",    [FL_CHUNK_FENCE] = "fencepost",
};
/* Page-table states (fl_pte_t) in the strip above each row. */
static const char *pte_colour[4] = {"#dcdcdc", "#a0a0a0", "#1a1a1a", "#5a5a5a"};
static const char *pte_label[4] = {"page not present", "zero page", "page present (RSS)", "lazy-free page"};
#define ROW_BG "#f4f4f4"

const char *fl_map_state_colour(unsigned s) { return s < FL_CHUNK_STATE_COUNT ? state_colour[s] : "#000000"; }
const char *fl_map_state_label(unsigned s) { return s < FL_CHUNK_STATE_COUNT ? state_label[s] : "?"; }
const char *fl_map_pte_colour(unsigned pte) { return pte_colour[pte & 3]; }

/* Text content with XML's five characters escaped. */
static void xml_text(FILE *out, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '&': fputs("&amp;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&#39;", out); break;
    default: fputc(*s, out);
    }
  }
}

static void swatch(FILE *out, unsigned x, unsigned y, const char *fill, const char *label, const char *key,
                   bool outline) {
  fprintf(out, "<g data-legend=\"%s\"><rect x=\"%u\" y=\"%u\" width=\"14\" height=\"14\" ", key, x, y);
  if (outline) fprintf(out, "fill=\"none\" stroke=\"%s\" stroke-width=\"3\"/>", fill);
  else fprintf(out, "fill=\"%s\"/>", fill);
  fprintf(out, "<text x=\"%u\" y=\"%u\">%s</text></g>\n", x + 19, y + 11, label);
}

void fl_map_svg_legend(FILE *out) {
  unsigned x = FL_MAP_LEFT_PX;
  for (unsigned s = 0; s < FL_CHUNK_STATE_COUNT; s++, x += 112)
    swatch(out, x, 0, state_colour[s], state_label[s], fl_chunk_state_name(s), false);
  x = FL_MAP_LEFT_PX;
  for (unsigned p = 0; p < 4; p++, x += 170) swatch(out, x, 22, pte_colour[p], pte_label[p], pte_label[p], false);
  swatch(out, x, 22, FL_MAP_FINDING_COLOUR, "finding", "finding", true);
  fprintf(out, "<text x=\"4\" y=\"11\" font-weight=\"bold\">chunks</text>"
               "<text x=\"4\" y=\"33\" font-weight=\"bold\">pages</text>\n");
}

/* ---- bands ------------------------------------------------------------------- */

static void row_addresses(FILE *out, const fl_map_band_t *b) {
  for (unsigned r = 0; r < b->rows; r++) {
    uintptr_t a = b->start + r * b->row_bytes;
    uint64_t len = b->end - a < b->row_bytes ? b->end - a : b->row_bytes;
    unsigned y = b->y + r * FL_MAP_PITCH_PX;
    fprintf(out, "<text class=\"addr\" x=\"%u\" y=\"%u\" text-anchor=\"end\">%#lx</text>", FL_MAP_LEFT_PX - 6,
            y + FL_MAP_PITCH_PX - 3, (unsigned long)a);
    fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%.2f\" height=\"%u\" fill=\"%s\"/>", FL_MAP_LEFT_PX, y,
            (double)len * FL_MAP_ROW_PX / (double)b->row_bytes, FL_MAP_STRIP_PX, pte_colour[0]);
    fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%.2f\" height=\"%u\" fill=\"%s\"/>\n", FL_MAP_LEFT_PX,
            y + FL_MAP_STRIP_PX, (double)len * FL_MAP_ROW_PX / (double)b->row_bytes, FL_MAP_BAR_PX, ROW_BG);
  }
}

void fl_map_svg_bands(FILE *out, const fl_map_layout_t *l) {
  for (size_t i = 0; i < l->nbands; i++) {
    const fl_map_band_t *b = &l->bands[i];
    fprintf(out, "<g data-band=\"%s\">", b->kind == FL_MAP_BAND_ROWS      ? "rows"
                                         : b->kind == FL_MAP_BAND_RESERVE ? "reserve"
                                                                          : "hole");
    if (b->kind == FL_MAP_BAND_HOLE) {
      fprintf(out, "<line x1=\"%u\" x2=\"%u\" y1=\"%u\" y2=\"%u\" stroke=\"#999\" stroke-dasharray=\"6 4\"/>",
              FL_MAP_LEFT_PX, FL_MAP_LEFT_PX + FL_MAP_ROW_PX, b->y + 9, b->y + 9);
      fprintf(out, "<text x=\"%u\" y=\"%u\" text-anchor=\"middle\" class=\"hole\">&#8942; ",
              FL_MAP_LEFT_PX + FL_MAP_ROW_PX / 2, b->y + 13);
    } else if (b->kind == FL_MAP_BAND_RESERVE) {
      fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"14\" fill=\"#ffffff\" stroke=\"#999\" "
                   "stroke-dasharray=\"2 2\"/><text x=\"%u\" y=\"%u\">",
              FL_MAP_LEFT_PX, b->y + 2, FL_MAP_ROW_PX, FL_MAP_LEFT_PX + 6, b->y + 13);
    } else {
      row_addresses(out, b);
      fprintf(out, "<text x=\"%u\" y=\"%u\" class=\"title\">", FL_MAP_LEFT_PX, b->y - 5);
    }
    xml_text(out, b->title);
    fputs("</text></g>\n", out);
  }
}

/* ---- chunks and pages -------------------------------------------------------- */

/* The band holding addr (bands are in address order), or NULL. */
static const fl_map_band_t *band_at(const fl_map_layout_t *l, uintptr_t addr) {
  size_t lo = 0, hi = l->nbands;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (l->bands[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo < l->nbands && l->bands[lo].start <= addr && l->bands[lo].kind == FL_MAP_BAND_ROWS ? &l->bands[lo]
                                                                                              : NULL;
}

/* [a, a + len) as rects, one per row it crosses, dy..dy+h within a row,
 * each with the attributes attrs (fill="#..."); a chunk's last rect leaves
 * a pixel (gap) so that neighbours stay apart. */
static void draw_span(FILE *out, const fl_map_band_t *b, uintptr_t a, uint64_t len, unsigned dy, unsigned h,
                      const char *attrs, bool gap) {
  uintptr_t lo = a < b->start ? b->start : a, hi = a + len > b->end ? b->end : a + len;
  while (lo < hi) {
    uint64_t row = (lo - b->start) / b->row_bytes;
    uintptr_t row_lo = b->start + row * b->row_bytes, e = hi < row_lo + b->row_bytes ? hi : row_lo + b->row_bytes;
    double x0 = (double)(lo - row_lo) * FL_MAP_ROW_PX / (double)b->row_bytes;
    double w = (double)(e - lo) * FL_MAP_ROW_PX / (double)b->row_bytes;
    if (gap && e == a + len && w > 2) w -= 1;
    fprintf(out, "<rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" %s/>", FL_MAP_LEFT_PX + x0,
            b->y + (unsigned)row * FL_MAP_PITCH_PX + dy, w < 1 ? 1 : w, h, attrs);
    lo = e;
  }
}

static const char *fill(const char *colour) {
  static char buf[32];
  snprintf(buf, sizeof buf, "fill=\"%s\"", colour);
  return buf;
}

static void draw_chunks(FILE *out, const fl_map_t *m, const fl_map_layout_t *l) {
  for (size_t i = 0; i < m->npicked_chunks; i++) {
    const fl_map_chunk_t *c = &m->picked_chunks[i];
    const fl_map_band_t *b = band_at(l, c->addr);
    if (!b) continue;
    fprintf(out, "<g data-state=\"%s\" data-addr=\"%#lx\" data-size=\"%llu\"><title>%#lx %s, %llu bytes</title>",
            fl_chunk_state_name(c->state), (unsigned long)c->addr, (unsigned long long)c->size,
            (unsigned long)c->addr, state_label[c->state], (unsigned long long)c->size);
    draw_span(out, b, c->addr, c->size, FL_MAP_STRIP_PX, FL_MAP_BAR_PX, fill(state_colour[c->state]), true);
    fputs("</g>\n", out);
  }
  for (size_t i = 0; i < m->npicked_pages; i++) {
    const fl_map_pages_t *p = &m->picked_pages[i];
    for (uintptr_t a = p->page; a < p->page + p->n * 4096;) {
      const fl_map_band_t *b = band_at(l, a);
      if (!b) break;
      uintptr_t end = p->page + p->n * 4096 < b->end ? p->page + p->n * 4096 : b->end;
      draw_span(out, b, a, end - a, 0, FL_MAP_STRIP_PX, fill(pte_colour[p->new_ & 3]), false);
      a = end;
    }
  }
}

/* ---- RSS over the frames ----------------------------------------------------- */
#define RSS_H 90u
#define RSS_TOP 14u

static uint64_t max_rss(const fl_map_t *m) {
  uint64_t mx = 1;
  for (size_t i = 0; i < m->nframes; i++)
    if (m->frames[i].rss_pages > mx) mx = m->frames[i].rss_pages;
  return mx;
}

static double frame_x(const fl_map_t *m, size_t i) {
  return FL_MAP_LEFT_PX + (m->nframes > 1 ? (double)i * FL_MAP_ROW_PX / (double)(m->nframes - 1) : 0);
}

void fl_map_svg_rss(FILE *out, const fl_map_t *m, size_t at) {
  uint64_t mx = max_rss(m);
  fprintf(out, "<text x=\"4\" y=\"%u\" font-weight=\"bold\">RSS</text>", RSS_TOP + 10);
  fprintf(out, "<text x=\"%u\" y=\"%u\" text-anchor=\"end\">%llu KiB</text>", FL_MAP_LEFT_PX - 6, RSS_TOP + 10,
          (unsigned long long)mx * 4);
  fprintf(out, "<text x=\"%u\" y=\"%u\" text-anchor=\"end\">0</text>", FL_MAP_LEFT_PX - 6, RSS_TOP + RSS_H);
  fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
          FL_MAP_LEFT_PX, RSS_TOP, FL_MAP_ROW_PX, RSS_H);
  for (size_t i = 0; i < m->nfindings; i++)
    fprintf(out, "<line class=\"finding-mark\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%u\" y2=\"%u\" stroke=\"%s\"/>",
            frame_x(m, m->findings[i].frame), frame_x(m, m->findings[i].frame), RSS_TOP, RSS_TOP + RSS_H,
            FL_MAP_FINDING_COLOUR);
  fputs("<polyline fill=\"none\" stroke=\"#1a1a1a\" stroke-width=\"1.5\" points=\"", out);
  for (size_t i = 0; i < m->nframes; i++)
    fprintf(out, "%.1f,%.1f ", frame_x(m, i),
            RSS_TOP + RSS_H - (double)m->frames[i].rss_pages * (RSS_H - 2) / (double)mx);
  fputs("\"/>\n", out);
  fprintf(out, "<line id=\"rss-cursor\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%u\" y2=\"%u\" stroke=\"#4c78a8\" "
               "stroke-width=\"2\"/>",
          frame_x(m, at), frame_x(m, at), RSS_TOP - 4, RSS_TOP + RSS_H + 4);
  fprintf(out, "<text x=\"%u\" y=\"%u\">op 0</text><text x=\"%u\" y=\"%u\" text-anchor=\"end\">op %zu</text>\n",
          FL_MAP_LEFT_PX, RSS_TOP + RSS_H + 14, FL_MAP_LEFT_PX + FL_MAP_ROW_PX, RSS_TOP + RSS_H + 14, m->ops);
}

/* ---- the whole picture ------------------------------------------------------- */

static const fl_map_finding_t *finding_at(const fl_map_t *m, size_t frame) {
  for (size_t i = 0; i < m->nfindings; i++)
    if (m->findings[i].frame == frame) return &m->findings[i];
  return NULL;
}

/* A red frame around the chunk a finding names (or its row, if no chunk
 * holds the address). */
static void draw_finding(FILE *out, const fl_map_t *m, const fl_map_layout_t *l, const fl_map_finding_t *f) {
  const fl_map_band_t *b = f->addr ? band_at(l, f->addr) : NULL;
  if (!b) return;
  uintptr_t a = f->addr;
  uint64_t len = b->row_bytes / 64;
  for (size_t i = 0; i < m->npicked_chunks; i++)
    if (m->picked_chunks[i].addr <= a && a - m->picked_chunks[i].addr < m->picked_chunks[i].size)
      a = m->picked_chunks[i].addr, len = m->picked_chunks[i].size;
  fputs("<g class=\"finding\">", out);
  draw_span(out, b, a, len, 1, FL_MAP_PITCH_PX - 2,
            "fill=\"none\" stroke=\"" FL_MAP_FINDING_COLOUR "\" stroke-width=\"3\"", false);
  fputs("</g>\n", out);
}

/* "after 12 of 59 ops: free #12", the line under a picture's title. */
static void frame_caption(FILE *out, const fl_map_t *m, size_t frame) {
  const fl_map_frame_t *fr = &m->frames[frame];
  if (!frame) {
    fprintf(out, "before the first of %zu ops", m->ops);
    return;
  }
  fprintf(out, "after %zu of %zu ops: ", fr->last_op + 1, m->ops);
  xml_text(out, fl_map_frame_text(m, frame));
}

#define SVG_LEGEND_Y 44u
#define SVG_RSS_Y 88u
#define SVG_HEAP_Y 226u

fl_status_t fl_map_write_svg(const fl_map_t *m, FILE *out) {
  const fl_map_layout_t *l = &m->layouts[m->frames[m->picked].layout];
  const fl_map_finding_t *f = finding_at(m, m->picked);
  unsigned heap_y = SVG_HEAP_Y + (f ? 22 : 0);
  fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" font-family=\"monospace\" "
               "font-size=\"11\" shape-rendering=\"crispEdges\">\n<rect width=\"100%%\" height=\"100%%\" "
               "fill=\"#ffffff\"/>\n<text x=\"4\" y=\"16\" font-size=\"14\" font-weight=\"bold\">faultline map ",
          FL_MAP_WIDTH_PX, heap_y + l->height + 10);
  xml_text(out, m->script);
  fputs("</text>\n<text x=\"4\" y=\"34\">", out);
  frame_caption(out, m, m->picked);
  fprintf(out, "</text>\n<g transform=\"translate(0,%u)\">\n", SVG_LEGEND_Y);
  fl_map_svg_legend(out);
  fprintf(out, "</g>\n<g transform=\"translate(0,%u)\">\n", SVG_RSS_Y);
  fl_map_svg_rss(out, m, m->picked);
  fputs("</g>\n", out);
  if (f) {
    fprintf(out, "<text x=\"4\" y=\"%u\" fill=\"%s\" font-weight=\"bold\">", SVG_HEAP_Y + 4, FL_MAP_FINDING_COLOUR);
    xml_text(out, f->text);
    fputs("</text>\n", out);
  }
  fprintf(out, "<g transform=\"translate(0,%u)\">\n", heap_y);
  fl_map_svg_bands(out, l);
  draw_chunks(out, m, l);
  if (f) draw_finding(out, m, l, f);
  fputs("</g>\n</svg>\n", out);
  return ferror(out) ? fl_error(FL_EENV, "map: writing the picture failed") : FL_OK;
}

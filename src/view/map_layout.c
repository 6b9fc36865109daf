/* map_layout.c — the address space cut into bands, top to bottom.
 *
 * The window spans a TiB, refmalloc's memory a few hundred KiB of it: the
 * holes between VMAs are one line each whatever their size (a piecewise
 * scale), and each readable VMA is drawn linearly, a row per page (or per
 * a power of two of pages when the VMA would need more than
 * FL_MAP_MAX_ROWS rows), so chunks keep their true proportions within it.
 * An arena heap's PROT_NONE reserve (new_heap maps HEAP_MAX_SIZE and
 * opens it with mprotect as the heap grows) is one hatched line. */
#include <stdlib.h>
#include <string.h>

#include "view/map_view.h"

#define PAGE 4096u

/* "132 KiB", "63.9 MiB", "35.2 GiB": sizes a reader takes in at a glance. */
static void human(uint64_t bytes, char *buf, size_t cap) {
  static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes;
  unsigned u = 0;
  while (v >= 1024 && u < 4) v /= 1024, u++;
  if (u == 0 || v >= 100 || v == (double)(uint64_t)v) snprintf(buf, cap, "%.0f %s", v, unit[u]);
  else snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

static uint64_t row_bytes_for(uint64_t len) {
  uint64_t rb = PAGE;
  while (len / rb > FL_MAP_MAX_ROWS) rb *= 2;
  return rb;
}

static fl_map_band_t *push(fl_map_layout_t *l, size_t *cap) {
  if (l->nbands == *cap) {
    size_t n = *cap ? *cap * 2 : 8;
    fl_map_band_t *b = realloc(l->bands, n * sizeof *b);
    if (!b) return NULL;
    l->bands = b;
    *cap = n;
  }
  fl_map_band_t *b = &l->bands[l->nbands++];
  memset(b, 0, sizeof *b);
  return b;
}

static void prot_text(int prot, char out[4]) {
  out[0] = prot & 1 ? 'r' : '-';
  out[1] = prot & 2 ? 'w' : '-';
  out[2] = prot & 4 ? 'x' : '-';
  out[3] = '\0';
}

/* One VMA's band; y is where its title line starts. Returns the next y. */
static unsigned vma_band(fl_map_band_t *b, const fl_snap_vma_t *v, unsigned y) {
  char size[32], rb[32], prot[4];
  uint64_t len = v->vma.end - v->vma.start;
  human(len, size, sizeof size);
  prot_text(v->vma.prot, prot);
  b->start = v->vma.start;
  b->end = v->vma.end;
  if (!(v->vma.prot & 1)) {
    b->kind = FL_MAP_BAND_RESERVE;
    b->y = y;
    snprintf(b->title, sizeof b->title, "%s %s %s, no access (reserved)", v->label ? v->label : "", prot,
             size);
    return y + FL_MAP_LINE_PX;
  }
  b->kind = FL_MAP_BAND_ROWS;
  b->row_bytes = row_bytes_for(len);
  b->rows = (unsigned)((len + b->row_bytes - 1) / b->row_bytes);
  b->y = y + FL_MAP_LINE_PX;
  human(b->row_bytes, rb, sizeof rb);
  snprintf(b->title, sizeof b->title, "%s %#lx-%#lx %s %s, a row is %s", v->label ? v->label : "",
           (unsigned long)b->start, (unsigned long)b->end, prot, size, rb);
  return b->y + b->rows * FL_MAP_PITCH_PX + 4;
}

fl_status_t fl_map_layout_build(const fl_snap_vma_t *vmas, size_t n, fl_map_layout_t *out) {
  memset(out, 0, sizeof *out);
  size_t cap = 0;
  unsigned y = 0;
  for (size_t i = 0; i < n; i++) {
    if (i && vmas[i].vma.start > vmas[i - 1].vma.end) {
      fl_map_band_t *h = push(out, &cap);
      if (!h) return fl_error(FL_EENV, "map: out of memory for the layout");
      char size[32];
      human(vmas[i].vma.start - vmas[i - 1].vma.end, size, sizeof size);
      *h = (fl_map_band_t){.kind = FL_MAP_BAND_HOLE, .start = vmas[i - 1].vma.end,
                           .end = vmas[i].vma.start, .y = y};
      snprintf(h->title, sizeof h->title, "%s not mapped", size);
      y += FL_MAP_LINE_PX;
    }
    fl_map_band_t *b = push(out, &cap);
    if (!b) return fl_error(FL_EENV, "map: out of memory for the layout");
    y = vma_band(b, &vmas[i], y);
  }
  out->height = y;
  return FL_OK;
}

void fl_map_layout_free(fl_map_layout_t *l) {
  free(l->bands);
  memset(l, 0, sizeof *l);
}

bool fl_map_layout_same(const fl_map_layout_t *a, const fl_map_layout_t *b) {
  if (a->nbands != b->nbands) return false;
  for (size_t i = 0; i < a->nbands; i++) {
    const fl_map_band_t *x = &a->bands[i], *y = &b->bands[i];
    if (x->kind != y->kind || x->start != y->start || x->end != y->end || x->row_bytes != y->row_bytes ||
        x->y != y->y || strcmp(x->title, y->title))
      return false;
  }
  return true;
}

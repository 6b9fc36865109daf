#include "vm/pt.h"

#include <stdlib.h>

int fl_pt_init(fl_pt_t *pt, uintptr_t base, size_t size) {
  pt->base = base;
  pt->nleaves = (size >> 12) / FL_PT_LEAF_PAGES + 1;
  pt->leaves = calloc(pt->nleaves, sizeof *pt->leaves);
  return pt->leaves ? 0 : -1;
}

void fl_pt_destroy(fl_pt_t *pt) {
  if (!pt->leaves) return;
  for (size_t i = 0; i < pt->nleaves; i++) free(pt->leaves[i]);
  free(pt->leaves);
  pt->leaves = NULL;
}

int fl_pt_set(fl_pt_t *pt, uintptr_t addr, uint8_t e) {
  size_t pg = (addr - pt->base) >> 12;
  fl_pt_leaf_t **slot = &pt->leaves[pg / FL_PT_LEAF_PAGES];
  if (!*slot) {
    if (!e) return 0;
    *slot = calloc(1, sizeof **slot);
    if (!*slot) return -1;
  }
  uint8_t *p = &(*slot)->e[pg % FL_PT_LEAF_PAGES];
  uint8_t old = *p;
  (*slot)->used += (e != 0) - (old != 0);
  *p = e;
  if (!(*slot)->used) {
    free(*slot);
    *slot = NULL;
  }
  return old;
}

void fl_pt_visit(fl_pt_t *pt, uintptr_t lo, uintptr_t hi, fl_pt_visit_fn fn, void *ctx) {
  const uintptr_t leaf_bytes = (uintptr_t)FL_PT_LEAF_PAGES << 12;
  uintptr_t a = lo;
  while (a < hi) {
    size_t pg = (a - pt->base) >> 12;
    uintptr_t leaf_end = pt->base + (pg / FL_PT_LEAF_PAGES + 1) * leaf_bytes;
    if (leaf_end > hi) leaf_end = hi;
    for (; a < leaf_end; a += 4096) {
      /* Re-read the leaf each time: fn may free it by clearing its last entry. */
      fl_pt_leaf_t *l = pt->leaves[((a - pt->base) >> 12) / FL_PT_LEAF_PAGES];
      if (!l) {
        a = leaf_end;
        break;
      }
      uint8_t e = l->e[((a - pt->base) >> 12) % FL_PT_LEAF_PAGES];
      if (e) fn(ctx, a, e);
    }
  }
}

#include "vm/pt.h"

#include <stdlib.h>

int fl_pt_init(fl_pt_t *pt, uintptr_t base, size_t size) {
  pt->base = base;
  pt->nleaves = (size >> 12) / FL_PT_LEAF_PAGES + 1;
  pt->leaves = calloc(pt->nleaves, sizeof *pt->leaves);
  pt->has = calloc(pt->nleaves / 64 + 1, sizeof *pt->has);
  if (pt->leaves && pt->has) return 0;
  free(pt->leaves);
  free(pt->has);
  pt->leaves = NULL;
  pt->has = NULL;
  return -1;
}

/* The first allocated leaf at index >= i, or nleaves if none. */
static size_t next_leaf(const fl_pt_t *pt, size_t i) {
  size_t w = i / 64;
  if (w > pt->nleaves / 64) return pt->nleaves;
  uint64_t bits = pt->has[w] & (~(uint64_t)0 << (i % 64));
  while (!bits) {
    if (++w > pt->nleaves / 64) return pt->nleaves;
    bits = pt->has[w];
  }
  size_t at = w * 64 + (size_t)__builtin_ctzll(bits);
  return at < pt->nleaves ? at : pt->nleaves;
}

void fl_pt_destroy(fl_pt_t *pt) {
  if (!pt->leaves) return;
  /* the allocated leaves only: a model is opened and closed per fuzz input */
  for (size_t i = next_leaf(pt, 0); i < pt->nleaves; i = next_leaf(pt, i + 1)) free(pt->leaves[i]);
  free(pt->leaves);
  free(pt->has);
  pt->leaves = NULL;
  pt->has = NULL;
}

int fl_pt_set(fl_pt_t *pt, uintptr_t addr, uint8_t e) {
  size_t pg = (addr - pt->base) >> 12;
  size_t leaf = pg / FL_PT_LEAF_PAGES;
  fl_pt_leaf_t **slot = &pt->leaves[leaf];
  if (!*slot) {
    if (!e) return 0;
    *slot = calloc(1, sizeof **slot);
    if (!*slot) return -1;
    pt->has[leaf / 64] |= (uint64_t)1 << (leaf % 64);
  }
  uint8_t *p = &(*slot)->e[pg % FL_PT_LEAF_PAGES];
  uint8_t old = *p;
  (*slot)->used += (e != 0) - (old != 0);
  *p = e;
  if (!(*slot)->used) {
    free(*slot);
    *slot = NULL;
    pt->has[leaf / 64] &= ~((uint64_t)1 << (leaf % 64));
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
        /* on to the next allocated leaf (not past hi) */
        size_t next = next_leaf(pt, ((a - pt->base) >> 12) / FL_PT_LEAF_PAGES + 1);
        uintptr_t at = pt->base + next * leaf_bytes;
        a = at < hi && next < pt->nleaves ? at : hi;
        break;
      }
      uint8_t e = l->e[((a - pt->base) >> 12) % FL_PT_LEAF_PAGES];
      if (e) fn(ctx, a, e);
    }
  }
}

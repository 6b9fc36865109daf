/* pt.h — the model's page table: one byte per 4 KiB page of the window, in
 * leaves of 512 pages (one PMD's worth), allocated on first use. A leaf
 * keeps a count of its non-empty entries so that zapping a huge, mostly
 * untouched range skips empty leaves. */
#ifndef FL_VM_PT_H
#define FL_VM_PT_H

#include <stddef.h>
#include <stdint.h>

#include "vm/vm.h"

#define FL_PT_LEAF_PAGES 512

/* Entry byte: bits 0-1 the fl_pte_t state; bit 2: in fast mode, the real
 * backing page may hold stale bytes and must be zeroed before the model
 * hands it out fresh. */
#define FL_PT_STATE 0x3u
#define FL_PT_STALE 0x4u

typedef struct fl_pt_leaf {
  uint16_t used;                     /* entries != 0 */
  uint8_t e[FL_PT_LEAF_PAGES];
} fl_pt_leaf_t;

typedef struct fl_pt {
  uintptr_t base;
  size_t nleaves;
  fl_pt_leaf_t **leaves;
  /* One bit per leaf, set while it is allocated: a visit of the whole
   * 1 TiB window (512Ki leaves) skips 64 empty leaves per word read. */
  uint64_t *has;
} fl_pt_t;

int fl_pt_init(fl_pt_t *pt, uintptr_t base, size_t size);
void fl_pt_destroy(fl_pt_t *pt);

static inline uint8_t fl_pt_get(const fl_pt_t *pt, uintptr_t addr) {
  size_t pg = (addr - pt->base) >> 12;
  const fl_pt_leaf_t *l = pt->leaves[pg / FL_PT_LEAF_PAGES];
  return l ? l->e[pg % FL_PT_LEAF_PAGES] : 0;
}

/* Sets the entry byte; returns the previous one. -1 if a leaf cannot be
 * allocated. */
int fl_pt_set(fl_pt_t *pt, uintptr_t addr, uint8_t e);

/* Calls fn for every page of [lo, hi) whose entry is non-zero, in order.
 * fn may change the entry through fl_pt_set. */
typedef void (*fl_pt_visit_fn)(void *ctx, uintptr_t addr, uint8_t e);
void fl_pt_visit(fl_pt_t *pt, uintptr_t lo, uintptr_t hi, fl_pt_visit_fn fn, void *ctx);

#endif

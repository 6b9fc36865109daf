/* vma.h — the model's set of VMAs: an AVL tree ordered by address, with a
 * doubly linked list in address order and, per subtree, the largest gap
 * before any of its VMAs. That augmentation is what the kernel kept in
 * rb_subtree_gap before the maple tree: it makes top-down placement
 * (unmapped_area_topdown) O(log n) even with max_map_count VMAs. */
#ifndef FL_VM_VMA_H
#define FL_VM_VMA_H

#include <stddef.h>
#include <stdint.h>

#include "vm/vm.h"

typedef struct fl_vnode {
  fl_vma_t v;
  struct fl_vnode *left, *right, *parent;
  struct fl_vnode *prev, *next;  /* address order */
  int height;
  uintptr_t gap;                 /* v.start - prev->v.end (or - floor) */
  uintptr_t max_gap;             /* max gap in this subtree */
} fl_vnode_t;

typedef struct fl_vset {
  fl_vnode_t *root, *first, *last;
  size_t count;
  uintptr_t floor;               /* lowest address a gap may start at */
} fl_vset_t;

void fl_vset_init(fl_vset_t *s, uintptr_t floor);
void fl_vset_destroy(fl_vset_t *s);
/* Inserts a copy of v (which must not overlap any VMA); NULL on ENOMEM. */
fl_vnode_t *fl_vset_insert(fl_vset_t *s, const fl_vma_t *v);
void fl_vset_remove(fl_vset_t *s, fl_vnode_t *n);
/* Changes n's range in place; the caller keeps the order and non-overlap. */
void fl_vset_resize(fl_vset_t *s, fl_vnode_t *n, uintptr_t start, uintptr_t end);
/* The first VMA with end > addr (find_vma), or NULL. */
fl_vnode_t *fl_vset_find(const fl_vset_t *s, uintptr_t addr);
/* The highest gap [g, g + len) inside [lo, hi) with g + len <= the start of
 * the VMA above it, searching top-down; returns the gap's end (the start of
 * the VMA above, or hi), or 0 if none. Only the gap's size is checked
 * against len: callers position inside it (alignment). */
uintptr_t fl_vset_gap_topdown(const fl_vset_t *s, size_t len, uintptr_t lo, uintptr_t hi);

#endif

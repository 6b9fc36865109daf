#include "vm/vma.h"

#include <stdlib.h>
#include "util/mutant.h"

static int height(const fl_vnode_t *n) { return n ? n->height : 0; }
static uintptr_t maxgap(const fl_vnode_t *n) { return n ? n->max_gap : 0; }
static uintptr_t umax(uintptr_t a, uintptr_t b) { return a > b ? a : b; }

static void update(fl_vnode_t *n) {
  int hl = height(n->left), hr = height(n->right);
  n->height = 1 + (hl > hr ? hl : hr);
  n->max_gap = umax(n->gap, umax(maxgap(n->left), maxgap(n->right)));
}

/* Recomputes the augmentation from n up to the root. */
static void propagate(fl_vnode_t *n) {
  for (; n; n = n->parent) update(n);
}

static void set_gap(fl_vset_t *s, fl_vnode_t *n) {
  if (!n) return;
  n->gap = n->v.start - (n->prev ? n->prev->v.end : s->floor);
  propagate(n);
}

static void replace_child(fl_vset_t *s, fl_vnode_t *parent, fl_vnode_t *old, fl_vnode_t *new) {
  if (!parent) s->root = new;
  else if (parent->left == old) parent->left = new;
  else parent->right = new;
  if (new) new->parent = parent;
}

static fl_vnode_t *rotate_left(fl_vset_t *s, fl_vnode_t *x) {
  fl_vnode_t *y = x->right;
  replace_child(s, x->parent, x, y);
  x->right = y->left;
  if (y->left) y->left->parent = x;
  y->left = x;
  x->parent = y;
  update(x);
  update(y);
  return y;
}

static fl_vnode_t *rotate_right(fl_vset_t *s, fl_vnode_t *x) {
  fl_vnode_t *y = x->left;
  replace_child(s, x->parent, x, y);
  x->left = y->right;
  if (y->right) y->right->parent = x;
  y->right = x;
  x->parent = y;
  update(x);
  update(y);
  return y;
}

/* Restores the AVL balance and the augmentation from n up to the root. */
static void rebalance(fl_vset_t *s, fl_vnode_t *n) {
  while (n) {
    update(n);
    int bal = height(n->left) - height(n->right);
    if (bal > 1) {
      if (height(n->left->left) < height(n->left->right)) rotate_left(s, n->left);
      n = rotate_right(s, n);
    } else if (bal < -1) {
      if (height(n->right->right) < height(n->right->left)) rotate_right(s, n->right);
      n = rotate_left(s, n);
    }
    n = n->parent;
  }
}

void fl_vset_init(fl_vset_t *s, uintptr_t floor) {
  s->root = s->first = s->last = NULL;
  s->count = 0;
  s->floor = floor;
}

void fl_vset_destroy(fl_vset_t *s) {
  fl_vnode_t *n = s->first;
  while (n) {
    fl_vnode_t *next = n->next;
    free(n);
    n = next;
  }
  fl_vset_init(s, s->floor);
}

fl_vnode_t *fl_vset_find(const fl_vset_t *s, uintptr_t addr) {
  fl_vnode_t *n = s->root, *best = NULL;
  while (n) {
    if (FL_MUT(44, n->v.end > addr, n->v.end >= addr)) {
      best = n;
      if (n->v.start <= addr) break;
      n = n->left;
    } else {
      n = n->right;
    }
  }
  return best;
}

fl_vnode_t *fl_vset_insert(fl_vset_t *s, const fl_vma_t *v) {
  fl_vnode_t *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->v = *v;
  n->height = 1;
  fl_vnode_t *p = NULL, **link = &s->root, *pred = NULL;
  while (*link) {
    p = *link;
    if (v->start < p->v.start) {
      link = &p->left;
    } else {
      pred = p;
      link = &p->right;
    }
  }
  *link = n;
  n->parent = p;
  n->prev = pred;
  n->next = pred ? pred->next : s->first;
  if (n->prev) n->prev->next = n;
  else s->first = n;
  if (n->next) n->next->prev = n;
  else s->last = n;
  s->count++;
  n->gap = n->v.start - (n->prev ? n->prev->v.end : s->floor);
  rebalance(s, n);
  set_gap(s, n->next);
  return n;
}

void fl_vset_remove(fl_vset_t *s, fl_vnode_t *n) {
  fl_vnode_t *next = n->next, *start;
  if (n->prev) n->prev->next = n->next;
  else s->first = n->next;
  if (n->next) n->next->prev = n->prev;
  else s->last = n->prev;
  if (n->left && n->right) {
    /* Swap in the in-order successor (next), which has no left child. */
    fl_vnode_t *y = next;
    start = y->parent == n ? y : y->parent;
    if (y->parent != n) {
      replace_child(s, y->parent, y, y->right);
      y->right = n->right;
      y->right->parent = y;
    }
    replace_child(s, n->parent, n, y);
    y->left = n->left;
    y->left->parent = y;
  } else {
    fl_vnode_t *child = n->left ? n->left : n->right;
    start = n->parent;
    replace_child(s, n->parent, n, child);
  }
  FL_MUT_SKIP(43) s->count--;
  free(n);
  rebalance(s, start);
  set_gap(s, next);
}

void fl_vset_resize(fl_vset_t *s, fl_vnode_t *n, uintptr_t start, uintptr_t end) {
  n->v.start = start;
  n->v.end = end;
  set_gap(s, n);
  set_gap(s, n->next);
}

uintptr_t fl_vset_gap_topdown(const fl_vset_t *s, size_t len, uintptr_t lo, uintptr_t hi) {
  uintptr_t top_start = s->last ? s->last->v.end : s->floor;
  if (top_start < lo) top_start = lo;
  if (hi > top_start && hi - top_start >= len) return hi;
  fl_vnode_t *n = s->root;
  while (n && n->max_gap >= len) {
    if (maxgap(n->right) >= len) {
      n = n->right;
    } else if (n->gap >= len) {
      uintptr_t gstart = n->v.start - n->gap;
      if (gstart < lo && n->v.start - lo < len) return 0;
      return n->v.start;
    } else {
      n = n->left;
    }
  }
  return 0;
}

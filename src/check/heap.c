/* heap.c — BIN-*: refmalloc's metadata as glibc 2.36 keeps it.
 *
 * One full walk (fl_chk_heap) first collects every list a chunk can be on
 * (tcache, fastbins, unsorted/small/large bins), then walks each heap from
 * its first chunk to top, and judges each chunk by where the lists and the
 * checker's record of live chunks say it should be. Each corruption is
 * reported once, under the invariant that names its cause: a list that
 * breaks is finished from its other end so that the chunks behind the
 * break are not also reported as unlisted. Model memory is read with
 * fl_vm_peek only. */
#include <stdlib.h>
#include <string.h>

#include "check/internal.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uintptr_t)(a) - 1))

/* ------------------------------------------------------- membership hash */

static size_t mb_hash(uintptr_t p) { return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ULL >> 7); }

static bool mb_grow(ck_mbset_t *s) {
  size_t cap = s->cap ? s->cap * 2 : 4096;
  ck_mb_t *t = calloc(cap, sizeof *t);
  if (!t) return false;
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->t[i].p) continue;
    size_t j = mb_hash(s->t[i].p) & (cap - 1);
    while (t[j].p) j = (j + 1) & (cap - 1);
    t[j] = s->t[i];
  }
  free(s->t);
  s->t = t;
  s->cap = cap;
  return true;
}

ck_mb_t *ck_mb_get(ck_mbset_t *s, uintptr_t p, bool create) {
  if (create && (s->n + 1) * 2 > s->cap && !mb_grow(s)) return NULL;
  if (!s->cap) return NULL;
  size_t m = s->cap - 1, i = mb_hash(p) & m;
  while (s->t[i].p) {
    if (s->t[i].p == p) return &s->t[i];
    i = (i + 1) & m;
  }
  if (!create) return NULL;
  memset(&s->t[i], 0, sizeof s->t[i]);
  s->t[i].p = p;
  s->n++;
  return &s->t[i];
}

/* Level 2 resets mb_small after every op: it starts at 64 entries (a
 * tcache bin holds 7 by default) so that the reset stays cheap. */
static bool mb_reserve(ck_mbset_t *s, size_t cap) {
  if (s->cap) return true;
  s->t = calloc(cap, sizeof *s->t);
  s->cap = s->t ? cap : 0;
  return s->t != NULL;
}

static void mb_reset(ck_mbset_t *s) {
  if (s->t) memset(s->t, 0, s->cap * sizeof *s->t);
  s->n = 0;
}

/* --------------------------------------------------------------- segments */

static bool push_seg(fl_check_t *c, const ck_seg_t *s) {
  if (c->nsegs == c->capsegs) {
    size_t cap = c->capsegs ? c->capsegs * 2 : 16;
    ck_seg_t *n = realloc(c->segs, cap * sizeof *n);
    if (!n) return false;
    c->segs = n;
    c->capsegs = cap;
  }
  c->segs[c->nsegs++] = *s;
  return true;
}

/* The main arena's memory: [sbrk_base, __curbrk) while it is contiguous
 * (sysmalloc's brk path); its first chunk is sbrk_base's first aligned
 * chunk. A non-main arena: its heaps (heap_info chain, newest first); the
 * first heap's chunks start after heap_info and the malloc_state
 * (_int_new_arena), later heaps' right after heap_info (sysmalloc). */
bool ck_segments(fl_check_t *c) {
  c->nsegs = 0;
  bool complete = true;
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  size_t na = fl_rm_arena_count(c->rm);
  for (size_t i = 0; i < na; i++) {
    fl_rm_arena_info_t a;
    if (!fl_rm_arena(c->rm, i, &a)) continue;
    if (a.is_main) {
      if (!a.top || a.top == fl_rm_bin_at(c->rm, i, 1)) continue; /* never used */
      if (!a.contiguous || !mp.sbrk_base || !mp.curbrk) {
        complete = false;
        continue;
      }
      ck_seg_t s = {.arena = (int)i, .heap = 0, .lo = ALIGN_UP(mp.sbrk_base + 16, 16) - 16,
                    .hi = mp.curbrk, .has_top = true};
      push_seg(c, &s);
      continue;
    }
    uintptr_t h = a.heap;
    for (int n = 0; h && n < 4096; n++) {
      uint64_t size = ck_word(c, h + 16);
      uintptr_t lo = a.addr == h + CK_HEAP_INFO ? ALIGN_UP(a.addr + CK_MS_SIZE + 16, 16) - 16
                                                : h + CK_HEAP_INFO;
      ck_seg_t s = {.arena = (int)i, .heap = h, .lo = lo, .hi = h + size, .has_top = n == 0};
      push_seg(c, &s);
      h = ck_word(c, h + 8);
    }
  }
  c->walk_complete = complete;
  return complete;
}

static bool in_heaps(fl_check_t *c, uintptr_t p) {
  for (size_t i = 0; i < c->nsegs; i++)
    if (p >= c->segs[i].lo && p < c->segs[i].hi) return true;
  if (!c->walk_complete) {
    fl_vma_t v;
    return fl_vm_find(c->vm, p, &v) && v.start <= p && (v.prot & 3) == 3;
  }
  return false;
}

/* ------------------------------------------------------------------ lists */

static ck_mb_t *add_member(fl_check_t *c, uintptr_t p, int kind, int arena, unsigned bin,
                           const char *list) {
  ck_mb_t *m = ck_mb_get(&c->mb, p, true);
  if (!m) return NULL;
  if (m->lists) {
    ck_fail(c, "BIN-ONE-LIST", p, CK_DRAW_CHUNKS, ck_str("chunk on one list"),
            ck_str("on %s and again on %s bin %u", m->kind == MB_TCACHE ? "a tcache bin"
                                                   : m->kind == MB_FAST ? "a fastbin" : "a bin",
                   list, bin));
    m->lists++;
    return NULL;
  }
  m->kind = (uint8_t)kind;
  m->lists = 1;
  m->arena = (uint8_t)arena;
  m->bin = (uint16_t)bin;
  return m;
}

/* A listed chunk that is a mapped chunk: glibc never bins those. */
bool ck_tcache_mapping(fl_check_t *c, unsigned tid, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t tc = fl_rm_tcache_addr(c->rm, tid);
  if (!tc) return false;
  uintptr_t p = tc - 16;
  uint64_t ps = ck_word(c, p), f = ck_word(c, p + 8);
  if (!(f & CK_MMAPPED)) return false;
  *lo = p - ps;
  *hi = p + (f & ~CK_SIZE_BITS);
  return true;
}

static bool listed_mapped(fl_check_t *c, uintptr_t p, const char *list) {
  uint64_t f = ck_word(c, p + 8);
  if (!(f & CK_MMAPPED)) return false;
  ck_fail(c, "BIN-MMAP-UNLISTED", p, CK_DRAW_CHUNKS, ck_str("no IS_MMAPPED chunk on any list"),
          ck_str("chunk %#lx (size field %#lx) on %s", (unsigned long)p, (unsigned long)f, list));
  return true;
}

static size_t tcidx(uint64_t sz) { return sz < CK_MINSIZE ? 9999 : (sz - CK_MINSIZE + 15) / 16; }

/* tcache_get / tcache_put: counts, keys, safe-linked next pointers. */
static int tcache_bin(fl_check_t *c, unsigned tid, uintptr_t tc, unsigned i, uint16_t count,
                      uintptr_t head, const fl_rm_params_t *mp) {
  size_t n = 0;
  uintptr_t e = head, from = tc + 128 + 8 * i;
  while (e) {
    if (!(e & 15) && listed_mapped(c, e - 16, "a tcache bin")) {
      n++;
      break;
    }
    if ((e & 15) || !in_heaps(c, e - 16)) {
      ck_fail(c, "BIN-SAFE-LINK", from, CK_DRAW_CHUNKS, ck_str("an aligned chunk in a heap"),
              ck_str("tcache bin %u (thread %u) entry decodes to %#lx", i, tid, (unsigned long)e));
      break;
    }
    if (!add_member(c, e - 16, MB_TCACHE, 0, i, "tcache")) break;
    if (ck_word(c, e + 8) != mp->tcache_key)
      ck_fail(c, "BIN-TCACHE-KEY", e - 16, CK_DRAW_CHUNKS, ck_str("key %#lx", (unsigned long)mp->tcache_key),
              ck_str("key %#lx", (unsigned long)ck_word(c, e + 8)));
    uint64_t sz = ck_word(c, e - 8) & ~CK_SIZE_BITS;
    if (tcidx(sz) != i)
      ck_fail(c, "BIN-TCACHE-CLASS", e - 16, CK_DRAW_CHUNKS, ck_str("size of tcache bin %u (%#lx)", i, (unsigned long)(32 + 16 * i)),
              ck_str("size %#lx", (unsigned long)sz));
    n++;
    from = e;
    e = fl_rm_reveal(e, ck_word(c, e));
  }
  if (n != count || count > mp->tcache_count)
    ck_fail(c, "BIN-TCACHE-COUNT", tc, CK_DRAW_NONE,
            ck_str("counts[%u] = list length %zu, <= tcache_count %zu", i, n, mp->tcache_count),
            ck_str("counts[%u] = %u (thread %u)", i, count, tid));
  return 0;
}

static void tcaches(fl_check_t *c, const fl_rm_params_t *mp, int only_bin) {
  unsigned nt = fl_rm_thread_count(c->rm);
  for (unsigned tid = 0; tid < nt; tid++) {
    uintptr_t tc = fl_rm_tcache_addr(c->rm, tid);
    if (!tc) continue;
    uintptr_t mlo, mhi; /* an mmapped struct is no heap chunk (ck_tcache_mapping) */
    if (only_bin < 0 && !ck_tcache_mapping(c, tid, &mlo, &mhi)) {
      ck_mb_t *m = ck_mb_get(&c->mb, tc - 16, true);
      if (m && !m->lists) {
        m->kind = MB_TCSTRUCT;
        m->lists = 1;
      }
    }
    uint16_t counts[64];
    uint64_t entries[64];
    fl_vm_peek(c->vm, tc, counts, sizeof counts);
    fl_vm_peek(c->vm, tc + 128, entries, sizeof entries);
    for (unsigned i = 0; i < 64 && i < mp->tcache_bins; i++) {
      if (only_bin >= 0 && i != (unsigned)only_bin) continue;
      tcache_bin(c, tid, tc, i, counts[i], entries[i], mp);
    }
  }
}

int ck_tcache_bin(fl_check_t *c, unsigned idx) {
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  /* a small table of its own: clearing the walk's would cost O(heap) */
  ck_mbset_t walk = c->mb;
  if (!mb_reserve(&c->mb_small, 64)) return 0;
  c->mb = c->mb_small;
  mb_reset(&c->mb);
  /* the heaps as they are now: brk and grow_heap move their ends between
   * walks (O(heaps), cheap beside the bin) */
  ck_segments(c);
  tcaches(c, &mp, (int)idx);
  c->mb_small = c->mb;
  c->mb = walk;
  return 0;
}

static void fastbins(fl_check_t *c, int arena, const fl_rm_arena_info_t *a) {
  for (unsigned k = 0; k < 10; k++) {
    uintptr_t p = a->fastbins[k], from = a->addr + 16 + 8 * k;
    while (p) {
      if (!(p & 15) && listed_mapped(c, p, "a fastbin")) break;
      if ((p & 15) || !in_heaps(c, p)) {
        ck_fail(c, "BIN-SAFE-LINK", from, CK_DRAW_CHUNKS, ck_str("an aligned chunk in a heap"),
                ck_str("fastbin %u of arena %d links to %#lx", k, arena, (unsigned long)p));
        break;
      }
      if (!add_member(c, p, MB_FAST, arena, k, "fastbin")) break;
      uint64_t sz = ck_word(c, p + 8) & ~CK_SIZE_BITS;
      if (sz < CK_MINSIZE || (sz >> 4) - 2 != k)
        ck_fail(c, "BIN-FAST-CLASS", p, CK_DRAW_CHUNKS, ck_str("size of fastbin %u (%#x)", k, 32 + 16 * k),
                ck_str("size %#lx", (unsigned long)sz));
      from = p + 16;
      p = fl_rm_reveal(p + 16, ck_word(c, p + 16));
    }
  }
}

static unsigned largebin_index(uint64_t s) {
  if ((s >> 6) <= 48) return 48 + (unsigned)(s >> 6);
  if ((s >> 9) <= 20) return 91 + (unsigned)(s >> 9);
  if ((s >> 12) <= 10) return 110 + (unsigned)(s >> 12);
  if ((s >> 15) <= 4) return 119 + (unsigned)(s >> 15);
  if ((s >> 18) <= 2) return 124 + (unsigned)(s >> 18);
  return 126;
}

static void size_class(fl_check_t *c, unsigned i, uintptr_t p, uint64_t sz) {
  if (i >= 2 && i < 64 && sz != (uint64_t)i * 16)
    ck_fail(c, "BIN-SMALL-CLASS", p, CK_DRAW_CHUNKS, ck_str("size %#x in small bin %u", i * 16, i),
            ck_str("size %#lx", (unsigned long)sz));
  if (i >= 64 && (sz < 1024 || largebin_index(sz) != i))
    ck_fail(c, "BIN-LARGE-CLASS", p, CK_DRAW_CHUNKS, ck_str("largebin_index (size) == %u", i),
            ck_str("size %#lx (index %u)", (unsigned long)sz, sz >= 1024 ? largebin_index(sz) : 0));
}

/* Large bins: sizes non-increasing along fd; the first chunk of each size
 * is on the fd_nextsize/bk_nextsize ring, the others have NULL there
 * (_int_malloc's insertion, unlink_chunk's promotion). Unsorted large
 * chunks have NULL there too (_int_free, malloc_consolidate). */
static void nextsize(fl_check_t *c, int arena, unsigned i, const uintptr_t *l, size_t n) {
  if (i == 1) {
    for (size_t k = 0; k < n; k++) {
      uint64_t sz = ck_word(c, l[k] + 8) & ~CK_SIZE_BITS;
      if (sz >= 1024 && (ck_word(c, l[k] + 32) || ck_word(c, l[k] + 40))) {
        ck_fail(c, "BIN-NEXTSIZE", l[k], CK_DRAW_CHUNKS, ck_str("NULL fd/bk_nextsize in the unsorted bin"),
                ck_str("%#lx / %#lx", (unsigned long)ck_word(c, l[k] + 32), (unsigned long)ck_word(c, l[k] + 40)));
        return;
      }
    }
    return;
  }
  uintptr_t heads[256];
  size_t nh = 0;
  uint64_t prev = 0;
  for (size_t k = 0; k < n; k++) {
    uint64_t sz = ck_word(c, l[k] + 8) & ~CK_SIZE_BITS;
    if (k && sz > prev) {
      ck_fail(c, "BIN-LARGE-ORDER", l[k], CK_DRAW_CHUNKS, ck_str("size <= %#lx (its fd predecessor)", (unsigned long)prev),
              ck_str("size %#lx in large bin %u of arena %d", (unsigned long)sz, i, arena));
      return;
    }
    bool head = k == 0 || sz != prev;
    prev = sz;
    if (head) {
      if (nh == 256) return;
      heads[nh++] = l[k];
    } else if (ck_word(c, l[k] + 32) || ck_word(c, l[k] + 40)) {
      ck_fail(c, "BIN-NEXTSIZE", l[k], CK_DRAW_CHUNKS, ck_str("NULL fd/bk_nextsize (not first of its size)"),
              ck_str("%#lx / %#lx", (unsigned long)ck_word(c, l[k] + 32), (unsigned long)ck_word(c, l[k] + 40)));
      return;
    }
  }
  for (size_t k = 0; k < nh; k++) {
    uintptr_t fdn = ck_word(c, heads[k] + 32), bkn = ck_word(c, heads[k] + 40);
    uintptr_t want_fd = heads[(k + 1) % nh], want_bk = heads[(k + nh - 1) % nh];
    if (fdn != want_fd || bkn != want_bk) {
      ck_fail(c, "BIN-NEXTSIZE", heads[k], CK_DRAW_CHUNKS,
              ck_str("fd_nextsize %#lx, bk_nextsize %#lx", (unsigned long)want_fd, (unsigned long)want_bk),
              ck_str("fd_nextsize %#lx, bk_nextsize %#lx", (unsigned long)fdn, (unsigned long)bkn));
      return;
    }
  }
}

/* One bin: fd/bk agree (unlink_chunk's "corrupted double-linked list").
 * A break is reported once; the chunks behind it are reached from bk. */
static void one_bin(fl_check_t *c, int arena, unsigned i, uintptr_t **buf, size_t *cap) {
  uintptr_t b = fl_rm_bin_at(c->rm, (size_t)arena, i);
  /* A list longer than the heap has chunks is a cycle; the walk counts them
   * only when it could walk every heap (a non-contiguous main arena it
   * cannot). Without that bound, a revisit found by membership (below)
   * still ends a cycle. */
  size_t n = 0, limit = c->walk_complete ? c->nchunks + 4 : SIZE_MAX;
  bool broken = false;
  uintptr_t prev = b, p = ck_link(c, arena, b + 16);
  while (p != b) {
    if (!(p & 15) && ck_link(c, arena, p + 24) == prev && listed_mapped(c, p, "a bin")) {
      broken = true;
      break;
    }
    if ((p & 15) || !in_heaps(c, p) || ck_link(c, arena, p + 24) != prev || n > limit) {
      ck_fail(c, "BIN-LINKS", prev, CK_DRAW_CHUNKS, ck_str("fd->bk == chunk, ending at bin %u", i),
              ck_str("fd of %#lx is %#lx, whose bk is %#lx", (unsigned long)prev, (unsigned long)p,
                     (p & 15) ? 0UL : (unsigned long)ck_link(c, arena, p + 24)));
      broken = true;
      break;
    }
    ck_mb_t *m = ck_mb_get(&c->mb, p, false);
    if (m && m->kind == MB_BIN && m->arena == arena && m->bin == i) break; /* cycle: counted above */
    if (!add_member(c, p, MB_BIN, arena, i, "bin")) {
      broken = true;
      break;
    }
    if (n == *cap) {
      *cap = *cap ? *cap * 2 : 256;
      *buf = realloc(*buf, *cap * sizeof **buf);
    }
    (*buf)[n++] = p;
    prev = p;
    p = ck_link(c, arena, p + 16);
  }
  if (!broken && ck_link(c, arena, b + 24) != prev) {
    ck_fail(c, "BIN-LINKS", b, CK_DRAW_CHUNKS, ck_str("bin %u's bk = its last chunk %#lx", i, (unsigned long)prev),
            ck_str("bk %#lx", (unsigned long)ck_link(c, arena, b + 24)));
    broken = true;
  }
  if (broken) { /* finish from the other end */
    uintptr_t nx = b;
    p = ck_link(c, arena, b + 24);
    for (size_t k = 0; p != b && k < limit; k++) {
      if ((p & 15) || !in_heaps(c, p) || ck_link(c, arena, p + 16) != nx) break;
      ck_mb_t *m = ck_mb_get(&c->mb, p, false);
      if (m && m->lists) break;
      if (!add_member(c, p, MB_BIN, arena, i, "bin")) break;
      nx = p;
      p = ck_link(c, arena, p + 24);
    }
  }
  for (size_t k = 0; k < n; k++) size_class(c, i, (*buf)[k], ck_word(c, (*buf)[k] + 8) & ~CK_SIZE_BITS);
  if (!broken && (i == 1 || i >= 64)) nextsize(c, arena, i, *buf, n);
}

static void bins(fl_check_t *c, int arena, const fl_rm_arena_info_t *a) {
  uintptr_t *buf = NULL;
  size_t cap = 0;
  for (unsigned i = 1; i < 128; i++) {
    one_bin(c, arena, i, &buf, &cap);
    uintptr_t b = fl_rm_bin_at(c->rm, (size_t)arena, i);
    bool empty = ck_link(c, arena, b + 16) == b;
    if (i >= 2 && !empty && !(a->binmap[i >> 5] & (1u << (i & 31))))
      ck_fail(c, "BIN-BINMAP", b, CK_DRAW_NONE, ck_str("binmap bit %u set (bin not empty)", i),
              ck_str("binmap[%u] = %#x", i >> 5, a->binmap[i >> 5]));
  }
  free(buf);
}

/* ------------------------------------------------------------------- walk */

static bool push_chunk(fl_check_t *c, uintptr_t p, uint64_t f) {
  if (c->nchunks == c->capchunks) {
    size_t cap = c->capchunks ? c->capchunks * 2 : 4096;
    ck_chunk_t *n = realloc(c->chunks, cap * sizeof *n);
    if (!n) return false;
    c->chunks = n;
    c->capchunks = cap;
  }
  c->chunks[c->nchunks].p = p;
  c->chunks[c->nchunks].f = f;
  c->nchunks++;
  return true;
}

/* Walks one segment's headers into c->chunks, ending with the top (or an
 * old heap's fenceposts) tagged. */
static void walk_seg(fl_check_t *c, ck_seg_t *s, uintptr_t top) {
  s->first = c->nchunks;
  uintptr_t p = s->lo;
  while (p < s->hi) {
    uint64_t f = ck_word(c, p + 8), sz = f & ~CK_SIZE_BITS;
    if (s->has_top && p == top) { /* BIN-TOP-LAST: fl_chk_top */
      push_chunk(c, p | CK_TAG_TOP, f);
      s->count = c->nchunks - s->first;
      return;
    }
    /* sysmalloc's fenceposts at the end of a heap it left: a header of
     * size 0 at the very end, after the old top, or after what is left of
     * an old top too small to free: (old_size - MINSIZE) & ~15 + 16 bytes,
     * 16 or 32, marked in use (malloc.c, the old_size < MINSIZE branch). */
    if (!s->has_top && p == s->hi - 16 && sz == 0) {
      push_chunk(c, p | CK_TAG_FENCE, f);
      s->count = c->nchunks - s->first;
      return;
    }
    if (!s->has_top && (sz == 16 || sz == 32) && p + sz == s->hi - 16 &&
        (ck_word(c, s->hi - 8) & ~CK_SIZE_BITS) == 0) {
      push_chunk(c, p | CK_TAG_FENCE, f);
      p += sz;
      continue;
    }
    if ((p & 15) || sz < CK_MINSIZE || (sz & 15) || (f & CK_MMAPPED)) {
      ck_fail(c, "BIN-HEADER", p, CK_DRAW_CHUNKS, ck_str("aligned chunk, size >= MINSIZE, multiple of 16, IS_MMAPPED clear"),
              ck_str("chunk %#lx size field %#lx", (unsigned long)p, (unsigned long)f));
      c->walk_complete = false;
      break;
    }
    if (p + sz > s->hi || (s->has_top && p < top && p + sz > top)) {
      ck_fail(c, "BIN-TILE", p, CK_DRAW_CHUNKS,
              ck_str("chunks tile [%#lx, %#lx) up to top %#lx", (unsigned long)s->lo, (unsigned long)s->hi,
                     (unsigned long)top),
              ck_str("chunk %#lx size %#lx ends at %#lx", (unsigned long)p, (unsigned long)sz,
                     (unsigned long)(p + sz)));
      c->walk_complete = false;
      break;
    }
    push_chunk(c, p, f);
    p += sz;
  }
  if (p >= s->hi)
    ck_fail(c, "BIN-TILE", s->lo, CK_DRAW_NONE,
            ck_str(s->has_top ? "the walk meets top %#lx" : "an old heap ends in fenceposts", (unsigned long)top),
            ck_str("the walk of [%#lx, %#lx) ends at %#lx", (unsigned long)s->lo, (unsigned long)s->hi,
                   (unsigned long)p));
  s->count = c->nchunks - s->first;
}

/* Judges each chunk of a segment by its lists and the live set. */
static void judge_seg(fl_check_t *c, const ck_seg_t *s, bool main_arena) {
  if (s->count && !(c->chunks[s->first].f & CK_PINUSE))
    ck_fail(c, "BIN-PREV-INUSE", c->chunks[s->first].p & ~15UL, CK_DRAW_CHUNKS,
            ck_str("PREV_INUSE set on a heap's first chunk"), ck_str("clear"));
  for (size_t k = s->first; k + 1 < s->first + s->count; k++) {
    const ck_chunk_t *ch = &c->chunks[k], *nx = &c->chunks[k + 1];
    if (ch->p & 3) continue;
    uintptr_t p = ch->p;
    uint64_t sz = ch->f & ~CK_SIZE_BITS;
    bool next_p = nx->f & CK_PINUSE;
    ck_mb_t *m = ck_mb_get(&c->mb, p, false);
    int kind = m ? m->kind : MB_NONE;
    if (m) m->walked = 1;
    ck_live_t *lv = ck_live_find(&c->live, p + 16);
    bool a_bit = ch->f & CK_NONMAIN;
    switch (kind) {
    case MB_BIN: {
      c->w_bin_n++;
      c->w_bin_bytes += sz;
      if (next_p) {
        ck_fail(c, "BIN-PREV-INUSE", p, CK_DRAW_CHUNKS, ck_str("PREV_INUSE clear after a binned (free) chunk"),
                ck_str("set in %#lx", (unsigned long)(nx->p & ~15UL)));
        break;
      }
      uint64_t foot = ck_word(c, nx->p & ~15UL);
      if (foot != sz)
        ck_fail(c, "BIN-FOOTER", p, CK_DRAW_CHUNKS, ck_str("prev_size of the next chunk = %#lx", (unsigned long)sz),
                ck_str("%#lx", (unsigned long)foot));
      ck_mb_t *nm = (nx->p & 3) ? NULL : ck_mb_get(&c->mb, nx->p, false);
      if ((nx->p & CK_TAG_TOP) || (nm && nm->kind == MB_BIN))
        ck_fail(c, "BIN-NO-ADJ-FREE", p, CK_DRAW_CHUNKS, ck_str("a free chunk's successor is in use"),
                ck_str("followed by %s %#lx", (nx->p & CK_TAG_TOP) ? "top" : "free chunk", (unsigned long)(nx->p & ~15UL)));
      break;
    }
    case MB_TCACHE:
    case MB_FAST:
      if (kind == MB_FAST) {
        c->w_fast_n++;
        c->w_fast_bytes += sz;
      }
      if (!next_p)
        ck_fail(c, "BIN-FAST-PINUSE", p, CK_DRAW_CHUNKS,
                ck_str("PREV_INUSE set after a %s chunk", kind == MB_FAST ? "fastbin" : "tcache"), ck_str("clear"));
      if (a_bit == main_arena)
        ck_fail(c, "BIN-ARENA-BIT", p, CK_DRAW_CHUNKS, ck_str("NON_MAIN_ARENA %s", main_arena ? "clear" : "set"),
                ck_str("%s", a_bit ? "set" : "clear"));
      break;
    default:
      if (kind == MB_TCSTRUCT || lv) {
        if (!next_p)
          ck_fail(c, "BIN-PREV-INUSE", p, CK_DRAW_CHUNKS, ck_str("PREV_INUSE set after an in-use chunk"), ck_str("clear"));
        if (a_bit == main_arena)
          ck_fail(c, "BIN-ARENA-BIT", p, CK_DRAW_CHUNKS, ck_str("NON_MAIN_ARENA %s", main_arena ? "clear" : "set"),
                  ck_str("%s", a_bit ? "set" : "clear"));
        if (lv && sz - 8 < lv->req)
          ck_fail(c, "BIN-LIVE-SIZE", p, CK_DRAW_CHUNKS, ck_str("usable size >= %lu", (unsigned long)lv->req),
                  ck_str("chunk size %#lx (usable %lu)", (unsigned long)sz, (unsigned long)(sz - 8)));
      } else if (!next_p) {
        ck_fail(c, "BIN-FREE-LISTED", p, CK_DRAW_CHUNKS, ck_str("a free chunk is on a bin"), ck_str("on no list"));
      } else if (c->tracking) {
        ck_fail(c, "BIN-INUSE-ACCOUNTED", p, CK_DRAW_CHUNKS,
                ck_str("an in-use chunk is live, cached, or the tcache"), ck_str("none of these (leaked)"));
      }
    }
    if (!m) {
      m = ck_mb_get(&c->mb, p, true);
      if (m) m->walked = 1;
    }
  }
}

/* heap_info of non-main heaps (new_heap, grow_heap, shrink_heap). */
static void heap_infos(fl_check_t *c, const fl_rm_arena_info_t *as, size_t na) {
  uint64_t sum[64] = {0};
  for (size_t i = 0; i < c->nsegs; i++) {
    const ck_seg_t *s = &c->segs[i];
    if (!s->heap) continue;
    uintptr_t h = s->heap, ar = ck_word(c, h);
    uint64_t size = ck_word(c, h + 16), mps = ck_word(c, h + 24);
    if (s->arena < 64) sum[s->arena] += size;
    if ((h & (CK_HEAP_MAX - 1)) || ar != as[s->arena].addr || size > mps || mps > CK_HEAP_MAX || (size & (CK_PAGE - 1)))
      ck_fail(c, "BIN-HEAP-INFO", h, CK_DRAW_VMAS,
              ck_str("heap aligned to HEAP_MAX_SIZE, ar_ptr %#lx, size <= mprotect_size <= HEAP_MAX_SIZE, size page-aligned",
                     (unsigned long)as[s->arena].addr),
              ck_str("heap %#lx ar_ptr %#lx size %#lx mprotect_size %#lx", (unsigned long)h, (unsigned long)ar,
                     (unsigned long)size, (unsigned long)mps));
  }
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  for (size_t i = 0; i < na && i < 64; i++) {
    uint64_t want;
    if (as[i].is_main) {
      if (!as[i].contiguous || !mp.sbrk_base || !mp.curbrk) continue;
      want = mp.curbrk - mp.sbrk_base;
    } else {
      want = sum[i];
    }
    if (as[i].system_mem != want)
      ck_fail(c, "BIN-SYSMEM", as[i].addr, CK_DRAW_NONE, ck_str("system_mem = heap bytes %#lx", (unsigned long)want),
              ck_str("arena %zu system_mem %#lx", i, (unsigned long)as[i].system_mem));
  }
}

/* Mapped chunks (sysmalloc_mmap, munmap_chunk, mremap_chunk). */
static void mapped(fl_check_t *c) {
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  size_t n = 0;
  uint64_t bytes = 0;
  for (size_t i = 0; i < c->live.cap; i++) {
    ck_live_t *e = &c->live.t[i];
    if (e->mem <= 1 || !e->map_hi) continue;
    uintptr_t p = e->mem - 16;
    uint64_t ps = ck_word(c, p), f = ck_word(c, p + 8), sz = f & ~CK_SIZE_BITS;
    n++;
    bytes += e->map_hi - e->map_lo;
    if (!(f & CK_MMAPPED) || ((p - ps) & (CK_PAGE - 1)) || ((ps + sz) & (CK_PAGE - 1))) {
      ck_fail(c, "BIN-MMAP-ALIGN", p, CK_DRAW_VMAS, ck_str("IS_MMAPPED set, mapping page-aligned"),
              ck_str("prev_size %#lx size field %#lx", (unsigned long)ps, (unsigned long)f));
      continue;
    }
    fl_vma_t v;
    if (!fl_vm_find(c->vm, p - ps, &v) || v.start > p - ps || v.end < p + sz || (v.prot & 3) != 3)
      ck_fail(c, "BIN-MMAP-VMA", p, CK_DRAW_VMAS,
              ck_str("[%#lx, %#lx) inside one rw VMA", (unsigned long)(p - ps), (unsigned long)(p + sz)),
              ck_str("VMA %#lx-%#lx prot %d", (unsigned long)v.start, (unsigned long)v.end, v.prot));
  }
  for (unsigned tid = 0; tid < fl_rm_thread_count(c->rm); tid++) {
    uintptr_t lo, hi;
    if (ck_tcache_mapping(c, tid, &lo, &hi)) {
      n++;
      bytes += hi - lo;
    }
  }
  if (c->tracking && (n != (size_t)mp.n_mmaps || bytes != mp.mmapped_mem))
    ck_fail(c, "BIN-MMAP-COUNT", 0, CK_DRAW_NONE,
            ck_str("n_mmaps %zu, mmapped_mem %#lx (live mapped chunks)", n, (unsigned long)bytes),
            ck_str("n_mmaps %d, mmapped_mem %#lx", mp.n_mmaps, (unsigned long)mp.mmapped_mem));
}

/* Live chunks the allocator handed out are chunks the walk found. */
static void live_reached(fl_check_t *c) {
  if (!c->walk_complete) return;
  for (size_t i = 0; i < c->live.cap; i++) {
    ck_live_t *e = &c->live.t[i];
    if (e->mem <= 1 || e->map_hi) continue;
    ck_mb_t *m = ck_mb_get(&c->mb, e->mem - 16, false);
    if (!m || !m->walked)
      ck_fail(c, "BIN-LIVE-REACHED", e->mem - 16, CK_DRAW_CHUNKS, ck_str("a chunk header found by the heap walk"),
              ck_str("live chunk %#lx not reached", (unsigned long)(e->mem - 16)));
  }
}

int fl_chk_heap(fl_check_t *c) {
  size_t before = c->ntotal;
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  size_t na = fl_rm_arena_count(c->rm);
  fl_rm_arena_info_t *as = calloc(na, sizeof *as);
  if (!as) return 0;
  for (size_t i = 0; i < na; i++) fl_rm_arena(c->rm, i, &as[i]);
  mb_reset(&c->mb);
  c->nchunks = 0;
  c->w_bin_n = c->w_bin_bytes = c->w_fast_n = c->w_fast_bytes = c->w_top_bytes = c->w_heap_bytes = 0;
  c->w_main_top = 0;
  c->w_narenas = na;
  ck_segments(c);
  /* the walk first (list checks need the chunk count), judging after */
  for (size_t i = 0; i < c->nsegs; i++) {
    ck_seg_t *s = &c->segs[i];
    walk_seg(c, s, as[s->arena].top);
    c->w_heap_bytes += s->heap ? ck_word(c, s->heap + 16) : s->hi - mp.sbrk_base;
  }
  tcaches(c, &mp, -1);
  for (size_t i = 0; i < na; i++) {
    if (as[i].is_main && (!as[i].top || as[i].top == fl_rm_bin_at(c->rm, i, 1))) continue;
    fastbins(c, (int)i, &as[i]);
    bins(c, (int)i, &as[i]);
    c->w_top_bytes += as[i].top_size;
    if (as[i].is_main) c->w_main_top = as[i].top_size;
  }
  for (size_t i = 0; i < c->nsegs; i++) judge_seg(c, &c->segs[i], as[c->segs[i].arena].is_main);
  if (c->walk_complete)
    for (size_t i = 0; i < c->mb.cap; i++) {
      ck_mb_t *m = &c->mb.t[i];
      if (m->p && m->lists && !m->walked)
        ck_fail(c, "BIN-LIST-MEMBER", m->p, CK_DRAW_CHUNKS, ck_str("a listed chunk is a chunk of a heap"),
                ck_str("%#lx is not a chunk boundary", (unsigned long)m->p));
    }
  if (c->tracking) live_reached(c);
  heap_infos(c, as, na);
  mapped(c);
  free(as);
  return (int)(c->ntotal - before);
}

/* ------------------------------------------------------- O(1) per op */

/* BIN-TOP-MIN and BIN-TOP-LAST for every arena, without a walk. */
int fl_chk_top(fl_check_t *c) {
  size_t before = c->ntotal;
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  size_t na = fl_rm_arena_count(c->rm);
  for (size_t i = 0; i < na; i++) {
    fl_rm_arena_info_t a;
    if (!fl_rm_arena(c->rm, i, &a)) continue;
    if (a.is_main && (!a.top || a.top == fl_rm_bin_at(c->rm, i, 1) || !a.contiguous || !mp.curbrk)) continue;
    uintptr_t end = a.is_main ? mp.curbrk : a.heap + ck_word(c, a.heap + 16);
    if (a.top_size < CK_MINSIZE)
      ck_fail(c, "BIN-TOP-MIN", a.top, CK_DRAW_CHUNKS, ck_str("top size >= MINSIZE"),
              ck_str("arena %zu top size %#lx", i, (unsigned long)a.top_size));
    else if (a.top + a.top_size != end)
      ck_fail(c, "BIN-TOP-LAST", a.top, CK_DRAW_CHUNKS, ck_str("top ends at the heap's end %#lx", (unsigned long)end),
              ck_str("top %#lx + size %#lx = %#lx", (unsigned long)a.top, (unsigned long)a.top_size,
                     (unsigned long)(a.top + a.top_size)));
  }
  return (int)(c->ntotal - before);
}

/* The chunk the last op handed out: header, size, its successor's
 * PREV_INUSE, the arena bit, and for a mapped chunk its mapping. */
int fl_chk_op(fl_check_t *c) {
  size_t before = c->ntotal;
  if (!c->last.new_valid) return 0;
  const ck_live_t *e = &c->last.added;
  uintptr_t p = e->mem - 16;
  uint64_t ps = ck_word(c, p), f = ck_word(c, p + 8), sz = f & ~CK_SIZE_BITS;
  if (e->map_hi) {
    if (((p - ps) & (CK_PAGE - 1)) || ((ps + sz) & (CK_PAGE - 1)))
      ck_fail(c, "BIN-MMAP-ALIGN", p, CK_DRAW_VMAS, ck_str("mapping page-aligned"),
              ck_str("prev_size %#lx size field %#lx", (unsigned long)ps, (unsigned long)f));
    else if (sz - 16 < e->req)
      ck_fail(c, "BIN-LIVE-SIZE", p, CK_DRAW_CHUNKS, ck_str("usable size >= %lu", (unsigned long)e->req),
              ck_str("mapped chunk size %#lx", (unsigned long)sz));
    fl_vma_t v;
    if (!fl_vm_find(c->vm, p - ps, &v) || v.start > p - ps || v.end < p + sz || (v.prot & 3) != 3)
      ck_fail(c, "BIN-MMAP-VMA", p, CK_DRAW_VMAS,
              ck_str("[%#lx, %#lx) inside one rw VMA", (unsigned long)(p - ps), (unsigned long)(p + sz)),
              ck_str("no such VMA"));
    return (int)(c->ntotal - before);
  }
  if ((p & 15) || sz < CK_MINSIZE || (sz & 15)) {
    ck_fail(c, "BIN-HEADER", p, CK_DRAW_CHUNKS, ck_str("aligned chunk, size >= MINSIZE, multiple of 16"),
            ck_str("size field %#lx", (unsigned long)f));
    return (int)(c->ntotal - before);
  }
  if (sz - 8 < e->req)
    ck_fail(c, "BIN-LIVE-SIZE", p, CK_DRAW_CHUNKS, ck_str("usable size >= %lu", (unsigned long)e->req),
            ck_str("chunk size %#lx (usable %lu)", (unsigned long)sz, (unsigned long)(sz - 8)));
  if (!(ck_word(c, p + sz + 8) & CK_PINUSE))
    ck_fail(c, "BIN-PREV-INUSE", p, CK_DRAW_CHUNKS, ck_str("PREV_INUSE set after an in-use chunk"), ck_str("clear"));
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  fl_rm_arena_info_t a;
  if (fl_rm_arena(c->rm, 0, &a) && a.contiguous && mp.sbrk_base) {
    bool in_main = p >= mp.sbrk_base && p < mp.curbrk;
    if (((f & CK_NONMAIN) != 0) == in_main)
      ck_fail(c, "BIN-ARENA-BIT", p, CK_DRAW_CHUNKS, ck_str("NON_MAIN_ARENA %s", in_main ? "clear" : "set"),
              ck_str("%s", (f & CK_NONMAIN) ? "set" : "clear"));
  }
  return (int)(c->ntotal - before);
}

/* BIN-MALLINFO: int_mallinfo's sums against the walk's. */
int fl_check_mallinfo(fl_check_t *c, const fl_rm_mallinfo2_t *mi) {
  size_t before = c->ntotal;
  fl_chk_heap(c);
  if (!c->walk_complete) return (int)(c->ntotal - before);
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  struct { const char *name; uint64_t want, got; } f[] = {
      {"arena", c->w_heap_bytes, mi->arena},
      {"ordblks", c->w_bin_n + c->w_narenas, mi->ordblks},
      {"smblks", c->w_fast_n, mi->smblks},
      {"hblks", (uint64_t)mp.n_mmaps, mi->hblks},
      {"hblkhd", mp.mmapped_mem, mi->hblkhd},
      {"fsmblks", c->w_fast_bytes, mi->fsmblks},
      {"fordblks", c->w_bin_bytes + c->w_fast_bytes + c->w_top_bytes, mi->fordblks},
      {"uordblks", c->w_heap_bytes - (c->w_bin_bytes + c->w_fast_bytes + c->w_top_bytes), mi->uordblks},
      {"keepcost", c->w_main_top, mi->keepcost},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (f[i].want != f[i].got) {
      ck_fail(c, "BIN-MALLINFO", 0, CK_DRAW_NONE, ck_str("%s = %lu (walk)", f[i].name, (unsigned long)f[i].want),
              ck_str("%s = %lu (mallinfo2)", f[i].name, (unsigned long)f[i].got));
      break;
    }
  return (int)(c->ntotal - before);
}

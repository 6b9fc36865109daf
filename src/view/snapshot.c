#include "view/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/introspect.h"

/* glibc 2.36 on x86-64 (src/alloc/chunk.h holds the allocator's copy). */
#define SN_HDR 16UL
#define SN_MINSIZE 32UL
#define SN_MMAPPED 2UL
#define SN_FLAGS 7UL
#define SN_HEAP_INFO 48UL                 /* sizeof (heap_info) */
#define SN_MS_SIZE 2200UL                 /* sizeof (struct malloc_state) */
#define SN_HEAP_MAX ((uintptr_t)64 << 20) /* HEAP_MAX_SIZE */
/* How far into a mapping a memalign()ed mapped chunk's header may lie. */
#define SN_MAPPED_SCAN 65536UL

static const char *state_names[FL_CHUNK_STATE_COUNT] = {
    "in-use", "tcache", "fastbin", "unsorted", "small", "large", "top", "mapped", "fence"};
static const char *list_names[FL_LIST_KIND_COUNT] = {"tcache", "fastbins", "unsorted", "small", "large"};

const char *fl_chunk_state_name(fl_chunk_state_t s) {
  return (unsigned)s < FL_CHUNK_STATE_COUNT ? state_names[s] : "?";
}

const char *fl_list_kind_name(fl_list_kind_t k) {
  return (unsigned)k < FL_LIST_KIND_COUNT ? list_names[k] : "?";
}

/* Grows a snapshot array by one; false when memory runs out. */
#define SN_PUSH(arr, n, cap, val)                                         \
  (((n) < (cap) || sn_grow((void **)&(arr), &(cap), sizeof *(arr))) &&   \
   ((arr)[(n)++] = (val), true))

static bool sn_grow(void **arr, size_t *cap, size_t elem) {
  size_t ncap = *cap ? *cap * 2 : 64;
  void *p = realloc(*arr, ncap * elem);
  if (!p) return false;
  *arr = p;
  *cap = ncap;
  return true;
}

typedef struct sn_ctx {
  fl_snapshot_t *s;
  const fl_rm_t *rm;
  fl_vm_t *vm;
  size_t list_max;   /* no list of a sane heap is longer: a longer one loops */
  bool oom;
} sn_ctx_t;

static uint64_t peek_word(fl_vm_t *vm, uintptr_t a) {
  uint64_t v = 0;
  fl_vm_peek(vm, a, &v, 8);
  return v;
}

/* ---- free lists ------------------------------------------------------------ */

static fl_snap_list_t *begin_list(sn_ctx_t *c, fl_list_kind_t kind, int arena, unsigned tid, unsigned index) {
  fl_snap_list_t l = {.kind = (uint8_t)kind, .arena = (int16_t)arena, .tid = (uint16_t)tid,
                      .index = (uint16_t)index, .first = c->s->nentries};
  fl_snapshot_t *s = c->s;
  if (!SN_PUSH(s->lists, s->nlists, s->caplists, l)) {
    c->oom = true;
    return NULL;
  }
  return &s->lists[s->nlists - 1];
}

/* Drops a list that turned out empty (most bins are). */
static void end_list(sn_ctx_t *c, fl_snap_list_t *l) {
  if (l && !l->n && !l->count && !l->broken) c->s->nlists--;
}

static bool add_entry(sn_ctx_t *c, fl_snap_list_t *l, uintptr_t chunk) {
  fl_snapshot_t *s = c->s;
  if (l->n >= c->list_max || (chunk & 15) || !fl_vm_find(c->vm, chunk, &(fl_vma_t){0})) {
    l->broken = true;
    return false;
  }
  fl_snap_entry_t e = {.chunk = chunk, .size = peek_word(c->vm, chunk + 8) & ~SN_FLAGS};
  if (!SN_PUSH(s->entries, s->nentries, s->capentries, e)) {
    c->oom = true;
    return false;
  }
  l->n++;
  return true;
}

/* tcache entries are user pointers; their next links are safe-linked. */
static void tcache_lists(sn_ctx_t *c, const fl_rm_params_t *mp) {
  for (unsigned tid = 0; tid < fl_rm_thread_count(c->rm); tid++) {
    uintptr_t tc = fl_rm_tcache_addr(c->rm, tid);
    if (!tc) continue;
    for (unsigned i = 0; i < mp->tcache_bins && i < FL_RM_TCACHE_BINS; i++) {
      uint16_t count = 0;
      fl_vm_peek(c->vm, tc + 2 * i, &count, 2);
      uintptr_t e = peek_word(c->vm, tc + 128 + 8 * i);
      fl_snap_list_t *l = begin_list(c, FL_LIST_TCACHE, -1, tid, i);
      if (!l) return;
      l->count = count;
      while (e && add_entry(c, l, e - SN_HDR)) e = fl_rm_reveal(e, peek_word(c->vm, e));
      end_list(c, l);
    }
  }
}

static void fastbin_lists(sn_ctx_t *c, int arena, const fl_rm_arena_info_t *a) {
  for (unsigned k = 0; k < FL_RM_NFASTBINS; k++) {
    fl_snap_list_t *l = begin_list(c, FL_LIST_FASTBIN, arena, 0, k);
    if (!l) return;
    for (uintptr_t p = a->fastbins[k]; p && add_entry(c, l, p);)
      p = fl_rm_reveal(p + 16, peek_word(c->vm, p + 16));
    end_list(c, l);
  }
}

/* Bins 1 (unsorted), 2..63 (small), 64..126 (large): circular, through the
 * bin headers that live in malloc_state. */
static void bin_lists(sn_ctx_t *c, int arena) {
  for (unsigned i = 1; i < FL_RM_NBINS - 1; i++) {
    fl_list_kind_t kind = i == 1 ? FL_LIST_UNSORTED : i < 64 ? FL_LIST_SMALL : FL_LIST_LARGE;
    fl_snap_list_t *l = begin_list(c, kind, arena, 0, i);
    if (!l) return;
    uintptr_t b = fl_rm_bin_at(c->rm, (size_t)arena, i);
    for (uintptr_t p = fl_rm_word(c->rm, (size_t)arena, b + 16); p != b && add_entry(c, l, p);)
      p = fl_rm_word(c->rm, (size_t)arena, p + 16);
    end_list(c, l);
  }
}

/* ---- the heap walk ---------------------------------------------------------- */

static fl_chunk_state_t list_state(fl_list_kind_t k) {
  static const fl_chunk_state_t st[FL_LIST_KIND_COUNT] = {FL_CHUNK_TCACHE, FL_CHUNK_FASTBIN, FL_CHUNK_UNSORTED,
                                                          FL_CHUNK_SMALL, FL_CHUNK_LARGE};
  return st[k];
}

typedef struct sn_member {
  uintptr_t chunk;
  int32_t list;
} sn_member_t;

static int cmp_member_chunk(const void *x, const void *y) {
  const sn_member_t *a = x, *b = y;
  return (a->chunk > b->chunk) - (a->chunk < b->chunk);
}

static int cmp_member(const void *x, const void *y) {
  const sn_member_t *a = x, *b = y;
  int c = cmp_member_chunk(x, y);
  return c ? c : (a->list > b->list) - (a->list < b->list);
}

/* Chunk address -> the first list that names it, sorted for bsearch. */
static sn_member_t *members(const fl_snapshot_t *s) {
  sn_member_t *m = malloc((s->nentries + 1) * sizeof *m);
  if (!m) return NULL;
  size_t n = 0;
  for (size_t li = 0; li < s->nlists; li++)
    for (size_t k = 0; k < s->lists[li].n; k++)
      m[n++] = (sn_member_t){s->entries[s->lists[li].first + k].chunk, (int32_t)li};
  /* a chunk on two lists is the corruption BIN-ONE-LIST reports: ties
   * sort by list order, and the view shows the first */
  qsort(m, n, sizeof *m, cmp_member);
  return m;
}

static void push_chunk(sn_ctx_t *c, const sn_member_t *m, size_t nm, uintptr_t p, uint64_t f,
                       fl_chunk_state_t state, int arena) {
  fl_snap_chunk_t ch = {.addr = p, .size = f & ~SN_FLAGS, .flags = (uint8_t)(f & SN_FLAGS),
                        .state = (uint8_t)state, .arena = (int16_t)arena, .list = -1};
  if (state == FL_CHUNK_INUSE) {
    sn_member_t key = {p, 0};
    const sn_member_t *hit = m ? bsearch(&key, m, nm, sizeof *m, cmp_member_chunk) : NULL;
    while (hit && hit > m && hit[-1].chunk == p) hit--;
    if (hit) {
      ch.list = hit->list;
      ch.state = (uint8_t)list_state((fl_list_kind_t)c->s->lists[hit->list].kind);
    }
  }
  fl_snapshot_t *s = c->s;
  if (!SN_PUSH(s->chunks, s->nchunks, s->capchunks, ch)) c->oom = true;
}

/* Walks [lo, hi) chunk by chunk up to the top (has_top) or an old heap's
 * fenceposts, as glibc's do_check_malloc_state would. */
static void walk_segment(sn_ctx_t *c, const sn_member_t *m, size_t nm, int arena, uintptr_t lo, uintptr_t hi,
                         uintptr_t top, bool has_top) {
  uintptr_t p = lo;
  while (p < hi && !c->oom) {
    uint64_t f = peek_word(c->vm, p + 8), sz = f & ~SN_FLAGS;
    if (has_top && p == top) {
      push_chunk(c, m, nm, p, f, FL_CHUNK_TOP, arena);
      return;
    }
    if (!has_top && ((p == hi - 16 && sz == 0) || (p == hi - 32 && sz == 16))) {
      push_chunk(c, m, nm, p, f, FL_CHUNK_FENCE, arena);
      p += 16;
      if (sz == 0) return;
      continue;
    }
    if ((p & 15) || sz < SN_MINSIZE || (sz & 15) || (f & SN_MMAPPED) || p + sz > hi) break;
    push_chunk(c, m, nm, p, f, FL_CHUNK_INUSE, arena);
    p += sz;
  }
  if (!c->s->walk_stop) c->s->walk_stop = p;
  c->s->walk_complete = false;
}

/* Every arena's heaps: the main arena's brk heap from sbrk_base to the
 * break; a non-main arena's heaps along the heap_info chain, newest (the
 * one holding top) first. */
static void walk_heaps(sn_ctx_t *c, const sn_member_t *m, size_t nm, const fl_rm_params_t *mp) {
  for (size_t i = 0; i < c->s->narenas; i++) {
    fl_rm_arena_info_t a;
    if (!fl_rm_arena(c->rm, i, &a)) continue;
    if (a.is_main) {
      if (!a.top || a.top == fl_rm_bin_at(c->rm, i, 1)) continue; /* never used */
      if (!a.contiguous || !mp->sbrk_base || !mp->curbrk) {
        c->s->walk_complete = false;
        continue;
      }
      uintptr_t lo = ((mp->sbrk_base + 16 + 15) & ~(uintptr_t)15) - 16;
      walk_segment(c, m, nm, (int)i, lo, mp->curbrk, a.top, true);
      continue;
    }
    uintptr_t h = a.heap;
    for (int n = 0; h && n < 4096 && !c->oom; n++) {
      uintptr_t lo = a.addr == h + SN_HEAP_INFO ? ((a.addr + SN_MS_SIZE + 16 + 15) & ~(uintptr_t)15) - 16
                                                : h + SN_HEAP_INFO;
      walk_segment(c, m, nm, (int)i, lo, h + peek_word(c->vm, h + 16), a.top, n == 0);
      h = peek_word(c->vm, h + 8);
    }
  }
}

/* ---- VMAs and pages ---------------------------------------------------------- */

/* The mapped chunk whose mapping starts at pos (and ends by vend): its
 * header is at pos with prev_size 0, or (memalign) further in with
 * prev_size = its offset; both end where the mapping ends. The header
 * furthest in wins: memalign leaves the original one at the start. Returns
 * the mapping's end, 0 if no mapped chunk starts at pos. Adjacent
 * mappings merge into one VMA, so a VMA may hold several. */
static uintptr_t mapped_chunk(fl_vm_t *vm, uintptr_t pos, uintptr_t vend, uintptr_t *chunk, uint64_t *f) {
  uint64_t f0 = peek_word(vm, pos + 8);
  uintptr_t end = pos + (f0 & ~SN_FLAGS);
  if (!(f0 & SN_MMAPPED) || peek_word(vm, pos) != 0 || end <= pos || end > vend) return 0;
  *chunk = pos;
  *f = f0;
  for (uintptr_t off = 16; off < end - pos && off < SN_MAPPED_SCAN; off += 16) {
    uint64_t fl = peek_word(vm, pos + off + 8);
    if ((fl & SN_MMAPPED) && peek_word(vm, pos + off) == off && pos + off + (fl & ~SN_FLAGS) == end) {
      *chunk = pos + off;
      *f = fl;
    }
  }
  return end;
}

/* Every mapped chunk of a VMA that holds no heap; false if there is none. */
static bool mapped_chunks(sn_ctx_t *c, const sn_member_t *m, size_t nm, const fl_vma_t *v) {
  uintptr_t pos = v->start, chunk, end;
  uint64_t f;
  while (pos < v->end && (end = mapped_chunk(c->vm, pos, v->end, &chunk, &f))) {
    push_chunk(c, m, nm, chunk, f, FL_CHUNK_MAPPED, -1);
    pos = end;
  }
  return pos > v->start;
}

static void count_page(void *ctx, uintptr_t page, fl_pte_t pte) {
  sn_ctx_t *c = ctx;
  fl_snapshot_t *s = c->s;
  fl_snap_vma_t *v = &s->vmas[s->nvmas - 1];
  if (pte == FL_PTE_ZERO) v->zero++;
  else v->present++;
  /* do_anonymous_page installs its pages dirty; MADV_FREE cleans them */
  if (pte == FL_PTE_ANON) v->dirty++;
  fl_snap_page_t pg = {.addr = page, .pte = (uint8_t)pte};
  if (!SN_PUSH(s->pages, s->npages, s->cappages, pg)) c->oom = true;
}

/* The arena whose heap the VMA holds, or -1. A non-main arena's heaps are
 * HEAP_MAX_SIZE-aligned reservations that begin with a heap_info whose
 * ar_ptr names the arena. */
static int heap_arena(sn_ctx_t *c, const fl_rm_params_t *mp, const fl_vma_t *v) {
  if (mp->sbrk_base && v->start >= mp->sbrk_base && v->end <= mp->curbrk) return 0;
  uintptr_t h = v->start & ~(SN_HEAP_MAX - 1);
  uint64_t ar_ptr = fl_vm_find(c->vm, h, &(fl_vma_t){0}) ? peek_word(c->vm, h) : 0;
  for (size_t i = 1; i < c->s->narenas && ar_ptr; i++)
    if (c->s->arenas[i].addr == ar_ptr) return (int)i;
  return -1;
}

static void vmas(sn_ctx_t *c, const sn_member_t *m, size_t nm, const fl_rm_params_t *mp) {
  fl_snapshot_t *s = c->s;
  size_t n = fl_vm_vma_count(c->vm);
  fl_vma_t *v = calloc(n + 1, sizeof *v);
  free(s->vmas);
  s->vmas = calloc(n + 1, sizeof *s->vmas);
  if (!v || !s->vmas) {
    free(v);
    c->oom = true;
    return;
  }
  fl_vm_vmas(c->vm, v, n);
  s->nvmas = 0;
  for (size_t i = 0; i < n && !c->oom; i++) {
    fl_snap_vma_t *sv = &s->vmas[s->nvmas++];
    *sv = (fl_snap_vma_t){.vma = v[i], .arena = heap_arena(c, mp, &v[i]), .label = "[anon]"};
    if (sv->arena >= 0) sv->label = sv->arena ? "[arena heap]" : "[heap]";
    else if (mapped_chunks(c, m, nm, &v[i])) sv->label = "[mmap chunk]";
    fl_vm_visit_pages(c->vm, v[i].start, v[i].end, count_page, c);
  }
  free(v);
}

static void arenas(sn_ctx_t *c) {
  fl_snapshot_t *s = c->s;
  size_t n = fl_rm_arena_count(c->rm);
  free(s->arenas);
  s->arenas = calloc(n + 1, sizeof *s->arenas);
  s->narenas = 0;
  if (!s->arenas) {
    c->oom = true;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    fl_rm_arena_info_t a;
    if (!fl_rm_arena(c->rm, i, &a)) a = (fl_rm_arena_info_t){.index = (int)i};
    s->arenas[s->narenas++] =
        (fl_snap_arena_t){.index = (int)i, .addr = a.addr, .top = a.top, .top_size = a.top_size,
                          .system_mem = a.system_mem};
  }
}

static int cmp_chunk(const void *x, const void *y) {
  const fl_snap_chunk_t *a = x, *b = y;
  return (a->addr > b->addr) - (a->addr < b->addr);
}

fl_status_t fl_snapshot_take(fl_snapshot_t *s, const fl_rm_t *rm) {
  s->nchunks = s->nlists = s->nentries = s->npages = 0;
  s->walk_complete = true;
  s->walk_stop = 0;
  sn_ctx_t c = {.s = s, .rm = rm, .vm = fl_rm_vm(rm)};
  fl_rm_params_t mp;
  fl_rm_params(rm, &mp);
  fl_vm_stats(c.vm, &s->stats);
  arenas(&c);
  /* every free chunk is at least MINSIZE bytes of some arena's memory */
  for (size_t i = 0; i < s->narenas; i++) c.list_max += s->arenas[i].system_mem / SN_MINSIZE;
  c.list_max += 64;
  if (mp.initialized) tcache_lists(&c, &mp);
  for (size_t i = 0; i < s->narenas && mp.initialized && !c.oom; i++) {
    fl_rm_arena_info_t a;
    if (!fl_rm_arena(rm, i, &a)) continue;
    fastbin_lists(&c, (int)i, &a);
    bin_lists(&c, (int)i);
  }
  sn_member_t *m = c.oom ? NULL : members(s);
  if (!m) c.oom = true;
  if (!c.oom && mp.initialized) walk_heaps(&c, m, s->nentries, &mp);
  if (!c.oom) vmas(&c, m, s->nentries, &mp);
  free(m);
  if (s->nchunks) qsort(s->chunks, s->nchunks, sizeof *s->chunks, cmp_chunk);
  return c.oom ? fl_error(FL_EENV, "out of memory for a heap snapshot") : FL_OK;
}

void fl_snapshot_free(fl_snapshot_t *s) {
  free(s->chunks);
  free(s->lists);
  free(s->entries);
  free(s->vmas);
  free(s->pages);
  free(s->arenas);
  memset(s, 0, sizeof *s);
}

/* glibc's largebin_index_64: the size classes of bins 64..126. */
static unsigned largebin_index(uint64_t s) {
  if ((s >> 6) <= 48) return 48 + (unsigned)(s >> 6);
  if ((s >> 9) <= 20) return 91 + (unsigned)(s >> 9);
  if ((s >> 12) <= 10) return 110 + (unsigned)(s >> 12);
  if ((s >> 15) <= 4) return 119 + (unsigned)(s >> 15);
  if ((s >> 18) <= 2) return 124 + (unsigned)(s >> 18);
  return 126;
}

/* The smallest chunk size (a multiple of 16, >= 1024) that goes to bin i
 * or above: largebin_index is monotone. */
static uint64_t large_floor(unsigned i) {
  uint64_t lo = 1024, hi = (uint64_t)1 << 40;
  while (lo < hi) {
    uint64_t mid = ((lo + hi) / 2) & ~(uint64_t)15;
    if (mid < lo) mid = lo;
    if (largebin_index(mid) >= i) hi = mid;
    else lo = mid + 16;
  }
  return lo;
}

const char *fl_snap_list_label(const fl_snap_list_t *l, char *buf, size_t cap) {
  switch ((fl_list_kind_t)l->kind) {
  case FL_LIST_TCACHE: snprintf(buf, cap, "%#x", 32 + 16 * l->index); break;
  case FL_LIST_FASTBIN: snprintf(buf, cap, "%#x", 32 + 16 * l->index); break;
  case FL_LIST_UNSORTED: snprintf(buf, cap, "any"); break;
  case FL_LIST_SMALL: snprintf(buf, cap, "%#x", 16 * l->index); break;
  default:
    if (l->index == 126) snprintf(buf, cap, "%#lx-", (unsigned long)large_floor(126));
    else snprintf(buf, cap, "%#lx-%#lx", (unsigned long)large_floor(l->index),
                  (unsigned long)large_floor(l->index + 1u) - 16);
  }
  return buf;
}

/* The last chunk starting at or below a (chunks are in address order). */
static const fl_snap_chunk_t *floor_chunk(const fl_snapshot_t *s, uintptr_t a) {
  size_t lo = 0, hi = s->nchunks;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (s->chunks[mid].addr <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo ? &s->chunks[lo - 1] : NULL;
}

const fl_snap_chunk_t *fl_snapshot_chunk(const fl_snapshot_t *s, uintptr_t addr) {
  const fl_snap_chunk_t *c = floor_chunk(s, addr);
  return c && c->addr == addr ? c : NULL;
}

const fl_snap_chunk_t *fl_snapshot_chunk_containing(const fl_snapshot_t *s, uintptr_t a) {
  const fl_snap_chunk_t *c = floor_chunk(s, a);
  return c && a - c->addr < c->size ? c : NULL;
}

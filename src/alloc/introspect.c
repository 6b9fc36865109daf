/* introspect.c — read-only views of refmalloc's state (introspect.h). */
#include "alloc/introspect.h"

#include "alloc/chunk.h"

void fl_rm_params(const fl_rm_t *rm, fl_rm_params_t *o) {
  memset(o, 0, sizeof *o);
  const rm_par_t *mp = &rm->mp;
  o->trim_threshold = mp->trim_threshold;
  o->top_pad = mp->top_pad;
  o->mmap_threshold = mp->mmap_threshold;
  o->arena_test = mp->arena_test;
  o->arena_max = mp->arena_max;
  o->n_mmaps = mp->n_mmaps;
  o->n_mmaps_max = mp->n_mmaps_max;
  o->max_n_mmaps = mp->max_n_mmaps;
  o->no_dyn_threshold = mp->no_dyn_threshold;
  o->mmapped_mem = mp->mmapped_mem;
  o->max_mmapped_mem = mp->max_mmapped_mem;
  o->sbrk_base = mp->sbrk_base;
  o->tcache_bins = mp->tcache_bins;
  o->tcache_max_bytes = mp->tcache_max_bytes;
  o->tcache_count = mp->tcache_count;
  o->tcache_unsorted_limit = mp->tcache_unsorted_limit;
  o->global_max_fast = rm->global_max_fast;
  o->perturb_byte = rm->perturb_byte;
  o->tcache_key = rm->tcache_key;
  o->curbrk = rm->curbrk;
  o->page_size = rm->pagesize;
  o->narenas = rm->narenas;
  o->initialized = rm->malloc_initialized;
  o->single_thread = !rm->multiple_threads;
}

static const rm_arena_t *nth(const fl_rm_t *rm, size_t i) {
  const rm_arena_t *a = &rm->main_arena;
  while (i--) {
    a = a->next;
    if (a == &rm->main_arena) return NULL;
  }
  return a;
}

size_t fl_rm_arena_count(const fl_rm_t *rm) {
  size_t n = 0;
  const rm_arena_t *a = &rm->main_arena;
  do {
    n++;
    a = a->next;
  } while (a != &rm->main_arena);
  return n;
}

bool fl_rm_arena(const fl_rm_t *rm, size_t i, fl_rm_arena_info_t *o) {
  const rm_arena_t *a = nth(rm, i);
  if (!a) return false;
  memset(o, 0, sizeof *o);
  o->index = a->index;
  o->is_main = a == &rm->main_arena;
  o->addr = a->addr;
  o->top = av_top(a);
  /* chunksize (top): for initial_top this is the last_remainder word. */
  uint64_t sz = 0;
  if (o->top == initial_top(a))
    sz = av_last_remainder(a);
  else
    fl_vm_peek(rm->vm, o->top + 8, &sz, 8);
  o->top_size = sz & ~SIZE_BITS;
  o->last_remainder = av_last_remainder(a);
  for (unsigned k = 0; k < NFASTBINS; k++) o->fastbins[k] = fastbin(a, k);
  memcpy(o->binmap, a->binmap, sizeof o->binmap);
  o->contiguous = contiguous(a);
  o->have_fastchunks = a->have_fastchunks;
  o->attached_threads = a->attached_threads;
  o->system_mem = a->system_mem;
  o->max_system_mem = a->max_system_mem;
  o->heap = o->is_main ? 0 : heap_for_ptr(o->top);
  return true;
}

uintptr_t fl_rm_bin_at(const fl_rm_t *rm, size_t arena, unsigned i) {
  const rm_arena_t *a = nth(rm, arena);
  return a ? bin_at(a, i) : 0;
}

uint64_t fl_rm_word(const fl_rm_t *rm, size_t arena, uintptr_t addr) {
  const rm_arena_t *a = nth(rm, arena);
  if (!a) a = &rm->main_arena;
  uintptr_t off = addr - a->addr;
  uint64_t v = 0;
  if (off <= MS_SIZE - 8)
    memcpy(&v, (const char *)a->img + off, 8);
  else
    fl_vm_peek(rm->vm, addr, &v, 8);
  return v;
}

bool fl_rm_tcache(const fl_rm_t *rm, unsigned tid, fl_rm_tcache_info_t *o) {
  memset(o, 0, sizeof *o);
  if (tid >= rm->nthreads || !rm->threads[tid].tcache) return false;
  o->addr = rm->threads[tid].tcache;
  fl_vm_peek(rm->vm, o->addr + TC_COUNTS, o->counts, sizeof o->counts);
  fl_vm_peek(rm->vm, o->addr + TC_ENTRIES, o->entries, sizeof o->entries);
  return true;
}

size_t fl_rm_heaps(const fl_rm_t *rm, size_t arena, uintptr_t *out, size_t cap) {
  const rm_arena_t *a = nth(rm, arena);
  if (!a || a == &rm->main_arena) return 0;
  size_t n = 0;
  for (uintptr_t h = heap_for_ptr(av_top(a)); h && n < 4096; n++) {
    if (n < cap) out[n] = h;
    uint64_t prev = 0;
    if (fl_vm_peek(rm->vm, h + 8, &prev, 8) != 0) break;
    h = prev;
  }
  return n;
}

int fl_rm_thread_arena(const fl_rm_t *rm, unsigned tid) {
  if (tid >= rm->nthreads || !rm->threads[tid].arena) return -1;
  return rm->threads[tid].arena->index;
}

/* ---- threads --------------------------------------------------------------- */

unsigned fl_rm_thread_count(const fl_rm_t *rm) { return rm->nthreads; }

uintptr_t fl_rm_tcache_addr(const fl_rm_t *rm, unsigned tid) {
  return tid < rm->nthreads && rm->threads[tid].exists ? rm->threads[tid].tcache : 0;
}

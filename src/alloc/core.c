/* core.c — the _int_* core of glibc 2.36 malloc/malloc.c, on the vm model.
 *
 * Each function mirrors the glibc function named in its comment, statement
 * for statement where the order matters (it decides which pages are touched
 * and which integrity check fires first). Every memory access goes through
 * chunk.h's accessors. */
#include <sys/mman.h>

#include "alloc/chunk.h"
#include "util/mutant.h"

/* ------------------------------------------------------------------ perturb */

/* alloc_perturb */
void rm_alloc_perturb(fl_rm_t *rm, uintptr_t p, size_t n) {
  if (rm->perturb_byte) mem_fill(&rm->mem, p, (rm->perturb_byte ^ 0xff) & 0xff, n);
}

/* ------------------------------------------------------------------- state */

/* malloc_init_state */
void rm_init_state(fl_rm_t *rm, rm_arena_t *av) {
  for (unsigned i = 1; i < NBINS; ++i) {
    mchunk bin = bin_at(av, i);
    set_fd(av, bin, bin);
    set_bk(av, bin, bin);
  }
  /* MORECORE_CONTIGUOUS: only the main arena is contiguous. */
  if (av != &rm->main_arena) set_noncontiguous(av);
  if (av == &rm->main_arena) set_max_fast(rm, DEFAULT_MXFAST);
  av->have_fastchunks = 0;
  set_av_top(av, initial_top(av));
}

/* unlink_chunk */
void rm_unlink_chunk(fl_rm_t *rm, rm_arena_t *av, mchunk p) {
  if (chunksize(av, p) != prev_size(av, next_chunk(av, p)))
    rm_printerr(rm, "corrupted size vs. prev_size");
  mchunk f = fd(av, p), b = bk(av, p);
  if (bk(av, f) != p || fd(av, b) != p) rm_printerr(rm, "corrupted double-linked list");
  set_bk(av, f, b);
  set_fd(av, b, f);
  if (!in_smallbin_range(chunksize_nomask(av, p)) && fd_nextsize(av, p) != 0) {
    mchunk fn = fd_nextsize(av, p), bn = bk_nextsize(av, p);
    if (bk_nextsize(av, fn) != p || fd_nextsize(av, bn) != p)
      rm_printerr(rm, "corrupted double-linked list (not small)");
    if (FL_MUT(21, fd_nextsize(av, f) == 0, false)) {
      if (fn == p) {
        set_fd_nextsize(av, f, f);
        set_bk_nextsize(av, f, f);
      } else {
        set_fd_nextsize(av, f, fn);
        set_bk_nextsize(av, f, bn);
        set_bk_nextsize(av, fn, f);
        set_fd_nextsize(av, bn, f);
      }
    } else {
      set_bk_nextsize(av, fn, bn);
      set_fd_nextsize(av, bn, fn);
    }
  }
}

/* ------------------------------------------------------------------- tcache */

static uint16_t tc_count(fl_rm_t *rm, uintptr_t tc, size_t i) {
  return mem_ld16(&rm->mem, tc + TC_COUNTS + 2 * i);
}
static void tc_set_count(fl_rm_t *rm, uintptr_t tc, size_t i, uint16_t v) {
  mem_st16(&rm->mem, tc + TC_COUNTS + 2 * i, v);
}
static uintptr_t tc_entry(fl_rm_t *rm, uintptr_t tc, size_t i) {
  return mem_ld64(&rm->mem, tc + TC_ENTRIES + 8 * i);
}
static void tc_set_entry(fl_rm_t *rm, uintptr_t tc, size_t i, uintptr_t e) {
  mem_st64(&rm->mem, tc + TC_ENTRIES + 8 * i, e);
}

/* tcache_put */
void rm_tcache_put(fl_rm_t *rm, mchunk chunk, size_t tc_idx) {
  uintptr_t tc = tcache_of(rm);
  uintptr_t e = chunk2mem(chunk);
  mem_st64(&rm->mem, e + 8, rm->tcache_key);
  mem_st64(&rm->mem, e, protect_ptr(e, tc_entry(rm, tc, tc_idx)));
  tc_set_entry(rm, tc, tc_idx, e);
  tc_set_count(rm, tc, tc_idx, (uint16_t)(tc_count(rm, tc, tc_idx) + FL_MUT(15, 1, 0)));
}

/* tcache_get */
uintptr_t rm_tcache_get(fl_rm_t *rm, size_t tc_idx) {
  uintptr_t tc = tcache_of(rm);
  uintptr_t e = tc_entry(rm, tc, tc_idx);
  if (!aligned_OK(e)) rm_printerr(rm, "malloc(): unaligned tcache chunk detected");
  tc_set_entry(rm, tc, tc_idx, protect_ptr(e, mem_ld64(&rm->mem, e)));
  tc_set_count(rm, tc, tc_idx, (uint16_t)(tc_count(rm, tc, tc_idx) - 1));
  mem_st64(&rm->mem, e + 8, 0);
  return e;
}

/* tcache_init */
void rm_tcache_init(fl_rm_t *rm) {
  rm_thread_t *t = cur_thread(rm);
  if (t->tcache_shutting_down) return;
  const size_t bytes = TCACHE_STRUCT_SIZE;
  rm_arena_t *ar_ptr = rm_arena_get(rm, bytes);
  uintptr_t victim = rm_int_malloc(rm, ar_ptr, bytes);
  if (!victim && ar_ptr != NULL) {
    ar_ptr = rm_arena_get_retry(rm, ar_ptr, bytes);
    victim = rm_int_malloc(rm, ar_ptr, bytes);
  }
  if (victim) {
    t->tcache = victim;
    mem_fill(&rm->mem, victim, 0, TCACHE_STRUCT_SIZE);
  }
}

/* tcache_thread_shutdown; __libc_free is refmalloc.c's rm_free_internal. */
void rm_tcache_thread_shutdown(fl_rm_t *rm) {
  rm_thread_t *t = cur_thread(rm);
  uintptr_t tc = t->tcache;
  t->tcache_shutting_down = true;
  if (!tc) return;
  t->tcache = 0;
  for (size_t i = 0; i < TCACHE_MAX_BINS; ++i) {
    uintptr_t e;
    while ((e = tc_entry(rm, tc, i)) != 0) {
      if (!aligned_OK(e)) rm_printerr(rm, "tcache_thread_shutdown(): unaligned tcache chunk detected");
      tc_set_entry(rm, tc, i, protect_ptr(e, mem_ld64(&rm->mem, e)));
      rm_free_internal(rm, e);
    }
  }
  rm_free_internal(rm, tc);
}

/* ------------------------------------------------------------------ sysmalloc */

/* sysmalloc_mmap */
static uintptr_t sysmalloc_mmap(fl_rm_t *rm, uint64_t nb, size_t pagesize, int extra_flags,
                                rm_arena_t *av) {
  long size = (long)ALIGN_UP(nb + SIZE_SZ, pagesize);
  if ((unsigned long)size <= (unsigned long)nb) return MAP_FAILED_;
  uintptr_t mm = rm_mmap(rm, 0, (size_t)size, PROT_READ | PROT_WRITE, extra_flags);
  if (mm == MAP_FAILED_) return mm;
  if (!(extra_flags & MAP_HUGETLB)) rm_madvise_thp(rm, mm, (size_t)size);
  mchunk p = mm;
  set_prev_size(av, p, 0);
  set_head(av, p, (uint64_t)size | IS_MMAPPED);
  int n = ++rm->mp.n_mmaps;
  if (n > rm->mp.max_n_mmaps) rm->mp.max_n_mmaps = n;
  size_t sum = rm->mp.mmapped_mem += (size_t)size;
  if (sum > rm->mp.max_mmapped_mem) rm->mp.max_mmapped_mem = sum;
  return chunk2mem(p);
}

/* sysmalloc_mmap_fallback */
static uintptr_t sysmalloc_mmap_fallback(fl_rm_t *rm, long *s, uint64_t nb, uint64_t old_size,
                                         size_t minsize, size_t pagesize, int extra_flags,
                                         rm_arena_t *av) {
  long size = *s;
  if (contiguous(av)) size = (long)ALIGN_UP((unsigned long)size + old_size, pagesize);
  if ((unsigned long)size < minsize) size = (long)minsize;
  if ((unsigned long)size <= (unsigned long)nb) return MAP_FAILED_;
  uintptr_t mbrk = rm_mmap(rm, 0, (size_t)size, PROT_READ | PROT_WRITE, extra_flags);
  if (mbrk == MAP_FAILED_) return MAP_FAILED_;
  if (!(extra_flags & MAP_HUGETLB)) rm_madvise_thp(rm, mbrk, (size_t)size);
  set_noncontiguous(av);
  *s = size;
  return mbrk;
}

/* sysmalloc, the non-main-arena branch: grow the heap or start a new one. */
static uintptr_t sysmalloc_heap(fl_rm_t *rm, uint64_t nb, rm_arena_t *av, bool tried_mmap) {
  mchunk old_top = av_top(av);
  uint64_t old_size = chunksize(av, old_top);
  uintptr_t old_heap = heap_for_ptr(old_top);
  size_t old_heap_size = rm_heap_size(rm, old_heap);
  uintptr_t heap;
  if ((long)(MINSIZE + nb - old_size) > 0 && rm_grow_heap(rm, old_heap, (long)(MINSIZE + nb - old_size)) == 0) {
    FL_MUT_SKIP(22) av->system_mem += rm_heap_size(rm, old_heap) - old_heap_size;
    set_head(av, old_top, (old_heap + rm_heap_size(rm, old_heap) - old_top) | PREV_INUSE);
  } else if ((heap = rm_new_heap(rm, nb + (MINSIZE + HEAP_INFO_SIZE), rm->mp.top_pad)) != 0) {
    rm_heap_set_ar_ptr(rm, heap, av);
    rm_heap_set_prev(rm, heap, old_heap);
    av->system_mem += rm_heap_size(rm, heap);
    set_av_top(av, heap + HEAP_INFO_SIZE);
    set_head(av, av_top(av), (rm_heap_size(rm, heap) - HEAP_INFO_SIZE) | PREV_INUSE);
    /* Fencepost, and free the old top chunk with a multiple of
     * MALLOC_ALIGNMENT in size. */
    old_size = (old_size - MINSIZE) & ~MALLOC_ALIGN_MASK;
    set_head(av, old_top + old_size + CHUNK_HDR_SZ, 0 | PREV_INUSE);
    if (old_size >= MINSIZE) {
      set_head(av, old_top + old_size, CHUNK_HDR_SZ | PREV_INUSE);
      set_foot(av, old_top + old_size, CHUNK_HDR_SZ);
      set_head(av, old_top, old_size | PREV_INUSE | NON_MAIN_ARENA);
      rm_int_free(rm, av, old_top, 1);
    } else {
      set_head(av, old_top, (old_size + CHUNK_HDR_SZ) | PREV_INUSE);
      set_foot(av, old_top, old_size + CHUNK_HDR_SZ);
    }
  } else if (!tried_mmap) {
    uintptr_t mm = sysmalloc_mmap(rm, nb, rm->pagesize, 0, av);
    if (mm != MAP_FAILED_) return mm;
  }
  return 0;
}

/* sysmalloc, the main-arena adjustments when the new space does not simply
 * extend the old top: front misalignment, the second sbrk, fenceposts. */
static void sysmalloc_adjust(fl_rm_t *rm, rm_arena_t *av, uintptr_t brk, uintptr_t snd_brk, long size,
                             mchunk old_top, uint64_t old_size, uintptr_t old_end) {
  size_t pagesize = rm->pagesize;
  long correction = 0;
  uintptr_t aligned_brk = brk;
  if (contiguous(av)) {
    if (old_size) av->system_mem += brk - old_end;
    uint64_t front_misalign = chunk2mem(brk) & MALLOC_ALIGN_MASK;
    if (front_misalign > 0) {
      correction = (long)(MALLOC_ALIGNMENT - front_misalign);
      aligned_brk += (uintptr_t)correction;
    }
    correction += (long)old_size;
    uintptr_t end_misalign = brk + (uintptr_t)size + (uintptr_t)correction;
    correction += (long)(ALIGN_UP(end_misalign, pagesize) - end_misalign);
    RM_ASSERT(rm, "sysmalloc", correction >= 0, "correction >= 0");
    snd_brk = rm_sbrk(rm, correction);
    if (snd_brk == (uintptr_t)-1) {
      correction = 0;
      snd_brk = rm_sbrk(rm, 0);
    } else {
      rm_madvise_thp(rm, snd_brk, (size_t)correction);
    }
  } else {
    RM_ASSERT(rm, "sysmalloc", (chunk2mem(brk) & MALLOC_ALIGN_MASK) == 0,
              "((unsigned long) chunk2mem (brk) & MALLOC_ALIGN_MASK) == 0");
    if (snd_brk == (uintptr_t)-1) snd_brk = rm_sbrk(rm, 0);
  }
  if (snd_brk == (uintptr_t)-1) return;
  set_av_top(av, aligned_brk);
  set_head(av, aligned_brk, (snd_brk - aligned_brk + (uintptr_t)correction) | PREV_INUSE);
  av->system_mem += (size_t)correction;
  if (old_size != 0) {
    /* Double fencepost at old_top so nothing coalesces into foreign space. */
    old_size = (old_size - 2 * CHUNK_HDR_SZ) & ~MALLOC_ALIGN_MASK;
    set_head(av, old_top, old_size | PREV_INUSE);
    set_head(av, old_top + old_size, CHUNK_HDR_SZ | PREV_INUSE);
    set_head(av, old_top + old_size + CHUNK_HDR_SZ, CHUNK_HDR_SZ | PREV_INUSE);
    if (old_size >= MINSIZE) rm_int_free(rm, av, old_top, 1);
  }
}

/* sysmalloc, the main-arena branch: MORECORE, else mmap as MORECORE. */
static void sysmalloc_main(fl_rm_t *rm, uint64_t nb, rm_arena_t *av) {
  mchunk old_top = av_top(av);
  uint64_t old_size = chunksize(av, old_top);
  uintptr_t old_end = old_top + old_size;
  uintptr_t brk = (uintptr_t)-1, snd_brk = (uintptr_t)-1;
  /* glibc's size is a long fed from size_t arithmetic: an impossible nb
   * wraps it (then "size > 0" refuses brk). Unsigned here, the same bits. */
  uint64_t want = nb + rm->mp.top_pad + MINSIZE;
  if (contiguous(av)) want -= old_size;
  long size = (long)want;
  if (rm->mp.thp_pagesize != 0) {
    uintptr_t top = ALIGN_UP(rm->curbrk + (uintptr_t)size, rm->mp.thp_pagesize);
    size = (long)(top - rm->curbrk);
  } else {
    size = FL_MUT(20, (long)ALIGN_UP((unsigned long)size, rm->pagesize), size);
  }
  if (size > 0) {
    brk = rm_sbrk(rm, size);
    if (brk != (uintptr_t)-1) rm_madvise_thp(rm, brk, (size_t)size);
  }
  if (brk == (uintptr_t)-1) {
    uintptr_t mbrk = MAP_FAILED_;
    if (rm->mp.hp_pagesize > 0)
      mbrk = sysmalloc_mmap_fallback(rm, &size, nb, old_size, rm->mp.hp_pagesize, rm->mp.hp_pagesize,
                                     rm->mp.hp_flags, av);
    if (mbrk == MAP_FAILED_)
      mbrk = sysmalloc_mmap_fallback(rm, &size, nb, old_size, rm->pagesize, MMAP_AS_MORECORE_SIZE, 0, av);
    if (mbrk != MAP_FAILED_) {
      brk = mbrk;
      snd_brk = brk + (uintptr_t)size;
    }
  }
  if (brk == (uintptr_t)-1) return;
  if (rm->mp.sbrk_base == 0) rm->mp.sbrk_base = brk;
  av->system_mem += (size_t)size;
  if (brk == old_end && snd_brk == (uintptr_t)-1)
    set_head(av, old_top, ((uint64_t)size + old_size) | PREV_INUSE);
  else if (contiguous(av) && old_size && brk < old_end)
    rm_printerr(rm, "break adjusted to free malloc space");
  else
    sysmalloc_adjust(rm, av, brk, snd_brk, size, old_top, old_size, old_end);
}

/* sysmalloc */
uintptr_t rm_sysmalloc(fl_rm_t *rm, uint64_t nb, rm_arena_t *av) {
  size_t pagesize = rm->pagesize;
  bool tried_mmap = false;
  if (av == NULL || (nb >= rm->mp.mmap_threshold && rm->mp.n_mmaps < rm->mp.n_mmaps_max)) {
    uintptr_t mm;
    rm_arena_t *mav = av ? av : &rm->main_arena;
    if (rm->mp.hp_pagesize > 0 && nb >= rm->mp.hp_pagesize) {
      mm = sysmalloc_mmap(rm, nb, rm->mp.hp_pagesize, rm->mp.hp_flags, mav);
      if (mm != MAP_FAILED_) return mm;
    }
    mm = sysmalloc_mmap(rm, nb, pagesize, 0, mav);
    if (mm != MAP_FAILED_) return mm;
    tried_mmap = true;
  }
  if (av == NULL) return 0;

  mchunk old_top = av_top(av);
  uint64_t old_size = chunksize(av, old_top);
  uintptr_t old_end = old_top + old_size;
  RM_ASSERT(rm, "sysmalloc",
            (old_top == initial_top(av) && old_size == 0) ||
                (old_size >= MINSIZE && prev_inuse(av, old_top) && (old_end & (pagesize - 1)) == 0),
            "(old_top == initial_top (av) && old_size == 0) || ((unsigned long) (old_size) >= "
            "MINSIZE && prev_inuse (old_top) && ((unsigned long) old_end & (pagesize - 1)) == 0)");
  RM_ASSERT(rm, "sysmalloc", old_size < nb + MINSIZE,
            "(unsigned long) (old_size) < (unsigned long) (nb + MINSIZE)");

  if (av != &rm->main_arena) {
    uintptr_t mm = sysmalloc_heap(rm, nb, av, tried_mmap);
    if (mm) return mm;
  } else {
    sysmalloc_main(rm, nb, av);
  }
  if (av->system_mem > av->max_system_mem) av->max_system_mem = av->system_mem;

  mchunk p = av_top(av);
  uint64_t size = chunksize(av, p);
  if (size >= nb + MINSIZE) {
    uint64_t remainder_size = size - nb;
    mchunk remainder = p + nb;
    set_av_top(av, remainder);
    set_head(av, p, nb | PREV_INUSE | (av != &rm->main_arena ? NON_MAIN_ARENA : 0));
    set_head(av, remainder, remainder_size | PREV_INUSE);
    return chunk2mem(p);
  }
  rm->err = ENOMEM;
  return 0;
}

/* systrim */
int rm_systrim(fl_rm_t *rm, size_t pad, rm_arena_t *av) {
  long top_size = (long)chunksize(av, av_top(av));
  long top_area = top_size - (long)MINSIZE - 1;
  /* glibc compares long with size_t here, so top_area converts to unsigned:
   * when top is exactly MINSIZE, top_area is -1, the test passes, extra
   * becomes -pagesize and sbrk(-extra) *grows* the heap by a page. Real
   * 2.36 does this (e.g. free() with GLIBC_TUNABLES trim_threshold=0 and
   * top_pad=0), so refmalloc does too. */
  if ((unsigned long)top_area <= pad) return 0;
  long extra;
  if (rm->mp.thp_pagesize != 0)
    extra = (long)ALIGN_DOWN((unsigned long)top_area - pad, rm->mp.thp_pagesize);
  else
    extra = (long)ALIGN_DOWN((unsigned long)top_area - pad, rm->pagesize);
  if (extra == 0) return 0;
  uintptr_t current_brk = rm_sbrk(rm, 0);
  if (current_brk == av_top(av) + (uintptr_t)top_size) {
    rm_sbrk(rm, -extra);
    uintptr_t new_brk = rm_sbrk(rm, 0);
    if (new_brk != (uintptr_t)-1) {
      long released = (long)(current_brk - new_brk);
      if (released != 0) {
        av->system_mem -= (size_t)released;
        set_head(av, av_top(av), (uint64_t)FL_MUT(18, top_size - released, top_size) | PREV_INUSE);
        return 1;
      }
    }
  }
  return 0;
}

/* munmap_chunk */
void rm_munmap_chunk(fl_rm_t *rm, mchunk p) {
  rm_arena_t *av = &rm->main_arena;
  size_t pagesize = rm->pagesize;
  uint64_t size = chunksize(av, p);
  RM_ASSERT(rm, "munmap_chunk", chunk_is_mmapped(av, p), "chunk_is_mmapped (p)");
  uintptr_t mem = chunk2mem(p);
  uintptr_t block = p - prev_size(av, p);
  size_t total_size = prev_size(av, p) + size;
  uintptr_t low = mem & (pagesize - 1);
  if (((block | total_size) & (pagesize - 1)) != 0 || (low & (low - 1)) != 0)
    rm_printerr(rm, "munmap_chunk(): invalid pointer");
  FL_MUT_SKIP(17) rm->mp.n_mmaps--;
  rm->mp.mmapped_mem -= total_size;
  FL_MUT_SKIP(16) rm_munmap(rm, block, total_size);
}

/* mremap_chunk */
mchunk rm_mremap_chunk(fl_rm_t *rm, mchunk p, size_t new_size) {
  rm_arena_t *av = &rm->main_arena;
  size_t pagesize = rm->pagesize;
  uint64_t offset = prev_size(av, p);
  uint64_t size = chunksize(av, p);
  RM_ASSERT(rm, "mremap_chunk", chunk_is_mmapped(av, p), "chunk_is_mmapped (p)");
  uintptr_t block = p - offset;
  uintptr_t mem = chunk2mem(p);
  size_t total_size = offset + size;
  uintptr_t low = mem & (pagesize - 1);
  if (((block | total_size) & (pagesize - 1)) != 0 || (low & (low - 1)) != 0)
    rm_printerr(rm, "mremap_chunk(): invalid pointer");
  new_size = ALIGN_UP(new_size + offset + SIZE_SZ, pagesize);
  if (total_size == new_size) return p;
  uintptr_t cp = rm_mremap(rm, block, total_size, new_size, MREMAP_MAYMOVE);
  if (cp == MAP_FAILED_) return 0;
  rm_madvise_thp(rm, cp, new_size);
  p = cp + offset;
  RM_ASSERT(rm, "mremap_chunk", aligned_OK(chunk2mem(p)), "aligned_OK (chunk2mem (p))");
  RM_ASSERT(rm, "mremap_chunk", prev_size(av, p) == offset, "prev_size (p) == offset");
  set_head(av, p, FL_MUT(19, new_size - offset, total_size - offset) | IS_MMAPPED);
  size_t nw = rm->mp.mmapped_mem += new_size - size - offset;
  if (nw > rm->mp.max_mmapped_mem) rm->mp.max_mmapped_mem = nw;
  return p;
}

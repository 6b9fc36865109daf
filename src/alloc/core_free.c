/* core_free.c — _int_free, malloc_consolidate, _int_realloc, _int_memalign
 * and mtrim of glibc 2.36 malloc/malloc.c. */
#include <sys/mman.h>

#include "alloc/chunk.h"
#include "util/mutant.h"

static uint64_t arena_bit(const fl_rm_t *rm, const rm_arena_t *av) {
  return av != &rm->main_arena ? NON_MAIN_ARENA : 0;
}

static void free_perturb(fl_rm_t *rm, uintptr_t p, size_t n) {
  if (rm->perturb_byte) mem_fill(&rm->mem, p, rm->perturb_byte & 0xff, n);
}

/* _int_free: the tcache double-free check and the tcache put.
 * Returns true when the chunk went to the tcache. */
static bool free_tcache(fl_rm_t *rm, mchunk p, uint64_t size) {
  size_t tc_idx = csize2tidx(size);
  uintptr_t tc = tcache_of(rm);
  if (tc == 0 || tc_idx >= rm->mp.tcache_bins) return false;
  uintptr_t e = chunk2mem(p);
  if (mem_ld64(&rm->mem, e + 8) == rm->tcache_key) {
    size_t cnt = 0;
    for (uintptr_t tmp = mem_ld64(&rm->mem, tc + TC_ENTRIES + 8 * tc_idx); tmp;
         tmp = protect_ptr(tmp, mem_ld64(&rm->mem, tmp)), ++cnt) {
      if (cnt >= rm->mp.tcache_count) rm_printerr(rm, "free(): too many chunks detected in tcache");
      if (!aligned_OK(tmp)) rm_printerr(rm, "free(): unaligned chunk detected in tcache 2");
      if (tmp == e) rm_printerr(rm, "free(): double free detected in tcache 2");
    }
  }
  if (mem_ld16(&rm->mem, tc + TC_COUNTS + 2 * tc_idx) < rm->mp.tcache_count + FL_MUT(8, 0, 1)) {
    rm_tcache_put(rm, p, tc_idx);
    return true;
  }
  return false;
}

/* _int_free: the fastbin path. */
static void free_fastbin(fl_rm_t *rm, rm_arena_t *av, mchunk p, uint64_t size, int have_lock) {
  mchunk nxt = p + size;
  if (chunksize_nomask(av, nxt) <= CHUNK_HDR_SZ || chunksize(av, nxt) >= av->system_mem) {
    /* Without the lock glibc re-reads after locking: same values here. */
    rm_printerr(rm, "free(): invalid next size (fast)");
  }
  free_perturb(rm, chunk2mem(p), size - CHUNK_HDR_SZ);
  av->have_fastchunks = 1;
  unsigned idx = FL_MUT(1, fastbin_index(size), fastbin_index(size) + 1);
  mchunk old = fastbin(av, idx);
  if (old == p) rm_printerr(rm, "double free or corruption (fasttop)");
  set_fd(av, p, protect_ptr(p + 16, old));
  set_fastbin(av, idx, p);
  if (have_lock && old != 0 && fastbin_index(chunksize(av, old)) != idx)
    rm_printerr(rm, "invalid fastbin entry (free)");
}

/* Coalesce p (size) with its free neighbours and put the result in the
 * unsorted bin or into top; shared by _int_free and malloc_consolidate,
 * which differ only in messages and list order. Returns the final size. */
static uint64_t free_coalesce(fl_rm_t *rm, rm_arena_t *av, mchunk p, uint64_t size, mchunk nextchunk,
                              uint64_t nextsize, bool from_free) {
  if (FL_MUT(11, !prev_inuse(av, p), false)) {
    uint64_t prevsize = prev_size(av, p);
    size += prevsize;
    p = p - prevsize;
    if (chunksize(av, p) != prevsize)
      rm_printerr(rm, from_free ? "corrupted size vs. prev_size while consolidating"
                                : "corrupted size vs. prev_size in fastbins");
    rm_unlink_chunk(rm, av, p);
  }
  if (nextchunk != av_top(av)) {
    bool nextinuse = inuse_bit_at_offset(av, nextchunk, nextsize);
    if (!nextinuse) {
      if (from_free) {
        rm_unlink_chunk(rm, av, nextchunk);
        size += nextsize;
      } else {
        size += nextsize;
        rm_unlink_chunk(rm, av, nextchunk);
      }
    } else {
      FL_MUT_SKIP(10) clear_inuse_bit_at_offset(av, nextchunk, 0);
    }
    mchunk bck = unsorted_chunks(av);
    mchunk fwd = fd(av, bck);
    if (from_free) {
      if (bk(av, fwd) != bck) rm_printerr(rm, "free(): corrupted unsorted chunks");
      set_fd(av, p, fwd);
      set_bk(av, p, bck);
      if (!in_smallbin_range(size)) {
        set_fd_nextsize(av, p, 0);
        set_bk_nextsize(av, p, 0);
      }
      set_fd(av, bck, p);
      set_bk(av, fwd, p);
      set_head(av, p, size | PREV_INUSE);
      set_foot(av, p, size);
    } else {
      set_fd(av, bck, p);
      set_bk(av, fwd, p);
      if (!in_smallbin_range(size)) {
        set_fd_nextsize(av, p, 0);
        set_bk_nextsize(av, p, 0);
      }
      set_head(av, p, size | PREV_INUSE);
      set_bk(av, p, bck);
      set_fd(av, p, fwd);
      set_foot(av, p, size);
    }
  } else {
    size += nextsize;
    set_head(av, p, size | PREV_INUSE);
    set_av_top(av, p);
  }
  return size;
}

/* _int_free: the path for chunks that are neither tcache'd nor fast. */
static void free_normal(fl_rm_t *rm, rm_arena_t *av, mchunk p, uint64_t size) {
  mchunk nextchunk = p + size;
  if (p == av_top(av)) rm_printerr(rm, "double free or corruption (top)");
  if (contiguous(av) && nextchunk >= av_top(av) + chunksize(av, av_top(av)))
    rm_printerr(rm, "double free or corruption (out)");
  if (!prev_inuse(av, nextchunk)) rm_printerr(rm, "double free or corruption (!prev)");
  uint64_t nextsize = chunksize(av, nextchunk);
  if (chunksize_nomask(av, nextchunk) <= CHUNK_HDR_SZ || nextsize >= av->system_mem)
    rm_printerr(rm, "free(): invalid next size (normal)");
  free_perturb(rm, chunk2mem(p), size - CHUNK_HDR_SZ);
  size = free_coalesce(rm, av, p, size, nextchunk, nextsize, true);
  if (size >= FASTBIN_CONSOLIDATION_THRESHOLD) {
    if (av->have_fastchunks) rm_malloc_consolidate(rm, av);
    if (av == &rm->main_arena) {
      if (chunksize(av, av_top(av)) >= rm->mp.trim_threshold) rm_systrim(rm, rm->mp.top_pad, av);
    } else {
      uintptr_t heap = heap_for_ptr(av_top(av));
      RM_ASSERT(rm, "_int_free", rm_heap_ar_ptr(rm, heap) == av->addr, "heap->ar_ptr == av");
      rm_heap_trim(rm, heap, rm->mp.top_pad);
    }
  }
}

/* _int_free */
void rm_int_free(fl_rm_t *rm, rm_arena_t *av, mchunk p, int have_lock) {
  uint64_t size = chunksize(av, p);
  if (p > (uintptr_t)-size || misaligned_chunk(p)) rm_printerr(rm, "free(): invalid pointer");
  if (size < MINSIZE || !aligned_OK(size)) rm_printerr(rm, "free(): invalid size");
  if (free_tcache(rm, p, size)) return;
  if (size <= get_max_fast(rm))
    free_fastbin(rm, av, p, size, have_lock);
  else if (!chunk_is_mmapped(av, p))
    free_normal(rm, av, p, size);
  else
    rm_munmap_chunk(rm, p);
}

/* malloc_consolidate */
void rm_malloc_consolidate(fl_rm_t *rm, rm_arena_t *av) {
  av->have_fastchunks = 0;
  for (unsigned i = 0; i < NFASTBINS; ++i) {
    mchunk p = fastbin(av, i);
    set_fastbin(av, i, 0);
    while (p != 0) {
      if (misaligned_chunk(p)) rm_printerr(rm, "malloc_consolidate(): unaligned fastbin chunk detected");
      if (fastbin_index(chunksize(av, p)) != i) rm_printerr(rm, "malloc_consolidate(): invalid chunk size");
      mchunk nextp = protect_ptr(p + 16, fd(av, p));
      uint64_t size = chunksize(av, p);
      mchunk nextchunk = p + size;
      uint64_t nextsize = chunksize(av, nextchunk);
      free_coalesce(rm, av, p, size, nextchunk, nextsize, false);
      p = nextp;
    }
  }
}

/* _int_realloc */
uintptr_t rm_int_realloc(fl_rm_t *rm, rm_arena_t *av, mchunk oldp, uint64_t oldsize, uint64_t nb) {
  mchunk newp;
  uint64_t newsize;
  if (chunksize_nomask(av, oldp) <= CHUNK_HDR_SZ || oldsize >= av->system_mem)
    rm_printerr(rm, "realloc(): invalid old size");
  RM_ASSERT(rm, "_int_realloc", !chunk_is_mmapped(av, oldp), "!chunk_is_mmapped (oldp)");
  mchunk next = oldp + oldsize;
  uint64_t nextsize = chunksize(av, next);
  if (chunksize_nomask(av, next) <= CHUNK_HDR_SZ || nextsize >= av->system_mem)
    rm_printerr(rm, "realloc(): invalid next size");
  if (oldsize >= nb) {
    newp = oldp;
    newsize = oldsize;
  } else if (next == av_top(av) && (newsize = oldsize + nextsize) >= nb + MINSIZE) {
    set_head_size(av, oldp, nb | arena_bit(rm, av));
    set_av_top(av, oldp + nb);
    set_head(av, av_top(av), FL_MUT(13, newsize - nb, newsize) | PREV_INUSE);
    return chunk2mem(oldp);
  } else if (next != av_top(av) && !inuse(av, next) && (newsize = oldsize + nextsize) >= nb) {
    newp = oldp;
    rm_unlink_chunk(rm, av, next);
  } else {
    uintptr_t newmem = rm_int_malloc(rm, av, nb - MALLOC_ALIGN_MASK);
    if (newmem == 0) return 0;
    newp = mem2chunk(newmem);
    newsize = chunksize(av, newp);
    if (newp == next) {
      newsize += oldsize;
      newp = oldp;
    } else {
      uintptr_t oldmem = chunk2mem(oldp);
      size_t sz = memsize(av, oldp);
      mem_copy(&rm->mem, newmem, oldmem, sz);
      rm_int_free(rm, av, oldp, 1);
      return newmem;
    }
  }
  RM_ASSERT(rm, "_int_realloc", newsize >= nb, "(unsigned long) (newsize) >= (unsigned long) (nb)");
  uint64_t remainder_size = newsize - nb;
  if (remainder_size < MINSIZE) {
    set_head_size(av, newp, newsize | arena_bit(rm, av));
    set_inuse_bit_at_offset(av, newp, newsize);
  } else {
    mchunk remainder = newp + nb;
    set_head_size(av, newp, nb | arena_bit(rm, av));
    set_head(av, remainder, remainder_size | PREV_INUSE | arena_bit(rm, av));
    set_inuse_bit_at_offset(av, remainder, remainder_size);
    rm_int_free(rm, av, remainder, 1);
  }
  return chunk2mem(newp);
}

/* _int_memalign */
uintptr_t rm_int_memalign(fl_rm_t *rm, rm_arena_t *av, size_t alignment, size_t bytes) {
  uint64_t nb = checked_request2size(bytes);
  if (nb == 0 || alignment > (size_t)PTRDIFF_MAX) {
    rm->err = ENOMEM;
    return 0;
  }
  uintptr_t m = rm_int_malloc(rm, av, nb + alignment + MINSIZE);
  if (m == 0) return 0;
  rm_arena_t *a = av ? av : &rm->main_arena;
  mchunk p = mem2chunk(m);
  if (m % alignment != 0) {
    uintptr_t brk = mem2chunk((m + alignment - 1) & -(uintptr_t)alignment);
    if (brk - p < MINSIZE) brk += alignment;
    mchunk newp = brk;
    uint64_t leadsize = brk - p;
    uint64_t newsize = chunksize(a, p) - leadsize;
    if (chunk_is_mmapped(a, p)) {
      set_prev_size(a, newp, prev_size(a, p) + leadsize);
      set_head(a, newp, newsize | IS_MMAPPED);
      return chunk2mem(newp);
    }
    set_head(a, newp, newsize | PREV_INUSE | arena_bit(rm, a));
    set_inuse_bit_at_offset(a, newp, newsize);
    set_head_size(a, p, leadsize | arena_bit(rm, a));
    rm_int_free(rm, a, p, 1);
    p = newp;
    RM_ASSERT(rm, "_int_memalign", newsize >= nb && chunk2mem(p) % alignment == 0,
              "newsize >= nb && (((unsigned long) (chunk2mem (p))) % alignment) == 0");
  }
  if (!chunk_is_mmapped(a, p)) {
    uint64_t size = chunksize(a, p);
    if (size > nb + MINSIZE) {
      uint64_t remainder_size = size - nb;
      mchunk remainder = p + nb;
      set_head(a, remainder, remainder_size | PREV_INUSE | arena_bit(rm, a));
      FL_MUT_SKIP(14) set_head_size(a, p, nb);
      rm_int_free(rm, a, remainder, 1);
    }
  }
  return chunk2mem(p);
}

/* mtrim */
int rm_mtrim(fl_rm_t *rm, rm_arena_t *av, size_t pad) {
  rm_malloc_consolidate(rm, av);
  const size_t ps = rm->pagesize;
  unsigned psindex = bin_index(ps);
  const size_t psm1 = ps - 1;
  int result = 0;
  for (unsigned i = 1; i < NBINS; ++i) {
    if (i != 1 && i < psindex) continue;
    mchunk bin = bin_at(av, i);
    for (mchunk p = last(av, bin); p != bin; p = bk(av, p)) {
      uint64_t size = chunksize(av, p);
      if (size > psm1 + 48 /* sizeof (struct malloc_chunk) */) {
        uintptr_t paligned_mem = (p + 48 + psm1) & ~psm1;
        RM_ASSERT(rm, "mtrim", chunk2mem(p) + 2 * CHUNK_HDR_SZ <= paligned_mem,
                  "(char *) chunk2mem (p) + 2 * CHUNK_HDR_SZ <= paligned_mem");
        RM_ASSERT(rm, "mtrim", p + size > paligned_mem, "(char *) p + size > paligned_mem");
        size -= paligned_mem - p;
        if (size > psm1) {
          rm_madvise(rm, paligned_mem, FL_MUT(12, size & ~psm1, size), MADV_DONTNEED);
          result = 1;
        }
      }
    }
  }
  return result | (av == &rm->main_arena ? rm_systrim(rm, pad, av) : 0);
}

/* core_malloc.c — _int_malloc of glibc 2.36 malloc/malloc.c, in its steps:
 * fastbin, smallbin, (consolidate), unsorted sort, large-bin best fit,
 * binmap scan, top, sysmalloc. */
#include "alloc/chunk.h"
#include "util/mutant.h"

static uintptr_t ret_chunk(fl_rm_t *rm, mchunk victim, size_t bytes) {
  uintptr_t p = chunk2mem(victim);
  rm_alloc_perturb(rm, p, bytes);
  return p;
}

static uint64_t arena_bit(const fl_rm_t *rm, const rm_arena_t *av) {
  return av != &rm->main_arena ? NON_MAIN_ARENA : 0;
}

static uint16_t tc_count(fl_rm_t *rm, size_t i) {
  return mem_ld16(&rm->mem, tcache_of(rm) + TC_COUNTS + 2 * i);
}

/* _int_malloc: the fastbin path, with the tcache refill from the same bin. */
static bool malloc_fastbin(fl_rm_t *rm, rm_arena_t *av, uint64_t nb, size_t bytes, uintptr_t *out) {
  unsigned idx = fastbin_index(nb);
  mchunk victim = fastbin(av, idx);
  if (victim == 0) return false;
  if (misaligned_chunk(victim)) rm_printerr(rm, "malloc(): unaligned fastbin chunk detected 2");
  /* SINGLE_THREAD_P and REMOVE_FB agree when no other thread runs, except
   * for the misalignment check REMOVE_FB makes on the new head. */
  mchunk pp = protect_ptr(victim + 16, fd(av, victim));
  if (!single_thread_p(rm) && pp != 0 && misaligned_chunk(pp))
    rm_printerr(rm, "malloc(): unaligned fastbin chunk detected");
  set_fastbin(av, idx, pp);
  if (fastbin_index(chunksize(av, victim)) != idx) rm_printerr(rm, "malloc(): memory corruption (fast)");
  size_t tc_idx = csize2tidx(nb);
  if (tcache_of(rm) && tc_idx < rm->mp.tcache_bins) {
    mchunk tc_victim;
    while (tc_count(rm, tc_idx) < rm->mp.tcache_count && (tc_victim = fastbin(av, idx)) != 0) {
      if (misaligned_chunk(tc_victim)) rm_printerr(rm, "malloc(): unaligned fastbin chunk detected 3");
      pp = protect_ptr(tc_victim + 16, fd(av, tc_victim));
      if (!single_thread_p(rm) && pp != 0 && misaligned_chunk(pp))
        rm_printerr(rm, "malloc(): unaligned fastbin chunk detected");
      set_fastbin(av, idx, pp);
      rm_tcache_put(rm, tc_victim, tc_idx);
    }
  }
  *out = ret_chunk(rm, victim, bytes);
  return true;
}

/* _int_malloc: the exact-fit smallbin path, with the tcache refill. */
static bool malloc_smallbin(fl_rm_t *rm, rm_arena_t *av, uint64_t nb, size_t bytes, uintptr_t *out) {
  unsigned idx = smallbin_index(nb);
  mchunk bin = bin_at(av, idx);
  mchunk victim = last(av, bin);
  if (victim == bin) return false;
  mchunk bck = bk(av, victim);
  if (fd(av, bck) != victim) rm_printerr(rm, "malloc(): smallbin double linked list corrupted");
  FL_MUT_SKIP(3) set_inuse_bit_at_offset(av, victim, nb);
  set_bk(av, bin, bck);
  set_fd(av, bck, bin);
  if (av != &rm->main_arena) set_non_main_arena(av, victim);
  size_t tc_idx = csize2tidx(nb);
  if (tcache_of(rm) && tc_idx < rm->mp.tcache_bins) {
    mchunk tc_victim;
    while (tc_count(rm, tc_idx) < rm->mp.tcache_count && (tc_victim = last(av, bin)) != bin) {
      if (tc_victim != 0) {
        bck = bk(av, tc_victim);
        set_inuse_bit_at_offset(av, tc_victim, nb);
        if (av != &rm->main_arena) set_non_main_arena(av, tc_victim);
        set_bk(av, bin, bck);
        set_fd(av, bck, bin);
        rm_tcache_put(rm, tc_victim, tc_idx);
      }
    }
  }
  *out = ret_chunk(rm, victim, bytes);
  return true;
}

/* The checks _int_malloc makes on each unsorted chunk, in glibc's order. */
static void unsorted_checks(fl_rm_t *rm, rm_arena_t *av, mchunk victim, mchunk bck, uint64_t size) {
  mchunk next = victim + size;
  if (size <= CHUNK_HDR_SZ || size > av->system_mem) rm_printerr(rm, "malloc(): invalid size (unsorted)");
  if (chunksize_nomask(av, next) < CHUNK_HDR_SZ || chunksize_nomask(av, next) > av->system_mem)
    rm_printerr(rm, "malloc(): invalid next size (unsorted)");
  if ((prev_size(av, next) & ~SIZE_BITS) != size)
    rm_printerr(rm, "malloc(): mismatching next->prev_size (unsorted)");
  if (fd(av, bck) != victim || fd(av, victim) != unsorted_chunks(av))
    rm_printerr(rm, "malloc(): unsorted double linked list corrupted");
  if (prev_inuse(av, next)) rm_printerr(rm, "malloc(): invalid next->prev_inuse (unsorted)");
}

/* Place an unsorted chunk in its small or large bin (the nextsize ring). */
static void bin_unsorted(fl_rm_t *rm, rm_arena_t *av, mchunk victim, uint64_t size) {
  unsigned victim_index;
  mchunk bck, fwd;
  if (in_smallbin_range(size)) {
    victim_index = smallbin_index(size);
    bck = bin_at(av, victim_index);
    fwd = fd(av, bck);
  } else {
    victim_index = largebin_index(size);
    bck = bin_at(av, victim_index);
    fwd = fd(av, bck);
    if (fwd != bck) {
      size |= PREV_INUSE;
      RM_ASSERT(rm, "_int_malloc", chunk_main_arena(av, bk(av, bck)), "chunk_main_arena (bck->bk)");
      if (size < chunksize_nomask(av, bk(av, bck)) + FL_MUT(5, 0, 1)) {
        fwd = bck;
        bck = bk(av, bck);
        set_fd_nextsize(av, victim, fd(av, fwd));
        set_bk_nextsize(av, victim, bk_nextsize(av, fd(av, fwd)));
        mchunk t = fd(av, fwd);
        set_fd_nextsize(av, bk_nextsize(av, victim), victim);
        set_bk_nextsize(av, t, victim);
      } else {
        RM_ASSERT(rm, "_int_malloc", chunk_main_arena(av, fwd), "chunk_main_arena (fwd)");
        while (size < chunksize_nomask(av, fwd)) {
          fwd = fd_nextsize(av, fwd);
          RM_ASSERT(rm, "_int_malloc", chunk_main_arena(av, fwd), "chunk_main_arena (fwd)");
        }
        if (size == chunksize_nomask(av, fwd)) {
          fwd = fd(av, fwd);
        } else {
          set_fd_nextsize(av, victim, fwd);
          set_bk_nextsize(av, victim, bk_nextsize(av, fwd));
          if (fd_nextsize(av, bk_nextsize(av, fwd)) != fwd)
            rm_printerr(rm, "malloc(): largebin double linked list corrupted (nextsize)");
          set_bk_nextsize(av, fwd, victim);
          set_fd_nextsize(av, bk_nextsize(av, victim), victim);
        }
        bck = bk(av, fwd);
        if (fd(av, bck) != fwd) rm_printerr(rm, "malloc(): largebin double linked list corrupted (bk)");
      }
    } else {
      set_fd_nextsize(av, victim, victim);
      set_bk_nextsize(av, victim, victim);
    }
  }
  FL_MUT_SKIP(4) mark_bin(av, victim_index);
  set_bk(av, victim, bck);
  set_fd(av, victim, fwd);
  set_bk(av, fwd, victim);
  set_fd(av, bck, victim);
}

/* Split victim: nb for the caller, the remainder to the unsorted list. */
static void split_to_unsorted(fl_rm_t *rm, rm_arena_t *av, mchunk victim, uint64_t size, uint64_t nb,
                              const char *corrupt_msg, bool set_last_remainder) {
  uint64_t remainder_size = size - nb;
  if (remainder_size < MINSIZE) {
    set_inuse_bit_at_offset(av, victim, size);
    if (av != &rm->main_arena) set_non_main_arena(av, victim);
    return;
  }
  mchunk remainder = victim + nb;
  mchunk bck = unsorted_chunks(av);
  mchunk fwd = fd(av, bck);
  if (bk(av, fwd) != bck) rm_printerr(rm, corrupt_msg);
  set_bk(av, remainder, bck);
  set_fd(av, remainder, fwd);
  set_fd(av, bck, remainder);
  set_bk(av, fwd, remainder);
  if (set_last_remainder) set_av_last_remainder(av, remainder);
  if (!in_smallbin_range(remainder_size)) {
    set_fd_nextsize(av, remainder, 0);
    set_bk_nextsize(av, remainder, 0);
  }
  set_head(av, victim, nb | PREV_INUSE | arena_bit(rm, av));
  set_head(av, remainder, remainder_size | FL_MUT(9, PREV_INUSE, 0));
  set_foot(av, remainder, remainder_size);
}

typedef struct {
  uint64_t nb;
  size_t bytes;
  uint64_t tcache_nb;
  size_t tc_idx;
  int return_cached;
  size_t tcache_unsorted_count;
} mreq_t;

/* The unsorted loop. Returns true with *out set when malloc returns. */
static bool malloc_unsorted(fl_rm_t *rm, rm_arena_t *av, mreq_t *q, uintptr_t *out) {
  int iters = 0;
  mchunk victim;
  uint64_t nb = q->nb;
  while ((victim = bk(av, unsorted_chunks(av))) != unsorted_chunks(av)) {
    mchunk bck = bk(av, victim);
    uint64_t size = chunksize(av, victim);
    unsorted_checks(rm, av, victim, bck, size);
    if (in_smallbin_range(nb) && bck == unsorted_chunks(av) && victim == av_last_remainder(av) &&
        size > nb + MINSIZE) {
      uint64_t remainder_size = size - nb;
      mchunk remainder = victim + nb;
      set_bk(av, unsorted_chunks(av), remainder);
      set_fd(av, unsorted_chunks(av), remainder);
      set_av_last_remainder(av, remainder);
      set_bk(av, remainder, unsorted_chunks(av));
      set_fd(av, remainder, unsorted_chunks(av));
      if (!in_smallbin_range(remainder_size)) {
        set_fd_nextsize(av, remainder, 0);
        set_bk_nextsize(av, remainder, 0);
      }
      set_head(av, victim, nb | PREV_INUSE | arena_bit(rm, av));
      set_head(av, remainder, remainder_size | PREV_INUSE);
      FL_MUT_SKIP(6) set_foot(av, remainder, remainder_size);
      *out = ret_chunk(rm, victim, q->bytes);
      return true;
    }
    if (fd(av, bck) != victim) rm_printerr(rm, "malloc(): corrupted unsorted chunks 3");
    set_bk(av, unsorted_chunks(av), bck);
    set_fd(av, bck, unsorted_chunks(av));
    if (size == nb) {
      set_inuse_bit_at_offset(av, victim, size);
      if (av != &rm->main_arena) set_non_main_arena(av, victim);
      if (q->tcache_nb && tc_count(rm, q->tc_idx) < rm->mp.tcache_count) {
        rm_tcache_put(rm, victim, q->tc_idx);
        q->return_cached = 1;
        continue;
      }
      *out = ret_chunk(rm, victim, q->bytes);
      return true;
    }
    bin_unsorted(rm, av, victim, size);
    ++q->tcache_unsorted_count;
    if (q->return_cached && rm->mp.tcache_unsorted_limit > 0 &&
        q->tcache_unsorted_count > rm->mp.tcache_unsorted_limit) {
      *out = rm_tcache_get(rm, q->tc_idx);
      return true;
    }
    if (++iters >= MAX_ITERS) break;
  }
  if (q->return_cached) {
    *out = rm_tcache_get(rm, q->tc_idx);
    return true;
  }
  return false;
}

/* Large request: best fit within its own bin, via the nextsize skip list. */
static bool malloc_largebin(fl_rm_t *rm, rm_arena_t *av, unsigned idx, uint64_t nb, size_t bytes,
                            uintptr_t *out) {
  mchunk bin = bin_at(av, idx);
  mchunk victim = first(av, bin);
  if (victim == bin || chunksize_nomask(av, victim) < nb) return false;
  uint64_t size;
  victim = bk_nextsize(av, victim);
  while ((size = chunksize(av, victim)) < nb) victim = bk_nextsize(av, victim);
  if (victim != last(av, bin) && chunksize_nomask(av, victim) == chunksize_nomask(av, fd(av, victim)))
    victim = fd(av, victim);
  rm_unlink_chunk(rm, av, victim);
  split_to_unsorted(rm, av, victim, size, nb, "malloc(): corrupted unsorted chunks", false);
  *out = ret_chunk(rm, victim, bytes);
  return true;
}

/* The binmap scan for the next non-empty larger bin. false: use top. */
static bool malloc_binmap(fl_rm_t *rm, rm_arena_t *av, unsigned idx, uint64_t nb, size_t bytes,
                          uintptr_t *out) {
  ++idx;
  mchunk bin = bin_at(av, idx);
  unsigned block = idx2block(idx);
  unsigned map = av->binmap[block];
  unsigned bit = idx2bit(idx);
  for (;;) {
    if (bit > map || bit == 0) {
      do {
        if (++block >= BINMAPSIZE) return false;
      } while ((map = av->binmap[block]) == 0);
      bin = bin_at(av, block << BINMAPSHIFT);
      bit = 1;
    }
    while ((bit & map) == 0) {
      bin = next_bin(bin);
      bit <<= 1;
      RM_ASSERT(rm, "_int_malloc", bit != 0, "bit != 0");
    }
    mchunk victim = last(av, bin);
    if (victim == bin) {
      av->binmap[block] = map &= ~bit;
      bin = next_bin(bin);
      bit <<= 1;
      continue;
    }
    uint64_t size = chunksize(av, victim);
    RM_ASSERT(rm, "_int_malloc", size >= nb, "(unsigned long) (size) >= (unsigned long) (nb)");
    rm_unlink_chunk(rm, av, victim);
    split_to_unsorted(rm, av, victim, size, nb, "malloc(): corrupted unsorted chunks 2", in_smallbin_range(nb));
    *out = ret_chunk(rm, victim, bytes);
    return true;
  }
}

/* _int_malloc */
uintptr_t rm_int_malloc(fl_rm_t *rm, rm_arena_t *av, size_t bytes) {
  uint64_t nb = FL_MUT(2, checked_request2size(bytes), checked_request2size(bytes - 1));
  uintptr_t out = 0;
  if (nb == 0) {
    rm->err = ENOMEM;
    return 0;
  }
  if (av == NULL) {
    uintptr_t p = rm_sysmalloc(rm, nb, av);
    if (p) rm_alloc_perturb(rm, p, bytes);
    return p;
  }
  if (nb <= get_max_fast(rm) && malloc_fastbin(rm, av, nb, bytes, &out)) return out;
  unsigned idx;
  if (in_smallbin_range(nb)) {
    if (malloc_smallbin(rm, av, nb, bytes, &out)) return out;
    idx = smallbin_index(nb);
  } else {
    idx = largebin_index(nb);
    if (av->have_fastchunks) rm_malloc_consolidate(rm, av);
  }
  mreq_t q = {.nb = nb, .bytes = bytes, .tc_idx = csize2tidx(nb)};
  if (tcache_of(rm) && q.tc_idx < rm->mp.tcache_bins) q.tcache_nb = nb;
  for (;;) {
    if (malloc_unsorted(rm, av, &q, &out)) return out;
    if (!in_smallbin_range(nb) && malloc_largebin(rm, av, idx, nb, bytes, &out)) return out;
    if (malloc_binmap(rm, av, idx, nb, bytes, &out)) return out;
    /* use_top */
    mchunk victim = av_top(av);
    uint64_t size = chunksize(av, victim);
    if (size > av->system_mem) rm_printerr(rm, "malloc(): corrupted top size");
    if (size >= nb + MINSIZE) {
      uint64_t remainder_size = size - nb;
      mchunk remainder = victim + nb;
      set_av_top(av, remainder);
      set_head(av, victim, nb | PREV_INUSE | arena_bit(rm, av));
      set_head(av, remainder, FL_MUT(7, remainder_size, size) | PREV_INUSE);
      return ret_chunk(rm, victim, bytes);
    } else if (av->have_fastchunks) {
      rm_malloc_consolidate(rm, av);
      idx = in_smallbin_range(nb) ? smallbin_index(nb) : largebin_index(nb);
    } else {
      uintptr_t p = rm_sysmalloc(rm, nb, av);
      if (p) rm_alloc_perturb(rm, p, bytes);
      return p;
    }
  }
}

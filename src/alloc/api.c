/* api.c — glibc 2.36's public malloc functions (__libc_malloc, __libc_free,
 * __libc_realloc, __libc_calloc, _mid_memalign, __posix_memalign,
 * __libc_valloc, __libc_pvalloc, __malloc_usable_size, __malloc_trim),
 * each wrapped as an fl_rm_* entry point. */
#include <errno.h>
#include <setjmp.h>

#include "alloc/chunk.h"

static void maybe_init_tcache(fl_rm_t *rm) {
  if (tcache_of(rm) == 0) rm_tcache_init(rm);
}

/* __libc_malloc */
static uintptr_t libc_malloc(fl_rm_t *rm, size_t bytes) {
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  size_t tbytes = checked_request2size(bytes);
  if (tbytes == 0) {
    rm->err = ENOMEM;
    return 0;
  }
  size_t tc_idx = csize2tidx(tbytes);
  maybe_init_tcache(rm);
  uintptr_t tc = tcache_of(rm);
  if (tc_idx < rm->mp.tcache_bins && tc && mem_ld16(&rm->mem, tc + TC_COUNTS + 2 * tc_idx) > 0)
    return rm_tcache_get(rm, tc_idx);
  if (single_thread_p(rm)) return rm_int_malloc(rm, &rm->main_arena, bytes);
  rm_arena_t *ar_ptr = rm_arena_get(rm, bytes);
  uintptr_t victim = rm_int_malloc(rm, ar_ptr, bytes);
  if (!victim && ar_ptr != NULL) {
    ar_ptr = rm_arena_get_retry(rm, ar_ptr, bytes);
    victim = rm_int_malloc(rm, ar_ptr, bytes);
  }
  return victim;
}

/* __libc_free */
void rm_free_internal(fl_rm_t *rm, uintptr_t mem) {
  if (mem == 0) return;
  int err = rm->err;
  rm_arena_t *m = &rm->main_arena;
  mchunk p = mem2chunk(mem);
  if (chunk_is_mmapped(m, p)) {
    if (!rm->mp.no_dyn_threshold && chunksize_nomask(m, p) > rm->mp.mmap_threshold &&
        chunksize_nomask(m, p) <= DEFAULT_MMAP_THRESHOLD_MAX) {
      rm->mp.mmap_threshold = chunksize(m, p);
      rm->mp.trim_threshold = 2 * rm->mp.mmap_threshold;
    }
    rm_munmap_chunk(rm, p);
  } else {
    maybe_init_tcache(rm);
    rm_arena_t *ar_ptr = rm_arena_for_chunk(rm, p);
    rm_int_free(rm, ar_ptr, p, 0);
  }
  rm->err = err;
}

/* __libc_realloc, the mmapped-chunk branch */
static uintptr_t realloc_mmapped(fl_rm_t *rm, uintptr_t oldmem, mchunk oldp, uint64_t oldsize,
                                 uint64_t nb, size_t bytes) {
  mchunk newp = rm_mremap_chunk(rm, oldp, nb);
  if (newp) return chunk2mem(newp);
  if (oldsize - SIZE_SZ >= nb) return oldmem;
  uintptr_t newmem = libc_malloc(rm, bytes);
  if (newmem == 0) return 0;
  mem_copy(&rm->mem, newmem, oldmem, oldsize - CHUNK_HDR_SZ);
  rm_munmap_chunk(rm, oldp);
  return newmem;
}

/* __libc_realloc */
static uintptr_t libc_realloc(fl_rm_t *rm, uintptr_t oldmem, size_t bytes) {
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  if (bytes == 0 && oldmem != 0) {
    rm_free_internal(rm, oldmem);
    return 0;
  }
  if (oldmem == 0) return libc_malloc(rm, bytes);
  rm_arena_t *m = &rm->main_arena, *ar_ptr;
  const mchunk oldp = mem2chunk(oldmem);
  const uint64_t oldsize = chunksize(m, oldp);
  if (chunk_is_mmapped(m, oldp)) {
    ar_ptr = NULL;
  } else {
    maybe_init_tcache(rm);
    ar_ptr = rm_arena_for_chunk(rm, oldp);
  }
  if (oldp > (uintptr_t)-oldsize || misaligned_chunk(oldp)) rm_printerr(rm, "realloc(): invalid pointer");
  uint64_t nb = checked_request2size(bytes);
  if (nb == 0) {
    rm->err = ENOMEM;
    return 0;
  }
  if (chunk_is_mmapped(m, oldp)) return realloc_mmapped(rm, oldmem, oldp, oldsize, nb, bytes);
  if (single_thread_p(rm)) return rm_int_realloc(rm, ar_ptr, oldp, oldsize, nb);
  uintptr_t newp = rm_int_realloc(rm, ar_ptr, oldp, oldsize, nb);
  if (newp == 0) {
    newp = libc_malloc(rm, bytes);
    if (newp != 0) {
      size_t sz = memsize(ar_ptr, oldp);
      mem_copy(&rm->mem, newp, oldmem, sz);
      rm_int_free(rm, ar_ptr, oldp, 0);
    }
  }
  return newp;
}

/* _mid_memalign */
static uintptr_t mid_memalign(fl_rm_t *rm, size_t alignment, size_t bytes) {
  if (alignment <= MALLOC_ALIGNMENT) return libc_malloc(rm, bytes);
  if (alignment < MINSIZE) alignment = MINSIZE;
  if (alignment > SIZE_MAX / 2 + 1) {
    rm->err = EINVAL;
    return 0;
  }
  if ((alignment & (alignment - 1)) != 0) {
    size_t a = MALLOC_ALIGNMENT * 2;
    while (a < alignment) a <<= 1;
    alignment = a;
  }
  if (single_thread_p(rm)) return rm_int_memalign(rm, &rm->main_arena, alignment, bytes);
  rm_arena_t *ar_ptr = rm_arena_get(rm, bytes + alignment + MINSIZE);
  uintptr_t p = rm_int_memalign(rm, ar_ptr, alignment, bytes);
  if (!p && ar_ptr != NULL) {
    ar_ptr = rm_arena_get_retry(rm, ar_ptr, bytes);
    p = rm_int_memalign(rm, ar_ptr, alignment, bytes);
  }
  return p;
}

static uintptr_t libc_memalign(fl_rm_t *rm, size_t alignment, size_t bytes) {
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  return mid_memalign(rm, alignment, bytes);
}

/* __libc_calloc: the part before _int_malloc (what top may skip clearing). */
static void calloc_oldtop(fl_rm_t *rm, rm_arena_t *av, mchunk *oldtop, uint64_t *oldtopsize) {
  if (!av) {
    *oldtop = 0;
    *oldtopsize = 0;
    return;
  }
  *oldtop = av_top(av);
  *oldtopsize = chunksize(av, av_top(av));
  /* MORECORE_CLEARS == 1: only memory never handed out by sbrk is clean. */
  if (av == &rm->main_arena && *oldtopsize < rm->mp.sbrk_base + av->max_system_mem - *oldtop)
    *oldtopsize = rm->mp.sbrk_base + av->max_system_mem - *oldtop;
  if (av != &rm->main_arena) {
    uintptr_t heap = heap_for_ptr(*oldtop);
    if (*oldtopsize < heap + rm_heap_mprotect_size(rm, heap) - *oldtop)
      *oldtopsize = heap + rm_heap_mprotect_size(rm, heap) - *oldtop;
  }
}

/* __libc_calloc */
static uintptr_t libc_calloc(fl_rm_t *rm, size_t n, size_t elem_size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, elem_size, &bytes) || bytes > (size_t)PTRDIFF_MAX) {
    rm->err = ENOMEM;
    return 0;
  }
  size_t sz = bytes;
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  maybe_init_tcache(rm);
  rm_arena_t *av = single_thread_p(rm) ? &rm->main_arena : rm_arena_get(rm, sz);
  mchunk oldtop;
  uint64_t oldtopsize;
  calloc_oldtop(rm, av, &oldtop, &oldtopsize);
  uintptr_t mem = rm_int_malloc(rm, av, sz);
  if (!single_thread_p(rm) && mem == 0 && av != NULL) {
    av = rm_arena_get_retry(rm, av, sz);
    mem = rm_int_malloc(rm, av, sz);
  }
  if (mem == 0) return 0;
  rm_arena_t *a = &rm->main_arena;
  mchunk p = mem2chunk(mem);
  uint64_t csz = chunksize(a, p);
  if (chunk_is_mmapped(a, p)) {
    if (rm->perturb_byte) mem_fill(&rm->mem, mem, 0, sz);
    return mem;
  }
  if (rm->perturb_byte == 0 && p == oldtop && csz > oldtopsize) csz = oldtopsize;
  uint64_t clearsize = csz - SIZE_SZ;
  RM_ASSERT(rm, "__libc_calloc", clearsize / sizeof(size_t) >= 3, "nclears >= 3");
  mem_fill(&rm->mem, mem, 0, clearsize);
  return mem;
}

/* musable */
static size_t musable(fl_rm_t *rm, uintptr_t mem) {
  rm_arena_t *a = &rm->main_arena;
  if (mem == 0) return 0;
  mchunk p = mem2chunk(mem);
  if (chunk_is_mmapped(a, p)) return chunksize(a, p) - CHUNK_HDR_SZ;
  if (inuse(a, p)) return memsize(a, p);
  return 0;
}

/* ------------------------------------------------------------ entry points */

uintptr_t fl_rm_malloc(fl_rm_t *rm, size_t n) {
  uintptr_t r = 0;
  RM_CALL(rm, FL_RM_OP_MALLOC, n, 0, 0, 0, r = libc_malloc(rm, n); rm->op_result = r);
  return r;
}

void fl_rm_free(fl_rm_t *rm, uintptr_t p) {
  RM_CALL(rm, FL_RM_OP_FREE, p, 0, 0, , rm_free_internal(rm, p));
}

uintptr_t fl_rm_calloc(fl_rm_t *rm, size_t n, size_t size) {
  uintptr_t r = 0;
  RM_CALL(rm, FL_RM_OP_CALLOC, n, size, 0, 0, r = libc_calloc(rm, n, size); rm->op_result = r);
  return r;
}

uintptr_t fl_rm_realloc(fl_rm_t *rm, uintptr_t p, size_t n) {
  uintptr_t r = 0;
  RM_CALL(rm, FL_RM_OP_REALLOC, p, n, 0, 0, r = libc_realloc(rm, p, n); rm->op_result = r);
  return r;
}

uintptr_t fl_rm_memalign(fl_rm_t *rm, size_t align, size_t n) {
  uintptr_t r = 0;
  RM_CALL(rm, FL_RM_OP_MEMALIGN, align, n, 0, 0, r = libc_memalign(rm, align, n); rm->op_result = r);
  return r;
}

/* aligned_alloc is a weak alias of __libc_memalign in 2.36: no checks. */
uintptr_t fl_rm_aligned_alloc(fl_rm_t *rm, size_t align, size_t n) {
  uintptr_t r = 0;
  RM_CALL(rm, FL_RM_OP_ALIGNED_ALLOC, align, n, 0, 0, r = libc_memalign(rm, align, n); rm->op_result = r);
  return r;
}

/* __posix_memalign */
static int posix_memalign_(fl_rm_t *rm, uintptr_t *out, size_t alignment, size_t size) {
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  size_t q = alignment / sizeof(void *);
  if (alignment % sizeof(void *) != 0 || (q & (q - 1)) != 0 || alignment == 0) return EINVAL;
  uintptr_t mem = mid_memalign(rm, alignment, size);
  if (mem != 0) {
    *out = mem;
    return 0;
  }
  return ENOMEM;
}

int fl_rm_posix_memalign(fl_rm_t *rm, uintptr_t *out, size_t align, size_t n) {
  int r = ENOMEM;
  RM_CALL(rm, FL_RM_OP_POSIX_MEMALIGN, align, n, 0, ENOMEM, r = posix_memalign_(rm, out, align, n); rm->op_result = r == 0 ? *out : 0);
  return r;
}

/* __libc_valloc */
uintptr_t fl_rm_valloc(fl_rm_t *rm, size_t n) {
  uintptr_t r = 0;
  RM_CALL(rm, FL_RM_OP_VALLOC, n, 0, 0, 0, r = libc_memalign(rm, rm->pagesize, n); rm->op_result = r);
  return r;
}

/* __libc_pvalloc */
static uintptr_t libc_pvalloc(fl_rm_t *rm, size_t bytes) {
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  size_t pagesize = rm->pagesize, rounded;
  if (__builtin_add_overflow(bytes, pagesize - 1, &rounded)) {
    rm->err = ENOMEM;
    return 0;
  }
  /* glibc 2.36 masks with -(pagesize - 1), not -pagesize. */
  rounded = rounded & -(pagesize - 1);
  return mid_memalign(rm, pagesize, rounded);
}

uintptr_t fl_rm_pvalloc(fl_rm_t *rm, size_t n) {
  uintptr_t r = 0;
  RM_CALL(rm, FL_RM_OP_PVALLOC, n, 0, 0, 0, r = libc_pvalloc(rm, n); rm->op_result = r);
  return r;
}

/* __malloc_usable_size (no ptmalloc_init) */
size_t fl_rm_usable_size(fl_rm_t *rm, uintptr_t p) {
  size_t r = 0;
  RM_CALL(rm, FL_RM_OP_USABLE_SIZE, p, 0, 0, 0, r = musable(rm, p));
  return r;
}

/* __malloc_trim */
static int malloc_trim_(fl_rm_t *rm, size_t s) {
  int result = 0;
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  rm_arena_t *ar_ptr = &rm->main_arena;
  do {
    result |= rm_mtrim(rm, ar_ptr, s);
    ar_ptr = ar_ptr->next;
  } while (ar_ptr != &rm->main_arena);
  return result;
}

int fl_rm_trim(fl_rm_t *rm, size_t pad) {
  int r = 0;
  RM_CALL(rm, FL_RM_OP_TRIM, pad, 0, 0, 0, r = malloc_trim_(rm, pad));
  return r;
}

/* chunk.h — refmalloc's internal state and glibc's chunk layout macros.
 *
 * The layout is glibc 2.36's on x86-64 (SIZE_SZ 8, MALLOC_ALIGNMENT 16):
 *
 *   chunk -> prev_size | size|A|M|P | fd | bk | fd_nextsize | bk_nextsize
 *
 * The arena state (struct malloc_state) is kept host-side, but laid out as
 * glibc lays it out, at a model address: bins are "fake chunks" inside it
 * (bin_at), so chunk links that point at a bin are read from the arena's
 * image instead of model memory. That keeps glibc's aliasing exact, e.g.
 * chunksize(initial_top) reads the last_remainder word, as in glibc.
 *
 * Internal to src/alloc. */
#ifndef FL_ALLOC_CHUNK_H
#define FL_ALLOC_CHUNK_H

#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc/mem.h"
#include "alloc/refmalloc.h"

/* ---- constants (malloc.c, x86-64) --------------------------------------- */
#define SIZE_SZ 8UL
#define CHUNK_HDR_SZ 16UL
#define MALLOC_ALIGNMENT 16UL
#define MALLOC_ALIGN_MASK 15UL
#define MIN_CHUNK_SIZE 32UL
#define MINSIZE 32UL
#define PREV_INUSE 1UL
#define IS_MMAPPED 2UL
#define NON_MAIN_ARENA 4UL
#define SIZE_BITS 7UL
#define NBINS 128
#define NSMALLBINS 64
#define MIN_LARGE_SIZE 1024UL
#define BINMAPSHIFT 5
#define BITSPERMAP 32U
#define BINMAPSIZE 4
#define MAX_FAST_SIZE 160UL
#define NFASTBINS 10
#define DEFAULT_MXFAST 128UL
#define FASTBIN_CONSOLIDATION_THRESHOLD 65536UL
#define NONCONTIGUOUS_BIT 2
#define DEFAULT_TRIM_THRESHOLD (128UL * 1024)
#define DEFAULT_TOP_PAD 131072UL /* sysdeps/generic/malloc-machine.h */
#define DEFAULT_MMAP_THRESHOLD_MIN (128UL * 1024)
#define DEFAULT_MMAP_THRESHOLD_MAX (4UL * 1024 * 1024 * sizeof(long))
#define DEFAULT_MMAP_THRESHOLD DEFAULT_MMAP_THRESHOLD_MIN
#define DEFAULT_MMAP_MAX 65536
#define MMAP_AS_MORECORE_SIZE (1024UL * 1024)
#define HEAP_MIN_SIZE (32UL * 1024)
#define HEAP_MAX_SIZE (2 * DEFAULT_MMAP_THRESHOLD_MAX)
#define TCACHE_MAX_BINS 64
#define TCACHE_FILL_COUNT 7
#define MAX_TCACHE_COUNT 65535UL
#define MAX_ITERS 10000
#define NARENAS_FROM_NCORES(n) ((size_t)(n) * 8)

/* struct malloc_state on x86-64 (sizeof 2200). */
#define MS_FASTBINS 16
#define MS_TOP 96
#define MS_LAST_REMAINDER 104
#define MS_BINS 112
#define MS_SIZE 2200UL
#define MS_WORDS (MS_SIZE / 8 + 1)
/* heap_info on x86-64: ar_ptr, prev, size, mprotect_size, pagesize, pad. */
#define HEAP_INFO_SIZE 48UL
/* tcache_perthread_struct: uint16_t counts[64]; tcache_entry *entries[64]. */
#define TCACHE_STRUCT_SIZE 640UL
#define TC_COUNTS 0
#define TC_ENTRIES 128

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uintptr_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uintptr_t)(a) - 1))

typedef uintptr_t mchunk;  /* a chunk's model address */

/* ---- state ---------------------------------------------------------------- */
typedef struct rm_arena {
  const rm_mem_t *mem;
  uintptr_t addr;             /* where struct malloc_state is */
  uint64_t img[MS_WORDS];     /* its fastbinsY, top, last_remainder, bins */
  unsigned binmap[BINMAPSIZE];
  int flags;
  int have_fastchunks;
  struct rm_arena *next, *next_free;
  size_t attached_threads;
  size_t system_mem, max_system_mem;
  int index;                  /* 0 = main arena, in creation order */
} rm_arena_t;

typedef struct rm_par {   /* struct malloc_par */
  unsigned long trim_threshold;
  size_t top_pad, mmap_threshold, arena_test, arena_max;
  size_t thp_pagesize, hp_pagesize;
  int hp_flags;
  int n_mmaps, n_mmaps_max, max_n_mmaps, no_dyn_threshold;
  size_t mmapped_mem, max_mmapped_mem;
  uintptr_t sbrk_base;
  size_t tcache_bins, tcache_max_bytes, tcache_count, tcache_unsorted_limit;
} rm_par_t;

typedef struct rm_thread {
  bool exists;
  bool tcache_shutting_down;
  uintptr_t tcache;           /* tcache_perthread_struct *, 0 = NULL */
  rm_arena_t *arena;          /* thread_arena */
} rm_thread_t;

struct fl_rm {
  rm_mem_t mem;
  fl_vm_t *vm;
  fl_rm_config_t cfg;
  char tunables[1024];
  size_t pagesize;
  bool malloc_initialized;
  bool multiple_threads;      /* !SINGLE_THREAD_P */
  int err;                    /* errno */

  rm_par_t mp;
  size_t global_max_fast;
  int perturb_byte;
  uint64_t tcache_key;
  uintptr_t curbrk;           /* sbrk's __curbrk, 0 = NULL */

  rm_arena_t main_arena;
  rm_arena_t *free_list;
  size_t narenas;
  size_t narenas_limit;       /* arena_get2's static */
  rm_arena_t *next_to_use;    /* reused_arena's static */
  uintptr_t aligned_heap_area;
  int next_arena_index;

  rm_thread_t *threads;
  unsigned nthreads;
  unsigned tid;

  /* events */
  jmp_buf *jb;
  bool aborted;
  fl_rm_event_t ev;
  fl_rm_event_fn ev_fn;
  void *ev_ctx;
  fl_rm_op_t op;
  uint64_t op_args[3];
  uint64_t op_index;
  /* the call observer (fl_rm_set_call_hook) and what it is told */
  fl_rm_call_fn call_fn;
  void *call_ctx;
  struct {
    fl_rm_call_fn fn;
    void *ctx;
  } more_calls[FL_RM_MORE_CALL_HOOKS];
  uint64_t op_result;
  const fl_rm_mallinfo2_t *op_mallinfo;
};

/* ---- errors (refmalloc.c) ------------------------------------------------- */
_Noreturn void rm_printerr(fl_rm_t *rm, const char *msg);
_Noreturn void rm_assert_fail(fl_rm_t *rm, const char *func, const char *expr);
#define RM_ASSERT(rm, func, cond, text) \
  do {                                  \
    if (!(cond)) rm_assert_fail(rm, func, text); \
  } while (0)

/* Each public call: refuse when aborted, set the longjmp target that
 * malloc_printerr returns to, run the glibc function, leave. */
bool rm_enter_(fl_rm_t *rm, fl_rm_op_t op, uint64_t a0, uint64_t a1, uint64_t a2);
void rm_leave_(fl_rm_t *rm);
#define RM_CALL(rm, op, a0, a1, a2, failval, ...)          \
  do {                                                     \
    jmp_buf jb_;                                           \
    if (!rm_enter_(rm, op, a0, a1, a2)) return failval;    \
    if (setjmp(jb_)) return failval;                       \
    (rm)->jb = &jb_;                                       \
    __VA_ARGS__;                                           \
    rm_leave_(rm);                                         \
  } while (0)

/* ---- word access, arena-image aware -------------------------------------- */
static inline uint64_t ld(const rm_arena_t *av, uintptr_t a) {
  uintptr_t off = a - av->addr;
  if (off <= MS_SIZE - 8) {
    uint64_t v;
    memcpy(&v, (const char *)av->img + off, 8);
    return v;
  }
  return mem_ld64(av->mem, a);
}
static inline void st(rm_arena_t *av, uintptr_t a, uint64_t v) {
  uintptr_t off = a - av->addr;
  if (off <= MS_SIZE - 8) {
    memcpy((char *)av->img + off, &v, 8);
    return;
  }
  mem_st64(av->mem, a, v);
}

/* ---- malloc_chunk fields --------------------------------------------------- */
static inline uint64_t prev_size(const rm_arena_t *av, mchunk p) { return ld(av, p); }
static inline void set_prev_size(rm_arena_t *av, mchunk p, uint64_t v) { st(av, p, v); }
static inline uint64_t chunksize_nomask(const rm_arena_t *av, mchunk p) { return ld(av, p + 8); }
static inline uint64_t chunksize(const rm_arena_t *av, mchunk p) { return ld(av, p + 8) & ~SIZE_BITS; }
static inline mchunk fd(const rm_arena_t *av, mchunk p) { return ld(av, p + 16); }
static inline mchunk bk(const rm_arena_t *av, mchunk p) { return ld(av, p + 24); }
static inline mchunk fd_nextsize(const rm_arena_t *av, mchunk p) { return ld(av, p + 32); }
static inline mchunk bk_nextsize(const rm_arena_t *av, mchunk p) { return ld(av, p + 40); }
static inline void set_fd(rm_arena_t *av, mchunk p, mchunk v) { st(av, p + 16, v); }
static inline void set_bk(rm_arena_t *av, mchunk p, mchunk v) { st(av, p + 24, v); }
static inline void set_fd_nextsize(rm_arena_t *av, mchunk p, mchunk v) { st(av, p + 32, v); }
static inline void set_bk_nextsize(rm_arena_t *av, mchunk p, mchunk v) { st(av, p + 40, v); }

static inline bool prev_inuse(const rm_arena_t *av, mchunk p) { return ld(av, p + 8) & PREV_INUSE; }
static inline bool chunk_is_mmapped(const rm_arena_t *av, mchunk p) { return ld(av, p + 8) & IS_MMAPPED; }
static inline bool chunk_main_arena(const rm_arena_t *av, mchunk p) {
  return (ld(av, p + 8) & NON_MAIN_ARENA) == 0;
}
static inline void set_non_main_arena(rm_arena_t *av, mchunk p) {
  st(av, p + 8, ld(av, p + 8) | NON_MAIN_ARENA);
}
static inline mchunk chunk_at_offset(mchunk p, uint64_t s) { return p + s; }
static inline mchunk next_chunk(const rm_arena_t *av, mchunk p) { return p + chunksize(av, p); }
static inline mchunk prev_chunk(const rm_arena_t *av, mchunk p) { return p - prev_size(av, p); }
static inline bool inuse(const rm_arena_t *av, mchunk p) {
  return ld(av, p + chunksize(av, p) + 8) & PREV_INUSE;
}
static inline bool inuse_bit_at_offset(const rm_arena_t *av, mchunk p, uint64_t s) {
  return ld(av, p + s + 8) & PREV_INUSE;
}
static inline void set_inuse_bit_at_offset(rm_arena_t *av, mchunk p, uint64_t s) {
  st(av, p + s + 8, ld(av, p + s + 8) | PREV_INUSE);
}
static inline void clear_inuse_bit_at_offset(rm_arena_t *av, mchunk p, uint64_t s) {
  st(av, p + s + 8, ld(av, p + s + 8) & ~PREV_INUSE);
}
static inline void set_head_size(rm_arena_t *av, mchunk p, uint64_t s) {
  st(av, p + 8, (ld(av, p + 8) & SIZE_BITS) | s);
}
static inline void set_head(rm_arena_t *av, mchunk p, uint64_t s) { st(av, p + 8, s); }
static inline void set_foot(rm_arena_t *av, mchunk p, uint64_t s) { st(av, p + s, s); }

static inline uintptr_t chunk2mem(mchunk p) { return p + CHUNK_HDR_SZ; }
static inline mchunk mem2chunk(uintptr_t m) { return m - CHUNK_HDR_SZ; }
static inline bool aligned_OK(uintptr_t m) { return (m & MALLOC_ALIGN_MASK) == 0; }
static inline bool misaligned_chunk(uintptr_t p) { return (p & MALLOC_ALIGN_MASK) != 0; }
/* memsize (p): the usable bytes of an in-use chunk (no memory tagging). */
static inline uint64_t memsize(const rm_arena_t *av, mchunk p) {
  return chunksize(av, p) - CHUNK_HDR_SZ + (chunk_is_mmapped(av, p) ? 0 : SIZE_SZ);
}

/* ---- sizes and bins -------------------------------------------------------- */
static inline size_t request2size(size_t req) {
  return req + SIZE_SZ + MALLOC_ALIGN_MASK < MINSIZE
             ? MINSIZE
             : (req + SIZE_SZ + MALLOC_ALIGN_MASK) & ~MALLOC_ALIGN_MASK;
}
static inline size_t checked_request2size(size_t req) {
  if (req > (size_t)PTRDIFF_MAX) return 0;
  return request2size(req);
}
static inline bool in_smallbin_range(uint64_t sz) { return sz < MIN_LARGE_SIZE; }
static inline unsigned smallbin_index(uint64_t sz) { return (unsigned)sz >> 4; }
static inline unsigned largebin_index(uint64_t sz) {
  unsigned long s = sz;
  if ((s >> 6) <= 48) return 48 + (unsigned)(s >> 6);
  if ((s >> 9) <= 20) return 91 + (unsigned)(s >> 9);
  if ((s >> 12) <= 10) return 110 + (unsigned)(s >> 12);
  if ((s >> 15) <= 4) return 119 + (unsigned)(s >> 15);
  if ((s >> 18) <= 2) return 124 + (unsigned)(s >> 18);
  return 126;
}
static inline unsigned bin_index(uint64_t sz) {
  return in_smallbin_range(sz) ? smallbin_index(sz) : largebin_index(sz);
}
static inline unsigned fastbin_index(uint64_t sz) { return ((unsigned)sz >> 4) - 2; }
static inline size_t csize2tidx(size_t x) { return (x - MINSIZE + MALLOC_ALIGNMENT - 1) / MALLOC_ALIGNMENT; }
static inline size_t tidx2usize(size_t i) { return i * MALLOC_ALIGNMENT + MINSIZE - SIZE_SZ; }
#define MAX_TCACHE_SIZE tidx2usize(TCACHE_MAX_BINS - 1)

/* bin_at (m, i): the fake chunk whose fd/bk are bins[2(i-1)], bins[2(i-1)+1]. */
static inline mchunk bin_at(const rm_arena_t *av, unsigned i) {
  return av->addr + MS_BINS + (uintptr_t)(i - 1) * 16 - 16;
}
static inline mchunk next_bin(mchunk b) { return b + 16; }
static inline mchunk unsorted_chunks(const rm_arena_t *av) { return bin_at(av, 1); }
static inline mchunk initial_top(const rm_arena_t *av) { return unsorted_chunks(av); }
static inline mchunk first(const rm_arena_t *av, mchunk b) { return fd(av, b); }
static inline mchunk last(const rm_arena_t *av, mchunk b) { return bk(av, b); }

static inline mchunk av_top(const rm_arena_t *av) { return av->img[MS_TOP / 8]; }
static inline void set_av_top(rm_arena_t *av, mchunk t) { av->img[MS_TOP / 8] = t; }
static inline mchunk av_last_remainder(const rm_arena_t *av) { return av->img[MS_LAST_REMAINDER / 8]; }
static inline void set_av_last_remainder(rm_arena_t *av, mchunk r) { av->img[MS_LAST_REMAINDER / 8] = r; }
static inline mchunk fastbin(const rm_arena_t *av, unsigned i) { return av->img[MS_FASTBINS / 8 + i]; }
static inline void set_fastbin(rm_arena_t *av, unsigned i, mchunk p) { av->img[MS_FASTBINS / 8 + i] = p; }

static inline unsigned idx2block(unsigned i) { return i >> BINMAPSHIFT; }
static inline unsigned idx2bit(unsigned i) { return 1U << (i & ((1U << BINMAPSHIFT) - 1)); }
static inline void mark_bin(rm_arena_t *av, unsigned i) { av->binmap[idx2block(i)] |= idx2bit(i); }

static inline bool contiguous(const rm_arena_t *av) { return (av->flags & NONCONTIGUOUS_BIT) == 0; }
static inline void set_noncontiguous(rm_arena_t *av) { av->flags |= NONCONTIGUOUS_BIT; }

/* Safe-linking (PROTECT_PTR / REVEAL_PTR) with the model's addresses. */
static inline uintptr_t protect_ptr(uintptr_t pos, uintptr_t ptr) { return (pos >> 12) ^ ptr; }

static inline size_t get_max_fast(const fl_rm_t *rm) { return rm->global_max_fast; }
static inline void set_max_fast(fl_rm_t *rm, size_t s) {
  rm->global_max_fast = s <= MALLOC_ALIGN_MASK - SIZE_SZ ? MIN_CHUNK_SIZE / 2
                                                         : ((s + SIZE_SZ) & ~MALLOC_ALIGN_MASK);
}
static inline bool single_thread_p(const fl_rm_t *rm) { return !rm->multiple_threads; }
static inline rm_thread_t *cur_thread(fl_rm_t *rm) { return &rm->threads[rm->tid]; }
static inline uintptr_t tcache_of(fl_rm_t *rm) { return rm->threads[rm->tid].tcache; }

/* ---- the core (core.c, mirrors malloc.c) ----------------------------------- */
void rm_init_state(fl_rm_t *rm, rm_arena_t *av);
void rm_ptmalloc_init(fl_rm_t *rm);
uintptr_t rm_int_malloc(fl_rm_t *rm, rm_arena_t *av, size_t bytes);
void rm_int_free(fl_rm_t *rm, rm_arena_t *av, mchunk p, int have_lock);
uintptr_t rm_int_realloc(fl_rm_t *rm, rm_arena_t *av, mchunk oldp, uint64_t oldsize, uint64_t nb);
uintptr_t rm_int_memalign(fl_rm_t *rm, rm_arena_t *av, size_t alignment, size_t bytes);
void rm_malloc_consolidate(fl_rm_t *rm, rm_arena_t *av);
void rm_unlink_chunk(fl_rm_t *rm, rm_arena_t *av, mchunk p);
int rm_systrim(fl_rm_t *rm, size_t pad, rm_arena_t *av);
int rm_mtrim(fl_rm_t *rm, rm_arena_t *av, size_t pad);
void rm_munmap_chunk(fl_rm_t *rm, mchunk p);
mchunk rm_mremap_chunk(fl_rm_t *rm, mchunk p, size_t new_size);
void rm_tcache_init(fl_rm_t *rm);
uintptr_t rm_tcache_get(fl_rm_t *rm, size_t tc_idx);
void rm_tcache_put(fl_rm_t *rm, mchunk chunk, size_t tc_idx);
uintptr_t rm_sysmalloc(fl_rm_t *rm, uint64_t nb, rm_arena_t *av);
void rm_free_internal(fl_rm_t *rm, uintptr_t mem);
void rm_tcache_thread_shutdown(fl_rm_t *rm);
void rm_alloc_perturb(fl_rm_t *rm, uintptr_t p, size_t n);

/* ---- system calls as glibc makes them (sys.c) ----------------------------- */
#define MAP_FAILED_ ((uintptr_t)-1)
uintptr_t rm_mmap(fl_rm_t *rm, uintptr_t addr, size_t len, int prot, int flags);
int rm_munmap(fl_rm_t *rm, uintptr_t addr, size_t len);
int rm_mprotect(fl_rm_t *rm, uintptr_t addr, size_t len, int prot);
uintptr_t rm_mremap(fl_rm_t *rm, uintptr_t old, size_t oldlen, size_t newlen, int flags);
int rm_madvise(fl_rm_t *rm, uintptr_t addr, size_t len, int advice);
/* __sbrk: the old break, or MORECORE_FAILURE (-1) */
uintptr_t rm_sbrk(fl_rm_t *rm, intptr_t increment);
void rm_madvise_thp(fl_rm_t *rm, uintptr_t p, size_t size);

/* ---- arenas (arena.c) ----------------------------------------------------- */
static inline uintptr_t heap_for_ptr(uintptr_t p) { return p & ~(HEAP_MAX_SIZE - 1); }
rm_arena_t *rm_arena_for_chunk(fl_rm_t *rm, mchunk p);
rm_arena_t *rm_arena_get(fl_rm_t *rm, size_t size);
rm_arena_t *rm_arena_get_retry(fl_rm_t *rm, rm_arena_t *ar_ptr, size_t bytes);
/* heap_info fields, in model memory */
uintptr_t rm_heap_ar_ptr(fl_rm_t *rm, uintptr_t h);
uintptr_t rm_heap_prev(fl_rm_t *rm, uintptr_t h);
size_t rm_heap_size(fl_rm_t *rm, uintptr_t h);
size_t rm_heap_mprotect_size(fl_rm_t *rm, uintptr_t h);
int rm_grow_heap(fl_rm_t *rm, uintptr_t h, long diff);
uintptr_t rm_new_heap(fl_rm_t *rm, size_t size, size_t top_pad);
void rm_heap_set_ar_ptr(fl_rm_t *rm, uintptr_t h, rm_arena_t *av);
void rm_heap_set_prev(fl_rm_t *rm, uintptr_t h, uintptr_t prev);
int rm_heap_trim(fl_rm_t *rm, uintptr_t heap, size_t pad);
rm_arena_t *rm_arena_by_addr(fl_rm_t *rm, uintptr_t addr);
void rm_arena_thread_freeres(fl_rm_t *rm);

#endif

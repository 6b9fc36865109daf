/* introspect.h — read-only views of refmalloc's state for the invariant
 * checkers (src/check): arenas, bins, fastbins, tcaches, top, mp_, heaps.
 *
 * Nothing here checks anything; it only exposes glibc's state as glibc
 * would hold it. Addresses are model addresses; list links inside chunks
 * are read with fl_rm_word(), which knows that bin headers live in the
 * arena's malloc_state (host-side), not in model memory. Model memory is
 * read with fl_vm_peek: nothing is faulted, counted or refused, so a
 * checker leaves RSS and the fault counters exactly as the allocator left
 * them, and a corrupt pointer cannot make a view take a model SIGSEGV. */
#ifndef FL_ALLOC_INTROSPECT_H
#define FL_ALLOC_INTROSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/refmalloc.h"

#define FL_RM_NBINS 128
#define FL_RM_NFASTBINS 10
#define FL_RM_TCACHE_BINS 64

typedef struct fl_rm_arena_info {
  int index;                 /* 0 = main_arena, then in creation order */
  bool is_main;
  uintptr_t addr;            /* &malloc_state */
  uintptr_t top;             /* av->top */
  uint64_t top_size;         /* chunksize (av->top) */
  uintptr_t last_remainder;
  uintptr_t fastbins[FL_RM_NFASTBINS]; /* heads (raw pointers, not protected) */
  unsigned binmap[4];
  bool contiguous;
  bool have_fastchunks;
  size_t attached_threads;
  size_t system_mem, max_system_mem;
  uintptr_t heap;            /* non-main: heap_for_ptr (top), the newest heap */
} fl_rm_arena_info_t;

typedef struct fl_rm_params {
  unsigned long trim_threshold;
  size_t top_pad, mmap_threshold, arena_test, arena_max;
  int n_mmaps, n_mmaps_max, max_n_mmaps, no_dyn_threshold;
  size_t mmapped_mem, max_mmapped_mem;
  uintptr_t sbrk_base;
  size_t tcache_bins, tcache_max_bytes, tcache_count, tcache_unsorted_limit;
  size_t global_max_fast;
  int perturb_byte;
  uint64_t tcache_key;
  uintptr_t curbrk;          /* sbrk's __curbrk (0 before the first sbrk) */
  size_t page_size;
  size_t narenas;
  bool initialized;
  bool single_thread;
} fl_rm_params_t;

typedef struct fl_rm_tcache_info {
  uintptr_t addr;            /* the tcache_perthread_struct (user pointer), 0 = none */
  uint16_t counts[FL_RM_TCACHE_BINS];
  uintptr_t entries[FL_RM_TCACHE_BINS]; /* heads: user pointers, not protected */
} fl_rm_tcache_info_t;

void fl_rm_params(const fl_rm_t *rm, fl_rm_params_t *out);
/* Arenas in glibc's list order (main_arena, main_arena.next, ...). */
size_t fl_rm_arena_count(const fl_rm_t *rm);
bool fl_rm_arena(const fl_rm_t *rm, size_t i, fl_rm_arena_info_t *out);
/* bin_at (av, i): the fake chunk of bin i (1..127); its fd/bk via fl_rm_word. */
uintptr_t fl_rm_bin_at(const fl_rm_t *rm, size_t arena, unsigned i);
/* A word as the allocator reads it: from arena's malloc_state if addr lies
 * in it, else from model memory. */
uint64_t fl_rm_word(const fl_rm_t *rm, size_t arena, uintptr_t addr);
/* The tcache of a logical thread (false if the thread has none). */
bool fl_rm_tcache(const fl_rm_t *rm, unsigned tid, fl_rm_tcache_info_t *out);
/* REVEAL_PTR: the safe-linked pointer stored at pos. */
static inline uintptr_t fl_rm_reveal(uintptr_t pos, uintptr_t stored) { return (pos >> 12) ^ stored; }
/* Non-main arena heaps, newest first (heap_info chain). Returns the count. */
size_t fl_rm_heaps(const fl_rm_t *rm, size_t arena, uintptr_t *out, size_t cap);
/* The logical thread's arena index (-1 = none yet). */
int fl_rm_thread_arena(const fl_rm_t *rm, unsigned tid);

/* The logical threads' table size (tids are below it). */
unsigned fl_rm_thread_count(const fl_rm_t *rm);
/* The thread's tcache_perthread_struct (user pointer), 0 = none; no read. */
uintptr_t fl_rm_tcache_addr(const fl_rm_t *rm, unsigned tid);

#endif

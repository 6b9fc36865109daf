/* snapshot.h — a still picture of refmalloc's heap and the model's address
 * space, for the views (`faultline bins`, `pmap`, `run --trace`, `map`).
 *
 * A snapshot holds:
 *  - every chunk of every arena's heaps and every mapped chunk, in address
 *    order, each with the state a reader of the heap cares about (in use,
 *    tcache, fastbin, unsorted, small, large, top, mapped), and its list;
 *  - the free lists as glibc links them (tcache per thread, fastbins, the
 *    unsorted, small and large bins per arena), in list order;
 *  - the model's VMAs of the window, each with its present pages counted
 *    and labelled by what refmalloc keeps there ([heap], an arena's heap, a
 *    mapped chunk);
 *  - the present pages themselves (address and page-table state).
 *
 * It is taken with fault-free reads (introspect.h peek views, fl_vm_peek):
 * RSS, fault counts and the allocator are left exactly as they were. It is
 * tolerant: a corrupt heap (a script that poked a header) gives a shorter
 * walk and a list marked broken, never a crash or an endless loop. */
#ifndef FL_VIEW_SNAPSHOT_H
#define FL_VIEW_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/refmalloc.h"
#include "util/err.h"
#include "vm/vm.h"

typedef enum fl_chunk_state {
  FL_CHUNK_INUSE,
  FL_CHUNK_TCACHE,
  FL_CHUNK_FASTBIN,
  FL_CHUNK_UNSORTED,
  FL_CHUNK_SMALL,
  FL_CHUNK_LARGE,
  FL_CHUNK_TOP,
  FL_CHUNK_MAPPED,  /* an mmap()ed chunk (adjacent ones share a VMA: the kernel merges them) */
  FL_CHUNK_FENCE,   /* sysmalloc's fenceposts at the end of an old heap */
  FL_CHUNK_STATE_COUNT
} fl_chunk_state_t;

/* "in-use", "tcache", "fastbin", "unsorted", "small", "large", "top",
 * "mapped", "fence": the names the views and the JSON use. */
const char *fl_chunk_state_name(fl_chunk_state_t s);

/* The kinds of free list, in the order the views print them. */
typedef enum fl_list_kind {
  FL_LIST_TCACHE, FL_LIST_FASTBIN, FL_LIST_UNSORTED, FL_LIST_SMALL, FL_LIST_LARGE,
  FL_LIST_KIND_COUNT
} fl_list_kind_t;
const char *fl_list_kind_name(fl_list_kind_t k); /* "tcache", "fastbins", ... */

typedef struct fl_snap_chunk {
  uintptr_t addr;       /* the chunk (header) address; user pointer = addr + 16 */
  uint64_t size;        /* chunksize(): the size field without its flag bits */
  uint8_t flags;        /* the size field's low bits (PREV_INUSE, IS_MMAPPED, NON_MAIN_ARENA) */
  uint8_t state;        /* fl_chunk_state_t */
  int16_t arena;        /* arena index, -1 for mapped chunks */
  int32_t list;         /* index into fl_snapshot_t.lists, -1 if on none */
} fl_snap_chunk_t;

/* One free list: entries[first .. first + n) of fl_snapshot_t.entries. */
typedef struct fl_snap_list {
  uint8_t kind;         /* fl_list_kind_t */
  int16_t arena;        /* -1 for a tcache (it belongs to a thread) */
  uint16_t tid;         /* tcache: the logical thread */
  uint16_t index;       /* tcache/fastbin index, or the bin number (1..126) */
  uint16_t count;       /* tcache: counts[index] as glibc keeps it */
  bool broken;          /* the links left the heap or looped: walk cut short */
  size_t first, n;
} fl_snap_list_t;

typedef struct fl_snap_entry {
  uintptr_t chunk;      /* chunk address (tcache entries are converted) */
  uint64_t size;        /* its size field, flags cleared */
} fl_snap_entry_t;

typedef struct fl_snap_vma {
  fl_vma_t vma;
  uint64_t present;     /* pages with an exclusive or lazy-free page (Rss) */
  uint64_t zero;        /* pages mapped to the zero page (not in Rss) */
  uint64_t dirty;       /* exclusive pages not MADV_FREE'd (smaps *_Dirty) */
  const char *label;    /* never NULL: "[heap]", "[arena heap]", "[mmap chunk]", "[anon]" */
  int arena;            /* the arena whose heap it holds, else -1 */
} fl_snap_vma_t;

typedef struct fl_snap_page {
  uintptr_t addr;
  uint8_t pte;          /* fl_pte_t */
} fl_snap_page_t;

typedef struct fl_snap_arena {
  int index;
  uintptr_t addr, top;
  uint64_t top_size, system_mem;
} fl_snap_arena_t;

typedef struct fl_snapshot {
  fl_snap_chunk_t *chunks; size_t nchunks, capchunks;
  fl_snap_list_t *lists;   size_t nlists, caplists;
  fl_snap_entry_t *entries; size_t nentries, capentries;
  fl_snap_vma_t *vmas;     size_t nvmas;
  fl_snap_page_t *pages;   size_t npages, cappages;
  fl_snap_arena_t *arenas; size_t narenas;
  bool walk_complete;      /* every heap was walked to its top or fence */
  uintptr_t walk_stop;     /* where an incomplete walk stopped (0 if complete) */
  fl_vm_stats_t stats;
} fl_snapshot_t;

/* Takes a snapshot of rm and its vm now. FL_OK, or FL_EENV when memory
 * runs out. Zero-initialise s before the first take; a snapshot can be
 * taken again into the same s (it is reset). */
fl_status_t fl_snapshot_take(fl_snapshot_t *s, const fl_rm_t *rm);
void fl_snapshot_free(fl_snapshot_t *s);

/* The sizes a list holds, as the gdb heap plugins label it: "0x90", a
 * range "0x400-0x430" for a large bin, "any" for the unsorted bin. */
const char *fl_snap_list_label(const fl_snap_list_t *l, char *buf, size_t cap);

/* The chunk at addr (exact header address), or NULL. */
const fl_snap_chunk_t *fl_snapshot_chunk(const fl_snapshot_t *s, uintptr_t addr);
/* The chunk whose [addr, addr + size) contains a, or NULL. */
const fl_snap_chunk_t *fl_snapshot_chunk_containing(const fl_snapshot_t *s, uintptr_t a);

#endif

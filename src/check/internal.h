/* internal.h — the checker's state, shared by check.c (the object, levels,
 * reports), heap.c (BIN-*), space.c (VMA-*, PT-*, RSS-*, KERNEL-*) and
 * registry.c. Nothing outside src/check includes this. */
#ifndef FL_CHECK_INTERNAL_H
#define FL_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "alloc/introspect.h"
#include "check/check.h"

#define CK_PAGE 4096UL
#define CK_MINSIZE 32UL
#define CK_HEAP_MAX ((uintptr_t)64 << 20) /* HEAP_MAX_SIZE on x86-64 */
#define CK_HEAP_INFO 48UL                 /* sizeof (heap_info) */
#define CK_MS_SIZE 2200UL                 /* sizeof (struct malloc_state) */
#define CK_PINUSE 1UL
#define CK_MMAPPED 2UL
#define CK_NONMAIN 4UL
#define CK_SIZE_BITS 7UL
#define CK_MAX_STORED 256

/* ---- live chunks the allocator handed out -------------------------------- */
typedef struct ck_live {
  uintptr_t mem;            /* user pointer, 0 = empty slot, 1 = tombstone */
  uint64_t req;             /* bytes requested */
  uintptr_t map_lo, map_hi; /* mapped chunks: the mapping; else 0 */
} ck_live_t;

typedef struct ck_liveset {
  ck_live_t *t;
  size_t cap, n, used;      /* slots, live entries, live + tombstones */
} ck_liveset_t;

/* tcache_init's tcache_perthread_struct is an ordinary chunk: mmapped when
 * M_MMAP_THRESHOLD is below its size, a mapping the allocator owns without
 * handing it out. The mapping of thread tid's, if it is one. */
bool ck_tcache_mapping(fl_check_t *c, unsigned tid, uintptr_t *lo, uintptr_t *hi);
/* The vm's count of system calls that returned an error. */
uint64_t ck_failed_syscalls(fl_vm_t *vm);
ck_live_t *ck_live_find(ck_liveset_t *s, uintptr_t mem);
bool ck_live_put(ck_liveset_t *s, const ck_live_t *e);
bool ck_live_del(ck_liveset_t *s, uintptr_t mem, ck_live_t *out);

/* ---- chunk membership (one full walk) --------------------------------------- */
enum { MB_NONE = 0, MB_TCACHE = 1, MB_FAST = 2, MB_BIN = 3, MB_TCSTRUCT = 4 };
typedef struct ck_mb {
  uintptr_t p;              /* chunk address, 0 = empty */
  uint8_t kind;             /* MB_* of the first list it was found in */
  uint8_t lists;            /* how many list positions name it */
  uint8_t walked;           /* the heap walk found a chunk header here */
  uint8_t arena;
  uint16_t bin;
} ck_mb_t;

typedef struct ck_mbset {
  ck_mb_t *t;
  size_t cap, n;
} ck_mbset_t;

ck_mb_t *ck_mb_get(ck_mbset_t *s, uintptr_t p, bool create);

/* A walked chunk header. Tags in the low bits of p (chunks are 16-byte
 * aligned): the arena's top, or a fencepost (sysmalloc's at an old heap's
 * end). */
#define CK_TAG_TOP 1u
#define CK_TAG_FENCE 2u
typedef struct ck_chunk {
  uintptr_t p;
  uint64_t f;               /* the size field */
} ck_chunk_t;

/* A heap segment: [lo, hi) holds chunks from lo on. */
typedef struct ck_seg {
  int arena;
  uintptr_t heap;           /* heap_info address (non-main), 0 = main */
  uintptr_t lo, hi;
  bool has_top;             /* the arena's top lies in it (it ends with top) */
  size_t first, count;      /* its chunks in c->chunks */
} ck_seg_t;

/* The last op, as fl_chk_op / fl_chk_freed read it. */
typedef struct ck_lastop {
  bool valid;
  fl_rm_call_t call;
  bool freed_valid;         /* a tracked chunk went away */
  ck_live_t freed;
  bool new_valid;           /* a chunk was handed out */
  ck_live_t added;
} ck_lastop_t;

struct fl_check {
  fl_rm_t *rm;
  fl_vm_t *vm;
  int level;
  unsigned walk_k;
  bool exclusive;
  bool unobserved;          /* fl_check_set_unobserved */
  bool tracking;
  bool in_check;
  ck_liveset_t live;
  /* the live mmapped chunks, a subset of live: VMA-OWNED runs after every
   * op with a system call at level 2, and must not cost O(live chunks) */
  ck_liveset_t live_mm;
  uint64_t ops, walks, since_walk, cur_op;
  uint64_t last_syscalls;
  uint64_t last_failed_syscalls; /* fl_vm_stats_t.failed_syscalls then */
  /* violations */
  fl_violation_t *stored;
  uint64_t *stored_run;     /* which check run found each */
  uint64_t run;
  size_t nstored, ntotal;
  uint32_t *fired;          /* per registry index */
  fl_check_violation_fn vfn;
  void *vctx;
  size_t mm_cursor[8];      /* per fl_vm_mismatch_kind_t */
  /* the last walk's scratch, reused */
  ck_mbset_t mb;
  ck_mbset_t mb_small;       /* level 2: one tcache bin (stays small) */
  ck_seg_t *segs;
  size_t nsegs, capsegs;
  bool walk_complete;       /* every arena's heaps were walked */
  ck_chunk_t *chunks;       /* walked chunk headers, in segment order */
  size_t nchunks, capchunks;
  /* walk totals (BIN-MALLINFO) */
  uint64_t w_heap_bytes, w_bin_n, w_bin_bytes, w_fast_n, w_fast_bytes, w_top_bytes, w_main_top;
  size_t w_narenas;
  ck_lastop_t last;
};

/* ---- reporting (check.c) ----------------------------------------------------- */
enum { CK_DRAW_NONE = 0, CK_DRAW_CHUNKS = 1, CK_DRAW_VMAS = 2 };
/* Records a violation of `id` at addr; expected/actual are printf-formatted
 * by the caller (ck_str). */
void ck_fail(fl_check_t *c, const char *id, uintptr_t addr, int draw, const char *expected,
             const char *actual);
/* A formatted string in a small ring of buffers (valid for a few calls). */
const char *ck_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- model memory, fault-free ---------------------------------------------------- */
static inline uint64_t ck_word(fl_check_t *c, uintptr_t a) {
  uint64_t v = 0;
  fl_vm_peek(c->vm, a, &v, 8);
  return v;
}
/* A link word as the allocator reads it (bin headers live host-side). */
static inline uint64_t ck_link(fl_check_t *c, int arena, uintptr_t a) {
  return fl_rm_word(c->rm, (size_t)arena, a);
}

/* ---- the check functions (the registry names them) -------------------------- */
int fl_chk_heap(fl_check_t *c);       /* BIN-* by a full walk */
int fl_chk_op(fl_check_t *c);         /* the last op's chunk (level 1) */
int fl_chk_top(fl_check_t *c);        /* BIN-TOP-* (O(arenas)) */
int fl_chk_mallinfo_fn(fl_check_t *c);
int fl_chk_vmas(fl_check_t *c);       /* VMA-* structure and counters */
int fl_chk_owned(fl_check_t *c);      /* VMA-* against refmalloc's memory */
int fl_chk_pages(fl_check_t *c);      /* PT-*, RSS-* */
int fl_chk_freed(fl_check_t *c);      /* VMA-FREED, PT-FREED-MMAP (last op) */
int fl_chk_minflt(fl_check_t *c);     /* RSS-MINFLT (O(1)) */
int fl_chk_kernel_maps(fl_check_t *c);
int fl_chk_kernel_pages(fl_check_t *c);
int fl_chk_kernel_rss(fl_check_t *c);
int fl_chk_kernel_minflt(fl_check_t *c);
int fl_chk_kernel_errno(fl_check_t *c);
int fl_chk_kernel_access(fl_check_t *c);


/* heap.c helpers used by space.c */
/* Builds c->segs (heap segments of every arena); false if some arena's
 * memory cannot be described (non-contiguous main arena). */
bool ck_segments(fl_check_t *c);
/* Checks the tcache bin `idx` of every thread (level 2 incremental). */
int ck_tcache_bin(fl_check_t *c, unsigned idx);

#endif

/* wire.h — what the oracle's parent (oracle.c) and its helper process
 * (src/helper/faultline-oracle.c) share: the promise IDs, and the layout of
 * the memory and the messages that cross between them. Both ends are
 * compiled from this header.
 *
 * Channels, as the helper sees them after exec:
 *   fd 3  a stream socket: the parent writes one uint32 command, the helper
 *         answers one uint32 when the command is done (and READY once, after
 *         start-up).
 *   fd 5  a memfd: FL_ORACLE_HDR_BYTES of fl_oracle_hdr_t, then the ops of
 *         the current run (fl_op_t as laid out in memory). The parent writes
 *         the ops and the run's settings before RUN; the helper writes the
 *         progress counter before every op and the results at the end.
 *   fd 2  a pipe: what the allocator prints when it aborts.
 * The per-op timeout needs no message per op: the parent watches `progress`
 * and kills a helper whose counter stands still for longer than the timeout.
 */
#ifndef FL_ORACLE_WIRE_H
#define FL_ORACLE_WIRE_H

#include <stdint.h>

#include "ops/op.h"

/* The promises, in report order. The names (oracle.c) are the registry's
 * ORACLE-* IDs; spec/invariants.md states each one and its standard text. */
typedef enum fl_oracle_id {
  FL_ORACLE_ALIGN,          /* malloc/calloc/realloc: min(16, 2^floor(log2 size)) */
  FL_ORACLE_ALIGN_EXPLICIT, /* aligned_alloc/memalign/posix_memalign/valloc/pvalloc */
  FL_ORACLE_NO_OVERLAP,     /* live blocks are disjoint */
  FL_ORACLE_USABLE,         /* malloc_usable_size >= request */
  FL_ORACLE_CONTENTS,       /* the whole usable size keeps what was written */
  FL_ORACLE_REALLOC_PREFIX, /* realloc keeps min(old, new) bytes */
  FL_ORACLE_CALLOC_ZERO,    /* calloc's bytes are zero, recycled memory included */
  FL_ORACLE_IMPOSSIBLE,     /* sizes > PTRDIFF_MAX, overflowing calloc: NULL */
  FL_ORACLE_FREE_NULL,      /* free(NULL) does nothing */
  FL_ORACLE_ZERO_SIZE,      /* malloc(0), realloc(p, 0): NULL or a unique freeable block */
  FL_ORACLE_ENOMEM,         /* posix: failures set errno (posix_memalign returns) ENOMEM */
  FL_ORACLE_EINVAL,         /* posix: posix_memalign refuses bad alignments with EINVAL */
  FL_ORACLE_GIVE_BACK,      /* resident memory returns under a bound after free + purge */
  FL_ORACLE_CRASH,          /* the allocator killed the process */
  FL_ORACLE_HANG,           /* an op did not return within the timeout */
  FL_ORACLE_ID_COUNT
} fl_oracle_id_t;

#define FL_ORACLE_BIT(id) (1u << (id))
/* Allowing is per promise and op kind: bit k of allow[id] allows the
 * promise on ops of kind k; FL_ORACLE_AT_END stands for what is judged at
 * the end of a run (the teardown's checks, ORACLE-GIVE-BACK). */
#define FL_ORACLE_AT_END 31u
#define FL_ORACLE_KIND_BIT(kind) (1u << ((kind) < FL_OP_KIND_COUNT ? (kind) : FL_ORACLE_AT_END))
#define FL_ORACLE_ALLOW_ALL 0xffffffffu
_Static_assert(FL_OP_KIND_COUNT < FL_ORACLE_AT_END, "an op kind bit per kind");
/* The promises only POSIX makes: not checked under --promises c. */
#define FL_ORACLE_POSIX_ONLY (FL_ORACLE_BIT(FL_ORACLE_ENOMEM) | FL_ORACLE_BIT(FL_ORACLE_EINVAL))

/* The functions the allocator under test provides (defined in the same
 * object as its malloc); ops on the others are skipped as unsupported,
 * because calling glibc's memalign on a jemalloc process mixes two heaps. */
typedef enum fl_oracle_fn {
  FL_ORACLE_FN_MEMALIGN,
  FL_ORACLE_FN_ALIGNED_ALLOC,
  FL_ORACLE_FN_POSIX_MEMALIGN,
  FL_ORACLE_FN_VALLOC,
  FL_ORACLE_FN_PVALLOC,
  FL_ORACLE_FN_USABLE_SIZE,
  FL_ORACLE_FN_MALLOPT,
  FL_ORACLE_FN_MALLOC_TRIM,
  FL_ORACLE_FN_MALLCTL,       /* jemalloc's purge */
  FL_ORACLE_FN_TC_RELEASE,    /* tcmalloc's MallocExtension_ReleaseFreeMemory */
  FL_ORACLE_FN_MI_COLLECT,    /* mimalloc's mi_collect */
  FL_ORACLE_FN_COUNT
} fl_oracle_fn_t;

enum {
  FL_ORACLE_FD_CMD = 3,
  FL_ORACLE_FD_SHM = 5,
};

/* Commands (parent -> helper) and answers (helper -> parent). */
#define FL_ORACLE_CMD_RUN 0x52554e21u   /* run hdr->nops ops, then tear down */
#define FL_ORACLE_ANS_READY 0x52445921u /* after start-up: hdr->provided is set */
#define FL_ORACLE_ANS_DONE 0x444f4e21u  /* the run is over: results in hdr */

#define FL_ORACLE_VIOL_MAX 48 /* the first of each ID and op kind */
#define FL_ORACLE_TEXT 224

/* One broken promise, as the helper saw it. */
typedef struct fl_oracle_wire_viol {
  uint32_t id;        /* fl_oracle_id_t */
  uint16_t kind;      /* fl_op_kind_t of the op (FL_OP_KIND_COUNT: the teardown) */
  uint16_t allowed;   /* the parent allowed this ID: the run went on */
  uint64_t op_index;  /* the op (or hdr->nops for the final teardown) */
  char detail[FL_ORACLE_TEXT];
} fl_oracle_wire_viol_t;

/* What the helper was doing when progress last moved: lets the parent name
 * the promise a crash or a hang broke (free(NULL), freeing a zero-size
 * block) instead of reporting a bare signal. */
typedef enum fl_oracle_note {
  FL_ORACLE_NOTE_OP,          /* an ordinary op */
  FL_ORACLE_NOTE_FREE_NULL,   /* free(NULL) */
  FL_ORACLE_NOTE_FREE_ZERO,   /* freeing a block from malloc(0) or realloc(p, 0) */
  FL_ORACLE_NOTE_TEARDOWN,    /* freeing what is left, purging, measuring */
} fl_oracle_note_t;

typedef struct fl_oracle_hdr {
  uint64_t magic;
  /* Set by the parent before RUN. */
  uint64_t nops;
  uint64_t budget;       /* live-byte budget (requests <= PTRDIFF_MAX over it are skipped) */
  uint32_t check;        /* FL_ORACLE_BIT mask of the promises checked */
  uint32_t allow[FL_ORACLE_ID_COUNT]; /* FL_ORACLE_KIND_BIT masks: found, not a finding */
  /* Set by the helper. */
  uint64_t progress;     /* 1 + the index of the op running (atomic) */
  uint32_t note;         /* fl_oracle_note_t of that op (atomic) */
  uint32_t provided;     /* bit per fl_oracle_fn_t */
  char malloc_object[256]; /* the file malloc was found in (dladdr) */
  /* Results of the last run. */
  uint32_t stopped;      /* a promise not allowed broke: the helper's heap is suspect */
  uint32_t unallowed;    /* broken promises that were not allowed */
  uint32_t nviol;        /* stored in viol[] (the first of each ID) */
  uint64_t fired[FL_ORACLE_ID_COUNT];
  fl_oracle_wire_viol_t viol[FL_ORACLE_VIOL_MAX];
  uint64_t ops_run, skipped, unsupported, nulls;
  uint64_t peak_live;    /* bytes the helper wrote and kept live at once (usable sizes) */
  uint64_t rss_before, rss_peak, rss_after; /* smaps_rollup Rss, bytes */
  uint32_t purged;       /* bit per fl_oracle_fn_t of the purge calls made */
} fl_oracle_hdr_t;

#define FL_ORACLE_MAGIC 0x6f7261636c653031ull /* "oracle01" */
#define FL_ORACLE_HDR_BYTES 65536u /* the ops start here: page-aligned for mmap */
_Static_assert(sizeof(fl_oracle_hdr_t) <= FL_ORACLE_HDR_BYTES, "the header fits its pages");

#endif

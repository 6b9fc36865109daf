/* op.h — the op model: what every faultline run is made of.
 *
 * An op stream is a flat array of fixed-size fl_op_t. Ops never carry raw
 * pointers: allocation results land in numbered slots (#0..#255) and later
 * ops name those slots, so one stream replays identically against any
 * allocator (refmalloc in-process, glibc in a helper, any .so).
 *
 * Field use per kind (every field not listed is 0 in a canonical op):
 *
 *   kind            dst  src  a          b        byte  aux
 *   malloc          dst       size
 *   calloc          dst       nmemb      size
 *   realloc         dst  src  size
 *   free                 src
 *   memalign        dst       alignment  size
 *   aligned_alloc   dst       alignment  size
 *   posix_memalign  dst       alignment  size
 *   valloc          dst       size
 *   pvalloc         dst       size
 *   usable_size          src
 *   write                src  offset     length   byte
 *   verify               src  offset     length   byte
 *   thread                    tid (< FL_OP_THREADS)
 *   mallopt                   param      value (int32, sign-extended)
 *   malloc_trim               pad
 *   inject                    sys kind   nth (1..256)    errno
 *   check                     level (0..3)
 *   free_at              src  offset (int64)
 *   poke                 src  offset     value    width (1, 2, 4, 8)
 *   poke_ptr        tgt  src  offset     toffset  mode (0 plain, 1 protect)
 *
 * The last three are *hostile*: they act on a slot's live pointer or, once
 * freed, on its stale one, at any signed offset, to express double frees,
 * use-after-free writes and header corruption (how2heap, integrity tests).
 * The generator never emits them and fuzz targets skip them (their findings
 * would be the input's own doing); poke_ptr's tgt slot is held in dst.
 *
 * spec/ops.md is the contract; binary.h and text.h are the two encodings. */
#ifndef FL_OPS_OP_H
#define FL_OPS_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Recordings of real programs keep tens of thousands of blocks live: a slot
 * is 16 bits (the binary form spends one byte on slots below 240). */
#define FL_OP_SLOTS 65536
#define FL_OP_THREADS 16   /* logical thread ids 0..15 */
#define FL_OP_INJECT_NTH_MAX 256
#define FL_OP_CHECK_MAX 3

/* The version of both file forms (binary header byte, text header line).
 * Bump it when a byte string or a script would mean something else.
 * v2 added the hostile kinds; v1 files still load (FL_OPS_V1_KIND_COUNT). */
#define FL_OPS_FORMAT_VERSION 2
#define FL_OPS_OLDEST_VERSION 1
#define FL_OPS_V1_KIND_COUNT 17

typedef enum fl_op_kind {
  FL_OP_MALLOC,
  FL_OP_CALLOC,
  FL_OP_REALLOC,
  FL_OP_FREE,
  FL_OP_MEMALIGN,
  FL_OP_ALIGNED_ALLOC,
  FL_OP_POSIX_MEMALIGN,
  FL_OP_VALLOC,
  FL_OP_PVALLOC,
  FL_OP_USABLE_SIZE,
  FL_OP_WRITE,
  FL_OP_VERIFY,
  FL_OP_THREAD,
  FL_OP_MALLOPT,
  FL_OP_TRIM,
  FL_OP_INJECT,
  FL_OP_CHECK,
  FL_OP_FREE_AT,   /* hostile from here on: fl_op_kind_hostile() */
  FL_OP_POKE,
  FL_OP_POKE_PTR,
  FL_OP_KIND_COUNT
} fl_op_kind_t;

/* mallopt parameters, in the op language's own numbering (the binary form
 * folds a byte onto these); fl_op_mallopt_glibc() gives <malloc.h>'s value. */
typedef enum fl_mallopt_param {
  FL_OP_M_MXFAST,
  FL_OP_M_TRIM_THRESHOLD,
  FL_OP_M_TOP_PAD,
  FL_OP_M_MMAP_THRESHOLD,
  FL_OP_M_MMAP_MAX,
  FL_OP_M_ARENA_MAX,
  FL_OP_M_PERTURB,
  FL_OP_M_PARAM_COUNT
} fl_mallopt_param_t;

/* The system calls an allocator makes that inject can make fail. */
typedef enum fl_op_sys {
  FL_OP_SYS_MMAP,
  FL_OP_SYS_MUNMAP,
  FL_OP_SYS_MPROTECT,
  FL_OP_SYS_MREMAP,
  FL_OP_SYS_MADVISE,
  FL_OP_SYS_BRK,
  FL_OP_SYS_KIND_COUNT
} fl_op_sys_t;

typedef struct fl_op {
  uint8_t kind;  /* fl_op_kind_t */
  uint8_t byte;  /* write/verify: fill byte; poke: width; poke_ptr: mode */
  uint16_t dst;  /* slot receiving the result (poke_ptr: the slot pointed to) */
  uint16_t src;  /* slot read (realloc, free, usable_size, write, verify) */
  int32_t aux;   /* inject: the errno value */
  uint64_t a;    /* see the table above */
  uint64_t b;
} fl_op_t;

/* A growable op array. Zero-initialised is a valid empty array. */
typedef struct fl_ops {
  fl_op_t *v;
  size_t n;
  size_t cap;
} fl_ops_t;

void fl_ops_init(fl_ops_t *ops);
void fl_ops_free(fl_ops_t *ops);
void fl_ops_clear(fl_ops_t *ops);
/* FL_EENV if memory runs out (the array is left as it was). */
fl_status_t fl_ops_push(fl_ops_t *ops, const fl_op_t *op);
bool fl_ops_equal(const fl_ops_t *x, const fl_ops_t *y);
/* Index of the first differing op, or the shorter length; for test output. */
size_t fl_ops_first_diff(const fl_ops_t *x, const fl_ops_t *y);

/* True if op is canonical: kind known, every field in range, unused fields
 * zero. Canonical ops are exactly those the decoder can produce and the text
 * parser accepts; encode/print round-trip them bit for bit. */
bool fl_op_is_canonical(const fl_op_t *op);
bool fl_op_equal(const fl_op_t *x, const fl_op_t *y);

/* Kind properties, used by the encoders, the generator and the executor. */
bool fl_op_kind_allocates(fl_op_kind_t kind); /* writes dst */
bool fl_op_kind_reads_slot(fl_op_kind_t kind); /* reads src */
bool fl_op_kind_hostile(fl_op_kind_t kind);    /* free_at, poke, poke_ptr */

/* poke_ptr's modes: the address as is, or safe-linking encoded as glibc's
 * PROTECT_PTR does: (address of the field >> 12) ^ address. */
#define FL_OP_POKE_PLAIN 0
#define FL_OP_POKE_PROTECT 1

/* Names as they appear in text scripts; NULL for an out-of-range value.
 * The lookups return -1 when the name is unknown. */
const char *fl_op_kind_name(unsigned kind);
int fl_op_kind_lookup(const char *name, size_t len);
const char *fl_op_mallopt_name(unsigned param);
int fl_op_mallopt_lookup(const char *name, size_t len);
int fl_op_mallopt_glibc(unsigned param); /* M_MXFAST == 1, M_TRIM_THRESHOLD == -1 ... */
const char *fl_op_sys_name(unsigned sys);
int fl_op_sys_lookup(const char *name, size_t len);

/* The errno values inject may use, in binary-form order. */
#define FL_OP_ERRNO_COUNT 8
int fl_op_errno_at(unsigned index);
int fl_op_errno_index(int err); /* -1 if not in the table */
const char *fl_op_errno_name(int err);
int fl_op_errno_lookup(const char *name, size_t len); /* errno value or -1 */

/* True for the format versions this faultline reads. */
bool fl_ops_version_readable(unsigned long v);
/* Records (fl_error) and returns FL_EUSAGE for a file of format version v
 * that this faultline cannot read, saying whether it is older or newer. */
fl_status_t fl_ops_version_error(const char *name, unsigned long v);

#endif

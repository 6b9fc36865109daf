/* exec.h — the executor: runs an op stream against a target.
 *
 * Slot semantics (spec/ops.md, "Execution"):
 *  - An allocating op stores its result in dst, NULL included (the slot is
 *    then empty). A block still in dst is leaked: counted in live bytes and
 *    in result->leaked, never freed (the stream said to drop it).
 *  - realloc #d #s n: realloc(block in s, n). Non-NULL: s is emptied, d
 *    holds the result. NULL with n == 0: the block was freed (glibc's
 *    realloc(p, 0)), s is emptied. NULL otherwise: failure, s keeps its
 *    block, d is empty unless d == s.
 *  - realloc / free / usable_size / write / verify of an empty slot are
 *    skipped, not findings (an earlier allocation may legitimately have
 *    failed on this target; realloc(NULL, n) is spelled malloc). write/verify are clipped to the block's requested size
 *    (offset past the end: skipped); a verify mismatch is a finding.
 *  - Hostile ops (free_at, poke, poke_ptr) use the slot's live pointer, or
 *    the last one it held once that was freed (stale), at a signed offset:
 *    free_at #s 0 on a live slot is free #s; anything else leaves the slot
 *    as it is. A slot that never held a block skips them.
 *  - Budget: an allocation whose request is at most PTRDIFF_MAX and would
 *    take live bytes over options.budget is skipped (not a finding); a
 *    memalign-family block counts size + alignment, what glibc touches for
 *    it under M_PERTURB, unless the target says it does not fill
 *    (target.h). Larger requests, and calloc products that overflow, run:
 *    any allocator must refuse them without touching memory.
 * errno is cleared before and read after each allocator call. */
#ifndef FL_OPS_EXEC_H
#define FL_OPS_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"
#include "ops/target.h"

typedef enum fl_exec_status {
  FL_EXEC_OK,          /* ran */
  FL_EXEC_EMPTY_SLOT,  /* skipped: the slot it reads is empty */
  FL_EXEC_OVER_BUDGET, /* skipped: would exceed the live-byte budget */
  FL_EXEC_OUT_OF_BLOCK,/* skipped: write/verify offset past the block */
  FL_EXEC_UNSUPPORTED, /* skipped: the target lacks this function */
  FL_EXEC_MISMATCH,    /* verify found other bytes: a finding */
  FL_EXEC_ACCESS,      /* the target could not read/write the block: a finding */
  FL_EXEC_CHECK_FAILED,/* the check op reported violations: a finding */
  FL_EXEC_HOSTILE,     /* skipped: a hostile op under options.skip_hostile */
} fl_exec_status_t;

/* Per-op record, kept when options.record is set, for comparing targets. */
typedef struct fl_exec_record {
  uint8_t status;   /* fl_exec_status_t */
  int err;          /* errno after the call (0 if not an allocator call) */
  int ret;          /* int result: posix_memalign, mallopt, malloc_trim */
  uintptr_t ptr;    /* the pointer returned (allocating ops) */
  size_t usable;    /* malloc_usable_size of ptr (or of the slot, usable_size) */
} fl_exec_record_t;

typedef struct fl_exec_options {
  uint64_t budget;  /* live-byte budget; 0 = FL_EXEC_DEFAULT_BUDGET */
  bool record;      /* fill result->records */
  bool stop_on_finding;
  /* Skip free_at/poke/poke_ptr: fuzz targets and campaigns decode random
   * bytes, and a heap the input corrupted on purpose is not a finding. */
  bool skip_hostile;
  /* Called after every op, run or skipped; returning false stops the run
   * (e.g. a kernel comparison or an invariant that failed: the caller
   * reports it). NULL = none. */
  bool (*after_op)(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status);
  void *after_op_ctx;
  /* Called once with after_op_ctx when the executor's own set-up is done,
   * just before op 0: the place for fault-count baselines, so that its
   * tables' page faults are not charged to op 0. NULL = none. */
  void (*on_start)(void *ctx);
} fl_exec_options_t;

#define FL_EXEC_DEFAULT_BUDGET ((uint64_t)1 << 30)

typedef struct fl_exec_result {
  fl_exec_record_t *records; /* ops->n entries when options.record; free it */
  size_t ops_run;            /* ops executed (not skipped) */
  size_t skipped;
  size_t findings;
  size_t first_finding;      /* op index; SIZE_MAX if none */
  char finding[384];         /* the first finding, one line */
  size_t leaked;             /* blocks dropped by overwriting a slot */
  uint64_t live_bytes, peak_live_bytes;
} fl_exec_result_t;

/* Runs ops[0..n) against t. Returns FL_OK or FL_FINDING (result has the
 * details), FL_EUSAGE for a non-canonical op or a target lacking a required
 * function, FL_EENV if memory runs out. The blocks still live at the end
 * are freed. Call fl_exec_result_free afterwards in every case. */
fl_status_t fl_exec_run(const fl_ops_t *ops, const fl_target_t *t,
                        const fl_exec_options_t *options, fl_exec_result_t *result);
void fl_exec_result_free(fl_exec_result_t *result);
const char *fl_exec_status_name(fl_exec_status_t s);

#endif

/* trace.h — `faultline run --trace`: what each op made the allocator do.
 *
 * For every op the trace tells
 *  - what glibc's malloc decided: served from a tcache bin, a fastbin, a
 *    small bin, the unsorted bin (exact fit or split), a large bin, a split
 *    of top, sysmalloc via brk or mmap; a free that went to a tcache bin, a
 *    fastbin, the unsorted bin (coalesced or not), into top, or back to the
 *    kernel with munmap; trims; and the chunks that moved between lists on
 *    the way (unsorted chunks sorted into bins, fastbins consolidated,
 *    chunks stashed into the tcache);
 *  - the system calls, in strace's format;
 *  - the minor faults and the RSS change;
 *  - the invariants checked after it (with `--check L`) and any violation.
 *
 * The decisions are read off the heap, not told by the allocator: a
 * snapshot (snapshot.h) before and after the op, compared chunk by chunk.
 * What a chunk was before the op and what it is after says which path
 * glibc took, with no hook inside refmalloc to keep in step with it.
 *
 * The trace observes the model's system calls through the vm hook (one
 * observer per vm: nothing else in `run` uses it) and the allocator's calls
 * through one of refmalloc's extra call hooks (the checker keeps the
 * first): it adds no call of its own, so a traced run is the same run. */
#ifndef FL_VIEW_TRACE_H
#define FL_VIEW_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "alloc/refmalloc.h"
#include "check/check.h"
#include "ops/exec.h"
#include "ops/op.h"
#include "util/err.h"
#include "util/json.h"

typedef struct fl_trace fl_trace_t;

/* Starts tracing rm (and its vm) before the first op. chk may be NULL (no
 * invariants). Text goes to `text` op by op; NULL keeps the entries for
 * fl_trace_json instead. FL_EENV if memory runs out. */
fl_status_t fl_trace_open(fl_trace_t **out, fl_rm_t *rm, fl_check_t *chk, FILE *text);
/* Stops observing the vm: call it before the vm closes. The kept entries
 * stay for fl_trace_json until fl_trace_close. */
void fl_trace_detach(fl_trace_t *t);
void fl_trace_close(fl_trace_t *t);

/* After op `index` ran (or was skipped). */
void fl_trace_op(fl_trace_t *t, size_t index, const fl_op_t *op, fl_exec_status_t status);

/* The kept entries as a JSON array (spec/json.md, `run --trace --json`). */
void fl_trace_json(const fl_trace_t *t, fl_json_t *j);

#endif

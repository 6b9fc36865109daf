/* minimize.h — op-level delta debugging: the smallest stream that still
 * fails the same way.
 *
 * ddmin (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing
 * Input", 2002), coarse to fine: over the kinds of ops (all writes at once,
 * ...), then over slots (every op on one slot at once), then over single
 * ops, keeping a candidate when the test says it still fails; the last pass
 * ends 1-minimal (no single op can go). Every subsequence of a stream is a
 * valid stream (ops on an empty slot are skipped), so no candidate is ever
 * malformed. A test also says how many leading ops the failure needed (its
 * op index + 1): everything after that is dropped at once.
 * Then slots are renumbered #0, #1, ... in order of first use, if the stream
 * still fails that way (it reads better; slots are mere names). */
#ifndef FL_OPS_MINIMIZE_H
#define FL_OPS_MINIMIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "ops/op.h"
#include "util/err.h"

/* Does candidate still fail the same way? If so, *needed is how many of its
 * leading ops the failure needs (candidate->n when unknown). A test that
 * cannot run at all returns FL_EENV through *status and false. */
typedef bool (*fl_minimize_test_fn)(void *ctx, const fl_ops_t *candidate, size_t *needed, fl_status_t *status);

typedef struct fl_minimize_opts {
  fl_minimize_test_fn test;
  void *ctx;
  double max_seconds; /* stop early (the best so far is kept); 0 = no limit */
} fl_minimize_opts_t;

typedef struct fl_minimize_stats {
  size_t from, to;    /* ops before and after */
  size_t tests;       /* candidates tried */
  double seconds;
  bool complete;      /* 1-minimal (false: stopped by max_seconds) */
} fl_minimize_stats_t;

/* in must fail the test (FL_EUSAGE, "does not fail", if it does not).
 * out receives the smallest failing stream found. FL_OK, FL_EUSAGE, or the
 * test's FL_EENV. */
fl_status_t fl_ops_minimize(const fl_ops_t *in, const fl_minimize_opts_t *o, fl_ops_t *out,
                            fl_minimize_stats_t *stats);

/* Renames the slots of ops to #0, #1, ... in order of first use (in place). */
void fl_ops_renumber_slots(fl_ops_t *ops);

#endif

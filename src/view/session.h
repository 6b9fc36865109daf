/* session.h — run an op script on refmalloc over the model up to a chosen
 * point and look at the state there: after op N, at the first invariant
 * violation, at glibc's integrity abort, or after the last op.
 *
 * The views (`faultline pmap`, `bins`, `map`) need the state *inside* the
 * run: the executor frees every live block once the ops are over, so the
 * session stops it in its after-op hook and calls the caller's `at_stop`
 * there, with everything still live. */
#ifndef FL_VIEW_SESSION_H
#define FL_VIEW_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "alloc/refmalloc.h"
#include "check/check.h"
#include "ops/exec.h"
#include "ops/op.h"
#include "util/err.h"
#include "vm/vm.h"

typedef enum fl_stop_reason {
  FL_STOP_END,        /* after the last op */
  FL_STOP_AT,         /* after the op the caller asked for */
  FL_STOP_VIOLATION,  /* an invariant failed after this op */
  FL_STOP_INTEGRITY,  /* glibc would have aborted in this op */
} fl_stop_reason_t;
/* "end", "at", "violation", "integrity" */
const char *fl_stop_reason_name(fl_stop_reason_t r);

typedef struct fl_session_opts {
  bool shadow;           /* the model in shadow mode (the kernel can be asked) */
  const char *tunables;  /* GLIBC_TUNABLES, or NULL */
  int check;             /* invariant level 0..3: stop at the first violation */
  size_t stop_at;        /* stop after this op (0-based); SIZE_MAX: after the last */
} fl_session_opts_t;

typedef struct fl_session {
  fl_vm_t *vm;
  fl_rm_t *rm;
  fl_check_t *chk;       /* NULL at check level 0 */
  /* where and why it stopped (valid inside at_stop and after run) */
  size_t nops;           /* the script's length */
  size_t stop_index;     /* the op after which it stopped */
  fl_stop_reason_t reason;
  bool stopped;
  fl_exec_result_t exec;
} fl_session_t;

/* Called once, after the op the session stops at, with every block of the
 * script still live. */
typedef void (*fl_session_stop_fn)(void *ctx, fl_session_t *s);

/* Opens the model and refmalloc (and a checker at level > 0). FL_EENV if
 * the model's window cannot be had, FL_EUSAGE for bad tunables. */
fl_status_t fl_session_open(fl_session_t *s, const fl_session_opts_t *o);
/* Runs ops until the stop; at_stop is called there. FL_OK, or the
 * executor's error (FL_EUSAGE: a non-canonical op). A script with no op
 * stops at nothing: at_stop is then called before any op, with
 * stop_index SIZE_MAX. */
fl_status_t fl_session_run(fl_session_t *s, const fl_session_opts_t *o, const fl_ops_t *ops,
                           fl_session_stop_fn at_stop, void *ctx);
void fl_session_close(fl_session_t *s);

/* The first violation found, or NULL. */
const fl_violation_t *fl_session_violation(const fl_session_t *s);

#endif

#include "view/session.h"

#include <stdint.h>
#include <string.h>

#include "host/profile.h"
#include "ops/rmtarget.h"

const char *fl_stop_reason_name(fl_stop_reason_t r) {
  static const char *names[] = {"end", "at", "violation", "integrity"};
  return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

fl_status_t fl_session_open(fl_session_t *s, const fl_session_opts_t *o) {
  memset(s, 0, sizeof *s);
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = o->shadow ? FL_VM_SHADOW : FL_VM_FAST;
  fl_status_t st = fl_vm_open(&s->vm, &cfg);
  if (st != FL_OK) return st;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  rc.tunables = o->tunables;
  if ((st = fl_rm_open(&s->rm, s->vm, &rc)) != FL_OK) {
    fl_session_close(s);
    return st;
  }
  if (o->check && (st = fl_check_open(&s->chk, s->rm, s->vm, o->check)) != FL_OK) {
    fl_session_close(s);
    return st;
  }
  return FL_OK;
}

void fl_session_close(fl_session_t *s) {
  fl_exec_result_free(&s->exec);
  fl_check_close(s->chk);
  if (s->rm) fl_rm_close(s->rm);
  if (s->vm) fl_vm_close(s->vm);
  memset(s, 0, sizeof *s);
}

typedef struct sess_run {
  fl_session_t *s;
  size_t stop_at, n;
  fl_session_stop_fn fn;
  void *ctx;
} sess_run_t;

/* The first reason to stop after op i, if any: glibc's abort and a broken
 * invariant come before the place the caller asked for. */
static bool stop_reason(const sess_run_t *r, size_t i, fl_stop_reason_t *why) {
  if (fl_rm_aborted(r->s->rm)) *why = FL_STOP_INTEGRITY;
  else if (r->s->chk && fl_check_violation_count(r->s->chk)) *why = FL_STOP_VIOLATION;
  else if (i == r->stop_at) *why = FL_STOP_AT;
  else if (i + 1 == r->n) *why = FL_STOP_END;
  else return false;
  return true;
}

static bool after_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  (void)op;
  (void)status;
  sess_run_t *r = ctx;
  fl_stop_reason_t why;
  if (!stop_reason(r, index, &why)) return true;
  r->s->stop_index = index;
  r->s->reason = why;
  r->s->stopped = true;
  r->fn(r->ctx, r->s);
  return false;
}

fl_status_t fl_session_run(fl_session_t *s, const fl_session_opts_t *o, const fl_ops_t *ops,
                           fl_session_stop_fn at_stop, void *ctx) {
  s->nops = ops->n;
  if (!ops->n) {
    s->stop_index = SIZE_MAX;
    s->reason = FL_STOP_END;
    s->stopped = true;
    at_stop(ctx, s);
    return FL_OK;
  }
  fl_target_t t;
  fl_rmtarget_init(&t, s->rm);
  if (s->chk) fl_rmtarget_set_checker(&t, s->chk);
  sess_run_t r = {.s = s, .stop_at = o->stop_at, .n = ops->n, .fn = at_stop, .ctx = ctx};
  fl_exec_options_t eo = {.after_op = after_op, .after_op_ctx = &r};
  fl_exec_result_free(&s->exec);
  fl_status_t st = fl_exec_run(ops, &t, &eo, &s->exec);
  return st == FL_FINDING ? FL_OK : st;
}

const fl_violation_t *fl_session_violation(const fl_session_t *s) {
  return s->chk && fl_check_violation_count(s->chk) ? fl_check_violation(s->chk, 0) : NULL;
}

/* fuzz/diff.c — refmalloc against the real glibc, op by op (src/ops/diff.h).
 *
 * Each input decodes to an op stream that runs on refmalloc (fast model)
 * and on glibc in the traced faultline-glibc helper; pointers, usable
 * sizes, errno, results and system calls are compared per op after
 * normalising addresses. Any divergence aborts with both sides and the
 * script up to it; so does a crash on either side (without hostile ops no
 * stream may crash glibc or refmalloc).
 *
 * Hostile ops are dropped before the run: diff.h has no skip option, and a
 * heap corrupted on purpose is not a finding. The helper is a new process
 * per input (fl_diff_run starts and kills it): a glibc heap cannot be reset
 * in place, and each input must start from glibc's start-up state to be
 * replayable. That fork, exec and ptrace set-up is most of this target's
 * cost per input. The helper is found as diff.h says: next to this binary,
 * $FAULTLINE_GLIBC_HELPER, or $FAULTLINE_BUILD_DIR. */
#include "common.h"
#include "ops/diff.h"

static void drop_hostile(fl_ops_t *ops) {
  size_t kept = 0;
  for (size_t i = 0; i < ops->n; i++)
    if (!fl_op_kind_hostile(ops->v[i].kind)) ops->v[kept++] = ops->v[i];
  ops->n = kept;
}

static void report(const fl_diff_result_t *r) {
  if (r->crashed)
    fprintf(stderr, "crash at op %zu: glibc signal %d \"%s\", refmalloc \"%s\"%s\n", r->crash_index,
            r->crash_signal, r->glibc_message, r->refmalloc_event, r->crash_agreed ? " (both ended alike)" : "");
  if (r->diverged)
    fprintf(stderr, "first divergence at op %zu: %s\n  refmalloc: %s\n  glibc:     %s\nscript:\n%s", r->first_index,
            r->op, r->refmalloc, r->glibc, r->script ? r->script : "(none)\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_ops_t ops;
  fl_fuzz_decode("diff", data, size, &ops);
  drop_hostile(&ops);
  fl_diff_result_t r;
  fl_diff_opts_t d = {.budget = FL_FUZZ_BUDGET};
  fl_status_t st = fl_diff_run(&ops, &d, &r);
  if (st != FL_OK) fl_fuzz_environment("diff");
  if (r.diverged || r.crashed) {
    report(&r);
    fl_fuzz_finding("diff", "refmalloc and glibc %s after %zu identical ops",
                    r.diverged ? "diverge" : "both crashed", r.identical);
  }
  fl_diff_result_free(&r);
  fl_ops_free(&ops);
  return 0;
}

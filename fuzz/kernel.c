/* fuzz/kernel.c — refmalloc in shadow mode against the kernel.
 *
 * Each input decodes (as raw op bytes: every byte string is valid) to an op
 * stream run on refmalloc over a fresh model in shadow mode; after every op
 * the model is compared with /proc/self/maps, pagemap and minflt, and with
 * smaps' Rss after every 16th op and the last (compare_after).
 * Findings abort: a model/kernel disagreement, a verify of bytes the input
 * wrote that reads others (written.h), or a glibc integrity message
 * (hostile ops are skipped, so nothing but refmalloc corrupts its heap). */
#include "alloc/refmalloc.h"
#include "common.h"
#include "host/profile.h"
#include "ops/rmtarget.h"
#include "vm/vm.h"
#include "written.h"

typedef struct run {
  fl_vm_t *vm;
  size_t n; /* ops in the input */
  fl_exec_result_t res;
  fl_fuzz_written_t written;
} run_t;

/* The minor faults counted up to op 0 include the harness's own set-up
 * (refmalloc's, the executor's slot table, written.h's; under ASan, their
 * shadow too): neither the baseline nor op 0 compares the fault count,
 * every later op does.
 * Rss comes from /proc/self/smaps, for which the kernel walks the page
 * tables of every mapping of the process, ASan's shadow included: it was
 * more than half of this target's time (perf). Mappings, page states and
 * faults are compared after every op; Rss after every 16th op and the
 * last, which still catches any accounting drift (it never heals). */
#define RSS_EVERY 16
static unsigned compare_after(size_t index, size_t n) {
  unsigned what = index ? FL_CMP_ALL : FL_CMP_ALL & ~FL_CMP_MINFLT;
  return index % RSS_EVERY == RSS_EVERY - 1 || index + 1 == n ? what : what & ~FL_CMP_RSS;
}

static bool after_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  run_t *r = ctx;
  if (fl_vm_compare(r->vm, compare_after(index, r->n)) || fl_vm_mismatch_count(r->vm)) {
    for (size_t i = 0; i < fl_vm_mismatch_count(r->vm); i++)
      fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(r->vm, i)->text);
    fl_fuzz_finding("kernel", "model and kernel disagree after op %zu", index);
  }
  if (!fl_fuzz_written_after(&r->written, index, op, status) && fl_fuzz_is_finding(status))
    fl_fuzz_exec_finding("kernel", &r->res, index, op, status);
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_ops_t ops;
  fl_fuzz_steady_heap();
  fl_fuzz_decode("kernel", data, size, &ops);
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = FL_VM_SHADOW;
  run_t r = {0};
  fl_rm_t *rm;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  if (fl_vm_open(&r.vm, &cfg) != FL_OK || fl_rm_open(&rm, r.vm, &rc) != FL_OK ||
      !fl_fuzz_written_open(&r.written, &r.res))
    fl_fuzz_environment("kernel");
  fl_target_t t;
  fl_rmtarget_init(&t, rm);
  fl_exec_options_t eo = fl_fuzz_exec_options();
  eo.record = true;
  eo.after_op = after_op;
  eo.after_op_ctx = &r;
  r.n = ops.n;
  fl_vm_compare(r.vm, compare_after(0, 1)); /* the baseline */
  fl_status_t st = fl_exec_run(&ops, &t, &eo, &r.res);
  if (fl_rm_aborted(rm))
    fl_fuzz_finding("kernel", "refmalloc raised \"%s\" at call %llu", fl_rm_last_event(rm)->message,
                    (unsigned long long)fl_rm_last_event(rm)->op_index);
  if (st != FL_OK && st != FL_FINDING) fl_fuzz_environment("kernel"); /* findings abort in after_op */
  fl_exec_result_free(&r.res);
  fl_fuzz_written_close(&r.written);
  fl_rm_close(rm);
  fl_vm_close(r.vm);
  fl_ops_free(&ops);
  return 0;
}

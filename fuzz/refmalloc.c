/* fuzz/refmalloc.c — refmalloc, glass-box.
 *
 * Each input decodes to an op stream run on refmalloc over a fresh model in
 * fast mode, with the invariants at level 2 checked after every call
 * (src/check). One input in SHADOW_EVERY runs in shadow mode instead, its
 * model compared with the kernel after every op: the periodic cross-check
 * that the fast model the invariants read is the kernel's truth. Which
 * inputs are chosen depends on their bytes only, so a replay takes the path
 * the fuzzer took. Findings abort: an invariant violation, a model/kernel
 * disagreement, a verify of bytes the input wrote that reads others
 * (written.h), or a glibc integrity message (without hostile ops nothing
 * but refmalloc corrupts its heap). */
#include "alloc/refmalloc.h"
#include "check/check.h"
#include "common.h"
#include "host/profile.h"
#include "ops/rmtarget.h"
#include "vm/vm.h"
#include "written.h"

/* Shadow mode costs real system calls and /proc reads on every op (about
 * ten times a fast run): one input in 16 keeps that under half the time. */
#define SHADOW_EVERY 16

/* The checker's own heap faults pages in this process: the minor-fault
 * bound means nothing while it runs. */
#define COMPARE (FL_CMP_ALL & ~FL_CMP_MINFLT)

typedef struct run {
  fl_vm_t *vm;
  fl_check_t *chk;
  fl_exec_result_t res;
  fl_fuzz_written_t written;
} run_t;

static bool shadow_chosen(const uint8_t *data, size_t size) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
  return h % SHADOW_EVERY == 0;
}

static bool after_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  run_t *r = ctx;
  if (fl_check_violation_count(r->chk)) {
    fl_check_report(r->chk, stderr, false);
    fl_fuzz_finding("refmalloc", "invariant %s violated after op %zu", fl_check_violation(r->chk, 0)->id, index);
  }
  if (fl_vm_compare(r->vm, COMPARE) || fl_vm_mismatch_count(r->vm)) {
    for (size_t i = 0; i < fl_vm_mismatch_count(r->vm); i++)
      fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(r->vm, i)->text);
    fl_fuzz_finding("refmalloc", "model and kernel disagree after op %zu (shadow mode)", index);
  }
  if (!fl_fuzz_written_after(&r->written, index, op, status) && fl_fuzz_is_finding(status))
    fl_fuzz_exec_finding("refmalloc", &r->res, index, op, status);
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_ops_t ops;
  fl_fuzz_steady_heap();
  fl_fuzz_decode("refmalloc", data, size, &ops);
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = shadow_chosen(data, size) ? FL_VM_SHADOW : FL_VM_FAST;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  run_t r = {0};
  fl_rm_t *rm;
  if (fl_vm_open(&r.vm, &cfg) != FL_OK || fl_rm_open(&rm, r.vm, &rc) != FL_OK ||
      fl_check_open(&r.chk, rm, r.vm, 2) != FL_OK || !fl_fuzz_written_open(&r.written, &r.res))
    fl_fuzz_environment("refmalloc");
  fl_target_t t;
  fl_rmtarget_init(&t, rm);
  fl_rmtarget_set_checker(&t, r.chk);
  fl_exec_options_t eo = fl_fuzz_exec_options();
  eo.record = true;
  eo.after_op = after_op;
  eo.after_op_ctx = &r;
  fl_vm_compare(r.vm, COMPARE); /* the baseline (fast mode: nothing to do) */
  fl_status_t st = fl_exec_run(&ops, &t, &eo, &r.res);
  if (fl_rm_aborted(rm))
    fl_fuzz_finding("refmalloc", "refmalloc raised \"%s\" at call %llu", fl_rm_last_event(rm)->message,
                    (unsigned long long)fl_rm_last_event(rm)->op_index);
  if (st != FL_OK && st != FL_FINDING) fl_fuzz_environment("refmalloc"); /* findings abort in after_op */
  fl_exec_result_free(&r.res);
  fl_fuzz_written_close(&r.written);
  fl_check_close(r.chk);
  fl_rm_close(rm);
  fl_vm_close(r.vm);
  fl_ops_free(&ops);
  return 0;
}

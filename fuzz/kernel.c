/* fuzz/kernel.c — refmalloc in shadow mode against the kernel.
 *
 * Each input decodes (as raw op bytes: every byte string is valid) to an op
 * stream run on refmalloc over a fresh model in shadow mode; after every op
 * the model is compared with /proc/self/maps, pagemap, smaps and minflt.
 * Findings abort: a model/kernel disagreement, a verify that read other
 * bytes, or a glibc integrity message (op streams cannot corrupt the heap,
 * so refmalloc raising one is refmalloc's bug). */
#include <stdio.h>
#include <stdlib.h>

#include "alloc/refmalloc.h"
#include "host/profile.h"
#include "ops/binary.h"
#include "ops/exec.h"
#include "ops/rmtarget.h"
#include "util/err.h"
#include "vm/vm.h"

#define MAX_OPS 512

static bool compare(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  (void)op;
  (void)status;
  fl_vm_t *vm = ctx;
  if (!fl_vm_compare(vm, FL_CMP_ALL) && !fl_vm_mismatch_count(vm)) return true;
  fprintf(stderr, "fuzz/kernel: model and kernel disagree after op %zu\n", index);
  for (size_t i = 0; i < fl_vm_mismatch_count(vm); i++) fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(vm, i)->text);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  if (fl_ops_decode(data, size, &ops) != FL_OK) abort();
  if (ops.n > MAX_OPS) ops.n = MAX_OPS;
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = FL_VM_SHADOW;
  fl_vm_t *vm;
  fl_rm_t *rm;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  if (fl_vm_open(&vm, &cfg) != FL_OK || fl_rm_open(&rm, vm, &rc) != FL_OK) {
    fprintf(stderr, "fuzz/kernel: %s\n", fl_error_message());
    exit(3);
  }
  fl_target_t t;
  fl_rmtarget_init(&t, rm);
  fl_exec_options_t eo = {.after_op = compare, .after_op_ctx = vm};
  fl_exec_result_t res;
  fl_vm_compare(vm, FL_CMP_ALL);
  fl_status_t st = fl_exec_run(&ops, &t, &eo, &res);
  if (fl_rm_aborted(rm)) {
    fprintf(stderr, "fuzz/kernel: refmalloc raised \"%s\" at op %llu\n", fl_rm_last_event(rm)->message,
            (unsigned long long)fl_rm_last_event(rm)->op_index);
    abort();
  }
  if (st == FL_FINDING) {
    fprintf(stderr, "fuzz/kernel: %s\n", res.finding);
    abort();
  }
  fl_exec_result_free(&res);
  fl_rm_close(rm);
  fl_vm_close(vm);
  fl_ops_free(&ops);
  return 0;
}

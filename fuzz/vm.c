/* fuzz/vm.c — the kernel model alone against the kernel.
 *
 * Each input is a sequence of model calls (src/vm/drive.h: 8 bytes a step,
 * every byte string valid) run on a fresh model in shadow mode; after every
 * step the window is compared with the kernel. A disagreement prints the
 * steps and the mismatch, then aborts: that is the finding. */
#include "common.h"
#include "host/profile.h"
#include "vm/drive.h"
#include "vm/vm.h"

#define MAX_STEPS 256

static void report(fl_vm_t *vm, const uint8_t *data, size_t size, size_t upto, const int64_t *results) {
  fprintf(stderr, "fuzz/vm: the model and the kernel disagree at step %zu\n", upto);
  for (size_t i = 0; i <= upto; i++) {
    fl_drive_step_t s;
    fl_drive_decode(vm, data, size, i, &s);
    fprintf(stderr, "  %3zu  ", i);
    fl_drive_print(&s, results[i], stderr);
  }
  for (size_t i = 0; i < fl_vm_mismatch_count(vm); i++) fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(vm, i)->text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = FL_VM_SHADOW;
  fl_vm_t *vm;
  if (fl_vm_open(&vm, &cfg) != FL_OK) fl_fuzz_environment("vm");
  size_t steps = (size + FL_DRIVE_STEP - 1) / FL_DRIVE_STEP;
  if (steps > MAX_STEPS) steps = MAX_STEPS;
  int64_t results[MAX_STEPS];
  for (size_t i = 0; i < steps; i++) {
    fl_drive_step_t s;
    fl_drive_decode(vm, data, size, i, &s);
    results[i] = fl_drive_apply(vm, &s);
    if (fl_vm_compare(vm, FL_CMP_ALL) || fl_vm_mismatch_count(vm)) {
      report(vm, data, size, i, results);
      abort();
    }
  }
  fl_vm_close(vm);
  return 0;
}

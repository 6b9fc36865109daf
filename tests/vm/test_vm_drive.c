/* Random sequences of model calls (vm/drive.c, the decoder the verify
 * campaign and the vm fuzz target use), compared with the kernel after
 * every step. */
#include "vmtest.h"

#include "vm/drive.h"

static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Runs `runs` sequences of `steps` steps; prints the sequence and fails at
 * the first disagreement. */
static bool sequences_agree(uint64_t seed, int runs, size_t steps, fl_vm_mode_t mode) {
  uint8_t bytes[128 * FL_DRIVE_STEP];
  int64_t results[128];
  for (int r = 0; r < runs; r++) {
    for (size_t i = 0; i < steps * FL_DRIVE_STEP; i += 8) {
      uint64_t x = next(&seed);
      memcpy(bytes + i, &x, 8);
    }
    fl_vm_t *vm = open_vm(mode);
    if (!vm) return false;
    for (size_t i = 0; i < steps; i++) {
      fl_drive_step_t s;
      fl_drive_decode(vm, bytes, steps * FL_DRIVE_STEP, i, &s);
      results[i] = fl_drive_apply(vm, &s);
      if (mode == FL_VM_SHADOW && !vm_agrees(vm)) {
        for (size_t k = 0; k <= i; k++) {
          fl_drive_decode(vm, bytes, steps * FL_DRIVE_STEP, k, &s);
          fprintf(stderr, "  %3zu ", k);
          fl_drive_print(&s, results[k], stderr);
        }
        fprintf(stderr, "run %d of seed sequence, step %zu\n", r, i);
        return false;
      }
    }
  }
  return true;
}

/* 40 runs of 64 steps; `faultline verify` runs the same decoder for longer. */
FL_TEST(random_sequences_agree_with_kernel) {
  FL_CHECK(sequences_agree(1, 40, 64, FL_VM_SHADOW));
}

FL_TEST(random_sequences_fast_mode_runs) {
  FL_CHECK(sequences_agree(2, 40, 128, FL_VM_FAST));
}

/* Every byte string decodes: short, empty and odd-sized inputs too. */
FL_TEST(drive_decodes_any_bytes) {
  fl_vm_t *vm = open_vm(FL_VM_FAST);
  FL_CHECK(vm != NULL);
  uint8_t b[13] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9, 1, 2, 3, 4};
  for (size_t len = 0; len <= sizeof b; len++) {
    for (size_t i = 0; i < 3; i++) {
      fl_drive_step_t s;
      fl_drive_decode(vm, b, len, i, &s);
      FL_CHECK_LT((int)s.kind, (int)FL_DRIVE_KINDS);
      fl_drive_apply(vm, &s);
    }
  }
}

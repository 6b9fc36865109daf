/* drive.h — byte strings as sequences of model calls.
 *
 * Every byte string decodes to a valid sequence (the fuzzers and the
 * verify campaign feed random bytes): 8 bytes per step, a missing tail is
 * read as zeros. Steps act on an arena at the top of the window, where
 * top-down mmap placement lands too, so fixed and placed mappings meet. */
#ifndef FL_VM_DRIVE_H
#define FL_VM_DRIVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vm/vm.h"

#define FL_DRIVE_STEP 8
#define FL_DRIVE_ARENA_PAGES 4096   /* 16 MiB */

typedef struct fl_drive_step {
  enum {
    FL_DRIVE_MMAP, FL_DRIVE_MMAP_FIXED, FL_DRIVE_MUNMAP, FL_DRIVE_MPROTECT, FL_DRIVE_MREMAP,
    FL_DRIVE_MADVISE, FL_DRIVE_READ, FL_DRIVE_WRITE, FL_DRIVE_BRK, FL_DRIVE_BAD, FL_DRIVE_KINDS
  } kind;
  uintptr_t addr;
  size_t len, len2;
  int prot, flags, advice;
  uintptr_t addr2;
} fl_drive_step_t;

/* Decodes step i of the byte string. */
void fl_drive_decode(const fl_vm_t *vm, const uint8_t *bytes, size_t len, size_t i, fl_drive_step_t *out);
/* Performs one step on the model; returns the call's result. */
int64_t fl_drive_apply(fl_vm_t *vm, const fl_drive_step_t *s);
/* One line, C-like: "mmap(0x..., 8192, PROT_READ, MAP_PRIVATE|...) = ...". */
void fl_drive_print(const fl_drive_step_t *s, int64_t result, FILE *out);

#endif

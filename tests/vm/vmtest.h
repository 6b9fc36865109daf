/* vmtest.h — helpers shared by the vm scenario tests.
 *
 * Each scenario runs on a model in shadow mode: every call is also made for
 * real inside the window, and AGREE() compares the window with the kernel
 * (maps, pagemap, smaps Rss, minflt) and prints any mismatch, and holds the
 * model to its own VMA-*, PT-* and RSS-* invariants (src/check). LAYOUT()
 * checks the model's VMAs as an ASCII drawing, tools/testing/vma style:
 * one character per page from the arena start, a letter per VMA in address
 * order, uppercase where the VMA has present pages, ' ' for holes. */
#ifndef FL_TESTS_VMTEST_H
#define FL_TESTS_VMTEST_H

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "alloc/refmalloc.h"
#include "check/check.h"
#include "harness/harness.h"
#include "host/profile.h"
#include "util/err.h"
#include "vm/vm.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PG 4096UL
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* Arena: a fixed spot in the window for MAP_FIXED scenarios. */
static inline uintptr_t arena(fl_vm_t *vm) { return fl_vm_config(vm)->base + (1UL << 30); }
static inline uintptr_t top(fl_vm_t *vm) { return fl_vm_config(vm)->base + fl_vm_config(vm)->size; }

/* The previous scenario's model, closed when the next opens: a scenario that
 * fails half-way leaves its window behind otherwise. */
static fl_vm_t *vmtest_current;

/* Before a fork: the child would inherit the window, taken. */
static inline void vmtest_reset(void) {
  if (vmtest_current) fl_vm_close(vmtest_current);
  vmtest_current = NULL;
}

static inline fl_vm_t *open_vm(fl_vm_mode_t mode) {
  vmtest_reset();
  fl_vm_config_t c;
  fl_vm_config_default(&c, fl_kprofile_get());
  c.mode = mode;
  fl_vm_t *vm = NULL;
  if (fl_vm_open(&vm, &c) != FL_OK) fprintf(stderr, "fl_vm_open: %s\n", fl_error_message());
  return vmtest_current = vm;
}

/* The model's own rules (src/check: fl_chk_vmas for VMA-*, fl_chk_pages for
 * PT-* and RSS-*). A checker needs an allocator to attach to: an idle
 * refmalloc that owns nothing stands in (exclusive off). */
static inline bool vm_rules_hold(fl_vm_t *vm) {
  fl_rm_t *rm = NULL;
  fl_check_t *c = NULL;
  if (fl_rm_open(&rm, vm, NULL) != FL_OK || fl_check_open(&c, rm, vm, 0) != FL_OK) {
    fprintf(stderr, "checker: %s\n", fl_error_message());
    fl_rm_close(rm);
    return false;
  }
  fl_check_set_exclusive(c, false);
  bool ok = fl_check_one(c, "VMA-SORTED") + fl_check_one(c, "RSS-COUNT") == 0;
  if (!ok) fl_check_report(c, stderr, false);
  fl_check_close(c);
  fl_rm_close(rm);
  return ok;
}

/* The kernel agrees with the model, and the model keeps its own rules. */
static inline bool vm_agrees(fl_vm_t *vm) {
  fl_vm_compare(vm, FL_CMP_ALL);
  size_t n = fl_vm_mismatch_count(vm);
  for (size_t i = 0; i < n; i++) fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(vm, i)->text);
  bool rules = vm_rules_hold(vm);
  /* Move the fault baseline past the checker's own page faults. */
  fl_vm_compare(vm, FL_CMP_MINFLT);
  fl_vm_mismatch_clear(vm);
  return n == 0 && rules;
}

static inline char *vm_drawing(fl_vm_t *vm, uintptr_t lo, size_t pages) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fl_vm_draw(vm, lo, lo + pages * PG, PG, f);
  fclose(f);
  if (len && buf[len - 1] == '\n') buf[len - 1] = '\0';
  return buf;
}

#define AGREE(vm) FL_CHECK_MSG(vm_agrees(vm), "model and kernel disagree (see above)")

/* LAYOUT(vm, lo, "AAbb  C"): the drawing of strlen(expected) pages from lo. */
#define LAYOUT(vm, lo, expected)                                                   \
  do {                                                                             \
    char *got_ = vm_drawing(vm, lo, strlen(expected));                             \
    bool ok_ = strcmp(got_, expected) == 0;                                        \
    if (!ok_) fl_test_fail(__FILE__, __LINE__, "layout \"%s\", expected \"%s\"", got_, expected); \
    free(got_);                                                                    \
    if (!ok_) return;                                                              \
  } while (0)

#define OPEN_SHADOW(vm)                                    \
  fl_vm_t *vm = open_vm(FL_VM_SHADOW);                     \
  FL_CHECK_MSG(vm != NULL, "cannot open the model")

static inline uint64_t rss_kib(fl_vm_t *vm) {
  fl_vm_stats_t s;
  fl_vm_stats(vm, &s);
  return s.rss_pages * 4;
}

/* Runs build/<preset>/faultline-vmprobe SCENARIO (output to ours); returns
 * its exit status, -1 if it could not run. */
static inline int run_vmprobe(const char *scenario) {
  char args[256];
  snprintf(args, sizeof args, "faultline-vmprobe %s", scenario);
  return fl_test_run_tool(args, NULL, 0);
}

#endif

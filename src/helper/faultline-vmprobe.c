/* faultline-vmprobe — model-vs-kernel scenarios that must run outside the
 * sanitized harness. Exhausting max_map_count leaves no map slot for
 * AddressSanitizer's own mappings, so this helper is built without
 * sanitizers (fl_core_plain) and run by the vm tests.
 *
 *   faultline-vmprobe mapcount     exhaust max_map_count on the model in shadow
 *                                  mode; the model and the kernel must refuse
 *                                  the same call
 *   faultline-vmprobe rlimit-data  set RLIMIT_DATA just above what the process
 *                                  uses, then hold the model's may_expand_vm
 *                                  against the kernel's
 *
 * Prints one line of results; exit 0 agreed, 1 mismatch, 2 usage, 3 env. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "host/procfs.h"

#include "host/profile.h"
#include "util/err.h"
#include "vm/vm.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static int mapcount(void) {
  fl_vm_config_t c;
  fl_vm_config_default(&c, fl_kprofile_get());
  c.mode = FL_VM_SHADOW;
  fl_vm_t *vm;
  if (fl_vm_open(&vm, &c) != FL_OK) {
    fprintf(stderr, "faultline-vmprobe: %s\n", fl_error_message());
    return 3;
  }
  const size_t pg = 4096;
  uintptr_t a = c.base + (1UL << 32);
  size_t i = 0;
  intptr_t r;
  /* Alternating protections: every page is a VMA of its own. */
  while ((r = fl_vm_mmap(vm, a + i * pg, pg, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)) >= 0 && i < 1000000)
    i++;
  int status = r == -ENOMEM ? 0 : 1;
  /* A freed slot is usable again; a hole punched in a VMA needs one more. */
  if (fl_vm_munmap(vm, a, pg) != 0) status = 1;
  if (fl_vm_mmap(vm, a, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE) != (intptr_t)a)
    status = 1;
  size_t n = fl_vm_mismatch_count(vm);
  for (size_t k = 0; k < n; k++) fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(vm, k)->text);
  printf("mapcount: %zu mappings before ENOMEM, last result %ld, %zu mismatches\n", i, (long)r, n);
  fl_vm_close(vm);
  return n ? 1 : status;
}

static int report(fl_vm_t *vm, const char *what, int step) {
  size_t n = fl_vm_mismatch_count(vm);
  for (size_t k = 0; k < n; k++) fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(vm, k)->text);
  printf("%s: %s, %zu mismatches\n", what, step ? "a step failed" : "all steps as expected", n);
  if (step) fprintf(stderr, "%s: step %d did not give the expected result\n", what, step);
  fl_vm_close(vm);
  return n || step ? 1 : 0;
}

/* RLIMIT_DATA bounds every private writable mapping (may_expand_vm), not
 * only brk. The process's own data may grow a little while this runs, so
 * the sizes stay far from the boundary on both sides. */
static int rlimit_data(void) {
  const size_t pg = 4096, budget = 1024 * pg;
  const int rw = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
  fl_vm_config_t c;
  fl_vm_config_default(&c, fl_kprofile_get());
  c.mode = FL_VM_SHADOW;
  c.data_limit = budget;
  fl_vm_t *vm;
  if (fl_vm_open(&vm, &c) != FL_OK) {
    fprintf(stderr, "faultline-vmprobe: %s\n", fl_error_message());
    return 3;
  }
  long data_kib = fl_status_kib("VmData");
  struct rlimit rl;
  getrlimit(RLIMIT_DATA, &rl);
  rl.rlim_cur = (rlim_t)data_kib * 1024 + budget;
  if (data_kib < 0 || setrlimit(RLIMIT_DATA, &rl) != 0) {
    fprintf(stderr, "faultline-vmprobe: cannot set RLIMIT_DATA\n");
    return 3;
  }
  int step = 0;
  if (fl_vm_mmap(vm, 0, 600 * pg, rw, anon) < 0) step = 1;
  else if (fl_vm_mmap(vm, 0, 600 * pg, rw, anon) != -ENOMEM) step = 2;
  intptr_t ro = fl_vm_mmap(vm, 0, 600 * pg, PROT_READ, anon); /* not data */
  if (!step && ro < 0) step = 3;
  else if (!step && fl_vm_mprotect(vm, (uintptr_t)ro, 600 * pg, rw) != -ENOMEM) step = 4;
  else if (!step && fl_vm_brk(vm, fl_vm_start_brk(vm) + 600 * pg) != fl_vm_start_brk(vm)) step = 5;
  fl_vm_compare(vm, FL_CMP_ALL);
  return report(vm, "rlimit-data", step);
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "mapcount")) return mapcount();
  if (argc == 2 && !strcmp(argv[1], "rlimit-data")) return rlimit_data();
  fprintf(stderr, "usage: faultline-vmprobe mapcount|rlimit-data\n");
  return 2;
}

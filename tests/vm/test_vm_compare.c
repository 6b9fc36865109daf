/* The comparison must be able to fail: each scenario changes the kernel's
 * side behind the model's back and asserts the right kind of mismatch. */
#include "vmtest.h"

#include "host/sys.h"

static bool has_kind(fl_vm_t *vm, fl_vm_mismatch_kind_t kind, const char *text) {
  for (size_t i = 0; i < fl_vm_mismatch_count(vm); i++) {
    const fl_vm_mismatch_t *m = fl_vm_mismatch(vm, i);
    if (m->kind == kind && (!text || strstr(m->text, text))) return true;
  }
  return false;
}

FL_TEST(compare_catches_stale_vma) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 4 * PG, RW, ANON | MAP_FIXED);
  fl_sys_munmap(a + PG, PG); /* behind the model's back */
  FL_CHECK_GT(fl_vm_compare(vm, FL_CMP_MAPS), 0);
  FL_CHECK(has_kind(vm, FL_MM_MAPS, "model  [aaaa]"));
  FL_CHECK(has_kind(vm, FL_MM_MAPS, "kernel [a bb]"));
}

FL_TEST(compare_catches_dropped_pages) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 4 * PG, RW, ANON);
  fl_vm_fill(vm, a, 1, 4 * PG);
  FL_CHECK(vm_agrees(vm));
  fl_sys_madvise(a, 2 * PG, MADV_DONTNEED);
  FL_CHECK_GT(fl_vm_compare(vm, FL_CMP_PAGES | FL_CMP_RSS), 0);
  FL_CHECK(has_kind(vm, FL_MM_PAGES, "model private, kernel absent"));
  FL_CHECK(has_kind(vm, FL_MM_RSS, "model 16 KiB, kernel (smaps) 8 KiB"));
}

FL_TEST(compare_catches_unmodelled_faults) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 256 * PG, RW, ANON);
  FL_CHECK(vm_agrees(vm));
  for (int i = 0; i < 256; i++) fl_sys_probe_access(a + i * PG, true);
  FL_CHECK_GT(fl_vm_compare(vm, FL_CMP_MINFLT), 0);
  FL_CHECK(has_kind(vm, FL_MM_MINFLT, "model [0, 0] (+64 slack)"));
}

FL_TEST(compare_catches_errno_difference) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_sys_mmap(a, PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0); /* the model does not know */
  FL_CHECK_EQ(fl_vm_mmap(vm, a, PG, RW, ANON | MAP_FIXED_NOREPLACE), a);
  FL_CHECK(has_kind(vm, FL_MM_ERRNO, "kernel -17"));
  fl_sys_munmap(a, PG);
}

FL_TEST(compare_catches_access_difference) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, PG, RW, ANON);
  fl_sys_mprotect(a, PG, PROT_NONE);
  uint8_t b = 0;
  fl_vm_load(vm, a, &b, 1);
  FL_CHECK(has_kind(vm, FL_MM_ACCESS, "kernel: signal 11"));
  fl_sys_mprotect(a, PG, RW);
}

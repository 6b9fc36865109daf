/* Fast mode: bookkeeping only, one real mapping behind the window, and
 * memory contents exactly as shadow mode would leave them. */
#include "vmtest.h"

FL_TEST(fast_mode_fresh_pages_read_zero) {
  fl_vm_t *vm = open_vm(FL_VM_FAST);
  FL_CHECK(vm != NULL);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 4 * PG, RW, ANON);
  fl_vm_fill(vm, a, 0xab, 4 * PG);
  FL_CHECK_EQ(fl_vm_munmap(vm, a, 4 * PG), 0);
  uintptr_t b = (uintptr_t)fl_vm_mmap(vm, 0, 4 * PG, RW, ANON);
  FL_CHECK_EQ(b, a); /* the same place again, top-down */
  uint8_t buf[64];
  fl_vm_load(vm, b + 3 * PG + 100, buf, sizeof buf);
  for (size_t i = 0; i < sizeof buf; i++) FL_CHECK_EQ(buf[i], 0);
  fl_vm_fill(vm, b, 0xcd, PG);
  FL_CHECK_EQ(fl_vm_madvise(vm, b, PG, MADV_DONTNEED), 0);
  fl_vm_load(vm, b, buf, sizeof buf);
  FL_CHECK_EQ(buf[0], 0);
}

FL_TEST(fast_mode_big_unmap_then_reuse) {
  fl_vm_t *vm = open_vm(FL_VM_FAST);
  FL_CHECK(vm != NULL);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 512 * PG, RW, ANON);
  fl_vm_fill(vm, a, 0x5c, 512 * PG);
  FL_CHECK_EQ(rss_kib(vm), 2048);
  fl_vm_munmap(vm, a, 512 * PG);
  uintptr_t b = (uintptr_t)fl_vm_mmap(vm, 0, 512 * PG, RW, ANON);
  uint8_t x = 1;
  fl_vm_load(vm, b + 300 * PG, &x, 1);
  FL_CHECK_EQ(x, 0);
}

FL_TEST(fast_mode_mremap_moves_contents) {
  fl_vm_t *vm = open_vm(FL_VM_FAST);
  FL_CHECK(vm != NULL);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 2 * PG, PG, PROT_READ, ANON | MAP_FIXED);
  uint32_t x = 0xfeedface, y = 0;
  fl_vm_store(vm, a + PG + 4, &x, 4);
  intptr_t b = fl_vm_mremap(vm, a, 2 * PG, 4 * PG, MREMAP_MAYMOVE, 0);
  FL_CHECK_GT(b, 0);
  fl_vm_load(vm, (uintptr_t)b + PG + 4, &y, 4);
  FL_CHECK_EQ(y, x);
  fl_vm_load(vm, (uintptr_t)b + 3 * PG, &y, 4);
  FL_CHECK_EQ(y, 0);
  /* The old place is unmapped: an access there is SIGSEGV. */
  FL_CHECK_EQ(fl_vm_load(vm, a, &y, 4), -1);
}

FL_TEST(window_taken_is_an_environment_error) {
  fl_vm_t *vm = open_vm(FL_VM_FAST);
  FL_CHECK(vm != NULL);
  fl_vm_config_t c;
  fl_vm_config_default(&c, fl_kprofile_get());
  fl_vm_t *other = NULL;
  FL_CHECK_EQ(fl_vm_open(&other, &c), FL_EENV);
  FL_CHECK(strstr(fl_error_message(), "taken") != NULL);
}

FL_TEST(injected_failure) {
  fl_vm_t *vm = open_vm(FL_VM_FAST);
  FL_CHECK(vm != NULL);
  fl_vm_inject(vm, FL_SYS_MMAP, 2, ENOMEM);
  FL_CHECK_GT(fl_vm_mmap(vm, 0, PG, RW, ANON), 0);
  FL_CHECK_EQ(fl_vm_mmap(vm, 0, PG, RW, ANON), -ENOMEM);
  FL_CHECK_GT(fl_vm_mmap(vm, 0, PG, RW, ANON), 0);
}

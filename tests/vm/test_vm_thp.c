/* THP: by default the model's process gets no huge pages (PR_SET_THP_DISABLE)
 * and small pages are predicted exactly; with cfg.thp a fault in a
 * MADV_HUGEPAGE region may get a huge page, and the comparison accepts
 * either outcome ("may"). */
#include "vmtest.h"

#include "host/sys.h"

FL_TEST(thp_off_by_default_in_shadow_mode) {
  OPEN_SHADOW(vm);
  FL_CHECK_EQ(fl_sys_thp_disabled(), 1);
  intptr_t a = fl_vm_mmap(vm, 0, 1024 * PG, RW, ANON); /* 2 MiB aligned (profile permitting) */
  FL_CHECK_GT(a, 0);
  FL_CHECK_EQ(fl_vm_madvise(vm, (uintptr_t)a, 1024 * PG, MADV_HUGEPAGE), 0);
  fl_vm_touch(vm, (uintptr_t)a, 1, true);
  FL_CHECK_EQ(rss_kib(vm), 4);
  AGREE(vm);
}

FL_TEST(thp_may_when_studied) {
  fl_vm_config_t c;
  fl_vm_config_default(&c, fl_kprofile_get());
  c.mode = FL_VM_SHADOW;
  c.thp = true;
  vmtest_reset();
  fl_vm_t *vm;
  FL_CHECK_EQ(fl_vm_open(&vm, &c), FL_OK);
  vmtest_current = vm;
  intptr_t a = fl_vm_mmap(vm, 0, 1024 * PG, RW, ANON);
  FL_CHECK_GT(a, 0);
  FL_CHECK_EQ(fl_vm_madvise(vm, (uintptr_t)a, 1024 * PG, MADV_HUGEPAGE), 0);
  fl_vm_touch(vm, (uintptr_t)a, 1, true);
  AGREE(vm); /* 4 KiB or 2 MiB resident: both are this kernel's right */
}

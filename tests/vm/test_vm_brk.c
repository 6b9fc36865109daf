/* The emulated brk: growth, shrink, the page kept free below the next
 * mapping, RLIMIT_DATA. */
#include "vmtest.h"


FL_TEST(brk_grow_and_shrink) {
  OPEN_SHADOW(vm);
  uintptr_t b0 = fl_vm_brk(vm, 0);
  FL_CHECK_EQ(b0, fl_vm_start_brk(vm));
  FL_CHECK_EQ(fl_vm_brk(vm, b0 + 10000), b0 + 10000);
  FL_CHECK_EQ(fl_vm_vma_count(vm), 1);
  fl_vm_touch(vm, b0, 10000, true);
  FL_CHECK_EQ(rss_kib(vm), 12);
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_brk(vm, b0 + 33 * PG), b0 + 33 * PG);
  LAYOUT(vm, b0, "AAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  ");
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_brk(vm, b0 + PG + 1), b0 + PG + 1);
  LAYOUT(vm, b0, "AA  ");
  FL_CHECK_EQ(rss_kib(vm), 8);
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_brk(vm, b0 - PG), b0 + PG + 1); /* below start_brk: refused, unchanged */
}

FL_TEST(brk_stops_a_page_below_next_mapping) {
  OPEN_SHADOW(vm);
  uintptr_t b0 = fl_vm_brk(vm, 0);
  FL_CHECK_EQ(fl_vm_mmap(vm, b0 + 8 * PG, PG, RW, ANON | MAP_FIXED), b0 + 8 * PG);
  FL_CHECK_EQ(fl_vm_brk(vm, b0 + 7 * PG), b0 + 7 * PG);
  FL_CHECK_EQ(fl_vm_brk(vm, b0 + 7 * PG + 1), b0 + 7 * PG); /* would touch the mapping's guard page */
  FL_CHECK_EQ(fl_vm_brk(vm, b0 + 8 * PG), b0 + 7 * PG);
  AGREE(vm);
}

/* RLIMIT_DATA bounds every private writable mapping, not only brk. Setting
 * it leaves AddressSanitizer no room of its own, so the scenario runs in the
 * non-sanitized helper (src/helper/faultline-vmprobe.c). */
FL_TEST(rlimit_data_bounds_private_writable) {
  FL_CHECK_EQ(run_vmprobe("rlimit-data"), 0);
}

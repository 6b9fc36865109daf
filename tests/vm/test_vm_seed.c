/* The seed article's numbers, on the model in shadow mode: a 100 MiB
 * request becomes mmap(NULL, 104861696, ...); touching its first page makes
 * RSS 4 KiB, touching all of it 102404 KiB, and munmap gives it all back.
 * Model and kernel agree at every step. */
#include "vmtest.h"

FL_TEST(seed_experiment_numbers) {
  OPEN_SHADOW(vm);
  const size_t len = 104861696; /* 100 MiB + 4 KiB: glibc's chunk header rounded to a page */
  intptr_t a = fl_vm_mmap(vm, 0, len, RW, ANON);
  FL_CHECK_GT(a, 0);
  FL_CHECK_EQ(rss_kib(vm), 0);
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_touch(vm, (uintptr_t)a, 1, true), 0);
  FL_CHECK_EQ(rss_kib(vm), 4);
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_fill(vm, (uintptr_t)a, 0, len), 0);
  FL_CHECK_EQ(rss_kib(vm), 102404);
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_munmap(vm, (uintptr_t)a, len), 0);
  FL_CHECK_EQ(rss_kib(vm), 0);
  FL_CHECK_EQ(fl_vm_vma_count(vm), 0);
  AGREE(vm);
}

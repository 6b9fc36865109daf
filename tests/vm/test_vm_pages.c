/* The page table and the fault handler: which pages are present, the zero
 * page, RSS and minor faults, held against pagemap, smaps and getrusage. */
#include "vmtest.h"

FL_TEST(read_maps_zero_page_write_makes_private) {
  OPEN_SHADOW(vm);
  intptr_t a = fl_vm_mmap(vm, 0, 4 * PG, RW, ANON);
  FL_CHECK_GT(a, 0);
  FL_CHECK_EQ(fl_vm_touch(vm, (uintptr_t)a, 4 * PG, false), 0);
  bool zp = fl_kprofile_get()->zero_page_on_read != FL_NO;
  FL_CHECK_EQ(fl_vm_pte(vm, (uintptr_t)a), zp ? FL_PTE_ZERO : FL_PTE_ANON);
  FL_CHECK_EQ(rss_kib(vm), zp ? 0 : 16);
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_touch(vm, (uintptr_t)a + PG, 1, true), 0);
  FL_CHECK_EQ(fl_vm_pte(vm, (uintptr_t)a + PG), FL_PTE_ANON);
  FL_CHECK_EQ(rss_kib(vm), zp ? 4 : 16);
  AGREE(vm);
}

FL_TEST(dontneed_then_retouch) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 8 * PG, RW, ANON);
  uint8_t x = 0x5a, y = 0;
  for (int i = 0; i < 8; i++) FL_CHECK_EQ(fl_vm_store(vm, a + i * PG, &x, 1), 0);
  FL_CHECK_EQ(rss_kib(vm), 32);
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_madvise(vm, a + 2 * PG, 4 * PG, MADV_DONTNEED), 0);
  FL_CHECK_EQ(rss_kib(vm), 16);
  AGREE(vm);
  /* The kernel hands back zero-filled pages: contents are gone. */
  FL_CHECK_EQ(fl_vm_load(vm, a + 3 * PG, &y, 1), 0);
  FL_CHECK_EQ(y, 0);
  FL_CHECK_EQ(fl_vm_load(vm, a + 7 * PG, &y, 1), 0);
  FL_CHECK_EQ(y, 0x5a);
  fl_vm_touch(vm, a + 2 * PG, 4 * PG, true);
  FL_CHECK_EQ(rss_kib(vm), 32);
  AGREE(vm);
}

FL_TEST(madv_free_keeps_pages_until_reclaim) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 4 * PG, RW, ANON);
  fl_vm_fill(vm, a, 0x11, 4 * PG);
  FL_CHECK_EQ(fl_vm_madvise(vm, a, 4 * PG, MADV_FREE), 0);
  FL_CHECK_EQ(fl_vm_pte(vm, a), FL_PTE_LAZYFREE);
  AGREE(vm);
  /* The next write cancels the free: the page is the process's again. */
  fl_vm_fill(vm, a, 0x22, 1);
  FL_CHECK_EQ(fl_vm_pte(vm, a), FL_PTE_ANON);
  FL_CHECK_EQ(fl_vm_pte(vm, a + PG), FL_PTE_LAZYFREE);
  AGREE(vm);
}

FL_TEST(madv_free_leaves_zero_page_alone) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 2 * PG, RW, ANON);
  fl_vm_touch(vm, a, 2 * PG, false);
  FL_CHECK_EQ(fl_vm_madvise(vm, a, 2 * PG, MADV_FREE), 0);
  AGREE(vm);
}

FL_TEST(prot_none_access_is_segv) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 2 * PG, PROT_NONE, ANON);
  uint8_t b = 1;
  FL_CHECK_EQ(fl_vm_load(vm, a, &b, 1), -1);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a, 2 * PG, PROT_READ), 0);
  FL_CHECK_EQ(fl_vm_load(vm, a, &b, 1), 0);
  FL_CHECK_EQ(fl_vm_store(vm, a, &b, 1), -1);
  FL_CHECK_EQ(fl_vm_store(vm, a + 2 * PG, &b, 1), -1); /* no VMA at all */
  fl_vm_stats_t s;
  fl_vm_stats(vm, &s);
  FL_CHECK_EQ(s.segv, 3);
  AGREE(vm);
}

FL_TEST(mprotect_keeps_present_pages) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 4 * PG, RW, ANON);
  fl_vm_fill(vm, a, 0x33, 4 * PG);
  fl_vm_mprotect(vm, a, 4 * PG, PROT_NONE);
  FL_CHECK_EQ(rss_kib(vm), 16);
  AGREE(vm);
  fl_vm_mprotect(vm, a, 4 * PG, RW);
  uint8_t y = 0;
  fl_vm_load(vm, a + 3 * PG, &y, 1);
  FL_CHECK_EQ(y, 0x33);
  fl_vm_fill(vm, a, 0x44, 4 * PG);
  AGREE(vm);
}

FL_TEST(populate_faults_everything) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 16 * PG, RW, ANON | MAP_POPULATE);
  FL_CHECK_EQ(rss_kib(vm), 64);
  AGREE(vm);
  uintptr_t b = (uintptr_t)fl_vm_mmap(vm, 0, 4 * PG, PROT_READ, ANON | MAP_POPULATE);
  FL_CHECK_NE(b, a);
  FL_CHECK_EQ(rss_kib(vm), fl_kprofile_get()->zero_page_on_read != FL_NO ? 64 : 80);
  AGREE(vm);
}

FL_TEST(minor_faults_are_bounded) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 256 * PG, RW, ANON);
  fl_vm_touch(vm, a, 256 * PG, false);
  fl_vm_touch(vm, a, 256 * PG, true);
  fl_vm_stats_t s;
  fl_vm_stats(vm, &s);
  FL_CHECK_GE(s.minflt_min, 256);
  AGREE(vm);
}

/* peek reads what a load would, without faulting: RSS and faults stay. */
FL_TEST(peek_does_not_fault) {
  OPEN_SHADOW(vm);
  uintptr_t a = (uintptr_t)fl_vm_mmap(vm, 0, 2 * PG, RW, ANON);
  uint32_t x = 0xabcdef01, y = 0;
  fl_vm_store(vm, a + 8, &x, 4);
  fl_vm_stats_t before, after;
  fl_vm_stats(vm, &before);
  FL_CHECK_EQ(fl_vm_peek(vm, a + 8, &y, 4), 0);
  FL_CHECK_EQ(y, x);
  y = 1;
  FL_CHECK_EQ(fl_vm_peek(vm, a + PG + 8, &y, 4), 0); /* untouched: zeros */
  FL_CHECK_EQ(y, 0);
  FL_CHECK_EQ(fl_vm_peek(vm, a + 2 * PG, &y, 4), -1); /* no VMA */
  fl_vm_stats(vm, &after);
  FL_CHECK_EQ(after.rss_pages, before.rss_pages);
  FL_CHECK_EQ(after.minflt_max, before.minflt_max);
  FL_CHECK_EQ(fl_vm_pte(vm, a + PG), FL_PTE_NONE);
  AGREE(vm);
}

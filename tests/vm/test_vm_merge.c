/* Merge and split rules (vma_merge_new_range, vma_merge_existing_range,
 * __split_vma), each drawn as the address space it produces, each held
 * against the kernel in shadow mode. */
#include "vmtest.h"

FL_TEST(mmap_fixed_adjacent_merge) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  FL_CHECK_EQ(fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED), a);
  FL_CHECK_EQ(fl_vm_mmap(vm, a + 2 * PG, 2 * PG, RW, ANON | MAP_FIXED), a + 2 * PG);
  LAYOUT(vm, a, "aaaa ");
  FL_CHECK_EQ(fl_vm_vma_count(vm), 1);
  AGREE(vm);
}

FL_TEST(mmap_different_prot_no_merge) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  FL_CHECK_EQ(fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED), a);
  FL_CHECK_EQ(fl_vm_mmap(vm, a + 2 * PG, 2 * PG, PROT_READ, ANON | MAP_FIXED), a + 2 * PG);
  LAYOUT(vm, a, "aabb");
  AGREE(vm);
}

FL_TEST(mmap_fixed_fills_hole_merges_both) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 3 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  LAYOUT(vm, a, "aa bb");
  fl_vm_mmap(vm, a + 2 * PG, PG, RW, ANON | MAP_FIXED);
  LAYOUT(vm, a, "aaaaa");
  AGREE(vm);
}

/* Both neighbours faulted, with different anon_vmas: the new range may join
 * either, but prev and next cannot become one (can_vma_merge_right). */
FL_TEST(mmap_between_two_anon_vmas_merges_left_only) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 3 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_touch(vm, a, 1, true), 0);
  FL_CHECK_EQ(fl_vm_touch(vm, a + 3 * PG, 1, true), 0);
  fl_vm_mmap(vm, a + 2 * PG, PG, RW, ANON | MAP_FIXED);
  LAYOUT(vm, a, "AaaBb");
  AGREE(vm);
}

FL_TEST(mmap_fixed_replaces_middle) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 6 * PG, RW, ANON | MAP_FIXED);
  fl_vm_touch(vm, a, 6 * PG, true);
  FL_CHECK_EQ(fl_vm_mmap(vm, a + 2 * PG, 2 * PG, PROT_READ, ANON | MAP_FIXED), a + 2 * PG);
  LAYOUT(vm, a, "AAbbCC");
  FL_CHECK_EQ(rss_kib(vm), 16);
  AGREE(vm);
}

FL_TEST(mmap_fixed_noreplace_eexist) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 4 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mmap(vm, a + 3 * PG, 2 * PG, RW, ANON | MAP_FIXED_NOREPLACE), -EEXIST);
  FL_CHECK_EQ(fl_vm_mmap(vm, a + 4 * PG, 2 * PG, RW, ANON | MAP_FIXED_NOREPLACE), a + 4 * PG);
  LAYOUT(vm, a, "aaaaaa");
  AGREE(vm);
}

FL_TEST(munmap_middle_splits) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 5 * PG, RW, ANON | MAP_FIXED);
  fl_vm_touch(vm, a, 5 * PG, true);
  FL_CHECK_EQ(fl_vm_munmap(vm, a + 2 * PG, PG), 0);
  LAYOUT(vm, a, "AA BB");
  FL_CHECK_EQ(rss_kib(vm), 16);
  AGREE(vm);
}

FL_TEST(munmap_spanning_several_and_holes) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 3 * PG, 2 * PG, PROT_READ, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 6 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_munmap(vm, a + PG, 6 * PG), 0);
  LAYOUT(vm, a, "a      b");
  FL_CHECK_EQ(fl_vm_munmap(vm, a + 2 * PG, 3 * PG), 0); /* nothing there: still 0 */
  AGREE(vm);
}

FL_TEST(mprotect_splits_into_three) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 6 * PG, RW, ANON | MAP_FIXED);
  fl_vm_touch(vm, a, 6 * PG, true);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a + 2 * PG, 2 * PG, PROT_READ), 0);
  LAYOUT(vm, a, "AABBCC");
  AGREE(vm);
}

FL_TEST(mprotect_back_merges_again) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 6 * PG, RW, ANON | MAP_FIXED);
  fl_vm_touch(vm, a, 6 * PG, true);
  fl_vm_mprotect(vm, a + 2 * PG, 2 * PG, PROT_READ);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a + 2 * PG, 2 * PG, RW), 0);
  LAYOUT(vm, a, "AAAAAA");
  AGREE(vm);
}

/* mprotect of the left part of a VMA onto its neighbour's protection moves
 * the boundary (merge_left, __adjust_middle_start). */
FL_TEST(mprotect_extends_left_neighbour) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, PROT_READ, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 2 * PG, 4 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a + 2 * PG, 2 * PG, PROT_READ), 0);
  LAYOUT(vm, a, "aaaabb");
  AGREE(vm);
}

FL_TEST(mprotect_extends_right_neighbour) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 4 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 4 * PG, 2 * PG, PROT_READ, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a + 2 * PG, 2 * PG, PROT_READ), 0);
  LAYOUT(vm, a, "aabbbb");
  AGREE(vm);
}

/* A read-write mapping never faulted gives back its VM_ACCOUNT when made
 * read-only, so it can merge with a fresh read-only one; once faulted it
 * keeps the charge and the two stay apart. */
FL_TEST(mprotect_readonly_unfaulted_merges) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, PROT_READ, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 2 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a + 2 * PG, 2 * PG, PROT_READ), 0);
  AGREE(vm);
}

FL_TEST(mprotect_readonly_faulted_stays_apart) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, PROT_READ, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 2 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_touch(vm, a + 2 * PG, 1, true);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a + 2 * PG, 2 * PG, PROT_READ), 0);
  AGREE(vm);
}

/* A hole in the range: the VMAs before it are changed, then ENOMEM. */
FL_TEST(mprotect_across_hole_is_partial) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 3 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a, 5 * PG, PROT_READ), -ENOMEM);
  fl_vma_t v;
  FL_CHECK(fl_vm_find(vm, a, &v));
  FL_CHECK_EQ(v.prot, PROT_READ);
  FL_CHECK(fl_vm_find(vm, a + 3 * PG, &v));
  FL_CHECK_EQ(v.prot, RW);
  AGREE(vm);
}

FL_TEST(madvise_hugepage_splits_flags) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 6 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_madvise(vm, a + 2 * PG, 2 * PG, MADV_NOHUGEPAGE), 0);
  LAYOUT(vm, a, "aabbcc");
  FL_CHECK_EQ(fl_vm_madvise(vm, a + 2 * PG, 2 * PG, MADV_HUGEPAGE), 0);
  FL_CHECK_EQ(fl_vm_madvise(vm, a, 6 * PG, MADV_HUGEPAGE), 0);
  LAYOUT(vm, a, "aaaaaa");
  AGREE(vm);
}

FL_TEST(mmap_noreserve_does_not_merge) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 2 * PG, 2 * PG, RW, ANON | MAP_FIXED | MAP_NORESERVE);
  LAYOUT(vm, a, "aabb");
  AGREE(vm);
}

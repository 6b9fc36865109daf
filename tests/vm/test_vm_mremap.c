/* mremap: shrink, grow in place, move; contents travel with the pages. */
#include "vmtest.h"

FL_TEST(mremap_shrink) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 6 * PG, RW, ANON | MAP_FIXED);
  fl_vm_touch(vm, a, 6 * PG, true);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 6 * PG, 2 * PG, 0, 0), a);
  LAYOUT(vm, a, "AA    ");
  FL_CHECK_EQ(rss_kib(vm), 8);
  AGREE(vm);
}

FL_TEST(mremap_grow_in_place) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 2 * PG, 5 * PG, 0, 0), a);
  LAYOUT(vm, a, "aaaaa ");
  AGREE(vm);
}

/* Growing up to the next VMA expands in place, and the two become one when
 * they match (measured on 6.18). */
FL_TEST(mremap_grow_up_to_next_merges) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 4 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 2 * PG, 4 * PG, 0, 0), a);
  LAYOUT(vm, a, "aaaaaa");
  AGREE(vm);
}

FL_TEST(mremap_blocked_without_maymove_is_enomem) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 2 * PG, 2 * PG, PROT_READ, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 2 * PG, 4 * PG, 0, 0), -ENOMEM);
  AGREE(vm);
}

FL_TEST(mremap_maymove_moves_contents) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 2 * PG, 2 * PG, PROT_READ, ANON | MAP_FIXED);
  uint64_t x = 0x1122334455667788ULL, y = 0;
  fl_vm_store(vm, a + PG + 8, &x, 8);
  intptr_t b = fl_vm_mremap(vm, a, 2 * PG, 8 * PG, MREMAP_MAYMOVE, 0);
  FL_CHECK_GT(b, 0);
  FL_CHECK_NE(b, (intptr_t)a);
  FL_CHECK_EQ(fl_vm_load(vm, (uintptr_t)b + PG + 8, &y, 8), 0);
  FL_CHECK_EQ(y, x);
  FL_CHECK_EQ(rss_kib(vm), 4);
  AGREE(vm);
}

FL_TEST(mremap_fixed_moves_to_address) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_fill(vm, a, 0x77, 2 * PG);
  fl_vm_mmap(vm, a + 8 * PG, 4 * PG, PROT_READ, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, a + 9 * PG), a + 9 * PG);
  LAYOUT(vm, a, "        aBBc"); /* the read-only VMA split around the moved one */
  AGREE(vm);
}

/* A never-faulted VMA takes the pgoff of its new address, so it merges with
 * a neighbour there; a faulted one keeps its old pgoff and does not. */
FL_TEST(mremap_move_pgoff_rules) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 4 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 8 * PG, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_touch(vm, a + 4 * PG, 1, true);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, a + 10 * PG), a + 10 * PG);
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_mremap(vm, a + 4 * PG, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, a + 12 * PG), a + 12 * PG);
  AGREE(vm);
}

FL_TEST(mremap_unmapped_is_efault) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, PG, 2 * PG, MREMAP_MAYMOVE, 0), -EFAULT);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 4 * PG, 8 * PG, MREMAP_MAYMOVE, 0), -EFAULT); /* old range not in one VMA */
  AGREE(vm);
}

/* A fixed move that does not resize may span several VMAs and the gaps
 * between them; each lands at its offset (found by the verify campaign,
 * seed 4: the model refused it with EFAULT). */
FL_TEST(mremap_fixed_moves_several_vmas) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  fl_vm_mmap(vm, a + 3 * PG, 2 * PG, PROT_READ, ANON | MAP_FIXED);
  fl_vm_touch(vm, a, PG, true);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 6 * PG, 6 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, a + 8 * PG), a + 8 * PG);
  LAYOUT(vm, a, "        Aa bb ");
  AGREE(vm);
  FL_CHECK_EQ(fl_vm_mremap(vm, a + 8 * PG, 6 * PG, 7 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, a), -EFAULT);
  AGREE(vm);
}

/* The window's top edge is taken for the kernel too (a guard page), so
 * growth past it fails in both (found by the verify campaign, seed 3). */
FL_TEST(mremap_grow_past_window_top) {
  OPEN_SHADOW(vm);
  intptr_t a = fl_vm_mmap(vm, 0, PG, RW, ANON);
  FL_CHECK_EQ(a, (intptr_t)(top(vm) - PG));
  FL_CHECK_EQ(fl_vm_mremap(vm, (uintptr_t)a, PG, 13 * PG, 0, 0), -ENOMEM);
  AGREE(vm);
}

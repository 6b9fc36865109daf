/* Every invalid argument gets the kernel's errno; shadow mode makes the same
 * call for real and compares. */
#include "vmtest.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

FL_TEST(errno_mmap) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  FL_CHECK_EQ(fl_vm_mmap(vm, a, 0, RW, ANON | MAP_FIXED), -EINVAL);           /* zero length */
  FL_CHECK_EQ(fl_vm_mmap(vm, a + 1, PG, RW, ANON | MAP_FIXED), -EINVAL);      /* unaligned fixed */
  FL_CHECK_EQ(fl_vm_mmap(vm, a, (size_t)-1, RW, ANON | MAP_FIXED), -ENOMEM);  /* PAGE_ALIGN overflows */
  FL_CHECK_EQ(fl_vm_mmap(vm, a, PG, RW, MAP_ANONYMOUS | MAP_FIXED), -EINVAL); /* neither private nor shared */
  FL_CHECK_EQ(fl_vm_mmap(vm, a, PG, RW, ANON | MAP_FIXED), a);
  FL_CHECK_EQ(fl_vm_mmap(vm, a, PG, RW, ANON | MAP_FIXED_NOREPLACE), -EEXIST);
  AGREE(vm);
}

FL_TEST(errno_munmap) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  FL_CHECK_EQ(fl_vm_munmap(vm, a + 8, PG), -EINVAL);
  FL_CHECK_EQ(fl_vm_munmap(vm, a, 0), -EINVAL);
  FL_CHECK_EQ(fl_vm_munmap(vm, a, (size_t)-PG), -EINVAL); /* wraps past TASK_SIZE */
  FL_CHECK_EQ(fl_vm_munmap(vm, a, PG), 0);                /* nothing mapped: fine */
  AGREE(vm);
}

FL_TEST(errno_mprotect) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a + 8, PG, PROT_READ), -EINVAL);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a, 0, PROT_READ), 0);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a, PG, PROT_READ), -ENOMEM); /* unmapped */
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a, PG, 0x40), -EINVAL); /* unknown prot bit */
  FL_CHECK_EQ(fl_vm_mprotect(vm, a, PG, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP), -EINVAL);
  FL_CHECK_EQ(fl_vm_mprotect(vm, a, PG, PROT_READ | PROT_GROWSDOWN), -EINVAL); /* not a stack */
  FL_CHECK_EQ(fl_vm_mprotect(vm, a, (size_t)-PG, PROT_READ), -ENOMEM); /* end wraps */
  AGREE(vm);
}

FL_TEST(errno_madvise) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_madvise(vm, a + 8, PG, MADV_DONTNEED), -EINVAL);
  FL_CHECK_EQ(fl_vm_madvise(vm, a, PG, 12345), -EINVAL);
  FL_CHECK_EQ(fl_vm_madvise(vm, a, 0, MADV_DONTNEED), 0);
  FL_CHECK_EQ(fl_vm_madvise(vm, a, (size_t)-1, MADV_DONTNEED), -EINVAL);
  FL_CHECK_EQ(fl_vm_madvise(vm, a, 4 * PG, MADV_DONTNEED), -ENOMEM); /* tail unmapped */
  FL_CHECK_EQ(fl_vm_madvise(vm, a - 2 * PG, 3 * PG, MADV_WILLNEED), -ENOMEM);
  AGREE(vm);
}

FL_TEST(errno_mremap) {
  OPEN_SHADOW(vm);
  uintptr_t a = arena(vm);
  fl_vm_mmap(vm, a, 2 * PG, RW, ANON | MAP_FIXED);
  FL_CHECK_EQ(fl_vm_mremap(vm, a, PG, PG, 0x80, 0), -EINVAL);            /* unknown flag */
  FL_CHECK_EQ(fl_vm_mremap(vm, a + 8, PG, 2 * PG, 0, 0), -EINVAL);       /* unaligned */
  FL_CHECK_EQ(fl_vm_mremap(vm, a, PG, 0, 0, 0), -EINVAL);                /* new length 0 */
  FL_CHECK_EQ(fl_vm_mremap(vm, a, PG, PG, MREMAP_FIXED, a + 8 * PG), -EINVAL); /* FIXED needs MAYMOVE */
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 2 * PG, 2 * PG, MREMAP_FIXED | MREMAP_MAYMOVE, a + PG), -EINVAL); /* overlap */
  FL_CHECK_EQ(fl_vm_mremap(vm, a, 0, PG, MREMAP_MAYMOVE, 0), -EINVAL);   /* duplicating a private mapping */
  FL_CHECK_EQ(fl_vm_mremap(vm, a, PG, 2 * PG, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, a + 8 * PG), -EINVAL);
  AGREE(vm);
}

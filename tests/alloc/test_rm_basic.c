/* refmalloc: the first allocations, the seed experiment, usable sizes and
 * errno — each number derived from reading glibc 2.36's malloc.c. */
#include <stdint.h>

#include "alloc/rmtest.h"

/* The first malloc: brk(0), then brk(start + 0x21000) — nb 0x290 for the
 * tcache_perthread_struct + top_pad 0x20000 + MINSIZE, page-rounded. The
 * tcache chunk comes first, so the user's chunk is at heap + 0x290 and its
 * memory at heap + 0x2a0. */
FL_TEST(first_malloc_layout) {
  OPEN_RM(rm, NULL);
  CLEAR();
  uintptr_t p = fl_rm_malloc(rm, 24);
  CHECK_NCALLS(2);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_BRK);
  FL_CHECK_EQ(CALL(0).args[0], 0);
  FL_CHECK_EQ(CALL(1).no, FL_SYS_BRK);
  FL_CHECK_EQ(CALL(1).args[0], rmt.heap + 0x21000);
  FL_CHECK_EQ(OFF(p), 0x2a0);
  /* tcache chunk header: size 0x291 */
  FL_CHECK_EQ(ld64(rmt.heap + 8), 0x291);
  FL_CHECK_EQ(ld64(p - 8), 0x21);
  /* top: what is left of 0x21000 */
  FL_CHECK_EQ(ld64(rmt.heap + 0x2b0 + 8), (0x21000 - 0x2b0) | 1);
  uintptr_t q = fl_rm_malloc(rm, 24);
  FL_CHECK_EQ(OFF(q), 0x2c0);
  FL_CHECK_EQ(fl_rm_usable_size(rm, p), 24);
  FL_CHECK_EQ(fl_rm_usable_size(rm, fl_rm_malloc(rm, 25)), 40);
  FL_CHECK_EQ(fl_rm_usable_size(rm, 0), 0);
  FL_CHECK(!fl_rm_aborted(rm));
}

/* The seed article: once the heap exists malloc(100) makes no system call;
 * malloc(100 MiB) is mmap(NULL, 104861696, RW, PRIVATE|ANONYMOUS); free is
 * munmap of the same length. */
FL_TEST(seed_experiment) {
  OPEN_RM(rm, NULL);
  fl_rm_free(rm, fl_rm_malloc(rm, 1));
  CLEAR();
  uintptr_t small = fl_rm_malloc(rm, 100);
  FL_CHECK_NE(small, 0);
  CHECK_NCALLS(0);
  uintptr_t big = fl_rm_malloc(rm, 104857600);
  CHECK_NCALLS(1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MMAP);
  FL_CHECK_EQ(CALL(0).args[0], 0);
  FL_CHECK_EQ(CALL(0).args[1], 104861696);
  FL_CHECK_EQ(CALL(0).args[2], RW);
  FL_CHECK_EQ(CALL(0).args[3], ANON);
  FL_CHECK_EQ(big, (uintptr_t)CALL(0).ret + 16);
  FL_CHECK_EQ(fl_rm_usable_size(rm, big), 104861696 - 16);
  CLEAR();
  fl_rm_free(rm, big);
  CHECK_NCALLS(1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MUNMAP);
  FL_CHECK_EQ(CALL(0).args[0], big - 16);
  FL_CHECK_EQ(CALL(0).args[1], 104861696);
  /* 100 MiB is above DEFAULT_MMAP_THRESHOLD_MAX: no dynamic raise. */
  fl_rm_params_t mp;
  fl_rm_params(rm, &mp);
  FL_CHECK_EQ(mp.mmap_threshold, 128 * 1024);
}

/* Impossible sizes: NULL with ENOMEM and no system call. */
FL_TEST(errno_enomem) {
  OPEN_RM(rm, NULL);
  CLEAR();
  fl_rm_set_errno(rm, 0);
  FL_CHECK_EQ(fl_rm_malloc(rm, SIZE_MAX), 0);
  FL_CHECK_EQ(fl_rm_errno(rm), ENOMEM);
  fl_rm_set_errno(rm, 0);
  FL_CHECK_EQ(fl_rm_malloc(rm, (size_t)PTRDIFF_MAX + 1), 0);
  FL_CHECK_EQ(fl_rm_errno(rm), ENOMEM);
  fl_rm_set_errno(rm, 0);
  FL_CHECK_EQ(fl_rm_calloc(rm, SIZE_MAX / 2, 3), 0);
  FL_CHECK_EQ(fl_rm_errno(rm), ENOMEM);
  /* malloc(SIZE_MAX) still set up the tcache first? No: checked_request2size
   * fails before MAYBE_INIT_TCACHE, so nothing was mapped. */
  CHECK_NCALLS(0);
  /* free keeps errno */
  uintptr_t p = fl_rm_malloc(rm, 10);
  fl_rm_set_errno(rm, 1234);
  fl_rm_free(rm, p);
  FL_CHECK_EQ(fl_rm_errno(rm), 1234);
}

/* realloc(p, 0) frees and returns NULL (REALLOC_ZERO_BYTES_FREES);
 * realloc(NULL, n) is malloc. */
FL_TEST(realloc_zero_and_null) {
  OPEN_RM(rm, NULL);
  uintptr_t p = fl_rm_realloc(rm, 0, 40);
  FL_CHECK_EQ(OFF(p), 0x2a0);
  FL_CHECK_EQ(fl_rm_realloc(rm, p, 0), 0);
  /* p went to the tcache: the next malloc of that size returns it. */
  FL_CHECK_EQ(fl_rm_malloc(rm, 40), p);
  FL_CHECK(!fl_rm_aborted(rm));
}

/* glibc 2.36's systrim compares a long with a size_t: with top_pad 0 and
 * top exactly MINSIZE, top_area is -1, converts to SIZE_MAX, and systrim
 * asks sbrk for -(-pagesize): free() *grows* the heap by a page. Found by
 * `faultline diff --tunables glibc.malloc.trim_threshold=0:
 * glibc.malloc.top_pad=0 --seed 4` (op 7), confirmed with strace on a
 * plain C program. */
FL_TEST(systrim_grows_the_heap_when_top_is_minsize) {
  OPEN_RM(rm, "glibc.malloc.trim_threshold=0:glibc.malloc.top_pad=0");
  uintptr_t a = fl_rm_malloc(rm, 96275);  /* chunk 0x17820 */
  uintptr_t b = fl_rm_malloc(rm, 98476);  /* 0x180c0 */
  uintptr_t c = fl_rm_malloc(rm, 87136);  /* 0x15470: top is left at 0x20 */
  FL_CHECK(a && b && c);
  FL_CHECK_EQ(fl_vm_cur_brk(rmt.vm) - rmt.heap, 0x45000);
  CLEAR();
  fl_rm_free(rm, a); /* >= FASTBIN_CONSOLIDATION_THRESHOLD: systrim(top_pad) */
  CHECK_NCALLS(1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_BRK);
  FL_CHECK_EQ(OFF((uintptr_t)CALL(0).ret), 0x46000);
  FL_CHECK(!fl_rm_aborted(rm));
}

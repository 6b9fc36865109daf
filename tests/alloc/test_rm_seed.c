/* test_rm_seed.c — the seed article's experiment through refmalloc with the
 * model in shadow mode: every number below is what the model predicts, and
 * the kernel is asked after every step whether it agrees. */
#include "host/procfs.h"
#include "rmtest.h"

#define BIG 104857600u         /* malloc(100 MiB) */
#define BIG_MAP 104861696u     /* + the chunk header, page-rounded */

static uint64_t model_rss_kib(void) {
  fl_vm_stats_t s;
  fl_vm_stats(rmt.vm, &s);
  return s.rss_pages * 4;
}

/* The model and the kernel agree on maps, pages, Rss and faults. */
#define CHECK_KERNEL_AGREES()                                          \
  do {                                                                 \
    FL_CHECK_EQ(fl_vm_compare(rmt.vm, FL_CMP_ALL), 0);                 \
    FL_CHECK_EQ(fl_vm_mismatch_count(rmt.vm), 0);                      \
  } while (0)

FL_TEST(seed_experiment_in_shadow_mode) {
  fl_rm_t *rm = rmtest_open_mode(NULL, FL_VM_SHADOW);
  FL_CHECK_MSG(rm != NULL, "cannot open refmalloc in shadow mode");
  fl_vm_compare(rmt.vm, FL_CMP_ALL); /* the baseline */
  fl_rm_free(rm, fl_rm_malloc(rm, 1)); /* the heap exists */
  CHECK_KERNEL_AGREES();

  CLEAR();
  uintptr_t small = fl_rm_malloc(rm, 100);
  FL_CHECK_NE(small, 0);
  FL_CHECK_EQ(NCALLS(), 0); /* served from top: no system call */
  CHECK_KERNEL_AGREES();

  uint64_t rss0 = model_rss_kib();
  uintptr_t big = fl_rm_malloc(rm, BIG);
  FL_CHECK_EQ(NCALLS(), 1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MMAP);
  FL_CHECK_EQ(CALL(0).args[0], 0);
  FL_CHECK_EQ(CALL(0).args[1], BIG_MAP);
  FL_CHECK_EQ(CALL(0).args[2], RW);
  FL_CHECK_EQ(CALL(0).args[3], ANON);
  uintptr_t map = (uintptr_t)CALL(0).ret;
  FL_CHECK_EQ(big, map + 16);
  CHECK_KERNEL_AGREES();
  /* glibc wrote the chunk header: one page of the 100 MiB is resident */
  FL_CHECK_EQ(model_rss_kib() - rss0, 4);
  FL_CHECK_EQ(fl_smaps_rss_kib(map, map + BIG_MAP), 4);

  FL_CHECK_EQ(fl_vm_fill(rmt.vm, big, 0, BIG), 0); /* memset */
  CHECK_KERNEL_AGREES();
  FL_CHECK_EQ(model_rss_kib() - rss0, 102404);
  FL_CHECK_EQ(fl_smaps_rss_kib(map, map + BIG_MAP), 102404);

  CLEAR();
  fl_rm_free(rm, big);
  FL_CHECK_EQ(NCALLS(), 1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MUNMAP);
  FL_CHECK_EQ(CALL(0).args[0], map);
  FL_CHECK_EQ(CALL(0).args[1], BIG_MAP);
  CHECK_KERNEL_AGREES();
  FL_CHECK_EQ(model_rss_kib(), rss0);
  fl_rm_free(rm, small);
  rmtest_close();
}

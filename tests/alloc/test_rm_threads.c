/* refmalloc: logical threads get their own arena on a HEAP_MAX_SIZE-aligned
 * heap (mmap PROT_NONE + MAP_NORESERVE, trimmed to alignment, opened with
 * mprotect), and their own tcache. */
#include "alloc/rmtest.h"

#define HEAP_MAX (64UL << 20)

FL_TEST(second_thread_new_arena) {
  OPEN_RM(rm, NULL);
  uintptr_t m = fl_rm_malloc(rm, 100);
  FL_CHECK_EQ(OFF(m), 0x2a0);
  fl_rm_set_thread(rm, 1);
  CLEAR();
  uintptr_t t = fl_rm_malloc(rm, 100);
  FL_CHECK_GE(NCALLS(), 3);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MMAP);
  FL_CHECK_EQ(CALL(0).args[1], 2 * HEAP_MAX);
  FL_CHECK_EQ(CALL(0).args[2], PROT_NONE);
  FL_CHECK_EQ(CALL(0).args[3], MAP_NORESERVE | ANON);
  fl_vm_syscall_t last = CALL(NCALLS() - 1);
  FL_CHECK_EQ(last.no, FL_SYS_MPROTECT);
  FL_CHECK_EQ(last.args[1], 0x21000);
  FL_CHECK_EQ(last.args[2], RW);
  uintptr_t h = last.args[0];
  FL_CHECK_EQ(h % HEAP_MAX, 0);
  /* heap_info (48) + malloc_state (2200), aligned: top at h + 0x8d0; the
   * thread's tcache (0x290) first, then the user's chunk. */
  FL_CHECK_EQ(t, h + 0x8d0 + 0x290 + 16);
  FL_CHECK_EQ(ld64(t - 8), 0x70 | 0x4 | 0x1); /* NON_MAIN_ARENA */
  FL_CHECK_EQ(fl_rm_arena_count(rm), 2);
  FL_CHECK_EQ(fl_rm_thread_arena(rm, 1), 1);
  FL_CHECK_EQ(fl_rm_usable_size(rm, t), 104);
  /* free from another thread goes to that thread's tcache */
  fl_rm_set_thread(rm, 0);
  fl_rm_free(rm, t);
  FL_CHECK_EQ(fl_rm_malloc(rm, 100), t);
  fl_rm_free(rm, t);
  fl_rm_set_thread(rm, 1);
  fl_rm_free(rm, fl_rm_malloc(rm, 100));
  FL_CHECK(!fl_rm_aborted(rm));
}

/* Thread exit empties the tcache into the arena and puts the arena on the
 * free list; the next new thread reuses it. */
FL_TEST(thread_exit_reuses_arena) {
  OPEN_RM(rm, NULL);
  fl_rm_malloc(rm, 10);
  fl_rm_set_thread(rm, 1);
  uintptr_t a = fl_rm_malloc(rm, 10);
  fl_rm_free(rm, a);
  fl_rm_thread_exit(rm, 1);
  FL_CHECK(!fl_rm_aborted(rm));
  fl_rm_arena_info_t ai;
  FL_CHECK(fl_rm_arena(rm, 1, &ai));
  FL_CHECK_EQ(ai.attached_threads, 0);
  fl_rm_set_thread(rm, 2);
  CLEAR();
  fl_rm_malloc(rm, 10);
  CHECK_NCALLS(0);
  FL_CHECK_EQ(fl_rm_thread_arena(rm, 2), 1);
}

/* arena_max=1: every thread shares main_arena (reused_arena). */
FL_TEST(arena_max_one) {
  OPEN_RM(rm, "glibc.malloc.arena_max=1");
  fl_rm_malloc(rm, 10);
  fl_rm_set_thread(rm, 1);
  CLEAR();
  uintptr_t p = fl_rm_malloc(rm, 10);
  CHECK_NCALLS(0);
  FL_CHECK_LT(p - rmt.heap, 0x21000);
  FL_CHECK_EQ(fl_rm_thread_arena(rm, 1), 0);
}

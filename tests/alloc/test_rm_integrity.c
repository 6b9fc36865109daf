/* refmalloc: glibc's integrity checks fire with glibc's exact messages; the
 * call is abandoned and the allocator refuses every later call. */
#include "alloc/rmtest.h"

static int nevents;
static fl_rm_event_t last;
static void on_event(void *ctx, const fl_rm_event_t *ev) {
  (void)ctx;
  nevents++;
  last = *ev;
}

FL_TEST(double_free_tcache) {
  OPEN_RM(rm, NULL);
  nevents = 0;
  fl_rm_set_event_hook(rm, on_event, NULL);
  uintptr_t a = fl_rm_malloc(rm, 40);
  fl_rm_free(rm, a);
  FL_CHECK(!fl_rm_aborted(rm));
  fl_rm_free(rm, a);
  FL_CHECK(fl_rm_aborted(rm));
  FL_CHECK_STREQ(rm_msg(rm), "free(): double free detected in tcache 2");
  FL_CHECK_EQ(nevents, 1);
  FL_CHECK_EQ(last.kind, FL_RM_EV_PRINTERR);
  FL_CHECK_EQ(last.op, FL_RM_OP_FREE);
  FL_CHECK_EQ(last.args[0], a);
  FL_CHECK_EQ(last.op_index, 2);
  /* refused from now on */
  CLEAR();
  FL_CHECK_EQ(fl_rm_malloc(rm, 40), 0);
  CHECK_NCALLS(0);
  FL_CHECK_EQ(nevents, 1);
}

FL_TEST(double_free_fasttop) {
  OPEN_RM(rm, NULL);
  uintptr_t p[8];
  for (int i = 0; i < 8; i++) p[i] = fl_rm_malloc(rm, 40);
  for (int i = 0; i < 7; i++) fl_rm_free(rm, p[i]);
  fl_rm_free(rm, p[7]);
  fl_rm_free(rm, p[7]); /* tcache full: the fastbin top check */
  FL_CHECK_STREQ(rm_msg(rm), "double free or corruption (fasttop)");
}

FL_TEST(double_free_not_prev) {
  OPEN_RM(rm, "glibc.malloc.tcache_count=0");
  uintptr_t a = fl_rm_malloc(rm, 0x100);
  fl_rm_malloc(rm, 0x100);
  fl_rm_free(rm, a);
  fl_rm_free(rm, a);
  FL_CHECK_STREQ(rm_msg(rm), "double free or corruption (!prev)");
}

FL_TEST(corrupted_top_size) {
  OPEN_RM(rm, NULL);
  uintptr_t p = fl_rm_malloc(rm, 24);
  /* overflow p: the top chunk's size field follows p's 24 bytes */
  st64(p + 24, 0xffffffffffffffffULL);
  FL_CHECK_EQ(fl_rm_malloc(rm, 0x1000), 0);
  FL_CHECK_STREQ(rm_msg(rm), "malloc(): corrupted top size");
}

FL_TEST(invalid_pointer) {
  OPEN_RM(rm, NULL);
  uintptr_t p = fl_rm_malloc(rm, 24);
  fl_rm_free(rm, p + 8);
  FL_CHECK_STREQ(rm_msg(rm), "free(): invalid pointer");
}

FL_TEST(invalid_size) {
  OPEN_RM(rm, NULL);
  uintptr_t p = fl_rm_malloc(rm, 24);
  st64(p - 8, 0x11); /* size 0x10 < MINSIZE */
  fl_rm_free(rm, p);
  FL_CHECK_STREQ(rm_msg(rm), "free(): invalid size");
}

FL_TEST(munmap_chunk_invalid) {
  OPEN_RM(rm, NULL);
  uintptr_t p = fl_rm_malloc(rm, 24);
  st64(p - 8, 0x1002 | 0x20); /* IS_MMAPPED on a heap chunk, bad page math */
  fl_rm_free(rm, p);
  FL_CHECK_STREQ(rm_msg(rm), "munmap_chunk(): invalid pointer");
}

/* A wild pointer the model says is unmapped: SIGSEGV, as glibc would crash. */
FL_TEST(segv_on_wild_free) {
  OPEN_RM(rm, NULL);
  fl_rm_malloc(rm, 24);
  uintptr_t wild = fl_vm_config(rmt.vm)->base + (1UL << 39);
  fl_rm_free(rm, wild);
  FL_CHECK(fl_rm_aborted(rm));
  FL_CHECK_EQ(fl_rm_last_event(rm)->kind, FL_RM_EV_SEGV);
  FL_CHECK_EQ(fl_rm_last_event(rm)->addr, wild - 8);
}

/* House of Force: a huge top size passes "corrupted top size" only if it
 * is <= system_mem; a top size that is too small trips sysmalloc's assert. */
FL_TEST(sysmalloc_assert) {
  OPEN_RM(rm, NULL);
  uintptr_t p = fl_rm_malloc(rm, 24);
  st64(p + 24, 0x101); /* top shrunk: its end is no longer page aligned */
  fl_rm_malloc(rm, 0x200);
  FL_CHECK(fl_rm_aborted(rm));
  FL_CHECK_EQ(fl_rm_last_event(rm)->kind, FL_RM_EV_ASSERT);
  FL_CHECK(strncmp(rm_msg(rm), "Fatal glibc error: malloc assertion failure in sysmalloc: (old_top == initial_top (av)",
                   80) == 0);
}

/* test_hostile.c — free_at, poke and poke_ptr on refmalloc: the ops that
 * let a script corrupt a heap on purpose (how2heap, integrity messages). */
#include <string.h>

#include "../alloc/rmtest.h"
#include "harness/harness.h"
#include "ops/exec.h"
#include "ops/rmtarget.h"
#include "ops/text.h"

typedef struct run {
  fl_exec_result_t r;
  fl_status_t st;
} run_t;

static run_t run_on(fl_rm_t *rm, const char *script, bool skip_hostile) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  run_t out = {.st = fl_ops_parse_text(script, strlen(script), "t", &ops)};
  if (out.st != FL_OK) return out;
  fl_target_t t;
  fl_rmtarget_init(&t, rm);
  fl_exec_options_t o = {.record = true, .skip_hostile = skip_hostile};
  out.st = fl_exec_run(&ops, &t, &o, &out.r);
  fl_ops_free(&ops);
  return out;
}

FL_TEST(free_at_a_stale_slot_is_a_double_free) {
  OPEN_RM(rm, NULL);
  run_t x = run_on(rm, "#0 = malloc 24\nfree #0\nfree_at #0 0\n", false);
  FL_CHECK_EQ(x.st, FL_OK);
  FL_CHECK_EQ(x.r.records[2].status, FL_EXEC_OK);
  FL_CHECK(fl_rm_aborted(rm));
  FL_CHECK_STREQ(fl_rm_last_event(rm)->message, "free(): double free detected in tcache 2");
  fl_exec_result_free(&x.r);
  rmtest_close();
}

FL_TEST(free_at_offset_zero_of_a_live_slot_is_free) {
  OPEN_RM(rm, NULL);
  /* the slot empties, so the verify after it is skipped, and nothing aborts */
  run_t x = run_on(rm, "#0 = malloc 24\nfree_at #0 0\nverify #0 0 1 0x00\n", false);
  FL_CHECK_EQ(x.st, FL_OK);
  FL_CHECK_EQ(x.r.records[2].status, FL_EXEC_EMPTY_SLOT);
  FL_CHECK(!fl_rm_aborted(rm));
  FL_CHECK_EQ(x.r.live_bytes, 0);
  fl_exec_result_free(&x.r);
  rmtest_close();
}

FL_TEST(skip_hostile_skips_them) {
  OPEN_RM(rm, NULL);
  run_t x = run_on(rm, "#0 = malloc 24\nfree #0\nfree_at #0 0\npoke #0 -8 0x91 8\n", true);
  FL_CHECK_EQ(x.st, FL_OK);
  FL_CHECK_EQ(x.r.records[2].status, FL_EXEC_HOSTILE);
  FL_CHECK_EQ(x.r.records[3].status, FL_EXEC_HOSTILE);
  FL_CHECK_EQ(x.r.skipped, 2);
  FL_CHECK(!fl_rm_aborted(rm));
  fl_exec_result_free(&x.r);
  rmtest_close();
}

FL_TEST(slots_that_never_held_a_block_skip) {
  OPEN_RM(rm, NULL);
  run_t x = run_on(rm, "free_at #4 0\npoke #4 0 1 1\n#0 = malloc 8\npoke_ptr #0 0 #4 0 plain\n",
                   false);
  FL_CHECK_EQ(x.st, FL_OK);
  FL_CHECK_EQ(x.r.records[0].status, FL_EXEC_EMPTY_SLOT);
  FL_CHECK_EQ(x.r.records[1].status, FL_EXEC_EMPTY_SLOT);
  FL_CHECK_EQ(x.r.records[3].status, FL_EXEC_EMPTY_SLOT);
  fl_exec_result_free(&x.r);
  rmtest_close();
}

/* poke writes little-endian at any signed offset; poke_ptr protect stores
 * (field >> 12) ^ target as glibc's PROTECT_PTR, so a tcache next pointer
 * written that way is what tcache_get would decode. */
FL_TEST(poke_and_poke_ptr_write_what_they_say) {
  OPEN_RM(rm, NULL);
  run_t x = run_on(rm,
                   "#0 = malloc 24\n#1 = malloc 24\n"
                   "poke #0 8 0x1122 2\n"
                   "poke_ptr #0 16 #1 -16 plain\n"
                   "poke_ptr #1 0 #0 0 protect\n"
                   "poke #1 -8 0x21 8\n"
                   "#0 = malloc 1\n#1 = malloc 1\n", /* leak both: the end frees nothing */
                   false);
  FL_CHECK_EQ(x.st, FL_OK);
  uintptr_t p0 = x.r.records[0].ptr, p1 = x.r.records[1].ptr;
  fl_vm_t *vm = fl_rm_vm(rm);
  uint16_t h;
  uint64_t plain, prot, size;
  FL_CHECK_EQ(fl_vm_load(vm, p0 + 8, &h, 2), 0);
  FL_CHECK_EQ(h, 0x1122);
  FL_CHECK_EQ(fl_vm_load(vm, p0 + 16, &plain, 8), 0);
  FL_CHECK_EQ(plain, p1 - 16);
  FL_CHECK_EQ(fl_vm_load(vm, p1, &prot, 8), 0);
  FL_CHECK_EQ(prot, (p1 >> 12) ^ p0);
  FL_CHECK_EQ(fl_vm_load(vm, p1 - 8, &size, 8), 0);
  FL_CHECK_EQ(size, 0x21);
  fl_exec_result_free(&x.r);
  rmtest_close();
}

/* A size overwritten by a poke is caught by the invariants at the check op
 * that follows it. */
FL_TEST(check_op_runs_the_attached_checker) {
  OPEN_RM(rm, NULL);
  fl_check_t *chk;
  FL_CHECK_EQ(fl_check_open(&chk, rm, fl_rm_vm(rm), 1), FL_OK);
  fl_ops_t ops;
  fl_ops_init(&ops);
  static const char s[] = "#0 = malloc 24\n#1 = malloc 24\ncheck 3\nfree #0\n"
                          "poke #0 -8 0x91 8\ncheck 3\n";
  FL_CHECK_EQ(fl_ops_parse_text(s, strlen(s), "t", &ops), FL_OK);
  fl_target_t t;
  fl_rmtarget_init(&t, rm);
  fl_rmtarget_set_checker(&t, chk);
  fl_exec_options_t o = {.record = true};
  fl_exec_result_t r;
  FL_CHECK_EQ(fl_exec_run(&ops, &t, &o, &r), FL_FINDING);
  FL_CHECK_EQ(r.records[2].status, FL_EXEC_OK);
  FL_CHECK_EQ(r.records[5].status, FL_EXEC_CHECK_FAILED);
  FL_CHECK_EQ(r.first_finding, 5);
  FL_CHECK(fl_check_fired(chk, "BIN-TILE") > 0);
  fl_exec_result_free(&r);
  fl_ops_free(&ops);
  fl_check_close(chk);
  rmtest_close();
}

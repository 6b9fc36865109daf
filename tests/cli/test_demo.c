/* test_demo.c — `faultline demo`: the seed article's numbers, measured live
 * on the model, the kernel and the real glibc, must be the article's. */
#include "cli/jsonread.h"
#include "harness/harness.h"

static char out[1 << 20];

/* mmap(NULL, 104861696, ...): malloc(100 MiB) plus the chunk header, page-rounded. */
#define BIG_MAP 104861696.0

FL_TEST(demo_json_reports_the_articles_numbers_on_every_side) {
  int rc = fl_test_run_tool("faultline demo --json", out, sizeof out);
  if (rc == 3) FL_SKIP("the model's window or the glibc helper is unavailable here");
  FL_CHECK_MSG(rc == 0, "faultline demo --json exits %d:\n%s", rc, out);
  FL_CHECK(jr_valid(out));
  const char *sides[] = {"model", "kernel", "glibc"};
  for (int k = 0; k < 3; k++) {
    char path[64];
    snprintf(path, sizeof path, "mmap_length.%s", sides[k]);
    FL_CHECK_EQ(jr_number(jr_get(out, path)), BIG_MAP);
    snprintf(path, sizeof path, "munmap_length.%s", sides[k]);
    FL_CHECK_EQ(jr_number(jr_get(out, path)), BIG_MAP);
    snprintf(path, sizeof path, "rss_kib_before_memset.%s", sides[k]);
    FL_CHECK_EQ(jr_number(jr_get(out, path)), 4);
    snprintf(path, sizeof path, "rss_kib_after_memset.%s", sides[k]);
    FL_CHECK_EQ(jr_number(jr_get(out, path)), 102404);
  }
  FL_CHECK(jr_true(jr_get(out, "agree")));
  /* malloc(100) creates the heap with brk on both sides; memset(q) faults
   * in its 25600 pages on the model and in the real glibc */
  FL_CHECK(jr_string_is(jr_get(out, "steps.0.syscalls.model.0.strace"), "brk(NULL) = 0x300000000000"));
  FL_CHECK(jr_string_is(jr_get(out, "steps.0.syscalls.glibc.0.name"), "brk"));
  FL_CHECK_EQ(jr_number(jr_get(out, "steps.3.minflt.model_min")), 25600);
  FL_CHECK_GE(jr_number(jr_get(out, "steps.3.minflt.glibc")), 25600);
}

FL_TEST(demo_text_shows_strace_pmap_and_verdicts) {
  int rc = fl_test_run_tool("faultline demo", out, sizeof out);
  if (rc == 3) FL_SKIP("the model's window or the glibc helper is unavailable here");
  FL_CHECK_MSG(rc == 0, "faultline demo exits %d:\n%s", rc, out);
  FL_CHECK(strstr(out, "model  mmap(NULL, 104861696, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x") != NULL);
  FL_CHECK(strstr(out, "glibc  mmap(NULL, 104861696, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x") != NULL);
  FL_CHECK(strstr(out, "   102404       4       4 rw---   [ anon ] (q: 100 MiB)") != NULL);
  FL_CHECK(strstr(out, "   102404  102404  102404 rw---   [ anon ] (q: 100 MiB)") != NULL);
  FL_CHECK(strstr(out, "glibc  munmap(0x") != NULL);
  FL_CHECK(strstr(out, "DISAGREE") == NULL);
  FL_CHECK(strstr(out, "verdict: model, kernel and glibc agree on every line") != NULL);
}

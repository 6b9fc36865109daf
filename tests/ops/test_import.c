/* Recordings and mtrace logs become op scripts: slots for pointers, the
 * executor's realloc rules, unknown pointers dropped and counted, and bad
 * files refused with one clear message. */
#include <stdlib.h>

#include "harness/harness.h"
#include "ops/import.h"
#include "ops/text.h"
#include "record/record.h"

static char *as_text(const fl_ops_t *ops) {
  char *text = NULL;
  size_t len = 0;
  fl_ops_print_text(ops, false, &text, &len);
  return text;
}

static size_t build(uint8_t *buf, const fl_rec_t *recs, size_t n) {
  fl_rec_header_t h = {.magic = FL_REC_MAGIC, .version = FL_REC_VERSION, .pid = 42};
  memcpy(buf, &h, sizeof h);
  memcpy(buf + sizeof h, recs, n * sizeof *recs);
  return sizeof h + n * sizeof *recs;
}

FL_TEST(recording_becomes_slots) {
  fl_rec_t r[] = {
      {.kind = FL_REC_MALLOC, .a = 100, .result = 0x1000},
      {.kind = FL_REC_CALLOC, .a = 4, .b = 8, .result = 0x2000},
      {.kind = FL_REC_REALLOC, .a = 0x1000, .b = 300, .result = 0x3000},
      {.kind = FL_REC_FREE, .a = 0x9999},              /* never seen: dropped */
      {.kind = FL_REC_MALLOC, .a = (uint64_t)-1, .result = 0}, /* failed: slot 0 */
      {.kind = FL_REC_FREE, .a = 0x3000},
      {.kind = FL_REC_MALLOC, .a = 8, .tid = 1, .result = 0x3000}, /* address reused, other thread */
      {.kind = FL_REC_REALLOC, .a = 0x2000, .b = 0, .tid = 1, .result = 0}, /* realloc(p, 0) frees */
  };
  uint8_t buf[1024];
  size_t len = build(buf, r, sizeof r / sizeof r[0]);
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_import_stats_t st;
  FL_CHECK_EQ(fl_import_recording(buf, len, "t.flrec", &ops, &st), FL_OK);
  char *text = as_text(&ops);
  FL_CHECK_STREQ(text, "#1 = malloc 100\n#2 = calloc 4 8\n#1 = realloc #1 300\n#0 = malloc SIZE_MAX\n"
                       "free #1\nthread 1\n#1 = malloc 8\n#2 = realloc #2 0\n");
  FL_CHECK_EQ(st.unknown, 1);
  FL_CHECK_EQ(st.calls, 8);
  FL_CHECK_EQ(st.threads, 2);
  FL_CHECK_EQ(st.max_live, 2);
  free(text);
  fl_ops_free(&ops);
}

FL_TEST(recording_bad_files) {
  uint8_t buf[256] = "not a recording at all";
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_import_stats_t st;
  FL_CHECK_EQ(fl_import_recording(buf, 4, "a", &ops, &st), FL_EUSAGE);
  FL_CHECK(strstr(fl_error_message(), "too short") != NULL);
  FL_CHECK_EQ(fl_import_recording(buf, 40, "b", &ops, &st), FL_EUSAGE);
  FL_CHECK(strstr(fl_error_message(), "not a faultline recording") != NULL);
  fl_rec_t r = {.kind = FL_REC_MALLOC, .a = 1, .result = 0x10};
  size_t len = build(buf, &r, 1);
  FL_CHECK_EQ(fl_import_recording(buf, len - 3, "c", &ops, &st), FL_EUSAGE);
  FL_CHECK(strstr(fl_error_message(), "truncated") != NULL);
  ((fl_rec_header_t *)buf)->version = 9;
  FL_CHECK_EQ(fl_import_recording(buf, len, "d", &ops, &st), FL_EUSAGE);
  FL_CHECK(strstr(fl_error_message(), "v9") != NULL);
  fl_ops_free(&ops);
}

FL_TEST(mtrace_log_becomes_script) {
  const char *log = "= Start\n"
                    "@ ./prog:[0x4005d6] + 0x1c3c450 0x64\n"
                    "@ [0x7f0000001234] + 0x1c3c4c0 0x10\n"
                    "@ ./prog:(main+0x1c)[0x4005e2] < 0x1c3c450\n"
                    "@ ./prog:(main+0x1c)[0x4005e2] > 0x1c3c600 0x200\n"
                    "- 0x1c3c4c0\n"
                    "! 0x1c3c600 0xffffffffffffffff\n"
                    "- 0xdead\n"
                    "+ (nil) 0x7fffffffffffffff\n"
                    "= End\n";
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_import_stats_t st;
  FL_CHECK_EQ(fl_import_mtrace(log, strlen(log), "log", &ops, &st), FL_OK);
  char *text = as_text(&ops);
  FL_CHECK_STREQ(text, "#1 = malloc 100\n#2 = malloc 16\n#1 = realloc #1 512\nfree #2\n"
                       "#1 = realloc #1 SIZE_MAX\n#0 = malloc PTRDIFF_MAX\n");
  FL_CHECK_EQ(st.unknown, 1);
  free(text);
  fl_ops_free(&ops);
}

FL_TEST(mtrace_bad_line_names_the_line) {
  const char *log = "= Start\n+ 0x10 0x20\nthis is not mtrace\n";
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_import_stats_t st;
  FL_CHECK_EQ(fl_import_mtrace(log, strlen(log), "x.log", &ops, &st), FL_EUSAGE);
  FL_CHECK(strstr(fl_error_message(), "x.log:3:") != NULL);
  fl_ops_free(&ops);
}

/* test_file.c — headers, format detection, loading and saving op files. */
#include <stdlib.h>
#include <unistd.h>

#include "harness/harness.h"
#include "ops/file.h"
#include "ops/gen.h"

static fl_status_t detect(const char *s, size_t len, fl_ops_detect_t *d) {
  return fl_ops_detect((const uint8_t *)s, len, "f", d);
}

FL_TEST(detect_three_forms) {
  fl_ops_detect_t d;
  FL_CHECK_EQ(detect("FLOP\x01\x00\x01", 7, &d), FL_OK);
  FL_CHECK_EQ(d.format, FL_FMT_BINARY);
  FL_CHECK_EQ(d.version, 1);
  FL_CHECK_EQ(d.body, 5);
  FL_CHECK_EQ(detect("faultline-ops v1\nfree #1\n", 25, &d), FL_OK);
  FL_CHECK_EQ(d.format, FL_FMT_TEXT);
  FL_CHECK_EQ(d.version, 1);
  FL_CHECK_EQ(detect("\x03\x07\x01", 3, &d), FL_OK);
  FL_CHECK_EQ(d.format, FL_FMT_RAW);
  FL_CHECK(!d.looks_like_text);
  /* a script without its header is raw, but flagged */
  FL_CHECK_EQ(detect("#1 = malloc 1\n", 14, &d), FL_OK);
  FL_CHECK_EQ(d.format, FL_FMT_RAW);
  FL_CHECK(d.looks_like_text);
  /* "faultline-opsX" is not the magic */
  FL_CHECK_EQ(detect("faultline-opsX", 14, &d), FL_OK);
  FL_CHECK_EQ(d.format, FL_FMT_RAW);
}

FL_TEST(truncated_header_is_raw) {
  fl_ops_detect_t d;
  for (size_t len = 0; len < 5; len++) {
    FL_CHECK_EQ(detect("FLOP", len, &d), FL_OK);
    FL_CHECK_EQ(d.format, FL_FMT_RAW);
    FL_CHECK_EQ(d.body, 0);
  }
  fl_ops_t ops;
  fl_ops_init(&ops);
  FL_CHECK_EQ(fl_ops_load_bytes((const uint8_t *)"FLOP", 4, "f", &ops, NULL), FL_OK);
  /* 'F' = 70 = 3 * 20 + 10: write #76 ('L'), offset token 'O', length 'P' */
  FL_CHECK_EQ(ops.n, 1);
  FL_CHECK_EQ(ops.v[0].kind, FL_OP_WRITE);
  FL_CHECK_EQ(ops.v[0].src, 'L');
  fl_ops_free(&ops);
}

FL_TEST(other_versions_are_refused_clearly) {
  fl_ops_detect_t d;
  FL_CHECK_EQ(detect("FLOP\x00", 5, &d), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(),
                 "f: format v0 is older than this faultline (v2): its ops would decode "
                 "differently; convert it with the faultline release that wrote it");
  FL_CHECK_EQ(detect("FLOP\x03whatever", 13, &d), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(),
                 "f: format v3 is newer than this faultline (v2): use a newer faultline");
  FL_CHECK_EQ(detect("faultline-ops v0\n", 17, &d), FL_EUSAGE);
  FL_CHECK(strstr(fl_error_message(), "format v0 is older than this faultline (v2)") != NULL);
  FL_CHECK_EQ(detect("faultline-ops v12\n", 18, &d), FL_EUSAGE);
  FL_CHECK(strstr(fl_error_message(), "format v12 is newer") != NULL);
}

/* v2 added the hostile kinds after check: a v1 file's opcodes still fold
 * onto v1's 17 kinds, so old corpus files keep their meaning. */
FL_TEST(v1_files_keep_their_meaning) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  /* opcode 17: malloc in v1 (17 % 17), free_at in v2 */
  static const uint8_t v1[] = {'F', 'L', 'O', 'P', 1, 17, 3, 0};
  FL_CHECK_EQ(fl_ops_load_bytes(v1, sizeof v1, "f", &ops, NULL), FL_OK);
  FL_CHECK_EQ(ops.n, 1);
  FL_CHECK_EQ(ops.v[0].kind, FL_OP_MALLOC);
  FL_CHECK_EQ(ops.v[0].dst, 3);
  fl_ops_clear(&ops);
  static const uint8_t v2[] = {'F', 'L', 'O', 'P', 2, 17, 3, 0};
  FL_CHECK_EQ(fl_ops_load_bytes(v2, sizeof v2, "f", &ops, NULL), FL_OK);
  FL_CHECK_EQ(ops.n, 1);
  FL_CHECK_EQ(ops.v[0].kind, FL_OP_FREE_AT);
  FL_CHECK_EQ(ops.v[0].src, 3);
  fl_ops_clear(&ops);
  /* a v1 script is a v2 script */
  static const char t1[] = "faultline-ops v1\n#1 = malloc 10\nfree #1\n";
  FL_CHECK_EQ(fl_ops_load_bytes((const uint8_t *)t1, sizeof t1 - 1, "f", &ops, NULL), FL_OK);
  FL_CHECK_EQ(ops.n, 2);
  fl_ops_free(&ops);
}

static char tmpdir[64];

static const char *tmp_path(const char *leaf, char *buf, size_t n) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fl-ops-test-XXXXXX");
    if (!mkdtemp(tmpdir)) return NULL;
  }
  snprintf(buf, n, "%s/%s", tmpdir, leaf);
  return buf;
}

FL_TEST(save_and_load_every_format) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  FL_CHECK_EQ(fl_ops_generate(5, 300, NULL, &ops), FL_OK);
  const fl_ops_format_t fmts[] = {FL_FMT_RAW, FL_FMT_BINARY, FL_FMT_TEXT};
  for (int i = 0; i < 3; i++) {
    char path[128];
    FL_CHECK(tmp_path(fl_ops_format_name(fmts[i]), path, sizeof path) != NULL);
    FL_CHECK_MSG(fl_ops_save_file(path, &ops, fmts[i]) == FL_OK, "%s", fl_error_message());
    fl_ops_t back;
    fl_ops_init(&back);
    fl_ops_format_t got;
    FL_CHECK_MSG(fl_ops_load_file(path, &back, &got) == FL_OK, "%s", fl_error_message());
    FL_CHECK_EQ(got, fmts[i]);
    FL_CHECK_MSG(fl_ops_equal(&ops, &back), "%s differs at op %zu", path,
                 fl_ops_first_diff(&ops, &back));
    fl_ops_free(&back);
    unlink(path);
  }
  fl_ops_free(&ops);
  rmdir(tmpdir);
}

FL_TEST(empty_file_is_empty_stream) {
  char path[128];
  FL_CHECK(tmp_path("empty", path, sizeof path) != NULL);
  FILE *f = fopen(path, "wb");
  FL_CHECK(f != NULL);
  fclose(f);
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_ops_format_t got;
  FL_CHECK_EQ(fl_ops_load_file(path, &ops, &got), FL_OK);
  FL_CHECK_EQ(ops.n, 0);
  FL_CHECK_EQ(got, FL_FMT_RAW);
  fl_ops_free(&ops);
  unlink(path);
  rmdir(tmpdir);
}

FL_TEST(unreadable_file_is_usage_error) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  FL_CHECK_EQ(fl_ops_load_file("/nonexistent/x.ops", &ops, NULL), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(), "/nonexistent/x.ops: No such file or directory");
  FL_CHECK_EQ(fl_ops_load_file("/", &ops, NULL), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(), "/: Is a directory");
  FL_CHECK_EQ(fl_ops_save_file("/nonexistent/x.ops", &ops, FL_FMT_TEXT), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(), "/nonexistent/x.ops: No such file or directory");
  fl_ops_free(&ops);
}

/* A text file with a parse error reports the file name and line. */
FL_TEST(load_text_error_names_file) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  const char *s = "faultline-ops v1\n#1 = malloc 1\nfree 1\n";
  FL_CHECK_EQ(fl_ops_load_bytes((const uint8_t *)s, strlen(s), "x.ops", &ops, NULL), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(), "x.ops:3:6: expected a slot like #3, got '1'");
  fl_ops_free(&ops);
}

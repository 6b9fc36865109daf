/* The faultline command as a user meets it: exit statuses, one clear line
 * for bad input, --help, and the verify campaign's report. */
#include "harness/harness.h"

static int run(const char *args, char *out, size_t cap) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "faultline %s", args);
  return fl_test_run_tool(cmd, out, cap);
}

static char out[1 << 16];

FL_TEST(cli_usage_errors_exit_2) {
  FL_CHECK_EQ(run("", out, sizeof out), 2);
  FL_CHECK_EQ(run("frobnicate", out, sizeof out), 2);
  FL_CHECK(strstr(out, "unknown command 'frobnicate'") != NULL);
  FL_CHECK_EQ(run("verify --bogus", out, sizeof out), 2);
  FL_CHECK(strstr(out, "unknown option '--bogus'") != NULL);
  FL_CHECK_EQ(run("verify --ops 12x", out, sizeof out), 2);
  FL_CHECK(strstr(out, "'12x' is not a number") != NULL);
  FL_CHECK_EQ(run("verify --seconds", out, sizeof out), 2);
  FL_CHECK_EQ(run("verify --ops 0", out, sizeof out), 2);
  FL_CHECK_EQ(run("profile --nope", out, sizeof out), 2);
  FL_CHECK_EQ(run("verify --ops 10 --base 0x200000", out, sizeof out), 2);
  FL_CHECK(strstr(out, "outside the user address space") != NULL);
  FL_CHECK_EQ(run("verify --ops 10 --base 0x300000001000", out, sizeof out), 2);
  FL_CHECK(strstr(out, "multiples of 2 MiB") != NULL);
}

FL_TEST(cli_help_teaches) {
  FL_CHECK_EQ(run("--help", out, sizeof out), 0);
  FL_CHECK(strstr(out, "verify") && strstr(out, "profile") && strstr(out, "Exit status"));
  FL_CHECK_EQ(run("verify --help", out, sizeof out), 0);
  FL_CHECK(strstr(out, "examples:") != NULL);
  FL_CHECK_EQ(run("profile --help", out, sizeof out), 0);
}

FL_TEST(cli_verify_json_reports_no_mismatch) {
  FL_CHECK_EQ(run("verify --ops 1500 --seed 5 --json", out, sizeof out), 0);
  FL_CHECK(strstr(out, "\"ops\": 1500") != NULL);
  FL_CHECK(strstr(out, "\"mismatches\": 0") != NULL);
  FL_CHECK(strstr(out, "\"kernel_comparisons\": 1500") != NULL);
}

FL_TEST(cli_verify_other_base) {
  FL_CHECK_EQ(run("verify --ops 200 --base 0x400000000000 --json", out, sizeof out), 0);
  FL_CHECK(strstr(out, "\"mismatches\": 0") != NULL);
}

FL_TEST(cli_verify_text_report) {
  FL_CHECK_EQ(run("verify --ops 300 --seed 9", out, sizeof out), 0);
  FL_CHECK(strstr(out, "verdict             no mismatch") != NULL);
}

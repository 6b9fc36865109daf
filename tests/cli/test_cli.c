/* The faultline command as a user meets it: exit statuses, one clear line
 * for bad input, --help, and the verify campaign's report. */
#include <stdlib.h>
#include <unistd.h>

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
  FL_CHECK(strstr(out, "\"findings\": 0") != NULL);
  FL_CHECK(strstr(out, "\"kernel_comparisons\": ") != NULL); /* a short --ops visits every mode */
}

FL_TEST(cli_verify_other_base) {
  FL_CHECK_EQ(run("verify --ops 200 --base 0x400000000000 --json", out, sizeof out), 0);
  FL_CHECK(strstr(out, "\"findings\": 0") != NULL);
}

FL_TEST(cli_verify_text_report) {
  FL_CHECK_EQ(run("verify --ops 300 --seed 9", out, sizeof out), 0);
  FL_CHECK(strstr(out, "verdict    nothing found") != NULL);
}

/* Writes text to a fresh temporary file; returns its path (static). */
static const char *script(const char *text) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/faultline-cli-XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

FL_TEST(cli_run_seed_experiment_in_shadow_mode) {
  const char *p = script("faultline-ops v1\n#0 = malloc 100\n#1 = malloc 104857600\n"
                         "write #1 0 104857600 0x00\nfree #1\nfree #0\n");
  FL_CHECK(p != NULL);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "run %s --shadow --json", p);
  FL_CHECK_EQ(run(cmd, out, sizeof out), 0);
  unlink(p);
  FL_CHECK(strstr(out, "\"mmap\": 1") && strstr(out, "\"munmap\": 1"));
  FL_CHECK(strstr(out, "\"kernel_mismatches\": 0") != NULL);
}

FL_TEST(cli_run_bad_inputs_exit_2) {
  FL_CHECK_EQ(run("run /nonexistent/file", out, sizeof out), 2);
  FL_CHECK(strstr(out, "/nonexistent/file") != NULL);
  FL_CHECK_EQ(run("run", out, sizeof out), 2);
  FL_CHECK_EQ(run("run a b", out, sizeof out), 2);
  FL_CHECK_EQ(run("run --frob x", out, sizeof out), 2);
  const char *p = script("faultline-ops v1\n#0 = mallok 100\n");
  char cmd[256];
  snprintf(cmd, sizeof cmd, "run %s", p);
  FL_CHECK_EQ(run(cmd, out, sizeof out), 2);
  unlink(p);
  FL_CHECK(strstr(out, ":2:") != NULL); /* file:line:column */
}

FL_TEST(cli_record_then_run_in_shadow_mode) {
  char dir[] = "/tmp/faultline-rec-XXXXXX";
  FL_CHECK(mkdtemp(dir) != NULL);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "record -o %s/py.ops -- /usr/bin/python3 -c 'import json; print(json.dumps([1, 2]))'", dir);
  FL_CHECK_EQ(run(cmd, out, sizeof out), 0);
  FL_CHECK(strstr(out, "[1, 2]") != NULL);               /* the program ran as usual */
  FL_CHECK(strstr(out, "exited with status 0") != NULL);
  snprintf(cmd, sizeof cmd, "run %s/py.ops --shadow --json", dir);
  FL_CHECK_EQ(run(cmd, out, sizeof out), 0);
  FL_CHECK(strstr(out, "\"kernel_mismatches\": 0") != NULL);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  FL_CHECK_EQ(system(cmd), 0);
}

FL_TEST(cli_record_and_import_bad_inputs) {
  FL_CHECK_EQ(run("record", out, sizeof out), 2);
  FL_CHECK_EQ(run("record --", out, sizeof out), 2);
  FL_CHECK_EQ(run("record --bogus -- true", out, sizeof out), 2);
  FL_CHECK_EQ(run("record -o /tmp/x.ops -- /nonexistent/program", out, sizeof out), 2);
  FL_CHECK(strstr(out, "cannot run /nonexistent/program") != NULL);
  FL_CHECK_EQ(run("record -o", out, sizeof out), 2);
  FL_CHECK(strstr(out, "-o needs a file name") != NULL);
  FL_CHECK_EQ(run("import", out, sizeof out), 2);
  FL_CHECK_EQ(run("import mtrace /nonexistent.log", out, sizeof out), 2);
  FL_CHECK(strstr(out, "/nonexistent.log") != NULL);
  FL_CHECK_EQ(run("import mtrace", out, sizeof out), 2);
}

FL_TEST(cli_run_with_invariant_checks) {
  const char *p = script("faultline-ops v1\n#1 = malloc 24\n#2 = malloc 2000\n#3 = calloc 4 100\nfree #1\n"
                         "#1 = realloc #2 5000\n#4 = memalign 4096 300\nfree #3\nfree #4\nfree #1\n");
  FL_CHECK(p != NULL);
  char cmd[256];
  for (int level = 1; level <= 3; level++) {
    snprintf(cmd, sizeof cmd, "run %s --check %d --shadow --json", p, level);
    FL_CHECK_EQ(run(cmd, out, sizeof out), 0);
    FL_CHECK(strstr(out, "\"violations\": 0") != NULL);
    FL_CHECK(strstr(out, "\"kernel_mismatches\": 0") != NULL);
  }
  snprintf(cmd, sizeof cmd, "run %s --check 4", p);
  FL_CHECK_EQ(run(cmd, out, sizeof out), 2);
  unlink(p);
}

/* A violation is placed at the script's op, as the campaign places it (the
 * checker itself counts allocator calls): a poke makes no call, and level 3
 * walks after it all the same. */
FL_TEST(cli_run_names_the_op_of_a_violation) {
  const char *p = script("faultline-ops v2\n#0 = malloc 24\n#1 = malloc 24\nfree #0\n"
             "poke #0 -8 0x41 8\n#2 = malloc 24\n");
  FL_CHECK(p != NULL);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "run %s --check 3", p);
  run(cmd, out, sizeof out);
  FL_CHECK_MSG(strstr(out, " at op 3 (after call ") != NULL, "%s", out);
  unlink(p);
}

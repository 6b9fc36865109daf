/* test_every_command.c — the rules every faultline command keeps, checked
 * on whatever commands `faultline --help` lists today (a new command is
 * covered the day it is registered):
 *   - `--help` exits 0, starts with its usage line and shows examples;
 *   - an unknown flag exits 2 with one line "faultline CMD: ..." on stderr;
 *   - a missing or truncated op file exits 2 with one line naming it. */
#include <ctype.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness/harness.h"

static char out[1 << 16];

static int run(const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "faultline %s", args);
  return fl_test_run_tool(cmd, out, sizeof out);
}

/* The names in the "commands:" block of `faultline --help`. */
static size_t list_commands(char names[][32], size_t cap) {
  if (run("--help") != 0) return 0;
  const char *p = strstr(out, "commands:\n");
  size_t n = 0;
  if (!p) return 0;
  for (p = strchr(p, '\n') + 1; *p == ' ' && n < cap; p = strchr(p, '\n') + 1) {
    while (*p == ' ') p++;
    size_t k = 0;
    while (p[k] && !isspace((unsigned char)p[k]) && k < 31) k++;
    memcpy(names[n], p, k);
    names[n++][k] = '\0';
    if (!strchr(p, '\n')) break;
  }
  return n;
}

static size_t lines(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

FL_TEST(every_command_has_help_with_examples) {
  char names[64][32];
  size_t n = list_commands(names, 64);
  FL_CHECK_GE(n, 8);
  for (size_t i = 0; i < n; i++) {
    char args[64], usage[64];
    snprintf(args, sizeof args, "%s --help", names[i]);
    FL_CHECK_MSG(run(args) == 0, "faultline %s exits non-zero", args);
    snprintf(usage, sizeof usage, "usage: faultline %s", names[i]);
    FL_CHECK_MSG(strstr(out, usage) == out, "faultline %s does not start with '%s'", args, usage);
    FL_CHECK_MSG(strstr(out, "xample") != NULL, "faultline %s shows no example", args);
  }
}

FL_TEST(every_command_refuses_an_unknown_flag_in_one_line) {
  char names[64][32];
  size_t n = list_commands(names, 64);
  FL_CHECK_GE(n, 8);
  for (size_t i = 0; i < n; i++) {
    char args[64], prefix[64];
    snprintf(args, sizeof args, "%s --no-such-flag", names[i]);
    FL_CHECK_MSG(run(args) == 2, "faultline %s does not exit 2", args);
    snprintf(prefix, sizeof prefix, "faultline %s: ", names[i]);
    FL_CHECK_MSG(strstr(out, prefix) == out && lines(out) == 1,
                 "faultline %s: expected one line starting '%s', got:\n%s", args, prefix, out);
  }
}

/* Commands that read an op file, with the arguments that make them read it. */
static const struct {
  const char *name, *args;
} file_readers[] = {
    {"run", "run %s"},           {"diff", "diff %s"},         {"convert", "convert %s -o /dev/null"},
    {"replay", "replay %s"},     {"minimize", "minimize %s -o /dev/null"},
    {"repro", "repro %s --c -o /dev/null"},                   {"map", "map %s --html /dev/null"},
    {"pmap", "pmap %s"},         {"bins", "bins %s"},
};

static bool listed(const char *name) {
  char names[64][32];
  size_t n = list_commands(names, 64);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return true;
  return false;
}

static void expect_one_line_error(const char *fmt, const char *path, const char *name,
                                  const char *mentions) {
  char args[512];
  snprintf(args, sizeof args, fmt, path);
  FL_CHECK_MSG(run(args) == 2, "faultline %s does not exit 2:\n%s", args, out);
  FL_CHECK_MSG(lines(out) == 1 && strstr(out, mentions) != NULL,
               "faultline %s (%s): expected one line naming '%s', got:\n%s", args, name, mentions,
               out);
}

FL_TEST(every_file_reader_reports_missing_and_truncated_files) {
  char truncated[] = "/tmp/fl-every-XXXXXX";
  int fd = mkstemp(truncated);
  FL_CHECK(fd >= 0);
  static const char cut[] = "faultline-ops v2\n#1 = malloc 100\n#2 = mal";
  FL_CHECK_EQ(write(fd, cut, sizeof cut - 1), (ssize_t)(sizeof cut - 1));
  close(fd);
  size_t tested = 0;
  for (size_t i = 0; i < sizeof file_readers / sizeof file_readers[0]; i++) {
    if (!listed(file_readers[i].name)) continue;
    tested++;
    expect_one_line_error(file_readers[i].args, "/nonexistent/x.ops", file_readers[i].name,
                          "/nonexistent/x.ops: No such file or directory");
    char where[64];
    snprintf(where, sizeof where, "%s:3:", truncated); /* file:line:column */
    expect_one_line_error(file_readers[i].args, truncated, file_readers[i].name, where);
  }
  unlink(truncated);
  FL_CHECK_GE(tested, 3);
}

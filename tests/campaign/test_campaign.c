/* test_campaign.c — the planted bug: `faultline verify` on a refmalloc
 * mutant (tests/campaign/campaign.cmake) finds it in seconds, names the
 * invariant, and what it saved replays to the same op, minimizes to a short
 * script and becomes a C program that compiles and runs. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/harness.h"

/* Mutant 1 files a fast chunk one fastbin too high: eight blocks of one
 * fast size, freed (the executor frees what is live at the end), fill the
 * tcache's seven entries and put the eighth in the wrong fastbin. */
#define MAX_MINIMIZED_OPS 8

static char out[1 << 17];

/* The string value of "key" after from in JSON text; false if absent. */
static bool json_str(const char *from, const char *key, char *buf, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": \"", key);
  const char *p = from ? strstr(from, pat) : NULL;
  if (!p) return false;
  p += strlen(pat);
  size_t n = 0;
  while (p[n] && p[n] != '"' && n + 1 < cap) n++;
  memcpy(buf, p, n);
  buf[n] = 0;
  return true;
}

/* The number value of "key" after from; -1 if absent. */
static double json_num(const char *from, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = from ? strstr(from, pat) : NULL;
  return p ? strtod(p + strlen(pat), NULL) : -1;
}

static int run(const char *fmt, const char *a, const char *b) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, a, b);
  return fl_test_run_tool(cmd, out, sizeof out);
}

static int shell(const char *fmt, const char *dir) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, dir, dir, dir);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

FL_TEST(planted_bug) {
  char dir[] = "/tmp/fl-campaign-XXXXXX";
  FL_CHECK(mkdtemp(dir));
  /* verify: finds the mutant's bug, names it, in seconds */
  FL_CHECK_EQ(run("faultline-mutant verify --seconds 20 --seed 1 --findings %s --json%s", dir, ""), 1);
  const char *ff = strstr(out, "\"first_finding\": {");
  FL_CHECK_MSG(ff, "verify reported no finding:\n%s", out);
  char id[64], full[512], small[600];
  FL_CHECK(json_str(ff, "id", id, sizeof id));
  FL_CHECK_STREQ(id, FL_PLANTED_ID);
  double seconds = json_num(ff, "seconds");
  long op = (long)json_num(ff, "op");
  printf("mutant %d: %s at op %ld after %.2f s\n", FL_PLANTED_MUTANT, id, op, seconds);
  FL_CHECK(seconds >= 0 && seconds < 20);
  FL_CHECK(json_str(ff, "stream_file", full, sizeof full));

  /* replay: the same ID at the same op */
  FL_CHECK_EQ(run("faultline-mutant replay %s --json%s", full, ""), 1);
  FL_CHECK(json_str(out, "id", id, sizeof id));
  FL_CHECK_STREQ(id, FL_PLANTED_ID);
  FL_CHECK_EQ((long)json_num(out, "op"), op);
  FL_CHECK(strstr(out, "\"expectation_held\": true"));

  /* minimize: a short script that still finds it, and says so */
  snprintf(small, sizeof small, "%s/small.ops", dir);
  FL_CHECK_EQ(run("faultline-mutant minimize %s -o %s --json", full, small), 0);
  long after = (long)json_num(out, "ops_after");
  printf("minimized %ld ops to %ld\n", (long)json_num(out, "ops_before"), after);
  FL_CHECK_GT(after, 0);
  FL_CHECK_LE(after, MAX_MINIMIZED_OPS);
  FL_CHECK_EQ(run("faultline-mutant replay %s --json%s", small, ""), 1);
  FL_CHECK(strstr(out, "\"expectation_held\": true"));
  /* the bug is the mutant's: refmalloc itself runs the script clean */
  FL_CHECK_EQ(run("faultline replay %s --json%s", small, ""), 1);
  FL_CHECK_MSG(strstr(out, "\"finding\": null") && strstr(out, "\"expectation_held\": false"), "%s", out);

  /* repro --c: a C program that compiles and runs on the system allocator */
  char c_file[640];
  snprintf(c_file, sizeof c_file, "%s/repro.c", dir);
  FL_CHECK_EQ(run("faultline-mutant repro %s --c -o %s", small, c_file), 0);
  FL_CHECK_EQ(shell("cc -std=c11 -Wall -Werror -o %s/repro %s/repro.c && %s/repro", dir), 0);
  shell("rm -rf %s", dir);
}

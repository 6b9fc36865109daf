/* test_engine_step.c — `faultline minimize`'s engine step, against a stand-in
 * for libFuzzer that answers -minimize_crash with an input the test chose:
 * faultline takes what the engine keeps only when it still finds the same
 * thing, says why otherwise, and honours --engine. (A real libFuzzer run on
 * a mutant build is in the README, "The campaign".) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/harness.h"

static char out[1 << 16];
static char dir[] = "/tmp/fl-engine-XXXXXX";

static void put(const char *name, const char *text, bool exe) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
  if (exe) chmod(p, 0755);
}

static int tool(const char *fmt, const char *a) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, fmt, a, a, a, a);
  return fl_test_run_tool(cmd, out, sizeof out);
}

/* A double free at op 6, then ten ops that play no part in it. */
static const char full[] = "faultline-ops v2\n#0 = malloc 24\n#1 = malloc 40\nwrite #1 0 40 0x11\n#2 = malloc 24\n"
                           "free #0\nfree #2\nfree_at #0 0\n#3 = malloc 100\n#4 = malloc 200\n#5 = malloc 300\n"
                           "#6 = malloc 400\n#7 = malloc 500\n#8 = malloc 600\n#9 = malloc 700\n#10 = malloc 800\n"
                           "free #3\nfree #4\n";
static const char cut[] = "faultline-ops v2\n#0 = malloc 24\n#1 = malloc 40\n#2 = malloc 24\n"
                          "free #0\nfree #2\nfree_at #0 0\n";
static const char clean[] = "faultline-ops v2\n#0 = malloc 24\nfree #0\n";
/* libFuzzer's contract as minimize uses it: the result at -exact_artifact_path. */
static const char engine[] = "#!/bin/sh\n"
                             "for a; do case \"$a\" in -exact_artifact_path=*) out=\"${a#*=}\";; esac; done\n"
                             "[ -n \"$FL_FAKE_ENGINE_OUT\" ] && cp \"$FL_FAKE_ENGINE_OUT\" \"$out\"\n"
                             "exit 0\n";

static bool setup(void) {
  if (!mkdtemp(dir)) return false;
  put("full.ops", full, false);
  put("cut.ops", cut, false);
  put("clean.ops", clean, false);
  put("engine", engine, true);
  return tool("faultline convert %s/cut.ops -o %s/cut.raw --to raw", dir) == 0 &&
         tool("faultline convert %s/clean.ops -o %s/clean.raw --to raw", dir) == 0;
}

static void cleanup(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) {}
}

static int minimize_with(const char *engine_out) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, engine_out ? engine_out : "");
  if (engine_out) setenv("FL_FAKE_ENGINE_OUT", p, 1);
  else unsetenv("FL_FAKE_ENGINE_OUT");
  return tool("faultline minimize %s/full.ops --engine-binary %s/engine -o %s/min.ops --seconds 20 --json", dir);
}

FL_TEST(minimize_takes_the_engines_input_when_it_finds_the_same) {
  FL_CHECK(setup());
  FL_CHECK_EQ(minimize_with("cut.raw"), 0);
  FL_CHECK_MSG(strstr(out, "\"taken\": true") && strstr(out, "\"ran\": true"), "%s", out);
  const char *e = strstr(out, "\"engine\": {");
  FL_CHECK(e && strstr(e, "\"ops_before\": 17") && strstr(e, "\"ops_after\": 6"));
  FL_CHECK_MSG(strstr(out, "\"ops_after\": 3"), "%s", out); /* ddmin: malloc, free, free again */
  FL_CHECK_EQ(tool("faultline replay %s/min.ops --json", dir), 1);
  FL_CHECK(strstr(out, "\"expectation_held\": true"));
  cleanup();
}

FL_TEST(minimize_refuses_an_engine_input_that_finds_something_else) {
  FL_CHECK(setup());
  FL_CHECK_EQ(minimize_with("clean.raw"), 0);
  FL_CHECK_MSG(strstr(out, "\"taken\": false") && strstr(out, "does not find INTEGRITY"), "%s", out);
  FL_CHECK(strstr(out, "\"ops_after\": 3"));
  FL_CHECK_EQ(minimize_with(NULL), 0); /* the engine keeps nothing */
  FL_CHECK_MSG(strstr(out, "\"taken\": false") && strstr(out, "kept nothing"), "%s", out);
  cleanup();
}

FL_TEST(minimize_engine_flags) {
  FL_CHECK(setup());
  FL_CHECK_EQ(tool("faultline minimize %s/full.ops --engine none -o %s/min.ops --json", dir), 0);
  FL_CHECK_MSG(strstr(out, "\"ran\": false") && strstr(out, "--engine none"), "%s", out);
  FL_CHECK_EQ(tool("faultline minimize %s/full.ops --engine libfuzzer --engine-binary %s/nowhere -o %s/min.ops", dir), 3);
  FL_CHECK_EQ(tool("faultline minimize %s/full.ops --engine sometimes", dir), 2);
  FL_CHECK_EQ(tool("faultline minimize %s/full.ops --engine none --engine-binary %s/engine", dir), 2);
  FL_CHECK_EQ(tool("faultline minimize %s/full.ops --engine-binary", dir), 2);
  cleanup();
}

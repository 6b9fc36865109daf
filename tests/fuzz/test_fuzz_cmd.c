/* test_fuzz_cmd.c — `faultline fuzz` without a real engine: every bad input
 * is one line and exit 2; a missing engine binary under --no-build is exit
 * 3; and in a throwaway source tree (FAULTLINE_SOURCE_DIR) a stand-in
 * engine, a shell script speaking libFuzzer's command line, shows that the
 * command passes seeds, dictionary, options and the findings directory,
 * never writes the seeds, reads the engine's numbers, and stops on a
 * finding with its replay command. The real engines run in the fuzzsmoke
 * tests (fuzz/fuzz.cmake). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/harness.h"

static char out[16384];

static void write_file(const char *dir, const char *name, const char *text, mode_t mode) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  FL_CHECK(f != NULL);
  fputs(text, f);
  fclose(f);
  chmod(p, mode);
}

/* A source tree with target `t`: fuzz/t.c, one seed, a dictionary, an
 * .options file, and (engine != NULL) build/fuzz/fuzz_t = engine. */
static void make_tree(char *dir, const char *engine) {
  strcpy(dir, "/tmp/fl-fuzz-cmd-XXXXXX");
  FL_CHECK(mkdtemp(dir) != NULL);
  char sub[512];
  const char *dirs[] = {"fuzz", "corpus", "corpus/t", "build", "build/fuzz"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(sub, sizeof sub, "%s/%s", dir, dirs[i]);
    FL_CHECK(mkdir(sub, 0755) == 0);
  }
  write_file(dir, "fuzz/fuzz.cmake", "", 0644);
  write_file(dir, "fuzz/t.c", "", 0644);
  write_file(dir, "corpus/t/seed", "\x01\x02", 0644);
  write_file(dir, "corpus/t.dict", "op1=\"\\x00\"\n", 0644);
  write_file(dir, "corpus/t.options", "[libfuzzer]\nmax_len = 77\n[asan]\nignored = 1\n", 0644);
  if (engine) write_file(dir, "build/fuzz/fuzz_t", engine, 0755);
  setenv("FAULTLINE_SOURCE_DIR", dir, 1);
}

static void remove_tree(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  FL_CHECK_EQ(system(cmd), 0);
  unsetenv("FAULTLINE_SOURCE_DIR");
}

/* Records its arguments, then behaves as libFuzzer does after a run. */
#define ENGINE_PREFIX                                                        \
  "#!/bin/sh\n"                                                              \
  "echo \"$@\" > \"$(dirname \"$0\")/args\"\n"                               \
  "for a; do case $a in -artifact_prefix=*) art=${a#-artifact_prefix=};; esac; done\n"

FL_TEST(bad_inputs_are_one_line_and_exit_2) {
  const char *cases[] = {"", "nope", "t --engine x", "t --seconds 0", "t --seconds x", "t --jobs 0",
                         "t --jobs 65", "t --out", "t --bogus", "t u", "../t", "replay_main"};
  char dir[64];
  make_tree(dir, NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "faultline fuzz %s", cases[i]);
    FL_CHECK_MSG(fl_test_run_tool(cmd, out, sizeof out) == 2, "%s: %s", cmd, out);
    FL_CHECK_MSG(!strncmp(out, "faultline fuzz: ", 16) && strchr(out, '\n') == out + strlen(out) - 1, "%s: %s",
                 cmd, out);
  }
  remove_tree(dir);
}

FL_TEST(missing_engine_without_build_is_exit_3) {
  char dir[64];
  make_tree(dir, NULL);
  FL_CHECK_EQ(fl_test_run_tool("faultline fuzz t --no-build", out, sizeof out), 3);
  FL_CHECK_MSG(strstr(out, "build/fuzz/fuzz_t is not built") && strstr(out, "cmake --preset fuzz"), "%s", out);
  remove_tree(dir);
}

FL_TEST(a_clean_run_reports_the_engines_numbers) {
  char dir[64];
  make_tree(dir, ENGINE_PREFIX "echo 'stat::number_of_executed_units: 1234'\n"
                               "echo 'stat::average_exec_per_sec:     617'\n"
                               "touch \"$1\"/new-input\n");
  FL_CHECK_EQ(fl_test_run_tool("faultline fuzz t --seconds 5 --no-build --json", out, sizeof out), 0);
  FL_CHECK_MSG(strstr(out, "\"execs\": 1234") && strstr(out, "\"exec_per_sec\": 617") &&
                   strstr(out, "\"corpus\": 1") && strstr(out, "\"finding\": null"),
               "%s", out);
  char p[512], args[2048] = "";
  snprintf(p, sizeof p, "%s/build/fuzz/args", dir);
  FILE *f = fopen(p, "r");
  FL_CHECK(f && fgets(args, sizeof args, f));
  fclose(f);
  /* The working corpus first (the one libFuzzer writes), the seeds second. */
  FL_CHECK_MSG(strstr(args, "/build/fuzz-runs/t-libfuzzer/corpus ") && strstr(args, "/corpus/t -artifact_prefix=") &&
                   strstr(args, "/build/fuzz-runs/t-libfuzzer/findings/") && strstr(args, "-max_total_time=5") &&
                   strstr(args, "-dict=") && strstr(args, "-max_len=77") && !strstr(args, "ignored"),
               "%s", args);
  snprintf(p, sizeof p, "%s/corpus/t/new-input", dir);
  FL_CHECK_MSG(access(p, F_OK) != 0, "the seeds were written");
  remove_tree(dir);
}

FL_TEST(a_finding_stops_the_run_with_its_replay_command) {
  char dir[64];
  make_tree(dir, ENGINE_PREFIX "echo 'fuzz/t: planted finding at op 3' >&2\n"
                               "echo x > \"${art}crash-abc\"\n"
                               "exec sleep 600\n"); /* the command must stop it */
  FL_CHECK_EQ(fl_test_run_tool("faultline fuzz t --seconds 300 --no-build", out, sizeof out), 1);
  FL_CHECK_MSG(strstr(out, "FINDING     crash: ") && strstr(out, "| fuzz/t: planted finding at op 3") &&
                   strstr(out, "replay      faultline replay ") && strstr(out, "/findings/crash-abc"),
               "%s", out);
  remove_tree(dir);
}

FL_TEST(an_earlier_runs_finding_is_not_reported_again) {
  char dir[64];
  make_tree(dir, ENGINE_PREFIX "[ -e \"${art}crash-old\" ] || echo x > \"${art}crash-old\"\n"
                               "echo 'stat::number_of_executed_units: 5'\n");
  FL_CHECK_EQ(fl_test_run_tool("faultline fuzz t --seconds 5 --no-build", out, sizeof out), 1);
  FL_CHECK_EQ(fl_test_run_tool("faultline fuzz t --seconds 5 --no-build --json", out, sizeof out), 0);
  FL_CHECK_MSG(strstr(out, "\"finding\": null"), "%s", out);
  remove_tree(dir);
}

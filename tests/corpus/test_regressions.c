/* test_regressions.c — corpus/regressions: every input that ever found a bug
 * runs clean, in the mode it was found in (corpus/regressions/README.md),
 * and carries the kernel profile it was found on. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness/harness.h"
#include "ops/campaign.h"
#include "ops/text.h"

typedef struct tally {
  int inputs, failures;
} tally_t;

static void fail(tally_t *t, const char *name, const char *why) {
  t->failures++;
  printf("regression %s: %s\n", name, why);
}

static void replay_one(const char *dir, const char *name, tally_t *t) {
  char path[1200], profile[1300];
  snprintf(path, sizeof path, "%.900s/%.255s", dir, name);
  snprintf(profile, sizeof profile, "%.*s.profile.json", (int)(strlen(path) - 4), path);
  t->inputs++;
  if (access(profile, R_OK) != 0) {
    fail(t, name, "no .profile.json beside it");
    return;
  }
  FILE *f = fopen(path, "rb");
  static char text[1 << 20];
  size_t len = f ? fread(text, 1, sizeof text, f) : 0;
  if (f) fclose(f);
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_expect_t e;
  if (fl_ops_parse_text(text, len, name, &ops) != FL_OK || fl_expect_parse(text, len, name, &e) != 1 || !e.clean) {
    fl_ops_free(&ops);
    fail(t, name, "not a text script expecting `clean`");
    return;
  }
  fl_campaign_opts_t o;
  fl_campaign_opts_default(&o, e.mode);
  if (e.check_level) o.check_level = e.check_level;
  o.hostile = true;
  fl_finding_t fd;
  if (fl_campaign_run(&ops, &o, &fd, NULL) != FL_OK) fail(t, name, fl_error_message());
  else if (fd.found) fail(t, name, fd.id);
  fl_ops_free(&ops);
  /* Some findings were the harness running out of memory: the peak stays
   * under 1 GiB (monotonic, so it names the first entry to pass it). */
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > (1L << 20)) fail(t, name, "peak RSS above 1 GiB");
}

static void replay_dir(const char *dir, tally_t *t) {
  DIR *d = opendir(dir);
  if (!d) {
    fail(t, dir, "cannot open");
    return;
  }
  for (struct dirent *de; (de = readdir(d));) {
    size_t n = strlen(de->d_name);
    if (n > 4 && !strcmp(de->d_name + n - 4, ".ops")) replay_one(dir, de->d_name, t);
  }
  closedir(d);
}

FL_TEST(every_regression_runs_clean) {
  const char *src = getenv("FAULTLINE_SOURCE_DIR");
  if (!src) FL_SKIP("FAULTLINE_SOURCE_DIR not set (run through ctest)");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/corpus/regressions", src);
  tally_t t = {0};
  replay_dir(dir, &t);
  printf("%d regression(s), %d failed\n", t.inputs, t.failures);
  FL_CHECK_EQ(t.failures, 0);
}

/* The mechanism itself, on a directory made here: a clean script with its
 * profile passes; one that finds something, or lacks its profile, fails. */
static void put(const char *dir, const char *name, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

FL_TEST(the_mechanism_tells_clean_from_found) {
  char dir[] = "/tmp/fl-regressions-XXXXXX", cmd[128];
  FL_CHECK(mkdtemp(dir));
  put(dir, "clean.ops", "faultline-ops v2\n; expect: clean in glass-box check 3\n#0 = malloc 24\nfree #0\n");
  put(dir, "clean.profile.json", "{}\n");
  tally_t t = {0};
  replay_dir(dir, &t);
  FL_CHECK_EQ(t.inputs, 1);
  FL_CHECK_EQ(t.failures, 0);
  put(dir, "double-free.ops",
      "faultline-ops v2\n; expect: clean in glass-box check 3\n#0 = malloc 24\nfree #0\nfree_at #0 0\n");
  put(dir, "double-free.profile.json", "{}\n");
  put(dir, "no-profile.ops", "faultline-ops v2\n; expect: clean in glass-box\n#0 = malloc 24\n");
  t = (tally_t){0};
  replay_dir(dir, &t);
  FL_CHECK_EQ(t.inputs, 3);
  FL_CHECK_EQ(t.failures, 2);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  FL_CHECK_EQ(system(cmd), 0);
}

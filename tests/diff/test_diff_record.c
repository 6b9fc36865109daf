/* test_diff_record.c — recordings of real programs replay through
 * `faultline diff` with every op identical (issue 3: python3, sqlite3 and
 * git doing real work, single-threaded). Each test records a small run
 * with `faultline record`, then diffs the script of the program's own
 * process. A program that is not installed skips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/harness.h"

static char out[1 << 16];

/* A fresh directory for one test's recordings (and git's repository). */
static bool workdir(const char *name, char *dir, size_t cap) {
  const char *b = getenv("FAULTLINE_BUILD_DIR");
  snprintf(dir, cap, "%s/test_diff_record_%s_XXXXXX", b ? b : "/tmp", name);
  return mkdtemp(dir) != NULL;
}

/* Records `cmd` into dir/script, then diffs it: identical == ops. */
static void record_and_diff(const char *dir, const char *script, const char *cmd) {
  char line[4096];
  snprintf(line, sizeof line, "faultline record -o %s/%s -- %s", dir, script, cmd);
  FL_CHECK_MSG(fl_test_run_tool(line, out, sizeof out) == 0, "%s", out);
  snprintf(line, sizeof line, "faultline diff %s/%s --json", dir, script);
  int rc = fl_test_run_tool(line, out, sizeof out);
  FL_CHECK_MSG(rc == 0, "%s: exit %d\n%s", script, rc, out);
  unsigned long long ops = 0, identical = 1;
  const char *o = strstr(out, "\"ops\": "), *i = strstr(out, "\"identical\": ");
  FL_CHECK(o && i);
  if (!o || !i) return;
  sscanf(o, "\"ops\": %llu", &ops);
  sscanf(i, "\"identical\": %llu", &identical);
  fprintf(stderr, "  %s: %llu ops, %llu identical\n", script, ops, identical);
  FL_CHECK_GT(ops, 100); /* real work, not an empty recording */
  FL_CHECK_EQ(identical, ops);
  FL_CHECK(strstr(out, "\"first_divergence\": null") != NULL);
}

FL_TEST(diff_recorded_python3) {
  if (access("/usr/bin/python3", X_OK)) FL_SKIP("no /usr/bin/python3");
  char dir[4096];
  FL_CHECK(workdir("py", dir, sizeof dir));
  record_and_diff(dir, "py.ops",
                  "/usr/bin/python3 -c 'import json, re, sqlite3; "
                  "d = [re.sub(\"1\", \"x\", str(i)) * (i % 7) for i in range(3000)]; "
                  "s = json.dumps({\"d\": d}); assert json.loads(s)[\"d\"] == d; "
                  "c = sqlite3.connect(\":memory:\"); c.execute(\"create table t(a)\"); "
                  "c.executemany(\"insert into t values (?)\", [(x,) for x in d]); "
                  "print(c.execute(\"select count(*) from t\").fetchone())'");
}

FL_TEST(diff_recorded_sqlite3) {
  if (access("/usr/bin/sqlite3", X_OK)) FL_SKIP("no /usr/bin/sqlite3");
  char dir[4096];
  FL_CHECK(workdir("sqlite", dir, sizeof dir));
  record_and_diff(dir, "sqlite.ops",
                  "/usr/bin/sqlite3 :memory: 'create table t(a, b); "
                  "with recursive c(x) as (select 1 union all select x + 1 from c where x < 3000) "
                  "insert into t select x, hex(randomblob(40)) from c; create index i on t(b); "
                  "delete from t where a % 3 = 0; select count(*), sum(length(b)) from t;'");
}

/* git init, add and commit in a fresh repository, single-threaded as the
 * issue asks (no preload threads, one index thread). */
FL_TEST(diff_recorded_git) {
  if (access("/usr/bin/git", X_OK)) FL_SKIP("no /usr/bin/git");
  char dir[4096], repo[4200], cmd[8192];
  FL_CHECK(workdir("git", dir, sizeof dir));
  snprintf(repo, sizeof repo, "%s/repo", dir);
  const char *git = "/usr/bin/git -c core.preloadIndex=false -c index.threads=1 "
                    "-c user.name=faultline -c user.email=faultline@example.org";
  snprintf(cmd, sizeof cmd, "%s init -q %s", git, repo);
  record_and_diff(dir, "git-init.ops", cmd);
  for (int i = 0; i < 200; i++) {
    char path[4300];
    snprintf(path, sizeof path, "%s/file%03d.txt", repo, i);
    FILE *f = fopen(path, "w");
    FL_CHECK(f != NULL);
    if (!f) return;
    for (int k = 0; k <= i % 17; k++) fprintf(f, "line %d of file %d\n", k, i);
    fclose(f);
  }
  snprintf(cmd, sizeof cmd, "%s -C %s add .", git, repo);
  record_and_diff(dir, "git-add.ops", cmd);
  snprintf(cmd, sizeof cmd, "%s -C %s commit -q -m first", git, repo);
  record_and_diff(dir, "git-commit.ops", cmd);
}

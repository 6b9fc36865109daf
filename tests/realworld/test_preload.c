/* Real programs under LD_PRELOAD=libfaultline-preload.so: the output must
 * be byte for byte the output without it, and with FAULTLINE_CHECK=1 and 2
 * no invariant may fire (a violation prints "faultline: invariant" and
 * aborts). Debian's binaries, not the pyenv shim on PATH. Wall times are
 * printed for the record, never asserted (`faultline bench` measures). */
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/harness.h"

static char with[1 << 16], without[1 << 16];

/* Runs `sh -c script` with or without the preload library; returns the exit
 * status and the output (stdout and stderr) in out. */
static int run_sh(const char *script, bool preload, char *out, size_t cap) {
  const char *dir = getenv("FAULTLINE_BUILD_DIR");
  if (!dir) return -1;
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s%s/libfaultline-preload.so sh -c '%s' 2>&1", preload ? "LD_PRELOAD=" : "true ", dir,
           script);
  if (!preload) snprintf(cmd, sizeof cmd, "sh -c '%s' 2>&1", script);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool same_output(const char *script) {
  int a = run_sh(script, true, with, sizeof with), b = run_sh(script, false, without, sizeof without);
  if (a == b && strcmp(with, without) == 0 && a == 0) return true;
  fprintf(stderr, "with preload (exit %d):\n%s\nwithout (exit %d):\n%s\n", a, with, b, without);
  return false;
}

static bool have(const char *path) { return access(path, X_OK) == 0; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* script once without the preload, then under it at FAULTLINE_CHECK=1 and
 * 2: the same output each time and no violation report. */
static bool same_output_checked(const char *script) {
  double t0 = now();
  int b = run_sh(script, false, without, sizeof without);
  double plain = now() - t0;
  bool ok = b == 0;
  for (int level = 1; level <= 2; level++) {
    char checked[8192];
    snprintf(checked, sizeof checked, "export FAULTLINE_CHECK=%d; %s", level, script);
    t0 = now();
    int a = run_sh(checked, true, with, sizeof with);
    double secs = now() - t0;
    bool same = a == b && strcmp(with, without) == 0, clean = strstr(with, "faultline: invariant") == NULL;
    fprintf(stderr, "level %d: %.2f s, without the preload %.2f s (x%.1f)%s%s\n", level, secs, plain, secs / plain,
            same ? "" : ", output differs", clean ? "" : ", a violation");
    if (!same || !clean) fprintf(stderr, "with preload (exit %d):\n%s\nwithout (exit %d):\n%s\n", a, with, b, without);
    ok &= same && clean;
  }
  return ok;
}

/* A file of the source tree, for sh -c. */
static const char *source_file(const char *rel) {
  static char path[4096];
  const char *src = getenv("FAULTLINE_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
  return path;
}

FL_TEST(preload_python3_json_sqlite_re) {
  if (!have("/usr/bin/python3")) FL_SKIP("no /usr/bin/python3");
  FL_CHECK(same_output(
      "/usr/bin/python3 -c \"\nimport json, sqlite3, re, collections, hashlib\n"
      "db = sqlite3.connect(\\\":memory:\\\")\ndb.execute(\\\"create table t (k integer primary key, v text)\\\")\n"
      "db.executemany(\\\"insert into t(v) values (?)\\\", [(\\\"x%d\\\" % i * (i % 7 + 1),) for i in range(20000)])\n"
      "print(db.execute(\\\"select count(*), sum(length(v)) from t\\\").fetchall())\n"
      "w = re.findall(r\\\"\\\\w+\\\", \\\" \\\".join(str(i * i) for i in range(50000)))\n"
      "c = collections.Counter(x[-2:] for x in w).most_common(5)\n"
      "print(json.dumps(c), hashlib.sha256(json.dumps(c).encode()).hexdigest())\n\""));
}

FL_TEST(preload_sqlite3_cli) {
  if (!have("/usr/bin/sqlite3")) FL_SKIP("no /usr/bin/sqlite3");
  FL_CHECK(same_output(
      "printf \"create table t(a,b);\\nwith recursive c(x) as (select 1 union all select x+1 from c where x<100000) "
      "insert into t select x, x*7 %% 1000 from c;\\nselect count(*), sum(a), sum(b) from t;\\ncreate index i on t(b);"
      "\\nselect count(distinct b) from t;\\n\" | /usr/bin/sqlite3"));
}

FL_TEST(preload_git_init_add_commit) {
  if (!have("/usr/bin/git")) FL_SKIP("no /usr/bin/git");
  char dir[] = "/tmp/faultline-git-XXXXXX";
  FL_CHECK(mkdtemp(dir) != NULL);
  char script[4096];
  /* Each run makes its own repository: same files, same dates, same commit id. */
  snprintf(script, sizeof script,
           "d=$(mktemp -d -p %s) && cd $d && for i in $(seq 1 500); do echo \"file $i\" > f$i.txt; done && "
           "git init -q . && git add . && GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z "
           "git -c user.name=t -c user.email=t@t -c core.preloadIndex=false -c index.threads=1 commit -qm msg && "
           "git log --format=\"%%H %%s\" && git count-objects -v | head -2",
           dir);
  bool ok = same_output(script);
  char rm[256];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
  FL_CHECK(ok);
}

FL_TEST(preload_perl) {
  if (!have("/usr/bin/perl")) FL_SKIP("no /usr/bin/perl");
  FL_CHECK(same_output("/usr/bin/perl -e \"my %h; \\$h{\\$_ % 1000} .= q(x) for 1..200000; "
                       "print scalar(keys %h), q( ), length(\\$h{7}), qq(\\n)\""));
}

FL_TEST(preload_glibc_message_and_abort) {
  /* A double free under the preload dies like glibc: same message, SIGABRT. */
  if (!have("/usr/bin/python3")) FL_SKIP("no /usr/bin/python3");
  FL_CHECK(same_output("/usr/bin/python3 -c \"import ctypes; l = ctypes.CDLL(None); "
                       "l.malloc.restype = ctypes.c_void_p; l.free.argtypes = [ctypes.c_void_p]; "
                       "p = l.malloc(24); l.free(p); l.free(p)\"; echo status $?"));
  FL_CHECK(strstr(with, "free(): double free detected in tcache 2") != NULL);
}

/* The invariants at levels 1 and 2 under the preload, on each program. */
FL_TEST(preload_checked_python3_stdlib) {
  if (!have("/usr/bin/python3")) FL_SKIP("no /usr/bin/python3");
  char script[4608];
  snprintf(script, sizeof script, "/usr/bin/python3 %s 20000", source_file("tests/realworld/stdlib_workload.py"));
  FL_CHECK(same_output_checked(script));
}

FL_TEST(preload_checked_sqlite3_100k_rows) {
  if (!have("/usr/bin/sqlite3")) FL_SKIP("no /usr/bin/sqlite3");
  FL_CHECK(same_output_checked(
      "printf \"create table t(a,b);\\nwith recursive c(x) as (select 1 union all select x+1 from c where x<100000) "
      "insert into t select x, x*7 %% 1000 from c;\\nselect count(*), sum(a), sum(b) from t;\\ncreate index i on t(b);"
      "\\nselect b, count(*) from t group by b order by 2 desc, 1 limit 3;\\ndelete from t where a %% 3 = 0;"
      "\\nselect count(*) from t;\\n\" | /usr/bin/sqlite3"));
}

/* git with one thread: its preloading of the index would only add threads
 * that the one allocator lock serialises anyway. */
FL_TEST(preload_checked_git_2000_files) {
  if (!have("/usr/bin/git")) FL_SKIP("no /usr/bin/git");
  char dir[] = "/tmp/faultline-git-XXXXXX";
  FL_CHECK(mkdtemp(dir) != NULL);
  char script[4096];
  snprintf(script, sizeof script,
           "d=$(mktemp -d -p %s) && cd $d && for i in $(seq 1 2000); do echo \"file $i $((i * i))\" > f$i.txt; done && "
           "git init -q . && git -c core.preloadIndex=false -c index.threads=1 add . && "
           "GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z "
           "git -c user.name=t -c user.email=t@t -c core.preloadIndex=false -c index.threads=1 commit -qm msg && "
           "git log --format=\"%%H %%s\" && git ls-files | wc -l && git count-objects -v | head -2",
           dir);
  bool ok = same_output_checked(script);
  char rm[256];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
  FL_CHECK(ok);
}

FL_TEST(preload_checked_perl) {
  if (!have("/usr/bin/perl")) FL_SKIP("no /usr/bin/perl");
  FL_CHECK(same_output_checked("/usr/bin/perl -e \"my %h; \\$h{\\$_ % 1000} .= q(x) for 1..100000; "
                               "my @s = sort { \\$a <=> \\$b } map { length(\\$h{\\$_}) * \\$_ } keys %h; "
                               "print scalar(keys %h), q( ), \\$s[0], q( ), \\$s[-1], qq(\\n)\""));
}

FL_TEST(preload_bad_check_level_is_refused) {
  if (!have("/usr/bin/python3")) FL_SKIP("no /usr/bin/python3");
  int st = run_sh("FAULTLINE_CHECK=7 /usr/bin/python3 -c 1", true, with, sizeof with);
  FL_CHECK_EQ(st, 2);
  FL_CHECK(strstr(with, "FAULTLINE_CHECK=7: must be 0, 1, 2 or 3") != NULL);
}

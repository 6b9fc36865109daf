/* cmd_fuzz.c — `faultline fuzz TARGET`: runs a fuzz target under libFuzzer
 * or AFL++ with the project's seeds, dictionary and options, until the
 * time is up or the first finding, and says how to replay it.
 *
 * The engines are separate binaries (build/fuzz/fuzz_T, build/afl/afl_T,
 * fuzz/fuzz.cmake); this command finds or builds one, prepares a run
 * directory (a working corpus the engine may write, a findings directory)
 * beside the seeds so that corpus/<T>/ is never written, starts the
 * engine in its own process group with its output in a log, and watches:
 * progress on a TTY, the findings directory, the clock. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/json.h"

#define MAX_JOBS 64
#define GRACE_SECONDS 60 /* past --seconds before a silent engine is killed */

typedef enum engine { ENGINE_LIBFUZZER, ENGINE_AFL } engine_t;

typedef struct fuzz_opts {
  const char *target, *out;
  engine_t engine;
  uint64_t seconds, jobs;
  bool json, no_build;
} fuzz_opts_t;

typedef struct fuzz_run {
  char src[PATH_MAX];      /* the source tree */
  char binary[PATH_MAX];   /* the engine binary */
  char seeds[PATH_MAX];    /* corpus/T, read only ("" if absent) */
  char dict[PATH_MAX];     /* corpus/T.dict ("" if absent) */
  char options[PATH_MAX];  /* corpus/T.options ("" if absent) */
  char dir[PATH_MAX];      /* OUT/T-ENGINE */
  char work[PATH_MAX];     /* libFuzzer: its corpus; AFL++: its -o */
  char findings[PATH_MAX]; /* libFuzzer's artifacts */
  pid_t pids[MAX_JOBS];
  size_t njobs;
  struct timespec started; /* CLOCK_REALTIME, as file times are */
  char finding[PATH_MAX];  /* the first new finding, "" if none */
  char kind[16];           /* crash, timeout, oom, leak */
  uint64_t execs;
  double exec_per_sec, seconds;
  double cpu_seconds;      /* user + system time of the engines and their children */
  /* CPU seen by sampling the engines' process groups (sample_cpu): AFL++
   * kills its persistent-mode worker without reaping it, so that time never
   * reaches wait4's rusage. */
  struct { pid_t pid; double cpu; } seen[256];
  size_t nseen;
  size_t corpus;           /* inputs in the working corpus at the end */
  int engine_status;       /* the first engine's exit status */
} fuzz_run_t;

static const char *engine_name[] = {"libfuzzer", "afl"};
static const char *engine_preset[] = {"fuzz", "afl"};
static const char *engine_prefix[] = {"fuzz_", "afl_"};

static void help(void) {
  printf(
      "usage: faultline fuzz TARGET [--engine libfuzzer|afl] [--seconds N] [--jobs N]\n"
      "                      [--out DIR] [--no-build] [--json]\n"
      "\n"
      "Fuzzes one target (fuzz/TARGET.c) with libFuzzer (default; clang, ASan +\n"
      "UBSan, build/fuzz/fuzz_TARGET) or AFL++ (persistent mode, build/afl/afl_TARGET),\n"
      "until the time is up or the first finding. A missing engine binary is built\n"
      "first (cmake --preset fuzz|afl, then cmake --build for that target only).\n"
      "\n"
      "targets:\n"
      "  refmalloc  refmalloc with the invariants at level 2, model in fast mode;\n"
      "             one input in 16 in shadow mode, compared with the kernel\n"
      "  kernel     refmalloc in shadow mode, the kernel compared after every op\n"
      "  vm         the kernel model alone against the kernel\n"
      "  diff       refmalloc against the real glibc (faultline-glibc helper)\n"
      "  ops        the op language's decode/print/parse/encode round trips\n"
      "  (and any other fuzz/*.c with LLVMFuzzerTestOneInput)\n"
      "\n"
      "Seeds come from corpus/TARGET/ and are never written: the engine works in\n"
      "OUT/TARGET-ENGINE/ (default OUT: build/fuzz-runs), whose corpus/ keeps the\n"
      "inputs it finds from one run to the next; findings go to findings/\n"
      "(libFuzzer) or afl/*/crashes/ (AFL++). corpus/TARGET.dict is the dictionary\n"
      "and corpus/TARGET.options the libFuzzer flags ([libfuzzer] key = value).\n"
      "\n"
      "options:\n"
      "  --engine E   libfuzzer (default) or afl\n"
      "  --seconds N  how long to fuzz (default 60)\n"
      "  --jobs N     parallel fuzzers: libFuzzer -fork=N, AFL++ one -M and N-1 -S\n"
      "               (default 1)\n"
      "  --out DIR    where run directories go (default build/fuzz-runs)\n"
      "  --no-build   fail (exit 3) rather than build a missing engine binary\n"
      "  --json       one JSON object: target, engine, execs, exec_per_sec,\n"
      "               corpus, finding {file, kind, replay} or null\n"
      "\n"
      "examples:\n"
      "  faultline fuzz refmalloc --seconds 300\n"
      "  faultline fuzz kernel --engine afl --jobs 2\n"
      "  faultline fuzz diff --seconds 30 --json\n"
      "\n"
      "A finding stops the run and prints the target's report and the command\n"
      "that replays it: faultline replay FILE.\n"
      "\n"
      "exit status: 0 nothing found, 1 a finding, 2 usage error, 3 environment\n"
      "error (no source tree, the engine could not be built or started).\n");
}

static int parse(int argc, char **argv, fuzz_opts_t *o) {
  *o = (fuzz_opts_t){.engine = ENGINE_LIBFUZZER, .seconds = 60, .jobs = 1};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (!strcmp(a, "--json")) {
      o->json = true;
    } else if (!strcmp(a, "--no-build")) {
      o->no_build = true;
    } else if (!strcmp(a, "--engine")) {
      if (v && !strcmp(v, "libfuzzer")) o->engine = ENGINE_LIBFUZZER;
      else if (v && !strcmp(v, "afl")) o->engine = ENGINE_AFL;
      else return fl_cli_fail("fuzz", 2, "--engine takes libfuzzer or afl");
      i++;
    } else if (!strcmp(a, "--seconds")) {
      if (!fl_cli_parse_u64(v, false, &o->seconds) || o->seconds == 0 || o->seconds > 1000000)
        return fl_cli_fail("fuzz", 2, "--seconds takes a number of seconds, 1 to 1000000");
      i++;
    } else if (!strcmp(a, "--jobs")) {
      if (!fl_cli_parse_u64(v, false, &o->jobs) || o->jobs == 0 || o->jobs > MAX_JOBS)
        return fl_cli_fail("fuzz", 2, "--jobs takes a number from 1 to %d", MAX_JOBS);
      i++;
    } else if (!strcmp(a, "--out")) {
      if (!v) return fl_cli_fail("fuzz", 2, "--out needs a directory");
      o->out = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      return fl_cli_fail("fuzz", 2, "unknown option '%s' (see faultline fuzz --help)", a);
    } else if (o->target) {
      return fl_cli_fail("fuzz", 2, "one TARGET only ('%s' and '%s')", o->target, a);
    } else {
      o->target = a;
    }
  }
  if (!o->target) return fl_cli_fail("fuzz", 2, "which target? (see faultline fuzz --help)");
  return 0;
}

/* ------------------------------------------------------------ file system */

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool mkdirs(const char *path) {
  char p[PATH_MAX];
  fl_cli_format(p, sizeof p, "%s", path);
  for (char *s = p + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      if (mkdir(p, 0755) != 0 && errno != EEXIST) return false;
      *s = '/';
    }
  return mkdir(p, 0755) == 0 || errno == EEXIST;
}

/* Paths under the working directory are shown relative to it. */
static const char *shown(const char *path) {
  static char cwd[PATH_MAX];
  if (!cwd[0] && !getcwd(cwd, sizeof cwd)) return path;
  size_t n = strlen(cwd);
  return strncmp(path, cwd, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

static size_t count_files(const char *dir) {
  DIR *d = opendir(dir);
  size_t n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

static bool before(struct timespec a, struct timespec b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* The first file in dir whose name starts with one of prefixes and that
 * changed since `since` (older ones are earlier runs' findings); its path
 * goes to out, the prefix matched to kind. */
static bool new_file(const char *dir, const char *const *prefixes, struct timespec since, char *out, char *kind) {
  DIR *d = opendir(dir);
  bool found = false;
  for (struct dirent *e; d && !found && (e = readdir(d));) {
    for (size_t i = 0; prefixes[i] && !found; i++) {
      size_t n = strlen(prefixes[i]);
      if (strncmp(e->d_name, prefixes[i], n) != 0) continue;
      char p[PATH_MAX];
      struct stat st;
      fl_cli_format(p, sizeof p, "%s/%s", dir, e->d_name);
      if (stat(p, &st) != 0 || before(st.st_mtim, since)) continue;
      fl_cli_format(out, PATH_MAX, "%s", p);
      fl_cli_format(kind, 16, "%.*s", (int)(n && prefixes[i][n - 1] == '-' ? n - 1 : n), prefixes[i]);
      found = true;
    }
  }
  if (d) closedir(d);
  return found;
}

/* --------------------------------------------------------------- engines */

/* Runs argv in dir (NULL: here), output to the terminal; its exit status. */
static int run_wait(char *const argv[], const char *dir) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (dir && chdir(dir) != 0) _exit(127);
    execvp(argv[0], argv);
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The engine binary, built when missing (unless --no-build). */
static int find_binary(const fuzz_opts_t *o, fuzz_run_t *r) {
  char name[128];
  fl_cli_format(name, sizeof name, "%s%s", engine_prefix[o->engine], o->target);
  const char *preset = engine_preset[o->engine];
  fl_cli_format(r->binary, sizeof r->binary, "%s/build/%s/%s", r->src, preset, name);
  if (access(r->binary, X_OK) == 0) return 0;
  if (o->no_build)
    return fl_cli_fail("fuzz", 3, "%s is not built (cmake --preset %s && cmake --build --preset %s --target %s)",
                       shown(r->binary), preset, preset, name);
  fprintf(stderr, "faultline fuzz: %s is missing: building it (cmake --preset %s && cmake --build --preset %s --target %s)\n",
          shown(r->binary), preset, preset, name);
  char *configure[] = {"cmake", "--preset", (char *)preset, NULL};
  char *build[] = {"cmake", "--build", "--preset", (char *)preset, "--target", name, NULL};
  if (run_wait(configure, r->src) != 0 || run_wait(build, r->src) != 0 || access(r->binary, X_OK) != 0)
    return fl_cli_fail("fuzz", 3, "could not build %s (see the cmake output above)", name);
  return 0;
}

/* corpus/T.options, section [libfuzzer]: "key = value" lines become
 * "-key=value" flags (the format OSS-Fuzz and ClusterFuzzLite read). */
static size_t options_flags(const char *path, char flags[][256], size_t cap) {
  FILE *f = path[0] ? fopen(path, "r") : NULL;
  size_t n = 0;
  bool in_section = false;
  char line[512];
  while (f && n < cap && fgets(line, sizeof line, f)) {
    char key[128], value[128];
    if (line[0] == '[') in_section = strncmp(line, "[libfuzzer]", 11) == 0;
    else if (in_section && sscanf(line, " %127[A-Za-z0-9_] = %127s", key, value) == 2 && strcmp(key, "dict") != 0)
      fl_cli_format(flags[n++], 256, "-%s=%s", key, value);
  }
  if (f) fclose(f);
  return n;
}

/* Reads one "key = value" option of [libfuzzer] back (AFL++'s timeout). */
static uint64_t option_value(const char *path, const char *key, uint64_t dflt) {
  char flags[32][256], want[140];
  size_t n = options_flags(path, flags, 32);
  fl_cli_format(want, sizeof want, "-%s=", key);
  for (size_t i = 0; i < n; i++)
    if (strncmp(flags[i], want, strlen(want)) == 0) return strtoull(flags[i] + strlen(want), NULL, 10);
  return dflt;
}

static int start_libfuzzer(const fuzz_opts_t *o, fuzz_run_t *r) {
  char a[48][PATH_MAX + 32];
  char flags[32][256];
  size_t na = 0, nf = options_flags(r->options, flags, 32);
  fl_cli_format(a[na++], sizeof a[0], "%s", r->binary);
  fl_cli_format(a[na++], sizeof a[0], "%s", r->work); /* first: the one libFuzzer writes */
  if (r->seeds[0]) fl_cli_format(a[na++], sizeof a[0], "%s", r->seeds);
  fl_cli_format(a[na++], sizeof a[0], "-artifact_prefix=%s/", r->findings);
  fl_cli_format(a[na++], sizeof a[0], "-max_total_time=%llu", (unsigned long long)o->seconds);
  fl_cli_format(a[na++], sizeof a[0], "-print_final_stats=1");
  if (r->dict[0]) fl_cli_format(a[na++], sizeof a[0], "-dict=%s", r->dict);
  /* -fork rather than -jobs: it shares one corpus between the workers and
   * stops them all at the first crash. */
  if (o->jobs > 1) fl_cli_format(a[na++], sizeof a[0], "-fork=%llu", (unsigned long long)o->jobs);
  for (size_t i = 0; i < nf; i++) fl_cli_format(a[na++], sizeof a[0], "%s", flags[i]);
  char *argv[49];
  for (size_t i = 0; i < na; i++) argv[i] = a[i];
  argv[na] = NULL;
  char log[PATH_MAX + 16];
  fl_cli_format(log, sizeof log, "%s/engine.log", r->dir);
  r->pids[r->njobs++] = fl_cli_spawn(argv, log);
  return r->pids[0] > 0 ? 0 : fl_cli_fail("fuzz", 3, "cannot start %s: %s", r->binary, strerror(errno));
}

/* AFL++ wants at least one seed: an empty corpus gets a one-byte input. */
static int afl_seeds(fuzz_run_t *r, char *dir) {
  if (r->seeds[0] && count_files(r->seeds)) return fl_cli_format(dir, PATH_MAX, "%s", r->seeds), 0;
  fl_cli_format(dir, PATH_MAX, "%s/empty-seed", r->dir);
  char p[PATH_MAX + 8];
  fl_cli_format(p, sizeof p, "%s/0", dir);
  FILE *f = mkdirs(dir) ? fopen(p, "wb") : NULL;
  if (!f || fputc(0, f) == EOF || fclose(f) != 0) return fl_cli_fail("fuzz", 3, "cannot write %s", p);
  return 0;
}

static int start_afl(const fuzz_opts_t *o, fuzz_run_t *r) {
  char seeds[PATH_MAX];
  if (afl_seeds(r, seeds)) return 3;
  /* core_pattern and the CPU governor cannot be changed here; the UI is
   * ours; the machine is shared, so no core pinning; stop at the first crash. */
  setenv("AFL_SKIP_CPUFREQ", "1", 1);
  setenv("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1", 1);
  setenv("AFL_NO_UI", "1", 1);
  setenv("AFL_NO_AFFINITY", "1", 1);
  setenv("AFL_BENCH_UNTIL_CRASH", "1", 1);
  setenv("AFL_AUTORESUME", "1", 1);
  char secs[32], tmo[32];
  fl_cli_format(secs, sizeof secs, "%llu", (unsigned long long)o->seconds);
  fl_cli_format(tmo, sizeof tmo, "%llu", (unsigned long long)option_value(r->options, "timeout", 10) * 1000);
  for (size_t j = 0; j < o->jobs; j++) {
    char role[8], name[16], log[PATH_MAX + 32];
    fl_cli_format(role, sizeof role, j ? "-S" : "-M");
    fl_cli_format(name, sizeof name, o->jobs == 1 ? "default" : "f%zu", j);
    fl_cli_format(log, sizeof log, "%s/engine-%s.log", r->dir, name);
    char *argv[24];
    size_t n = 0;
    argv[n++] = "/usr/bin/afl-fuzz";
    argv[n++] = "-i", argv[n++] = seeds, argv[n++] = "-o", argv[n++] = r->work;
    if (o->jobs > 1) argv[n++] = role, argv[n++] = name;
    argv[n++] = "-V", argv[n++] = secs, argv[n++] = "-t", argv[n++] = tmo, argv[n++] = "-m", argv[n++] = "none";
    if (r->dict[0]) argv[n++] = "-x", argv[n++] = r->dict;
    argv[n++] = "--", argv[n++] = r->binary, argv[n] = NULL;
    if ((r->pids[r->njobs++] = fl_cli_spawn(argv, log)) <= 0)
      return fl_cli_fail("fuzz", 3, "cannot start afl-fuzz: %s", strerror(errno));
  }
  return 0;
}

/* ------------------------------------------------------------- watching */

/* A new finding: libFuzzer's artifacts, or a crash in any AFL++ instance. */
static bool poll_finding(const fuzz_opts_t *o, fuzz_run_t *r) {
  if (r->finding[0]) return true;
  if (o->engine == ENGINE_LIBFUZZER) {
    static const char *const kinds[] = {"crash-", "timeout-", "oom-", "leak-", NULL};
    return new_file(r->findings, kinds, r->started, r->finding, r->kind);
  }
  static const char *const ids[] = {"id:", NULL};
  DIR *d = opendir(r->work);
  for (struct dirent *e; d && !r->finding[0] && (e = readdir(d));) {
    char crashes[PATH_MAX];
    if (e->d_name[0] == '.') continue;
    fl_cli_format(crashes, sizeof crashes, "%s/%s/crashes", r->work, e->d_name);
    if (new_file(crashes, ids, r->started, r->finding, r->kind)) fl_cli_format(r->kind, sizeof r->kind, "crash");
  }
  if (d) closedir(d);
  return r->finding[0] != 0;
}

/* Sums a numeric field over every AFL++ instance's fuzzer_stats. */
static double afl_stat(const fuzz_run_t *r, const char *field) {
  double sum = 0;
  DIR *d = opendir(r->work);
  for (struct dirent *e; d && (e = readdir(d));) {
    char p[PATH_MAX], line[256];
    if (e->d_name[0] == '.') continue;
    fl_cli_format(p, sizeof p, "%s/%s/fuzzer_stats", r->work, e->d_name);
    FILE *f = fopen(p, "r");
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
      if (!strncmp(line, field, n) && line[n] == ' ') sum += strtod(strchr(line, ':') + 1, NULL);
    if (f) fclose(f);
  }
  if (d) closedir(d);
  return sum;
}

/* libFuzzer's numbers: the final stats if printed, else its last status
 * line ("#1234 NEW cov: ... exec/s: 56 ..."). */
static void libfuzzer_stats(fuzz_run_t *r) {
  char log[PATH_MAX + 16], line[1024];
  fl_cli_format(log, sizeof log, "%s/engine.log", r->dir);
  FILE *f = fopen(log, "r");
  while (f && fgets(line, sizeof line, f)) {
    const char *e;
    if (!strncmp(line, "stat::number_of_executed_units:", 31)) r->execs = strtoull(line + 31, NULL, 10);
    else if (!strncmp(line, "stat::average_exec_per_sec:", 27)) r->exec_per_sec = strtod(line + 27, NULL);
    else if (line[0] == '#' && (e = strstr(line, "exec/s: "))) {
      r->execs = strtoull(line + 1, NULL, 10);
      r->exec_per_sec = strtod(e + 8, NULL);
    }
  }
  if (f) fclose(f);
}

static void collect_stats(const fuzz_opts_t *o, fuzz_run_t *r) {
  if (o->engine == ENGINE_LIBFUZZER) {
    libfuzzer_stats(r);
    r->corpus = count_files(r->work);
  } else {
    r->execs = (uint64_t)afl_stat(r, "execs_done");
    r->exec_per_sec = r->seconds > 0 ? r->execs / r->seconds : 0;
    r->corpus = (size_t)afl_stat(r, "corpus_count");
  }
}

static void progress(const fuzz_opts_t *o, fuzz_run_t *r, double elapsed) {
  r->seconds = elapsed;
  collect_stats(o, r);
  fprintf(stderr, "\r  %s %.0f/%llu s: %llu execs (%.0f/s), corpus %zu   ", o->target, elapsed,
          (unsigned long long)o->seconds, (unsigned long long)r->execs, r->exec_per_sec, r->corpus);
}

/* Waits for the engines to finish, a finding, or the deadline; then stops
 * whatever still runs (its process group: libFuzzer's fork workers too). */
/* The engines run in process groups of their own (so that one kill reaches
 * libFuzzer's fork workers): a Ctrl-C on this command must stop them too. */
static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) { interrupted = sig; }

static void stop_engines(const fuzz_run_t *r, int sig) {
  for (size_t j = 0; j < r->njobs; j++)
    if (r->pids[j] > 0) kill(-r->pids[j], sig);
}

/* Adds up, per descendant of an engine (AFL++'s forkserver starts a new
 * session, so process groups do not tell), the most user + system time
 * seen: its own, not its reaped children's, which are counted where they
 * ran. Processes that live less than a tick are missed: a lower bound. */
typedef struct proc_cpu {
  pid_t pid, ppid;
  double cpu;
} proc_cpu_t;

static bool descends(const proc_cpu_t *p, size_t n, size_t i, const fuzz_run_t *r) {
  for (int depth = 0; depth < 8; depth++) {
    for (size_t j = 0; j < r->njobs; j++)
      if (r->pids[j] > 0 && p[i].pid == r->pids[j]) return true;
    size_t k = 0;
    while (k < n && p[k].pid != p[i].ppid) k++;
    if (k == n) return false;
    i = k;
  }
  return false;
}

static void sample_cpu(fuzz_run_t *r) {
  static proc_cpu_t procs[4096];
  size_t n = 0;
  DIR *d = opendir("/proc");
  double hz = (double)sysconf(_SC_CLK_TCK);
  for (struct dirent *e; d && n < sizeof procs / sizeof procs[0] && (e = readdir(d));) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%.20s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[len] = 0;
    char *rp = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    int ppid;
    unsigned long ut, st;
    if (!rp || sscanf(rp + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ppid, &ut, &st) != 3) continue;
    procs[n++] = (proc_cpu_t){(pid_t)atoi(e->d_name), (pid_t)ppid, (double)(ut + st) / hz};
  }
  if (d) closedir(d);
  for (size_t i = 0; i < n; i++) {
    if (!descends(procs, n, i, r)) continue;
    size_t k = 0;
    while (k < r->nseen && r->seen[k].pid != procs[i].pid) k++;
    if (k == r->nseen && r->nseen < sizeof r->seen / sizeof r->seen[0]) r->seen[r->nseen++].pid = procs[i].pid;
    if (k < r->nseen && procs[i].cpu > r->seen[k].cpu) r->seen[k].cpu = procs[i].cpu;
  }
}

static double sampled_cpu(const fuzz_run_t *r) {
  double sum = 0;
  for (size_t i = 0; i < r->nseen; i++) sum += r->seen[i].cpu;
  return sum;
}

static void watch(const fuzz_opts_t *o, fuzz_run_t *r) {
  bool tty = isatty(2) && !o->json;
  double t0 = fl_cli_now(), last = 0, stop_at = -1; /* when the engines were told to stop */
  size_t alive = r->njobs;
  struct sigaction sa = {.sa_handler = on_interrupt};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  while (alive) {
    for (size_t j = 0; j < r->njobs; j++) {
      int st;
      struct rusage ru;
      if (r->pids[j] > 0 && wait4(r->pids[j], &st, WNOHANG, &ru) == r->pids[j]) {
        if (j == 0) r->engine_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        r->cpu_seconds += ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        r->pids[j] = 0;
        alive--;
      }
    }
    double t = fl_cli_now() - t0;
    if (alive && stop_at < 0 && (interrupted || poll_finding(o, r) || t > o->seconds + GRACE_SECONDS)) stop_at = t;
    /* SIGTERM lets libFuzzer and AFL++ write their stats; an engine still
     * there ten seconds later is killed. */
    if (alive && stop_at >= 0) stop_engines(r, t - stop_at < 10 ? SIGTERM : SIGKILL);
    if (tty && t - last >= 1) progress(o, r, last = t);
    if (alive) sample_cpu(r);
    if (alive) usleep(200 * 1000);
  }
  if (sampled_cpu(r) > r->cpu_seconds) r->cpu_seconds = sampled_cpu(r);
  if (tty) fputc('\n', stderr);
  r->seconds = fl_cli_now() - t0;
  poll_finding(o, r);
  collect_stats(o, r);
}

/* -------------------------------------------------------------- reports */

/* The target's own report lines ("fuzz/T: ..." and what it printed right
 * before) from the engine's log. */
static void print_report_lines(const fuzz_opts_t *o, const fuzz_run_t *r) {
  char log[PATH_MAX + 32], line[1024], tag[64];
  fl_cli_format(tag, sizeof tag, "fuzz/%s: ", o->target);
  if (o->engine == ENGINE_LIBFUZZER) fl_cli_format(log, sizeof log, "%s/engine.log", r->dir);
  else fl_cli_format(log, sizeof log, "%s/engine-%s.log", r->dir, o->jobs == 1 ? "default" : "f0");
  FILE *f = fopen(log, "r");
  int shown_lines = 0;
  while (f && shown_lines < 8 && fgets(line, sizeof line, f))
    if (!strncmp(line, tag, strlen(tag)) || !strncmp(line, "mismatch: ", 10) || strstr(line, "ERROR: AddressSanitizer") ||
        strstr(line, "runtime error:"))
      printf("  | %s", line), shown_lines++;
  if (f) fclose(f);
}

/* On a shared machine wall-clock exec/s measures the neighbours too. */
static double exec_per_cpu_second(const fuzz_run_t *r) {
  return r->cpu_seconds > 0 ? r->execs / r->cpu_seconds : 0;
}

static void print_text(const fuzz_opts_t *o, const fuzz_run_t *r) {
  printf("faultline fuzz %s (%s, %llu job%s, %.0f s)\n", o->target, o->engine == ENGINE_AFL ? "AFL++" : "libFuzzer",
         (unsigned long long)o->jobs, o->jobs > 1 ? "s" : "", r->seconds);
  printf("  binary      %s\n", shown(r->binary));
  printf("  seeds       %s (%zu)\n", r->seeds[0] ? shown(r->seeds) : "(none)", r->seeds[0] ? count_files(r->seeds) : 0);
  printf("  dictionary  %s\n", r->dict[0] ? shown(r->dict) : "(none)");
  printf("  working in  %s (corpus %zu inputs)\n", shown(r->dir), r->corpus);
  printf("  executions  %llu (%.0f/s; %.0f per CPU second, %.0f CPU seconds)\n", (unsigned long long)r->execs,
         r->exec_per_sec, exec_per_cpu_second(r), r->cpu_seconds);
  if (!r->finding[0]) {
    printf("  verdict     no finding\n");
    return;
  }
  printf("  FINDING     %s: %s\n", r->kind, shown(r->finding));
  print_report_lines(o, r);
  printf("  replay      faultline replay %s\n", shown(r->finding));
  printf("  or          %s %s\n", shown(r->binary), shown(r->finding));
}

static void print_json(const fuzz_opts_t *o, const fuzz_run_t *r) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "target"); fl_json_string(&j, o->target);
  fl_json_key(&j, "engine"); fl_json_string(&j, engine_name[o->engine]);
  fl_json_key(&j, "binary"); fl_json_string(&j, r->binary);
  fl_json_key(&j, "jobs"); fl_json_uint(&j, o->jobs);
  fl_json_key(&j, "seconds"); fl_json_double(&j, r->seconds);
  fl_json_key(&j, "execs"); fl_json_uint(&j, r->execs);
  fl_json_key(&j, "exec_per_sec"); fl_json_double(&j, r->exec_per_sec);
  fl_json_key(&j, "cpu_seconds"); fl_json_double(&j, r->cpu_seconds);
  fl_json_key(&j, "exec_per_cpu_second"); fl_json_double(&j, exec_per_cpu_second(r));
  fl_json_key(&j, "corpus"); fl_json_uint(&j, r->corpus);
  fl_json_key(&j, "run_dir"); fl_json_string(&j, r->dir);
  fl_json_key(&j, "finding");
  if (r->finding[0]) {
    char replay[PATH_MAX + 32];
    fl_cli_format(replay, sizeof replay, "faultline replay %s", r->finding);
    fl_json_begin_object(&j);
    fl_json_key(&j, "file"); fl_json_string(&j, r->finding);
    fl_json_key(&j, "kind"); fl_json_string(&j, r->kind);
    fl_json_key(&j, "replay"); fl_json_string(&j, replay);
    fl_json_end_object(&j);
  } else {
    fl_json_null(&j);
  }
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

/* ----------------------------------------------------------------- setup */

static int prepare(const fuzz_opts_t *o, fuzz_run_t *r) {
  if (!fl_cli_find_source("fuzz/fuzz.cmake", r->src))
    return fl_cli_fail("fuzz", 3, "cannot find the faultline source tree (set FAULTLINE_SOURCE_DIR)");
  char p[PATH_MAX + 64];
  fl_cli_format(p, sizeof p, "%s/fuzz/%s.c", r->src, o->target);
  if (strchr(o->target, '/') || !strcmp(o->target, "replay_main") || !is_file(p))
    return fl_cli_fail("fuzz", 2, "no fuzz target '%s' (fuzz/%s.c; see faultline fuzz --help)", o->target,
                       o->target);
  fl_cli_format(r->seeds, sizeof r->seeds, "%s/corpus/%s", r->src, o->target);
  if (!is_dir(r->seeds)) r->seeds[0] = 0;
  fl_cli_format(r->dict, sizeof r->dict, "%s/corpus/%s.dict", r->src, o->target);
  if (!is_file(r->dict)) r->dict[0] = 0;
  fl_cli_format(r->options, sizeof r->options, "%s/corpus/%s.options", r->src, o->target);
  if (!is_file(r->options)) r->options[0] = 0;
  char out[PATH_MAX];
  fl_cli_format(out, sizeof out, "%s", o->out ? o->out : "");
  if (!o->out) fl_cli_format(out, sizeof out, "%s/build/fuzz-runs", r->src);
  /* The longest path made below is a finding's: keep a margin for it. */
  if (!fl_cli_format(r->dir, sizeof r->dir - 512, "%s/%s-%s", out, o->target, engine_name[o->engine]))
    return fl_cli_fail("fuzz", 2, "the run directory's path is too long: %s", out);
  fl_cli_format(r->work, sizeof r->work, "%s/%s", r->dir, o->engine == ENGINE_AFL ? "afl" : "corpus");
  fl_cli_format(r->findings, sizeof r->findings, "%s/findings", r->dir);
  if (!mkdirs(r->work) || !mkdirs(r->findings))
    return fl_cli_fail("fuzz", o->out ? 2 : 3, "cannot create %s: %s", r->dir, strerror(errno));
  return find_binary(o, r);
}

int fl_cmd_fuzz(int argc, char **argv) {
  fuzz_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  static fuzz_run_t r;
  if ((st = prepare(&o, &r))) return st;
  clock_gettime(CLOCK_REALTIME, &r.started);
  st = o.engine == ENGINE_AFL ? start_afl(&o, &r) : start_libfuzzer(&o, &r);
  if (st) return st;
  watch(&o, &r);
  if (interrupted) fprintf(stderr, "faultline fuzz: interrupted\n");
  if (!r.finding[0] && r.execs == 0 && !interrupted)
    return fl_cli_fail("fuzz", 3, "the engine ran nothing (exit status %d): see the logs in %s", r.engine_status,
                       shown(r.dir));
  if (o.json) print_json(&o, &r);
  else print_text(&o, &r);
  return r.finding[0] ? 1 : 0;
}

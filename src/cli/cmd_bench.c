/* cmd_bench.c — `faultline bench [--quick] [--json]`: how fast refmalloc,
 * its checks, its kernel cross-check, its fuzz targets and its preload
 * library are, each next to the thing it should be compared with, measured
 * side by side in one run (repetitions interleaved, medians taken).
 *
 * The measuring is done by benchmark executables of the release build
 * (tests/bench/bench_runner.c, built twice: with refmalloc's observation
 * and with it compiled out), by the non-sanitized libFuzzer build
 * (fuzz-nosan: every fuzz target and fuzz_bare_glibc), and by python3 under
 * libfaultline-preload.so. Benchmarks mean something only optimised and
 * without sanitizers, so this command never uses the build it runs from
 * unless that is a release build: it builds what is missing with the
 * presets and says so. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/binary.h"
#include "ops/gen.h"
#include "util/json.h"

#define MAX_REPS 15
#define MAX_ARGS 12
#define LIBDIR "/usr/lib/x86_64-linux-gnu/"
#define PYTHON "/usr/bin/python3"

extern char **environ;

typedef struct bench {
  bool quick, json;
  unsigned reps;
  char src[PATH_MAX];  /* the source tree */
  char rel[PATH_MAX];  /* the release build: bench_runner*, the preload library */
  char fz[PATH_MAX];   /* the fuzz-nosan build */
} bench_t;

typedef struct sample {
  double secs;  /* what the run timed itself, else its wall time */
  double floor; /* bench_runner floor: the raw replay's seconds */
  double ops;
  long peak_kib;
} sample_t;

typedef struct variant {
  const char *name;
  const char *exe;     /* a release-build executable, or an absolute path */
  const char *preload; /* LD_PRELOAD, or NULL */
  const char *check;   /* FAULTLINE_CHECK, or NULL */
  const char *args[MAX_ARGS];
  bool missing;        /* its library or program is not installed */
  bool failed;
  char why[160];       /* the first line the failed run printed */
  sample_t s[MAX_REPS];
  unsigned n;
  sample_t med;
} variant_t;

/* ------------------------------------------------------------ utilities */

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void path_join(char *out, const char *dir, const char *name) {
  snprintf(out, PATH_MAX, "%.*s/%s", PATH_MAX / 2, dir, name);
}

/* The value after " key=" (or at the start) in a runner's line; -1 if none. */
static double field(const char *out, const char *key) {
  size_t n = strlen(key);
  for (const char *p = strstr(out, key); p; p = strstr(p + 1, key))
    if ((p == out || p[-1] == ' ' || p[-1] == '\n') && p[n] == '=') return strtod(p + n + 1, NULL);
  return -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const sample_t *s, unsigned n, size_t offset) {
  double v[MAX_REPS];
  for (unsigned i = 0; i < n; i++) v[i] = *(const double *)((const char *)&s[i] + offset);
  qsort(v, n, sizeof v[0], cmp_double);
  return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : NAN;
}

/* ------------------------------------------------------------- processes */

/* The child's environment: this one without anything that changes an
 * allocator (LD_PRELOAD, GLIBC_TUNABLES, MALLOC_*, FAULTLINE_CHECK), plus
 * the variant's own. */
static void child_env(const variant_t *v) {
  for (bool again = true; again;) {
    again = false;
    for (char **e = environ; *e; e++) {
      if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "GLIBC_TUNABLES=", 15) && strncmp(*e, "MALLOC_", 7) &&
          strncmp(*e, "FAULTLINE_CHECK=", 16))
        continue;
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)(strchr(*e, '=') - *e), *e);
      unsetenv(name);
      again = true;
      break;
    }
  }
  if (v->preload) setenv("LD_PRELOAD", v->preload, 1);
  if (v->check) setenv("FAULTLINE_CHECK", v->check, 1);
}

/* Runs argv with v's environment; its output (stdout and stderr) into out,
 * its wall time into *wall. Returns the exit status (128 + signal). */
static int spawn(const variant_t *v, char *const argv[], char *out, size_t cap, double *wall) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  double t0 = fl_cli_now();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    child_env(v);
    dup2(fd[1], 1);
    dup2(fd[1], 2);
    close(fd[0]);
    close(fd[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fd[1]);
  size_t len = 0;
  for (ssize_t k; (k = read(fd[0], out + len, cap - 1 - len)) > 0 || (k < 0 && errno == EINTR);)
    if (k > 0) len += (size_t)k;
  out[len] = 0;
  close(fd[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  *wall = fl_cli_now() - t0;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void run_once(const bench_t *b, variant_t *v, const char *workload) {
  char exe[PATH_MAX], out[1 << 14];
  if (v->exe[0] == '/') snprintf(exe, sizeof exe, "%s", v->exe);
  else path_join(exe, b->rel, v->exe);
  char *argv[MAX_ARGS + 3] = {exe};
  int argc = 1;
  if (workload) argv[argc++] = (char *)workload;
  for (int i = 0; i < MAX_ARGS && v->args[i]; i++) argv[argc++] = (char *)v->args[i];
  double wall;
  int st = spawn(v, argv, out, sizeof out, &wall);
  double secs = field(out, "seconds");
  if (st != 0 || (workload && secs < 0)) {
    v->failed = true;
    snprintf(v->why, sizeof v->why, "exit %d: %.*s", st, (int)strcspn(out, "\n"), out);
    return;
  }
  v->s[v->n++] = (sample_t){.secs = workload ? secs : wall, .floor = field(out, "floor_seconds"),
                            .ops = field(out, "ops"), .peak_kib = (long)field(out, "peak_kib")};
}

/* Every variant once per repetition, in turn, so that a noisy moment of
 * this shared machine falls on all of them; then the medians. */
static void measure(const bench_t *b, const char *what, const char *workload, variant_t *v, size_t nv) {
  for (size_t i = 0; i < nv; i++)
    if (!v[i].missing && v[i].exe[0] == '/' && access(v[i].exe, X_OK) != 0) v[i].missing = true;
  fprintf(stderr, "faultline bench: %s", what);
  for (unsigned r = 0; r < b->reps; r++) {
    for (size_t i = 0; i < nv; i++)
      if (!v[i].missing && !v[i].failed) run_once(b, &v[i], workload);
    fputc('.', stderr);
  }
  fputc('\n', stderr);
  for (size_t i = 0; i < nv; i++) {
    if (v[i].failed) fprintf(stderr, "faultline bench: %s failed (%s)\n", v[i].name, v[i].why);
    if (v[i].missing || v[i].failed || !v[i].n) continue;
    v[i].med.secs = median(v[i].s, v[i].n, offsetof(sample_t, secs));
    v[i].med.floor = median(v[i].s, v[i].n, offsetof(sample_t, floor));
    v[i].med.ops = median(v[i].s, v[i].n, offsetof(sample_t, ops));
    double peaks[MAX_REPS];
    for (unsigned k = 0; k < v[i].n; k++) peaks[k] = (double)v[i].s[k].peak_kib;
    qsort(peaks, v[i].n, sizeof peaks[0], cmp_double);
    v[i].med.peak_kib = (long)peaks[v[i].n / 2];
  }
}

static bool usable(const variant_t *v) { return !v->missing && !v->failed && v->n; }

static double ratio(const variant_t *a, const variant_t *b) {
  return usable(a) && usable(b) && b->med.secs > 0 ? a->med.secs / b->med.secs : NAN;
}

/* ---------------------------------------------------------------- groups */

/* The allocators every op stream runs on. refmalloc three ways: its
 * observation compiled out (FL_RM_RELEASE, real mappings: the allocator
 * alone), observed on the fast model, observed on the shadow model. */
enum { A_GLIBC, A_JEMALLOC, A_TCMALLOC, A_MIMALLOC, A_RELEASE, A_FAST, A_SHADOW, NALLOC };
static const variant_t allocator_template[NALLOC] = {
    {.name = "glibc", .exe = "bench_runner"},
    {.name = "jemalloc", .exe = "bench_runner", .preload = LIBDIR "libjemalloc.so.2"},
    {.name = "tcmalloc", .exe = "bench_runner", .preload = LIBDIR "libtcmalloc_minimal.so.4"},
    {.name = "mimalloc", .exe = "bench_runner", .preload = LIBDIR "libmimalloc.so.2"},
    {.name = "refmalloc-release", .exe = "bench_runner_release", .args = {"--target", "refmalloc"}},
    {.name = "refmalloc-fast", .exe = "bench_runner", .args = {"--target", "refmalloc", "--mode", "fast"}},
    {.name = "refmalloc-shadow", .exe = "bench_runner", .args = {"--target", "refmalloc", "--mode", "shadow"}},
};

enum { S_RANDOM, S_SEED, S_SWEEP, NSTREAM };
static const char *const stream_name[NSTREAM] = {"random", "seed", "sweep"};

enum { P_GLIBC, P_JEMALLOC, P_TCMALLOC, P_MIMALLOC, P_REFMALLOC, NPROD };
enum { L_LEVELS = 4, NSCALE = 3 };
static const char *const scale_live[NSCALE] = {"100", "10000", "1000000"};
/* The same two ends at level 0: how much of the growth is the allocator's
 * and the model's own (cache misses), not the checks'. */
static const char *const scale0_name[2] = {"100, level 0", "1000000, level 0"};
enum { PY_GLIBC, PY_L1, PY_L2, NPY };

typedef struct fuzz_row {
  char target[64];
  double execs, ops, secs; /* inputs run, ops they decode to, median seconds */
  bool ok;
  char why[160]; /* a failed run: what it printed */
  sample_t s[MAX_REPS];
  unsigned n;
} fuzz_row_t;

typedef struct results {
  variant_t stream[NSTREAM][NALLOC];
  variant_t prod[NPROD];
  variant_t level[L_LEVELS];
  variant_t scale[NSCALE + 2]; /* level 2, then level 0 at 1e2 and 1e6 */
  variant_t floor;
  variant_t py[NPY];
  fuzz_row_t fuzz[16]; /* the targets, then bare_glibc at [nfuzz] */
  size_t nfuzz;
  char fuzz_note[256];
} results_t;

/* Appends "--ops N" (and more pairs) to a variant's arguments. */
static void add_args(variant_t *v, const char *k1, const char *v1, const char *k2, const char *v2) {
  const char *more[] = {k1, v1, k2, v2};
  int n = 0;
  while (n < MAX_ARGS && v->args[n]) n++;
  for (int i = 0; i < 4 && more[i] && n < MAX_ARGS; i++) v->args[n++] = more[i];
}

static void mark_missing_libraries(variant_t *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i].preload && v[i].preload[0] == '/' && !is_file(v[i].preload)) v[i].missing = true;
}

static void bench_streams(const bench_t *b, results_t *r) {
  static const char *ops_quick[NSTREAM] = {"500", "5", "20000"}, *ops_full[NSTREAM] = {"4000", "25", "150000"};
  for (int s = 0; s < NSTREAM; s++) {
    variant_t *v = r->stream[s];
    memcpy(v, allocator_template, sizeof allocator_template);
    for (int a = 0; a < NALLOC; a++) add_args(&v[a], "--ops", (b->quick ? ops_quick : ops_full)[s], NULL, NULL);
    mark_missing_libraries(v, NALLOC);
    char what[64];
    snprintf(what, sizeof what, "%s stream, %d allocators ", stream_name[s], NALLOC);
    measure(b, what, stream_name[s], v, NALLOC);
  }
}

/* Real threads need a real process allocator: refmalloc is there as
 * libfaultline-preload.so (shadow model, one lock, no checks). */
static void bench_prodcons(const bench_t *b, results_t *r) {
  static char preload[PATH_MAX];
  path_join(preload, b->rel, "libfaultline-preload.so");
  variant_t *v = r->prod;
  for (int a = 0; a < P_REFMALLOC; a++) v[a] = allocator_template[a];
  v[P_REFMALLOC] = (variant_t){.name = "refmalloc-preload", .exe = "bench_runner", .preload = preload, .check = "0"};
  for (int a = 0; a < NPROD; a++) add_args(&v[a], "--ops", b->quick ? "50000" : "400000", "--threads", "2");
  mark_missing_libraries(v, NPROD);
  measure(b, "producer/consumer, 2+2 threads ", "prodcons", v, NPROD);
}

/* The random stream on the fast model at each check level. */
static void bench_levels(const bench_t *b, results_t *r) {
  static const char *lv[L_LEVELS] = {"0", "1", "2", "3"};
  static const char *names[L_LEVELS] = {"level 0", "level 1", "level 2", "level 3"};
  for (int l = 0; l < L_LEVELS; l++) {
    r->level[l] = allocator_template[A_FAST];
    r->level[l].name = names[l];
    add_args(&r->level[l], "--ops", b->quick ? "500" : "4000", "--check", lv[l]);
  }
  measure(b, "check levels 0-3, random stream ", "random", r->level, L_LEVELS);
}

/* Level 2 with 10^2, 10^4, 10^6 live chunks (bench_runner scale). */
static void bench_scale(const bench_t *b, results_t *r) {
  for (int i = 0; i < NSCALE; i++) {
    r->scale[i] = (variant_t){.name = scale_live[i], .exe = "bench_runner"};
    add_args(&r->scale[i], "--live", scale_live[i], "--check", "2");
    add_args(&r->scale[i], "--ops", b->quick ? "200000" : "2000000", NULL, NULL);
  }
  for (int i = 0; i < 2; i++) {
    r->scale[NSCALE + i] = (variant_t){.name = scale0_name[i], .exe = "bench_runner"};
    add_args(&r->scale[NSCALE + i], "--live", scale_live[i ? NSCALE - 1 : 0], "--check", "0");
    add_args(&r->scale[NSCALE + i], "--ops", b->quick ? "200000" : "2000000", NULL, NULL);
  }
  measure(b, "level 2 with 1e2, 1e4, 1e6 live chunks (and level 0) ", "scale", r->scale, NSCALE + 2);
}

static void bench_floor(const bench_t *b, results_t *r) {
  r->floor = (variant_t){.name = "shadow, level 2", .exe = "bench_runner"};
  add_args(&r->floor, "--ops", b->quick ? "500" : "4000", "--check", "2");
  measure(b, "shadow mode against its physical floor ", "floor", &r->floor, 1);
}

/* A stdlib-heavy python3 run (tests/realworld/stdlib_workload.py) under
 * glibc and under the preload library at levels 1 and 2. */
static void bench_python(const bench_t *b, results_t *r) {
  static char script[PATH_MAX], preload[PATH_MAX];
  path_join(script, b->src, "tests/realworld/stdlib_workload.py");
  path_join(preload, b->rel, "libfaultline-preload.so");
  static const char *names[NPY] = {"glibc", "preload level 1", "preload level 2"};
  static const char *checks[NPY] = {NULL, "1", "2"};
  for (int i = 0; i < NPY; i++) {
    r->py[i] = (variant_t){.name = names[i], .exe = PYTHON, .preload = i ? preload : NULL, .check = checks[i],
                           .args = {script, b->quick ? "20000" : "60000"}};
    r->py[i].missing = !is_file(script);
  }
  measure(b, "python3 under the preload library ", NULL, r->py, NPY);
}

/* ------------------------------------------------------------------ fuzz */

#define FUZZ_INPUTS 100 /* --quick: a third */
#define FUZZ_INPUT_OPS 200

/* The same inputs for every target: generated op streams, binary-encoded,
 * FUZZ_INPUT_OPS ops each (under every target's per-input cap), with live
 * bytes and writes as small as a fuzzer's inputs make them: the kernel's page
 * faults would otherwise be most of what is measured. No inject: a failed
 * munmap that glibc ignores is still reported by VMA-FREED (a known false
 * positive of the checker), which would end the run as a finding. */
static bool write_inputs(const char *dir, char paths[][PATH_MAX], size_t n) {
  fl_gen_options_t o;
  fl_gen_options_default(&o);
  o.budget = 4u << 20;
  o.max_write = 4096;
  o.kinds &= ~FL_GEN_KIND(FL_OP_INJECT);
  for (size_t i = 0; i < n; i++) {
    fl_ops_t ops;
    fl_ops_init(&ops);
    uint8_t *data = NULL;
    size_t len = 0;
    bool ok = fl_ops_generate(1000 + i, FUZZ_INPUT_OPS, &o, &ops) == FL_OK && fl_ops_encode(&ops, &data, &len) == FL_OK;
    snprintf(paths[i], PATH_MAX, "%s/input-%03zu", dir, i);
    FILE *f = ok ? fopen(paths[i], "wb") : NULL;
    ok = f && fwrite(data, 1, len, f) == len;
    if (f) ok &= fclose(f) == 0;
    free(data);
    fl_ops_free(&ops);
    if (!ok) return false;
  }
  return true;
}

/* One run of fuzz_<target> over the inputs: libFuzzer runs each file named
 * on its command line once. The wall time includes one process start per
 * run over all the inputs. */
static void fuzz_once(const bench_t *b, fuzz_row_t *row, char **argv) {
  char exe[PATH_MAX], out[1 << 16], name[96];
  snprintf(name, sizeof name, "fuzz_%s", row->target);
  path_join(exe, b->fz, name);
  argv[0] = exe;
  variant_t plain = {.name = row->target};
  double wall;
  int st = spawn(&plain, argv, out, sizeof out, &wall);
  if (st != 0) {
    const char *why = strstr(out, "fuzz/");
    snprintf(row->why, sizeof row->why, "exit %d: %.*s", st, why ? (int)strcspn(why, "\n") : 40, why ? why : out);
    row->ok = false;
    return;
  }
  row->s[row->n++].secs = wall;
}

/* --quick: the headline pair only (the kernel, vm and diff targets take
 * seconds per input batch: shadow mode, ptrace). */
static bool fuzz_wanted(const bench_t *b, const char *target) {
  return !b->quick || !strcmp(target, "refmalloc") || !strcmp(target, "ops");
}

static size_t fuzz_targets(const bench_t *b, results_t *r) {
  char dir[PATH_MAX];
  path_join(dir, b->src, "fuzz");
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 3 || strcmp(e->d_name + len - 2, ".c") || !strcmp(e->d_name, "replay_main.c") || r->nfuzz == 15) continue;
    fuzz_row_t *row = &r->fuzz[r->nfuzz];
    snprintf(row->target, sizeof row->target, "%.*s", (int)(len - 2), e->d_name);
    row->ok = true;
    r->nfuzz += fuzz_wanted(b, row->target);
  }
  if (d) closedir(d);
  snprintf(r->fuzz[r->nfuzz].target, sizeof r->fuzz[0].target, "bare_glibc");
  r->fuzz[r->nfuzz].ok = true;
  return r->nfuzz + 1; /* the bare harness last */
}

/* Every fuzz target of fuzz/ and fuzz_bare_glibc (the executor on glibc
 * malloc, nothing else) on the same generated inputs, interleaved. */
static void bench_fuzz(const bench_t *b, results_t *r) {
  char dir[] = "/tmp/faultline-bench-XXXXXX";
  static char paths[FUZZ_INPUTS][PATH_MAX];
  char **argv = calloc(FUZZ_INPUTS + 3, sizeof *argv);
  size_t rows = fuzz_targets(b, r);
  size_t n = b->quick ? FUZZ_INPUTS / 3 : FUZZ_INPUTS;
  if (!argv || !mkdtemp(dir) || !write_inputs(dir, paths, n)) {
    snprintf(r->fuzz_note, sizeof r->fuzz_note, "could not write the inputs: %s", strerror(errno));
    free(argv);
    return;
  }
  argv[1] = "-rss_limit_mb=4096";
  for (size_t i = 0; i < n; i++) argv[2 + i] = paths[i];
  fprintf(stderr, "faultline bench: %zu fuzz targets and the bare harness, %zu inputs ", rows - 1, n);
  for (unsigned rep = 0; rep < b->reps; rep++) {
    for (size_t i = 0; i < rows; i++)
      if (r->fuzz[i].ok) fuzz_once(b, &r->fuzz[i], argv);
    fputc('.', stderr);
  }
  fputc('\n', stderr);
  for (size_t i = 0; i < rows; i++) {
    fuzz_row_t *row = &r->fuzz[i];
    if (!row->ok) fprintf(stderr, "faultline bench: fuzz_%s failed (%s)\n", row->target, row->why);
    if (!row->n) row->ok = false;
    row->secs = median(row->s, row->n, offsetof(sample_t, secs));
    row->execs = (double)n;
    row->ops = (double)n * FUZZ_INPUT_OPS;
  }
  for (size_t i = 0; i < n; i++) unlink(paths[i]);
  rmdir(dir);
  free(argv);
}

/* ------------------------------------------------------------ the builds */

static int run_quiet(char *const argv[], const char *dir) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (chdir(dir) != 0) _exit(127);
    dup2(2, 1); /* cmake's progress goes with ours, to stderr */
    execvp(argv[0], argv);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Builds preset's targets unless all of them exist in dir. */
static int ensure_built(const bench_t *b, const char *dir, const char *preset, const char *const *targets) {
  char p[PATH_MAX], list[1024] = "";
  bool all = true;
  char *build[32] = {"cmake", "--build", "--preset", (char *)preset};
  int n = 4;
  for (size_t i = 0; targets[i]; i++) {
    path_join(p, dir, targets[i]);
    all &= access(p, F_OK) == 0;
    build[n++] = "--target";
    build[n++] = (char *)targets[i];
    snprintf(list + strlen(list), sizeof list - strlen(list), " %s", targets[i]);
  }
  if (all) return 0;
  fprintf(stderr,
          "faultline bench: building the benchmarks first (cmake --preset %s && cmake --build --preset %s --target%s)\n",
          preset, preset, list);
  char *configure[] = {"cmake", "--preset", (char *)preset, NULL};
  if (run_quiet(configure, b->src) != 0 || run_quiet(build, b->src) != 0)
    return fl_cli_fail("bench", 3, "could not build%s with preset %s (see the cmake output above)", list, preset);
  return 0;
}

static int prepare(bench_t *b, const char *build_dir) {
  if (!fl_cli_find_source("tests/bench/bench_runner.c", b->src))
    return fl_cli_fail("bench", 3, "cannot find the source tree (set FAULTLINE_SOURCE_DIR)");
  static const char *const rel[] = {"bench_runner", "bench_runner_release", "libfaultline-preload.so", NULL};
  if (build_dir) {
    if (!realpath(build_dir, b->rel)) return fl_cli_fail("bench", 2, "--build-dir %s: %s", build_dir, strerror(errno));
    for (size_t i = 0; rel[i]; i++) {
      char p[PATH_MAX];
      path_join(p, b->rel, rel[i]);
      if (access(p, F_OK) != 0) return fl_cli_fail("bench", 2, "--build-dir %s has no %s", build_dir, rel[i]);
    }
  } else {
    path_join(b->rel, b->src, "build/release");
    int rc = ensure_built(b, b->rel, "release", rel);
    if (rc) return rc;
  }
  return 0;
}

/* The fuzz-nosan build: every fuzz target and the bare harness. */
static int prepare_fuzz(bench_t *b, results_t *r) {
  path_join(b->fz, b->src, "build/fuzz-nosan");
  size_t rows = fuzz_targets(b, r);
  char names[16][96];
  const char *targets[18];
  for (size_t i = 0; i < rows; i++) {
    snprintf(names[i], sizeof names[i], "fuzz_%s", r->fuzz[i].target);
    targets[i] = names[i];
  }
  targets[rows] = NULL;
  r->nfuzz = 0; /* bench_fuzz lists them again */
  return ensure_built(b, b->fz, "fuzz-nosan", targets);
}

/* --------------------------------------------------------------- results */

static double per_op_ns(const variant_t *v) {
  return usable(v) && v->med.ops > 0 ? v->med.secs / v->med.ops * 1e9 : NAN;
}

static double rss_ratio(const variant_t *a, const variant_t *b) {
  return usable(a) && usable(b) && b->med.peak_kib > 0 ? (double)a->med.peak_kib / (double)b->med.peak_kib : NAN;
}

/* Over the single-threaded streams: the geometric mean of a/glibc. */
static double geomean_vs_glibc(const results_t *r, int a) {
  double sum = 0;
  for (int s = 0; s < NSTREAM; s++) sum += log(ratio(&r->stream[s][a], &r->stream[s][A_GLIBC]));
  return exp(sum / NSTREAM);
}

static double exec_rate(const fuzz_row_t *f) { return f->ok && f->secs > 0 ? f->execs / f->secs : NAN; }

static const fuzz_row_t *fuzz_row(const results_t *r, const char *target) {
  for (size_t i = 0; i <= r->nfuzz; i++)
    if (!strcmp(r->fuzz[i].target, target)) return &r->fuzz[i];
  return NULL;
}

typedef struct headline {
  double refmalloc_vs_glibc, fuzz_vs_bare, shadow_vs_floor, level2_growth, py_l1, py_l2;
} headline_t;

static headline_t headline(const results_t *r) {
  const fuzz_row_t *rm = fuzz_row(r, "refmalloc"), *bare = fuzz_row(r, "bare_glibc");
  const variant_t *f = &r->floor;
  return (headline_t){
      .refmalloc_vs_glibc = geomean_vs_glibc(r, A_RELEASE),
      .fuzz_vs_bare = rm && bare ? exec_rate(rm) / exec_rate(bare) : NAN,
      .shadow_vs_floor = usable(f) && f->med.floor > 0 ? f->med.secs / f->med.floor : NAN,
      .level2_growth = per_op_ns(&r->scale[NSCALE - 1]) / per_op_ns(&r->scale[0]),
      .py_l1 = ratio(&r->py[PY_L1], &r->py[PY_GLIBC]),
      .py_l2 = ratio(&r->py[PY_L2], &r->py[PY_GLIBC]),
  };
}

static void print_row(const variant_t *v, const variant_t *base) {
  if (!usable(v)) {
    printf("  %-20s %s\n", v->name, v->missing ? "not installed" : "failed");
    return;
  }
  printf("  %-20s %10.1f %8.2f %10ld %8.2f\n", v->name, v->med.secs * 1e3, ratio(v, base), v->med.peak_kib,
         rss_ratio(v, base));
}

static void print_text(const bench_t *b, const results_t *r) {
  headline_t h = headline(r);
  printf("faultline bench%s: medians of %u interleaved runs, release build %s\n\n", b->quick ? " --quick" : "",
         b->reps, b->rel);
  printf("%-22s %8s  %s\n", "ratio", "value", "target");
  printf("%-22s %8.2f  <= 1.2  refmalloc, observation compiled out / glibc (time, geomean of 3 streams)\n",
         "refmalloc_vs_glibc", h.refmalloc_vs_glibc);
  printf("%-22s %8.2f  >= 0.33 fuzz_refmalloc exec/s / fuzz_bare_glibc exec/s\n", "fuzz_vs_bare", h.fuzz_vs_bare);
  printf("%-22s %8.2f  <= 2    shadow mode + level-2 checks / raw syscalls + faults + PAGEMAP_SCAN\n",
         "shadow_vs_floor", h.shadow_vs_floor);
  printf("%-22s %8.2f  <= 2    level-2 cost per op, 1e6 / 1e2 live chunks\n", "level2_growth", h.level2_growth);
  printf("%-22s %8.2f  <= 3    python3 wall time, preload level 1 / glibc\n", "preload_l1_python_ratio", h.py_l1);
  printf("%-22s %8.2f  <= 10   python3 wall time, preload level 2 / glibc\n", "preload_l2_python_ratio", h.py_l2);
  for (int s = 0; s < NSTREAM; s++) {
    printf("\n%s stream%-13s %10s %8s %10s %8s\n", stream_name[s], "", "ms", "x glibc", "peak KiB", "x glibc");
    for (int a = 0; a < NALLOC; a++) print_row(&r->stream[s][a], &r->stream[s][A_GLIBC]);
  }
  printf("\nproducer/consumer%-4s %10s %8s %10s %8s\n", "", "ms", "x glibc", "peak KiB", "x glibc");
  for (int a = 0; a < NPROD; a++) print_row(&r->prod[a], &r->prod[P_GLIBC]);
  printf("\ncheck levels (random stream, fast model)%-1s %10s %8s\n", "", "ms", "x level 0");
  for (int l = 0; l < L_LEVELS; l++)
    printf("  %-39s %10.1f %8.2f\n", r->level[l].name, r->level[l].med.secs * 1e3, ratio(&r->level[l], &r->level[0]));
  printf("\nlevel 2 scaling%-27s %10s\n", "", "ns/op");
  for (int i = 0; i < NSCALE + 2; i++) printf("  %-39s %10.0f\n", r->scale[i].name, per_op_ns(&r->scale[i]));
  printf("  %-39s %10.2f\n", "level 0 growth, 1e6 / 1e2", per_op_ns(&r->scale[NSCALE + 1]) / per_op_ns(&r->scale[NSCALE]));
  printf("\nkernel cross-check (random stream)%-8s %10s\n", "", "ns/op");
  printf("  %-39s %10.0f\n  %-39s %10.0f\n", "shadow mode, level 2", per_op_ns(&r->floor), "floor: raw calls + faults + scan",
         usable(&r->floor) ? r->floor.med.floor / r->floor.med.ops * 1e9 : NAN);
  printf("\nfuzz targets (%.0f inputs, no sanitizers)%-3s %10s %10s\n", r->fuzz[0].execs, "", "exec/s", "ops/s");
  for (size_t i = 0; i <= r->nfuzz && r->fuzz[i].target[0]; i++)
    printf("  %-39s %10.0f %10.0f\n", r->fuzz[i].target, exec_rate(&r->fuzz[i]),
           r->fuzz[i].ok ? r->fuzz[i].ops / r->fuzz[i].secs : NAN);
  if (r->fuzz_note[0]) printf("  (%s)\n", r->fuzz_note);
  printf("\npython3 stdlib workload%-19s %10s %8s\n", "", "seconds", "x glibc");
  for (int i = 0; i < NPY; i++)
    printf("  %-39s %10.2f %8.2f\n", r->py[i].name, r->py[i].med.secs, ratio(&r->py[i], &r->py[PY_GLIBC]));
}

static void json_num(fl_json_t *j, const char *key, double x) {
  fl_json_key(j, key);
  if (isfinite(x)) fl_json_double(j, x);
  else fl_json_null(j);
}

static void json_variants(fl_json_t *j, const char *key, const variant_t *v, size_t n, const variant_t *base) {
  fl_json_key(j, key);
  fl_json_begin_object(j);
  for (size_t i = 0; i < n; i++) {
    fl_json_key(j, v[i].name);
    fl_json_begin_object(j);
    json_num(j, "ms", usable(&v[i]) ? v[i].med.secs * 1e3 : NAN);
    json_num(j, "time_ratio", ratio(&v[i], base));
    json_num(j, "peak_kib", usable(&v[i]) ? (double)v[i].med.peak_kib : NAN);
    json_num(j, "rss_ratio", rss_ratio(&v[i], base));
    json_num(j, "ns_per_op", per_op_ns(&v[i]));
    fl_json_end_object(j);
  }
  fl_json_end_object(j);
}

static void print_json(const bench_t *b, const results_t *r) {
  headline_t h = headline(r);
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  json_num(&j, "refmalloc_vs_glibc", h.refmalloc_vs_glibc);
  json_num(&j, "fuzz_vs_bare", h.fuzz_vs_bare);
  json_num(&j, "shadow_vs_floor", h.shadow_vs_floor);
  json_num(&j, "level2_growth", h.level2_growth);
  json_num(&j, "preload_l1_python_ratio", h.py_l1);
  json_num(&j, "preload_l2_python_ratio", h.py_l2);
  json_num(&j, "refmalloc_fast_vs_glibc", geomean_vs_glibc(r, A_FAST));
  json_num(&j, "refmalloc_shadow_vs_glibc", geomean_vs_glibc(r, A_SHADOW));
  fl_json_key(&j, "quick");
  fl_json_bool(&j, b->quick);
  fl_json_key(&j, "repetitions");
  fl_json_uint(&j, b->reps);
  fl_json_key(&j, "streams");
  fl_json_begin_object(&j);
  for (int s = 0; s < NSTREAM; s++) json_variants(&j, stream_name[s], r->stream[s], NALLOC, &r->stream[s][A_GLIBC]);
  fl_json_end_object(&j);
  json_variants(&j, "producer_consumer", r->prod, NPROD, &r->prod[P_GLIBC]);
  json_variants(&j, "check_levels", r->level, L_LEVELS, &r->level[0]);
  json_variants(&j, "level2_live_chunks", r->scale, NSCALE + 2, &r->scale[0]);
  json_num(&j, "level0_growth", per_op_ns(&r->scale[NSCALE + 1]) / per_op_ns(&r->scale[NSCALE]));
  fl_json_key(&j, "kernel_cross_check");
  fl_json_begin_object(&j);
  json_num(&j, "shadow_ns_per_op", per_op_ns(&r->floor));
  json_num(&j, "floor_ns_per_op", usable(&r->floor) ? r->floor.med.floor / r->floor.med.ops * 1e9 : NAN);
  fl_json_end_object(&j);
  fl_json_key(&j, "fuzz");
  fl_json_begin_object(&j);
  for (size_t i = 0; i <= r->nfuzz && r->fuzz[i].target[0]; i++) {
    fl_json_key(&j, r->fuzz[i].target);
    fl_json_begin_object(&j);
    json_num(&j, "exec_per_s", exec_rate(&r->fuzz[i]));
    json_num(&j, "ops_per_s", r->fuzz[i].ok ? r->fuzz[i].ops / r->fuzz[i].secs : NAN);
    fl_json_end_object(&j);
  }
  fl_json_end_object(&j);
  json_variants(&j, "python3", r->py, NPY, &r->py[PY_GLIBC]);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

/* ---------------------------------------------------------------- command */

static void bench_help(FILE *out) {
  fprintf(out,
          "usage: faultline bench [--quick] [--json] [--reps N] [--build-dir DIR] [--no-fuzz]\n"
          "\n"
          "Measures, side by side in one run (every variant once per repetition, in\n"
          "turn; medians), and prints ratios:\n"
          "  - refmalloc with its observation compiled out, observed on the fast model,\n"
          "    and observed on the shadow model, against glibc, jemalloc, tcmalloc and\n"
          "    mimalloc (LD_PRELOAD) on the same op streams: the generator's random\n"
          "    stream, the seed article's experiment, a size-class sweep; and real\n"
          "    threads in producer/consumer pairs, refmalloc there as the preload library;\n"
          "  - the cost of check levels 1-3 against level 0 on the random stream;\n"
          "  - level 2's cost per op with 1e2, 1e4 and 1e6 live chunks;\n"
          "  - shadow mode with its kernel checks against the physical floor: the same\n"
          "    system calls and page faults made raw, plus one PAGEMAP_SCAN per op;\n"
          "  - exec/s of every fuzz target against fuzz_bare_glibc (the same inputs on\n"
          "    glibc malloc), all built without sanitizers (preset fuzz-nosan);\n"
          "  - a stdlib-heavy python3 script under libfaultline-preload.so at levels 1\n"
          "    and 2 against plain glibc.\n"
          "\n"
          "The benchmarks run from build/release and build/fuzz-nosan, which are built\n"
          "first when missing (optimised, no sanitizers: the only numbers that mean\n"
          "anything). Progress goes to stderr.\n"
          "\n"
          "options:\n"
          "  --quick          smaller workloads, 3 repetitions, of the fuzz targets only\n"
          "                   refmalloc and ops: a few minutes once built\n"
          "  --json           the ratios and every measurement as one JSON object\n"
          "  --reps N         repetitions per variant (default 3 quick, 5 full; max %d)\n"
          "  --build-dir DIR  a release build to take bench_runner* and the preload from\n"
          "  --no-fuzz        skip the fuzz targets (no fuzz-nosan build needed)\n"
          "  -h, --help       this text\n"
          "\n"
          "examples:\n"
          "  faultline bench --quick\n"
          "  faultline bench --json > bench.json\n"
          "  faultline bench --quick --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"refmalloc_vs_glibc\"])'\n"
          "\n"
          "Exit status: 0 ok, 1 a run failed or found something, 2 usage error, 3 environment error.\n",
          MAX_REPS);
}

static bool any_failed(const results_t *r) {
  const variant_t *all = &r->stream[0][0];
  size_t n = (size_t)((const variant_t *)&r->py[NPY] - all);
  for (size_t i = 0; i < n; i++)
    if (all[i].failed) return true;
  return false;
}

static int parse_bench(int argc, char **argv, bench_t *b, const char **build_dir, bool *fuzz) {
  uint64_t reps = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--quick")) b->quick = true;
    else if (!strcmp(a, "--json")) b->json = true;
    else if (!strcmp(a, "--no-fuzz")) *fuzz = false;
    else if (!strcmp(a, "--reps") || !strcmp(a, "--build-dir")) {
      if (i + 1 == argc) return fl_cli_fail("bench", 2, "%s needs a value", a);
      if (a[2] == 'b') *build_dir = argv[++i];
      else if (!fl_cli_parse_u64(argv[++i], false, &reps) || reps == 0 || reps > MAX_REPS)
        return fl_cli_fail("bench", 2, "--reps %s: must be 1 to %d", argv[i], MAX_REPS);
    } else {
      return fl_cli_fail("bench", 2, "unknown option '%s' (see faultline bench --help)", a);
    }
  }
  b->reps = reps ? (unsigned)reps : b->quick ? 3 : 5;
  return 0;
}

int fl_cmd_bench(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (fl_cli_is_help(argv[i])) {
      bench_help(stdout);
      return 0;
    }
  bench_t b = {0};
  const char *build_dir = NULL;
  bool fuzz = true;
  int rc = parse_bench(argc, argv, &b, &build_dir, &fuzz);
  if (rc || (rc = prepare(&b, build_dir))) return rc;
  results_t *r = calloc(1, sizeof *r);
  if (!r) return fl_cli_fail("bench", 3, "out of memory");
  if (fuzz && (rc = prepare_fuzz(&b, r))) {
    free(r);
    return rc;
  }
  bench_streams(&b, r);
  bench_prodcons(&b, r);
  bench_levels(&b, r);
  bench_scale(&b, r);
  bench_floor(&b, r);
  if (fuzz) bench_fuzz(&b, r);
  else snprintf(r->fuzz_note, sizeof r->fuzz_note, "skipped: --no-fuzz");
  bench_python(&b, r);
  if (b.json) print_json(&b, r);
  else print_text(&b, r);
  rc = any_failed(r) ? 1 : 0;
  free(r);
  return rc;
}

/* kill.c — tries to kill the mutant linked into it (tests/mutants/mutants.cmake).
 *
 *   mutant_kill_<id> ID RESULT_DIR [LEVEL]
 *
 * A child process runs bounded streams against the refmalloc and model this
 * executable was linked with, in shadow mode (every call also made for real
 * in the window):
 *  - allocator streams through the executor, with the invariants at LEVEL
 *    (default 2) attached to refmalloc's call hook and a full walk at the end
 *    of each stream; in shadow mode a walk holds the model against the kernel
 *    too (KERNEL-*). First a few directed scripts reach what random streams
 *    rarely do (a non-main arena's heap shrinking), then seeded
 *    fl_ops_generate streams;
 *  - model steps (vm/drive.h): a few directed scenarios, then seeded random
 *    ones, each compared with the kernel after every step and held to the
 *    model's own rules (VMA-*, PT-*, RSS-*).
 * The first finding kills the mutant: an invariant violation (its ID), a
 * model/kernel mismatch, an executor finding (a verify that read other
 * bytes), a glibc integrity message on the valid stream, or the child's crash
 * or hang (the parent sees the signal). The parent writes one line,
 * "id<TAB>verdict<TAB>caught by<TAB>detail<TAB>seconds", to RESULT_DIR/m<id>.txt
 * for the summary, and exits 0 when the mutant was killed. ID 0 is the
 * control: nothing mutated, and nothing may be found. */
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check/check.h"
#include "host/profile.h"
#include "ops/exec.h"
#include "ops/gen.h"
#include "ops/rmtarget.h"
#include "ops/text.h"
#include "util/err.h"
#include "vm/drive.h"

#define HANG_SECONDS 120
#define HOST_HEAP_MB 48
#define VM_RUNS 8
#define VM_STEPS 64
#define PG 4096UL

/* ---- the verdict --------------------------------------------------------- */

static int verdict_fd = -1;
static int check_level = 2;

/* The child's verdict, "caught by<TAB>detail", then exit. */
static _Noreturn void killed(const char *by, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void killed(const char *by, const char *fmt, ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  for (char *p = detail; *p; p++)
    if (*p == '\t' || *p == '\n') *p = ' ';
  dprintf(verdict_fd, "%s\t%s\n", by, detail);
  _exit(1);
}

static _Noreturn void environment(const char *what) {
  fprintf(stderr, "mutant_kill: %s: %s\n", what, fl_error_message());
  _exit(3);
}

/* where: the run, and the op of the stream when there is one. */
static void report_violation(const fl_check_t *chk, const char *where) {
  if (!fl_check_violation_count(chk)) return;
  fl_check_report(chk, stderr, false);
  const fl_violation_t *v = fl_check_violation(chk, 0);
  killed(v->id, "%s, refmalloc call %llu: expected %.120s, actual %.120s", where, (unsigned long long)v->op_index,
         v->expected, v->actual);
}

static fl_vm_t *open_shadow(void) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = FL_VM_SHADOW;
  fl_vm_t *vm;
  if (fl_vm_open(&vm, &cfg) != FL_OK) environment("cannot open the model");
  return vm;
}

/* ---- allocator streams --------------------------------------------------- */

/* Paths that a few thousand random ops rarely reach. */
static const char *const scripts[] = {
    /* A non-main arena's heap shrinks (heap_trim -> shrink_heap): the freed
     * chunks coalesce into a top above trim_threshold. Thread 0 takes the
     * main arena first, as the process's first thread does. */
    "faultline-ops v2\n"
    "#9 = malloc 16\n"
    "thread 1\n"
    "#0 = malloc 60000\n#1 = malloc 60000\n#2 = malloc 60000\n#3 = malloc 60000\n"
    "write #0 0 60000 0x11\nwrite #1 0 60000 0x22\nwrite #2 0 60000 0x33\nwrite #3 0 60000 0x44\n"
    "free #0\nfree #1\nfree #2\nfree #3\n",
};

/* The seeded streams: thread counts and lengths chosen so that arenas,
 * mapped chunks, trims and every bin class are reached. */
static const struct {
  uint64_t seed;
  unsigned threads;
  size_t ops;
} random_runs[] = {{1, 1, 1200}, {2, 4, 600}, {3, 1, 1000}};

typedef struct stream_run {
  fl_rm_t *rm;
  fl_check_t *chk;
  const char *name;
} stream_run_t;

static bool after_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  stream_run_t *r = ctx;
  char text[96], where[192];
  fl_op_format(op, text, sizeof text);
  snprintf(where, sizeof where, "%s, op %zu (%s)", r->name, index, text);
  report_violation(r->chk, where);
  if (fl_rm_aborted(r->rm))
    killed("glibc-abort", "%s: refmalloc raised \"%s\" on a valid stream", where, fl_rm_last_event(r->rm)->message);
  return true;
}

static void run_stream(const char *name, const fl_ops_t *ops, uint64_t budget) {
  stream_run_t r = {.name = name};
  fl_vm_t *vm = open_shadow();
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  if (fl_rm_open(&r.rm, vm, &rc) != FL_OK) environment("fl_rm_open");
  if (fl_check_open(&r.chk, r.rm, vm, check_level) != FL_OK) environment("fl_check_open");
  fl_target_t t;
  fl_rmtarget_init(&t, r.rm);
  fl_rmtarget_set_checker(&t, r.chk);
  fl_exec_options_t eo = {.budget = budget, .stop_on_finding = true, .after_op = after_op, .after_op_ctx = &r};
  fl_exec_result_t res;
  fl_status_t st = fl_exec_run(ops, &t, &eo, &res);
  if (st == FL_FINDING) killed("executor", "%s, op %zu: %s", name, res.first_finding, res.finding);
  if (st != FL_OK) environment("fl_exec_run");
  fl_check_full(r.chk); /* what the last walk did not see, and the final frees */
  report_violation(r.chk, name);
  fl_exec_result_free(&res);
  fl_check_close(r.chk);
  fl_rm_close(r.rm);
  fl_vm_close(vm);
}

static void run_script(size_t k) {
  char name[64];
  snprintf(name, sizeof name, "script %zu", k);
  fl_ops_t ops;
  fl_ops_init(&ops);
  if (fl_ops_parse_text(scripts[k], strlen(scripts[k]), name, &ops) != FL_OK) environment("a script");
  run_stream(name, &ops, 0);
  fl_ops_free(&ops);
}

static void run_random(size_t k) {
  char name[64];
  snprintf(name, sizeof name, "allocator run %zu (seed %llu)", k, (unsigned long long)random_runs[k].seed);
  fl_gen_options_t go;
  fl_gen_options_default(&go);
  go.threads = random_runs[k].threads;
  go.budget = (uint64_t)64 << 20;
  /* No injected failures: glibc ignores a failed munmap in munmap_chunk,
   * and the checker would then report the kept mapping (VMA-FREED). */
  go.kinds &= ~FL_GEN_KIND(FL_OP_INJECT);
  fl_ops_t ops;
  fl_ops_init(&ops);
  if (fl_ops_generate(random_runs[k].seed, random_runs[k].ops, &go, &ops) != FL_OK) environment("fl_ops_generate");
  run_stream(name, &ops, go.budget);
  fl_ops_free(&ops);
}

/* ---- model steps ----------------------------------------------------------- */

typedef struct model_run {
  fl_vm_t *vm;
  fl_rm_t *rm;
  fl_check_t *chk;
  uintptr_t arena; /* where vm/drive.h's steps act */
} model_run_t;

/* The checker needs an allocator to attach to: an idle refmalloc that owns
 * nothing stands in (exclusive off), so only the model's own rules hold. */
static void model_open(model_run_t *m) {
  m->vm = open_shadow();
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  if (fl_rm_open(&m->rm, m->vm, &rc) != FL_OK || fl_check_open(&m->chk, m->rm, m->vm, 0) != FL_OK)
    environment("open");
  fl_check_set_exclusive(m->chk, false);
  const fl_vm_config_t *c = fl_vm_config(m->vm);
  m->arena = c->base + c->size - (uintptr_t)FL_DRIVE_ARENA_PAGES * PG;
}

static void model_close(model_run_t *m) {
  fl_check_close(m->chk);
  fl_rm_close(m->rm);
  fl_vm_close(m->vm);
}

/* After each model step: the kernel against the model, then the model's
 * own rules. Each ID runs the check function that implements it. */
static const char *const model_checks[] = {
    "KERNEL-MINFLT", /* first: reading /proc faults pages of ours */
    "KERNEL-MAPS",   "KERNEL-PAGES", /* and KERNEL-PAGE-STATE */
    "KERNEL-RSS",    "KERNEL-ERRNO", "KERNEL-ACCESS",
    "VMA-SORTED",    /* fl_chk_vmas: every VMA-* rule of the model */
    "RSS-COUNT",     /* fl_chk_pages: PT-*, RSS-* */
};

static void model_step(model_run_t *m, const fl_drive_step_t *s, const char *name, size_t i) {
  int64_t ret = fl_drive_apply(m->vm, s);
  for (size_t k = 0; k < sizeof model_checks / sizeof model_checks[0]; k++) fl_check_one(m->chk, model_checks[k]);
  if (!fl_check_violation_count(m->chk)) return;
  char where[96];
  snprintf(where, sizeof where, "%s, step %zu", name, i);
  fl_drive_print(s, ret, stderr);
  report_violation(m->chk, where);
}

/* Directed scenarios: one step each of what the random steps rarely do in
 * the 16 MiB arena. Addresses are page offsets into the arena. */
#define STEP(k, page, pages, ...) {.kind = FL_DRIVE_##k, .addr = (page) * PG, .len = (pages) * PG, __VA_ARGS__}
#define FIXED_RW .prot = PROT_READ | PROT_WRITE, .flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
static const struct {
  const char *name;
  size_t n;
  fl_drive_step_t steps[4];
} scenarios[] = {
    {"MADV_FREE keeps the pages in Rss", 3,
     {STEP(MMAP_FIXED, 0, 4, FIXED_RW), STEP(WRITE, 0, 4), STEP(MADVISE, 0, 4, .advice = MADV_FREE)}},
    {"a write to a read-only mapping", 2,
     {STEP(MMAP_FIXED, 0, 1, .prot = PROT_READ, .flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED), STEP(WRITE, 0, 1)}},
    {"mprotect over a hole", 3,
     {STEP(MMAP_FIXED, 0, 1, FIXED_RW), STEP(MMAP_FIXED, 2, 1, FIXED_RW), STEP(MPROTECT, 0, 3, .prot = PROT_READ)}},
};

static void run_scenario(size_t k) {
  model_run_t m;
  model_open(&m);
  for (size_t i = 0; i < scenarios[k].n; i++) {
    fl_drive_step_t s = scenarios[k].steps[i];
    s.addr += m.arena;
    model_step(&m, &s, scenarios[k].name, i);
  }
  model_close(&m);
}

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void run_model(size_t k, uint64_t *rng) {
  uint8_t bytes[VM_STEPS * FL_DRIVE_STEP];
  for (size_t i = 0; i < sizeof bytes; i += 8) {
    uint64_t x = splitmix64(rng);
    memcpy(bytes + i, &x, 8);
  }
  model_run_t m;
  model_open(&m);
  char name[64];
  snprintf(name, sizeof name, "model run %zu", k);
  for (size_t i = 0; i < VM_STEPS; i++) {
    fl_drive_step_t s;
    fl_drive_decode(m.vm, bytes, sizeof bytes, i, &s);
    model_step(&m, &s, name, i);
  }
  model_close(&m);
}

/* ---- the child and the parent ---------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The kernel's minor-fault count covers the whole process: the host heap
 * growing under the checker's and the executor's tables, and the first run
 * of each page of code, would count against the model (KERNEL-MINFLT).
 * Fault a host heap in once and keep it (no trim, no mmap'd blocks), so that
 * their allocations reuse present pages, and bring every page mapped so far
 * (code, data, that heap) in with mlockall, unlocked at once: the pages stay. */
static void prefault_host(void) {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  size_t n = (size_t)HOST_HEAP_MB << 20;
  char *p = malloc(n);
  if (!p) environment("no host heap");
  memset(p, 1, n);
  free(p);
  if (mlockall(MCL_CURRENT) == 0) munlockall();
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static _Noreturn void child(void) {
  alarm(HANG_SECONDS);
  prefault_host();
  double t0 = now();
  for (size_t k = 0; k < COUNT(scenarios); k++) run_scenario(k);
  for (size_t k = 0; k < COUNT(scripts); k++) run_script(k);
  double t1 = now();
  for (size_t k = 0; k < COUNT(random_runs); k++) run_random(k);
  double t2 = now();
  uint64_t rng = 42;
  for (size_t k = 0; k < VM_RUNS; k++) run_model(k, &rng);
  fprintf(stderr, "mutant_kill: directed %.1f s, allocator runs %.1f s, model runs %.1f s: nothing found\n", t1 - t0,
          t2 - t1, now() - t2);
  _exit(0);
}

/* The child's verdict line, or what its death says. */
static int judge(pid_t pid, int fd, char *verdict, size_t cap) {
  char line[640] = "";
  ssize_t n = read(fd, line, sizeof line - 1);
  line[n > 0 ? n : 0] = '\0';
  line[strcspn(line, "\n")] = '\0';
  int ws;
  waitpid(pid, &ws, 0);
  if (WIFSIGNALED(ws))
    snprintf(verdict, cap, "%s\tthe driver died of signal %d (%s)", WTERMSIG(ws) == SIGALRM ? "hang" : "crash",
             WTERMSIG(ws), strsignal(WTERMSIG(ws)));
  else if (WEXITSTATUS(ws) == 1 && line[0])
    snprintf(verdict, cap, "%s", line);
  else if (WEXITSTATUS(ws) == 0)
    snprintf(verdict, cap, "-\tnothing found");
  else
    return fprintf(stderr, "mutant_kill: the driver could not run (exit %d)\n", WEXITSTATUS(ws)), 3;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4 || (argc == 4 && (argv[3][0] < '1' || argv[3][0] > '3' || argv[3][1]))) {
    fprintf(stderr, "usage: %s ID RESULT_DIR [LEVEL 1..3]\n", argv[0]);
    return 2;
  }
  int id = atoi(argv[1]);
  if (argc == 4) check_level = argv[3][0] - '0';
  int fds[2];
  if (pipe(fds)) return 3;
  double t0 = now();
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 3;
  if (pid == 0) {
    close(fds[0]);
    verdict_fd = fds[1];
    child();
  }
  close(fds[1]);
  char verdict[700];
  if (judge(pid, fds[0], verdict, sizeof verdict)) return 3;
  bool caught = strncmp(verdict, "-\t", 2) != 0;
  char path[4096];
  snprintf(path, sizeof path, "%s/m%d.txt", argv[2], id);
  FILE *f = fopen(path, "w");
  if (!f) return fprintf(stderr, "mutant_kill: cannot write %s\n", path), 3;
  fprintf(f, "%d\t%s\t%s\t%.1f\n", id, caught ? "killed" : "survived", verdict, now() - t0);
  fclose(f);
  printf("mutant %d: %s (%s), %.1f s\n", id, caught ? "killed" : "survived", verdict, now() - t0);
  return id == 0 ? caught : !caught;
}

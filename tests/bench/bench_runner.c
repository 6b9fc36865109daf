/* bench_runner — one timed run of one workload on one allocator, for
 * `faultline bench` (src/cli/cmd_bench.c), which starts it many times,
 * interleaved, and takes medians. Not a test: it prints what it measured.
 *
 *   bench_runner random|seed|sweep [--ops N] [--seed S] [--target plain|refmalloc]
 *                [--mode fast|shadow] [--check L]
 *   bench_runner prodcons [--ops N] [--threads T]      the process allocator only
 *   bench_runner scale --live N [--ops N] [--check L]  refmalloc, fast mode
 *   bench_runner floor [--ops N] [--seed S] [--check L]
 *
 * The op streams run through the executor (src/ops/exec.h) for every
 * allocator alike: `plain` is whatever malloc the process has (glibc, or the
 * one LD_PRELOAD brings), `refmalloc` the reference allocator in-process on
 * the kernel model. Built twice: bench_runner (observation on) and
 * bench_runner_release (FL_RM_RELEASE: observation compiled out, shadow-mode
 * window, src/alloc/mem.h).
 *
 * Output, one line: "ops=N seconds=S peak_kib=K" and, per workload, more
 * key=value pairs. peak_kib is how far the resident set grew during the
 * timed part (VmHWM after, reset through clear_refs before, minus VmRSS). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "alloc/refmalloc.h"
#include "check/check.h"
#include "host/pagemap.h"
#include "host/profile.h"
#include "host/sys.h"
#include "ops/exec.h"
#include "ops/gen.h"
#include "ops/rmtarget.h"
#include "util/err.h"
#include "vm/vm.h"

#ifdef FL_RM_RELEASE
#define OBSERVED false
#else
#define OBSERVED true
#endif

typedef struct args {
  const char *workload;
  const char *target; /* plain | refmalloc */
  fl_vm_mode_t mode;
  int check;
  uint64_t ops, seed, live, threads;
} args_t;

static int usage_error(const char *what, const char *arg) {
  fprintf(stderr, "bench_runner: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
  return 2;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- resident set ------------------------------------------------------ */

static long status_kib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
  fclose(f);
  return v;
}

/* clear_refs 5 resets VmHWM to the current RSS (Linux >= 4.0). */
static long rss_baseline(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
  return status_kib("VmRSS");
}

static void report(uint64_t ops, double seconds, long base_kib) {
  long hwm = status_kib("VmHWM");
  printf("ops=%llu seconds=%.6f peak_kib=%ld", (unsigned long long)ops, seconds,
         hwm >= base_kib ? hwm - base_kib : 0);
}

/* ---- the process allocator as an executor target ---------------------- */

static uintptr_t p_malloc(void *c, size_t n) { return (uintptr_t)malloc(n); }
static uintptr_t p_calloc(void *c, size_t n, size_t s) { return (uintptr_t)calloc(n, s); }
static uintptr_t p_realloc(void *c, uintptr_t p, size_t n) { return (uintptr_t)realloc((void *)p, n); }
static void p_free(void *c, uintptr_t p) { free((void *)p); }
static uintptr_t p_memalign(void *c, size_t a, size_t n) { return (uintptr_t)memalign(a, n); }
static uintptr_t p_aligned_alloc(void *c, size_t a, size_t n) { return (uintptr_t)aligned_alloc(a, n); }
static int p_posix_memalign(void *c, uintptr_t *out, size_t a, size_t n) {
  return posix_memalign((void **)out, a, n);
}
static uintptr_t p_valloc(void *c, size_t n) { return (uintptr_t)valloc(n); }
static uintptr_t p_pvalloc(void *c, size_t n) { return (uintptr_t)pvalloc(n); }
static size_t p_usable_size(void *c, uintptr_t p) { return malloc_usable_size((void *)p); }
static int p_get_errno(void *c) { return errno; }
static void p_set_errno(void *c, int e) { errno = e; }
static bool p_read(void *c, uintptr_t a, void *buf, size_t n) {
  memcpy(buf, (const void *)a, n);
  return true;
}
static bool p_write(void *c, uintptr_t a, const void *buf, size_t n) {
  memcpy((void *)a, buf, n);
  return true;
}

static const fl_target_t plain_target = {
    .name = "plain", .malloc = p_malloc, .calloc = p_calloc, .realloc = p_realloc, .free = p_free,
    .memalign = p_memalign, .aligned_alloc = p_aligned_alloc, .posix_memalign = p_posix_memalign,
    .valloc = p_valloc, .pvalloc = p_pvalloc, .usable_size = p_usable_size, .get_errno = p_get_errno,
    .set_errno = p_set_errno, .read = p_read, .write = p_write,
};

/* ---- refmalloc on the model --------------------------------------------- */

typedef struct rm_env {
  fl_vm_t *vm;
  fl_rm_t *rm;
  fl_check_t *chk;
} rm_env_t;

static void rm_env_close(rm_env_t *e) {
  fl_check_close(e->chk);
  fl_rm_close(e->rm);
  fl_vm_close(e->vm);
}

/* The checker attaches before the first allocation so it tracks every chunk. */
static int rm_env_open(rm_env_t *e, fl_vm_mode_t mode, int check) {
  memset(e, 0, sizeof *e);
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = mode;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  if (fl_vm_open(&e->vm, &cfg) != FL_OK || fl_rm_open(&e->rm, e->vm, &rc) != FL_OK ||
      (check > 0 && fl_check_open(&e->chk, e->rm, e->vm, check) != FL_OK)) {
    fprintf(stderr, "bench_runner: %s\n", fl_error_message());
    rm_env_close(e);
    return 3;
  }
  return 0;
}

/* ---- op streams ----------------------------------------------------------- */

static void push(fl_ops_t *ops, fl_op_t op) {
  if (fl_ops_push(ops, &op) != FL_OK) {
    fprintf(stderr, "bench_runner: out of memory for the op stream\n");
    exit(3);
  }
}

/* The generator's mix (spec/ops.md) restricted to what every malloc has:
 * no logical threads, mallopt, trim, inject or check, which would make
 * refmalloc and the real allocators do different work, and no pvalloc,
 * which jemalloc does not define (glibc's would serve it). */
static int stream_random(const args_t *a, fl_ops_t *ops) {
  fl_gen_options_t o;
  fl_gen_options_default(&o);
  o.kinds = FL_GEN_ALL_KINDS & ~(FL_GEN_KIND(FL_OP_THREAD) | FL_GEN_KIND(FL_OP_MALLOPT) |
                                 FL_GEN_KIND(FL_OP_TRIM) | FL_GEN_KIND(FL_OP_INJECT) | FL_GEN_KIND(FL_OP_CHECK) |
                                 FL_GEN_KIND(FL_OP_PVALLOC));
  if (fl_ops_generate(a->seed, a->ops, &o, ops) != FL_OK) {
    fprintf(stderr, "bench_runner: %s\n", fl_error_message());
    return 3;
  }
  return 0;
}

/* The seed article's experiment, repeated: malloc(100) (no system call),
 * malloc(100 MiB) (an mmap), memset of all of it (25600 page faults),
 * free of both (munmap). --ops counts repetitions' ops (5 each). */
static int stream_seed(const args_t *a, fl_ops_t *ops) {
  const uint64_t big = 100ull << 20;
  for (uint64_t i = 0; i + 5 <= a->ops || i == 0; i += 5) {
    push(ops, (fl_op_t){.kind = FL_OP_MALLOC, .dst = 0, .a = 100});
    push(ops, (fl_op_t){.kind = FL_OP_MALLOC, .dst = 1, .a = big});
    push(ops, (fl_op_t){.kind = FL_OP_WRITE, .src = 1, .a = 0, .b = big, .byte = 0x5a});
    push(ops, (fl_op_t){.kind = FL_OP_FREE, .src = 1});
    push(ops, (fl_op_t){.kind = FL_OP_FREE, .src = 0});
  }
  return 0;
}

/* Every size class glibc has and then some: 16-byte steps to 1 KiB, then
 * steps of a quarter up to 1 MiB (past the mmap threshold). Per size, 32
 * blocks allocated, their first 64 bytes written, all freed; repeated
 * until --ops ops. */
static int stream_sweep(const args_t *a, fl_ops_t *ops) {
  while (ops->n < a->ops) {
    for (uint64_t size = 16; size <= (1u << 20) && ops->n < a->ops; size += size < 1024 ? 16 : size / 4) {
      for (uint16_t s = 0; s < 32; s++) {
        push(ops, (fl_op_t){.kind = FL_OP_MALLOC, .dst = s, .a = size});
        push(ops, (fl_op_t){.kind = FL_OP_WRITE, .src = s, .b = size < 64 ? size : 64, .byte = (uint8_t)s});
      }
      for (uint16_t s = 0; s < 32; s++) push(ops, (fl_op_t){.kind = FL_OP_FREE, .src = s});
    }
  }
  return 0;
}

static int make_stream(const args_t *a, fl_ops_t *ops) {
  if (!strcmp(a->workload, "random")) return stream_random(a, ops);
  if (!strcmp(a->workload, "seed")) return stream_seed(a, ops);
  return stream_sweep(a, ops);
}

/* random | seed | sweep on one target. */
static int run_stream(const args_t *a) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  int rc = make_stream(a, &ops);
  if (rc) return rc;
  bool rm = !strcmp(a->target, "refmalloc");
  rm_env_t e = {0};
  fl_target_t t = plain_target;
  if (rm) {
    if ((rc = rm_env_open(&e, a->mode, a->check))) return rc;
    fl_rmtarget_init(&t, e.rm);
  }
  fl_exec_result_t r;
  long base = rss_baseline();
  double t0 = now();
  fl_status_t st = fl_exec_run(&ops, &t, NULL, &r);
  double secs = now() - t0;
  report(ops.n, secs, base);
  printf(" ran=%zu skipped=%zu violations=%zu\n", r.ops_run, r.skipped, e.chk ? fl_check_violation_count(e.chk) : 0);
  if (st != FL_OK) fprintf(stderr, "bench_runner: %s\n", r.findings ? r.finding : fl_error_message());
  fl_exec_result_free(&r);
  if (rm) rm_env_close(&e);
  fl_ops_free(&ops);
  return st == FL_OK ? 0 : 1;
}

/* ---- producer/consumer threads on the process allocator ------------------ */

#define QCAP 1024

typedef struct queue {
  pthread_mutex_t mu;
  pthread_cond_t nonempty, nonfull;
  void *item[QCAP];
  size_t head, n;
  uint64_t left_to_consume;
  uint64_t bad; /* items whose first byte was not the producer's */
} queue_t;

typedef struct worker {
  queue_t *q;
  uint64_t items;
  uint64_t seed;
} worker_t;

/* Blocks of 16 B to 4 KiB, allocated here and freed by another thread: the
 * cross-thread free path every allocator handles its own way. */
static void *producer(void *arg) {
  worker_t *w = arg;
  fl_rng_t r;
  fl_rng_seed(&r, w->seed);
  for (uint64_t i = 0; i < w->items; i++) {
    size_t n = 16 + (size_t)fl_rng_below(&r, 4081);
    unsigned char *p = malloc(n);
    if (!p) abort();
    memset(p, 0xa5, n < 64 ? n : 64);
    pthread_mutex_lock(&w->q->mu);
    while (w->q->n == QCAP) pthread_cond_wait(&w->q->nonfull, &w->q->mu);
    w->q->item[(w->q->head + w->q->n++) % QCAP] = p;
    pthread_cond_signal(&w->q->nonempty);
    pthread_mutex_unlock(&w->q->mu);
  }
  return NULL;
}

static void *consumer(void *arg) {
  queue_t *q = arg;
  for (;;) {
    pthread_mutex_lock(&q->mu);
    while (q->n == 0 && q->left_to_consume) pthread_cond_wait(&q->nonempty, &q->mu);
    if (!q->left_to_consume) {
      pthread_mutex_unlock(&q->mu);
      return NULL;
    }
    unsigned char *p = q->item[q->head];
    q->head = (q->head + 1) % QCAP;
    q->n--;
    if (--q->left_to_consume == 0) pthread_cond_broadcast(&q->nonempty);
    pthread_cond_signal(&q->nonfull);
    pthread_mutex_unlock(&q->mu);
    if (p[0] != 0xa5) __atomic_add_fetch(&q->bad, 1, __ATOMIC_RELAXED);
    free(p);
  }
}

static int run_prodcons(const args_t *a) {
  enum { MAXT = 16 };
  unsigned t = a->threads > MAXT ? MAXT : a->threads ? (unsigned)a->threads : 1;
  queue_t q = {.mu = PTHREAD_MUTEX_INITIALIZER, .nonempty = PTHREAD_COND_INITIALIZER,
               .nonfull = PTHREAD_COND_INITIALIZER};
  uint64_t per = a->ops / 2 / t ? a->ops / 2 / t : 1;
  q.left_to_consume = per * t;
  worker_t w[MAXT];
  pthread_t prod[MAXT], cons[MAXT];
  long base = rss_baseline();
  double t0 = now();
  for (unsigned i = 0; i < t; i++) {
    w[i] = (worker_t){.q = &q, .items = per, .seed = a->seed + i};
    if (pthread_create(&prod[i], NULL, producer, &w[i]) || pthread_create(&cons[i], NULL, consumer, &q)) {
      fprintf(stderr, "bench_runner: cannot start threads\n");
      return 3;
    }
  }
  for (unsigned i = 0; i < t; i++) {
    pthread_join(prod[i], NULL);
    pthread_join(cons[i], NULL);
  }
  double secs = now() - t0;
  report(2 * per * t, secs, base);
  printf(" threads=%u bad=%llu\n", 2 * t, (unsigned long long)q.bad);
  return q.bad ? 1 : 0;
}

/* ---- level-2 cost against the number of live chunks ---------------------- */

/* N live chunks of 16-256 bytes, then free-one-malloc-one pairs that keep N
 * live. A full check just before the timed part restarts level 2's walk
 * period (max(64, live) ops), and the timed part is a whole number of
 * periods: it holds exactly its share of walks. Other levels have no
 * period: level 3 walks after every op, so --ops is taken as given. */
static int run_scale(const args_t *a) {
  rm_env_t e;
  /* Level 3 would walk the heap after each of the N set-up mallocs: set up
   * at level 2 and raise the level for the timed part. */
  int rc = rm_env_open(&e, FL_VM_FAST, a->check > 2 ? 2 : a->check);
  if (rc) return rc;
  uint64_t live = a->live ? a->live : 1;
  uintptr_t *slot = malloc(live * sizeof *slot);
  if (!slot) return 3;
  fl_rng_t r;
  fl_rng_seed(&r, a->seed);
  for (uint64_t i = 0; i < live; i++) slot[i] = fl_rm_malloc(e.rm, 16 + fl_rng_below(&r, 241));
  uint64_t period = a->check != 2 ? 1 : live < 64 ? 64 : live, ops = (a->ops + period - 1) / period * period;
  if (e.chk) {
    fl_check_set_level(e.chk, a->check);
    fl_check_full(e.chk);
  }
  uint64_t walks0 = e.chk ? fl_check_walks(e.chk) : 0;
  long base = rss_baseline();
  double t0 = now();
  for (uint64_t i = 0; i < (ops + 1) / 2; i++) {
    uint64_t k = fl_rng_below(&r, live);
    fl_rm_free(e.rm, slot[k]);
    slot[k] = fl_rm_malloc(e.rm, 16 + fl_rng_below(&r, 241));
  }
  double secs = now() - t0;
  report((ops + 1) / 2 * 2, secs, base);
  printf(" live=%llu walks=%llu violations=%zu\n", (unsigned long long)live,
         (unsigned long long)(e.chk ? fl_check_walks(e.chk) - walks0 : 0), e.chk ? fl_check_violation_count(e.chk) : 0);
  bool bad = e.chk && fl_check_violation_count(e.chk);
  free(slot);
  rm_env_close(&e);
  return bad ? 1 : 0;
}

/* ---- shadow mode against its physical floor ------------------------------ */

/* What one op made the kernel do, as the vm's hooks saw it. */
typedef struct ev {
  uint32_t op;
  uint8_t is_fault, write;
  fl_vm_syscall_t call; /* !is_fault */
  uintptr_t page;       /* is_fault */
} ev_t;

typedef struct evlog {
  ev_t *v;
  size_t n, cap;
  uint32_t op;
} evlog_t;

static ev_t *ev_new(evlog_t *l) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 1 << 16;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) abort();
  }
  ev_t *e = &l->v[l->n++];
  memset(e, 0, sizeof *e);
  e->op = l->op;
  return e;
}

static void on_syscall(void *ctx, const fl_vm_syscall_t *call) { ev_new(ctx)->call = *call; }
static void on_fault(void *ctx, uintptr_t page, bool write, fl_pte_t before, fl_pte_t after) {
  ev_t *e = ev_new(ctx);
  e->is_fault = 1;
  e->write = write;
  e->page = page;
}
static bool next_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t s) {
  ((evlog_t *)ctx)->op = (uint32_t)index + 1;
  return true;
}

/* The call as shadow mode makes it for real (src/vm/shadow.c): at the
 * model's address, brk as fixed mappings of the difference. */
static void raw_call(const fl_vm_syscall_t *c, uintptr_t *brk) {
  const uint64_t *a = c->args;
  switch (c->no) {
  case FL_SYS_MMAP:
    fl_sys_mmap((uintptr_t)c->ret, a[1], (int)a[2], (int)a[3] | MAP_FIXED, -1, 0);
    break;
  case FL_SYS_MUNMAP: fl_sys_munmap(a[0], a[1]); break;
  case FL_SYS_MPROTECT: fl_sys_mprotect(a[0], a[1], (int)a[2]); break;
  case FL_SYS_MADVISE: fl_sys_madvise(a[0], a[1], (int)a[2]); break;
  case FL_SYS_MREMAP:
    if ((uintptr_t)c->ret != a[0]) fl_sys_mremap(a[0], a[1], a[2], MREMAP_MAYMOVE | MREMAP_FIXED, (uintptr_t)c->ret);
    else fl_sys_mremap(a[0], a[1], a[2], (int)a[3] & ~MREMAP_MAYMOVE, 0);
    break;
  case FL_SYS_BRK:
    if (*brk && (uintptr_t)c->ret > *brk)
      fl_sys_mmap(*brk, (uintptr_t)c->ret - *brk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    else if (*brk && (uintptr_t)c->ret < *brk)
      fl_sys_munmap((uintptr_t)c->ret, *brk - (uintptr_t)c->ret);
    *brk = (uintptr_t)c->ret;
    break;
  default: break;
  }
}

/* Replays the log op by op: the successful system calls, one access per
 * page the model faulted, then one PAGEMAP_SCAN of the pages the op touched. */
static double replay_floor(const evlog_t *l, fl_pagemap_t *pm, uintptr_t base, size_t size) {
  static uint8_t kinds[1 << 16];
  uintptr_t brk = 0;
  double t0 = now();
  for (size_t i = 0; i < l->n;) {
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    size_t j = i;
    for (; j < l->n && l->v[j].op == l->v[i].op; j++) {
      const ev_t *e = &l->v[j];
      if (!e->is_fault) {
        if (e->call.ret >= 0 || e->call.no == FL_SYS_BRK) raw_call(&e->call, &brk);
        continue;
      }
      if (e->write) *(volatile uint8_t *)e->page = *(volatile uint8_t *)e->page;
      else (void)*(volatile uint8_t *)e->page;
      lo = e->page < lo ? e->page : lo;
      hi = e->page + 4096 > hi ? e->page + 4096 : hi;
    }
    if (hi > lo) {
      size_t np = (hi - lo) / 4096;
      fl_pagemap_read(pm, lo, np < sizeof kinds ? np : sizeof kinds, kinds);
    }
    i = j;
  }
  double secs = now() - t0;
  fl_sys_munmap(base, size);
  return secs;
}

/* The random stream on refmalloc in shadow mode at --check (level 2: its
 * KERNEL-* checks), then the same kernel work done raw. */
static int run_floor(const args_t *a) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  int rc = stream_random(a, &ops);
  rm_env_t e;
  if (rc || (rc = rm_env_open(&e, FL_VM_SHADOW, a->check))) return rc;
  evlog_t log = {0};
  fl_vm_hooks_t hooks = {.ctx = &log, .syscall = on_syscall, .fault = on_fault};
  fl_vm_set_hooks(e.vm, &hooks);
  fl_target_t t;
  fl_rmtarget_init(&t, e.rm);
  fl_exec_options_t xo = {.after_op = next_op, .after_op_ctx = &log};
  fl_exec_result_t r;
  double t0 = now();
  fl_status_t st = fl_exec_run(&ops, &t, &xo, &r);
  double shadow = now() - t0;
  size_t violations = e.chk ? fl_check_violation_count(e.chk) : 0;
  uintptr_t base = fl_vm_config(e.vm)->base;
  size_t size = fl_vm_config(e.vm)->size;
  fl_exec_result_free(&r);
  rm_env_close(&e);
  fl_pagemap_t *pm;
  if (fl_pagemap_open(&pm, FL_PAGEMAP_AUTO) != FL_OK) {
    fprintf(stderr, "bench_runner: %s\n", fl_error_message());
    return 3;
  }
  double floor = replay_floor(&log, pm, base, size);
  fl_pagemap_close(pm);
  printf("ops=%zu seconds=%.6f floor_seconds=%.6f events=%zu violations=%zu\n", ops.n, shadow, floor, log.n,
         violations);
  free(log.v);
  fl_ops_free(&ops);
  return st == FL_OK && !violations ? 0 : 1;
}

/* ---- command line ---------------------------------------------------------- */

static bool is_stream(const char *w) { return !strcmp(w, "random") || !strcmp(w, "seed") || !strcmp(w, "sweep"); }

static int parse(int argc, char **argv, args_t *a) {
  *a = (args_t){.target = "plain", .mode = OBSERVED ? FL_VM_FAST : FL_VM_SHADOW, .ops = 200000, .seed = 1,
                .threads = 2};
  if (argc < 2) return usage_error("usage: bench_runner random|seed|sweep|prodcons|scale|floor [options]", NULL);
  a->workload = argv[1];
  const char *known[] = {"random", "seed", "sweep", "prodcons", "scale", "floor"};
  bool ok = false;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= !strcmp(a->workload, known[i]);
  if (!ok) return usage_error("unknown workload", a->workload);
  for (int i = 2; i < argc; i++) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage_error("missing value for", f);
    i++;
    char *end;
    uint64_t n = strtoull(v, &end, 0);
    bool num = *v && !*end;
    if (!strcmp(f, "--target") && (!strcmp(v, "plain") || !strcmp(v, "refmalloc"))) a->target = v;
    else if (!strcmp(f, "--mode") && (!strcmp(v, "fast") || !strcmp(v, "shadow")))
      a->mode = !strcmp(v, "fast") ? FL_VM_FAST : FL_VM_SHADOW;
    else if (!strcmp(f, "--check") && num && n <= 3) a->check = (int)n;
    else if (!strcmp(f, "--ops") && num && n) a->ops = n;
    else if (!strcmp(f, "--seed") && num) a->seed = n;
    else if (!strcmp(f, "--live") && num && n) a->live = n;
    else if (!strcmp(f, "--threads") && num && n) a->threads = n;
    else return usage_error("bad option or value", f);
  }
  /* Without observation the model sees no page and no access: only shadow
   * mode keeps memory right (src/alloc/mem.h), and no invariant can run. */
  if (!OBSERVED && (a->mode != FL_VM_SHADOW || a->check || !is_stream(a->workload)))
    return usage_error("bench_runner_release runs random, seed and sweep in shadow mode, unchecked", NULL);
  return 0;
}

int main(int argc, char **argv) {
  args_t a;
  int rc = parse(argc, argv, &a);
  if (rc) return rc;
  if (!strcmp(a.workload, "prodcons")) return run_prodcons(&a);
  if (!strcmp(a.workload, "scale")) return run_scale(&a);
  if (!strcmp(a.workload, "floor")) return run_floor(&a);
  return run_stream(&a);
}

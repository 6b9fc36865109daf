/* preload.c — libfaultline-preload.so: refmalloc as the process allocator.
 *
 *   LD_PRELOAD=build/release/libfaultline-preload.so python3 ...
 *
 * Every malloc-family call of the program goes to refmalloc, whose memory
 * is the kernel model's window in shadow mode: the model makes each
 * mmap/munmap/brk-as-mapping for real at its own addresses, so the program
 * gets real memory at refmalloc's (deterministic) addresses. The program's
 * own loads and stores are not observed, so page-level predictions are not
 * checked here (the invariants that compare pages with the kernel are off).
 * FAULTLINE_CHECK=0..3 picks the invariant level (spec/invariants.md); a
 * violation prints the checker's report and aborts.
 *
 * faultline's own code (the model, refmalloc's host-side bookkeeping, the
 * /proc readers) calls malloc too: while a thread is inside refmalloc those
 * calls are served by a small private allocator (below), never recursively.
 *
 * Real pthreads map to refmalloc's logical threads (one id per live thread,
 * reused after exit); one lock serialises the allocator, and fork holds it
 * (pthread_atfork) so the child's copy is consistent. Where glibc would print
 * and abort (malloc_printerr, an assertion), the same line is printed and
 * the process aborts; a wild access refmalloc makes is a SIGSEGV, as it
 * would be with glibc. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc/refmalloc.h"
#include "check/check.h"
#include "host/profile.h"
#include "host/sys.h"
#include "util/err.h"
#include "vm/vm.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- the private allocator for faultline's own bookkeeping ---------------
 * Power-of-two size classes from 32 bytes, carved from one reserved region
 * outside the window; a 16-byte header keeps the class. Never returns memory
 * to the kernel: the bookkeeping is small and lives as long as the process. */
#define PRIV_REGION (1UL << 32)
#define PRIV_CLASSES 40
#define PRIV_HDR 16

static uint8_t *priv_base, *priv_next, *priv_end;
static void *priv_free[PRIV_CLASSES];

static int priv_class(size_t n) {
  int c = 5;
  while (((size_t)1 << c) < n + PRIV_HDR) c++;
  return c;
}

static bool priv_owns(const void *p) {
  return priv_base && (const uint8_t *)p >= priv_base && (const uint8_t *)p < priv_end;
}

static void *priv_malloc(size_t n) {
  if (n > PRIV_REGION / 4) return NULL;
  if (!priv_base) {
    intptr_t r = fl_sys_mmap(0, PRIV_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r < 0) return NULL;
    priv_base = priv_next = (uint8_t *)r;
    priv_end = priv_base + PRIV_REGION;
  }
  int c = priv_class(n);
  uint8_t *blk = priv_free[c];
  if (blk) {
    priv_free[c] = *(void **)blk;
  } else {
    if ((size_t)(priv_end - priv_next) < ((size_t)1 << c)) return NULL;
    blk = priv_next;
    priv_next += (size_t)1 << c;
  }
  *(uint64_t *)blk = (uint64_t)c;
  return blk + PRIV_HDR;
}

static size_t priv_size(void *p) { return ((size_t)1 << *(uint64_t *)((uint8_t *)p - PRIV_HDR)) - PRIV_HDR; }

static void priv_release(void *p) {
  uint8_t *blk = (uint8_t *)p - PRIV_HDR;
  int c = (int)*(uint64_t *)blk;
  *(void **)blk = priv_free[c];
  priv_free[c] = blk;
}

static void *priv_realloc(void *p, size_t n) {
  if (!p) return priv_malloc(n);
  if (n <= priv_size(p)) return p;
  void *q = priv_malloc(n);
  if (q) memcpy(q, p, priv_size(p));
  priv_release(p);
  return q;
}

/* ---- state ------------------------------------------------------------- */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int inside;       /* this thread is in refmalloc or the model */
static _Thread_local unsigned my_tid;  /* logical thread + 1, 0 = not yet */
static fl_vm_t *vm;
static fl_rm_t *rm;
static fl_check_t *checker;
static pthread_key_t exit_key;
static unsigned next_tid;
static unsigned free_tids[256], nfree_tids;

static void die(const char *what) {
  fprintf(stderr, "libfaultline-preload: %s: %s\n", what, fl_error_message());
  _exit(127);
}

static void on_thread_exit(void *arg);

static void fork_prepare(void) { pthread_mutex_lock(&lock); }
static void fork_parent(void) { pthread_mutex_unlock(&lock); }
static void fork_child(void) { pthread_mutex_unlock(&lock); }

/* A broken invariant: the report, then abort (like glibc's own checks). */
static void on_violation(void *ctx, const fl_violation_t *v) {
  (void)ctx;
  fprintf(stderr, "faultline: invariant %s violated after call %llu at %#lx\n  expected: %s\n  actual:   %s\n  %s\n",
          v->id, (unsigned long long)v->op_index, (unsigned long)v->addr, v->expected, v->actual, v->drawing);
  abort();
}

/* First call, under the lock and inside. */
static void init(void) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = FL_VM_SHADOW;
  cfg.thp = true; /* leave the program's THP policy alone */
  if (fl_vm_open(&vm, &cfg) != FL_OK) die("cannot open the kernel model");
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  rc.tunables = getenv("GLIBC_TUNABLES");
  if (fl_rm_open(&rm, vm, &rc) != FL_OK) die("cannot open refmalloc");
  const char *lvl = getenv("FAULTLINE_CHECK");
  if (lvl && *lvl && strcmp(lvl, "0")) {
    if (!(lvl[0] >= '1' && lvl[0] <= '3' && !lvl[1])) {
      fprintf(stderr, "libfaultline-preload: FAULTLINE_CHECK=%s: must be 0, 1, 2 or 3\n", lvl);
      _exit(2);
    }
    if (fl_check_open(&checker, rm, vm, lvl[0] - '0') != FL_OK) die("cannot start the invariant checks");
    fl_check_set_unobserved(checker, true);
    fl_check_set_violation_hook(checker, on_violation, NULL);
  }
  pthread_key_create(&exit_key, on_thread_exit);
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void enter(void) {
  inside = 1;
  pthread_mutex_lock(&lock);
  if (!rm) init();
  if (!my_tid) {
    my_tid = 1 + (nfree_tids ? free_tids[--nfree_tids] : next_tid++);
    pthread_setspecific(exit_key, (void *)(uintptr_t)my_tid);
  }
  fl_rm_set_thread(rm, my_tid - 1);
}

/* glibc prints malloc_printerr's message and aborts; a wild access of its
 * own would be a SIGSEGV. */
static void leave(int saved_errno) {
  if (fl_rm_aborted(rm)) {
    const fl_rm_event_t *ev = fl_rm_last_event(rm);
    if (ev && ev->kind == FL_RM_EV_SEGV) {
      signal(SIGSEGV, SIG_DFL);
      raise(SIGSEGV);
    }
    if (ev) fprintf(stderr, "%s\n", ev->message);
    abort();
  }
  pthread_mutex_unlock(&lock);
  inside = 0;
  errno = saved_errno;
}

static void on_thread_exit(void *arg) {
  unsigned tid = (unsigned)(uintptr_t)arg;
  inside = 1;
  pthread_mutex_lock(&lock);
  fl_rm_thread_exit(rm, tid - 1);
  if (nfree_tids < sizeof free_tids / sizeof free_tids[0]) free_tids[nfree_tids++] = tid - 1;
  pthread_mutex_unlock(&lock);
  inside = 0;
  my_tid = 0;
}

/* One entry point: run CALL on refmalloc with errno carried in and out. */
#define RM_ENTRY(type, CALL)        \
  do {                              \
    int e_ = errno;                 \
    enter();                        \
    fl_rm_set_errno(rm, e_);        \
    type r_ = (type)(CALL);         \
    int out_ = fl_rm_errno(rm);     \
    leave(out_);                    \
    return r_;                      \
  } while (0)

/* ---- the malloc API ------------------------------------------------------ */
EXPORT void *malloc(size_t n) {
  if (inside) return priv_malloc(n);
  RM_ENTRY(void *, fl_rm_malloc(rm, n));
}

EXPORT void free(void *p) {
  if (!p) return;
  if (priv_owns(p)) {
    priv_release(p);
    return;
  }
  int e = errno;
  enter();
  fl_rm_set_errno(rm, e);
  fl_rm_free(rm, (uintptr_t)p);
  leave(fl_rm_errno(rm));
}

EXPORT void *calloc(size_t n, size_t size) {
  if (inside) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = priv_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
  }
  RM_ENTRY(void *, fl_rm_calloc(rm, n, size));
}

EXPORT void *realloc(void *p, size_t n) {
  if (inside || priv_owns(p)) return priv_realloc(p, n);
  RM_ENTRY(void *, fl_rm_realloc(rm, (uintptr_t)p, n));
}

EXPORT void *memalign(size_t align, size_t n) { RM_ENTRY(void *, fl_rm_memalign(rm, align, n)); }
EXPORT void *aligned_alloc(size_t align, size_t n) { RM_ENTRY(void *, fl_rm_aligned_alloc(rm, align, n)); }
EXPORT void *valloc(size_t n) { RM_ENTRY(void *, fl_rm_valloc(rm, n)); }
EXPORT void *pvalloc(size_t n) { RM_ENTRY(void *, fl_rm_pvalloc(rm, n)); }

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  uintptr_t p = 0;
  int e = errno;
  enter();
  fl_rm_set_errno(rm, e);
  int r = fl_rm_posix_memalign(rm, &p, align, n);
  leave(fl_rm_errno(rm));
  if (r == 0) *out = (void *)p;
  return r;
}

EXPORT size_t malloc_usable_size(void *p) {
  if (!p) return 0;
  if (priv_owns(p)) return priv_size(p);
  RM_ENTRY(size_t, fl_rm_usable_size(rm, (uintptr_t)p));
}

EXPORT int mallopt(int param, int value) { RM_ENTRY(int, fl_rm_mallopt(rm, param, value)); }
EXPORT int malloc_trim(size_t pad) { RM_ENTRY(int, fl_rm_trim(rm, pad)); }

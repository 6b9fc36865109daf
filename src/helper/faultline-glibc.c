/* faultline-glibc — runs ops against the real process allocator.
 *
 * Started by fl_glibc_open (src/ops/glibc.c) under ptrace with a seccomp
 * filter; the protocol is in src/ops/glibc.h: one fl_op_t in on fd 3, one
 * fl_glibc_reply_t out on fd 4, then the getppid() marker. Whatever
 * allocator the process has (glibc's, or one LD_PRELOAD brings) is the one
 * measured, so this program must not perturb it: no stdio, no allocation of
 * its own, the slot table is static. Never built with sanitizers.
 *
 * Slot semantics are the executor's (src/ops/exec.h); the parent only sends
 * the ops the executor ran on refmalloc, so budget decisions are its.
 *
 * Logical threads are real pthreads: the main thread reads each op and runs
 * it itself (thread 0) or hands it to the thread's pthread and waits (a
 * semaphore each way: futexes, not traced). A thread is created by the main
 * thread at the first thread op that names it, as refmalloc's side mirrors
 * (diff.c): pthread_create maps the stack and callocs the DTV; glibc picks
 * the new thread's arena at its first allocation (arena_get2). */
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ops/glibc.h"
#include "ops/op.h"

typedef struct hslot {
  uintptr_t p;   /* 0: empty */
  uint64_t size; /* requested bytes: the bounds of write/verify */
} hslot_t;

static hslot_t slot[FL_OP_SLOTS];

/* The end-of-op marker: the tracer stops here (seccomp). */
static void marker(void) { (void)getppid(); }

static void store(uint16_t s, uintptr_t p, uint64_t size) {
  slot[s].p = p;
  slot[s].size = p ? size : 0;
}

static uint64_t request(const fl_op_t *op) {
  uint64_t n;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_CALLOC:
    return __builtin_mul_overflow(op->a, op->b, &n) ? UINT64_MAX : n;
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
    return op->b;
  default:
    return op->a;
  }
}

/* The allocating kinds; r->ptr, r->err, r->ret. */
static void run_alloc(const fl_op_t *op, fl_glibc_reply_t *r) {
  void *p = NULL;
  errno = 0;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MALLOC: p = malloc(op->a); break;
  case FL_OP_CALLOC: p = calloc(op->a, op->b); break;
  case FL_OP_MEMALIGN: p = memalign(op->a, op->b); break;
  case FL_OP_ALIGNED_ALLOC: p = aligned_alloc(op->a, op->b); break;
  case FL_OP_POSIX_MEMALIGN:
    r->ret = posix_memalign(&p, op->a, op->b);
    if (r->ret) p = NULL; /* on error *out is unspecified */
    break;
  case FL_OP_VALLOC: p = valloc(op->a); break;
  case FL_OP_PVALLOC: p = pvalloc(op->a); break;
  default: break;
  }
  r->err = errno;
  r->ptr = (uintptr_t)p;
  store(op->dst, (uintptr_t)p, request(op));
}

/* exec.h: non-NULL moves s to d; NULL with n == 0 freed s; NULL otherwise
 * leaves s alone and d empty unless d == s. */
static void run_realloc(const fl_op_t *op, fl_glibc_reply_t *r) {
  hslot_t old = slot[op->src];
  if (!old.p) {
    r->status = FL_GLIBC_EMPTY_SLOT;
    return;
  }
  errno = 0;
  void *p = realloc((void *)old.p, op->a);
  r->err = errno;
  r->ptr = (uintptr_t)p;
  if (p || op->a == 0) store(op->src, 0, 0);
  if (p || op->dst != op->src) store(op->dst, (uintptr_t)p, op->a);
}

/* write/verify clipped to the block's requested size, as the executor. */
static bool clip(const hslot_t *s, const fl_op_t *op, uint64_t *len) {
  if (op->a >= s->size) return false;
  *len = op->b < s->size - op->a ? op->b : s->size - op->a;
  return *len > 0;
}

static void run_memory(const fl_op_t *op, fl_glibc_reply_t *r) {
  const hslot_t *s = &slot[op->src];
  uint64_t len;
  if (!clip(s, op, &len)) {
    r->status = FL_GLIBC_OUT_OF_BLOCK;
    return;
  }
  unsigned char *p = (unsigned char *)s->p + op->a;
  if (op->kind == FL_OP_WRITE) {
    memset(p, op->byte, len);
    return;
  }
  r->verify_ok = 1;
  for (uint64_t i = 0; i < len; i++)
    if (p[i] != op->byte) {
      r->verify_ok = 0;
      break;
    }
}

static void run(const fl_op_t *op, fl_glibc_reply_t *r) {
  fl_op_kind_t k = (fl_op_kind_t)op->kind;
  if (k == FL_OP_REALLOC) {
    run_realloc(op, r);
  } else if (fl_op_kind_allocates(k)) {
    run_alloc(op, r);
  } else if (fl_op_kind_reads_slot(k) && !slot[op->src].p) {
    r->status = FL_GLIBC_EMPTY_SLOT;
    return;
  } else {
    switch (k) {
    case FL_OP_FREE:
      errno = 0;
      free((void *)slot[op->src].p);
      r->err = errno;
      store(op->src, 0, 0);
      return;
    case FL_OP_USABLE_SIZE:
      r->ptr = slot[op->src].p;
      break;
    case FL_OP_WRITE: case FL_OP_VERIFY:
      run_memory(op, r);
      return;
    case FL_OP_MALLOPT:
      errno = 0;
      r->ret = mallopt(fl_op_mallopt_glibc((unsigned)op->a), (int)(int64_t)op->b);
      r->err = errno;
      return;
    case FL_OP_TRIM:
      errno = 0;
      r->ret = malloc_trim(op->a);
      r->err = errno;
      return;
    default: /* check; thread is run_on_thread's, inject the tracer's */
      r->status = FL_GLIBC_UNSUPPORTED;
      return;
    }
  }
  r->usable = r->ptr ? malloc_usable_size((void *)r->ptr) : 0;
}

/* ------------------------------------------------------------ threads */

typedef struct worker {
  pthread_t th;
  sem_t go, done;
  const fl_op_t *op;
  fl_glibc_reply_t *r;
  bool live;
} worker_t;

static worker_t worker[FL_OP_THREADS];
static unsigned cur; /* the logical thread that runs the next op */

static void *worker_main(void *arg) {
  worker_t *w = arg;
  for (;;) {
    while (sem_wait(&w->go)) {}
    run(w->op, w->r);
    sem_post(&w->done);
  }
  return NULL;
}

static void switch_thread(const fl_op_t *op, fl_glibc_reply_t *r) {
  unsigned tid = (unsigned)op->a;
  worker_t *w = &worker[tid];
  if (tid && !w->live) {
    sem_init(&w->go, 0, 0);
    sem_init(&w->done, 0, 0);
    /* It fails when its stack cannot be mapped (an armed inject): the
     * helper stays on the current thread, and so does refmalloc (diff.c). */
    int e = pthread_create(&w->th, NULL, worker_main, w);
    if (e) {
      r->err = e;
      return;
    }
    w->live = true;
  }
  cur = tid;
}

static void run_on_thread(const fl_op_t *op, fl_glibc_reply_t *r) {
  if (op->kind == FL_OP_THREAD) {
    switch_thread(op, r);
  } else if (!cur) {
    run(op, r);
  } else {
    worker_t *w = &worker[cur];
    w->op = op;
    w->r = r;
    sem_post(&w->go);
    while (sem_wait(&w->done)) {}
  }
}

/* The highest TLS module id: GL(dl_tls_max_dtv_idx), which sizes the DTV
 * that pthread_create callocs. dl_iterate_phdr allocates nothing. */
static int max_modid(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  size_t *m = data;
  if (info->dlpi_tls_modid > *m) *m = info->dlpi_tls_modid;
  return 0;
}

/* What pthread_create will do, for the model to mirror: glibc 2.36's
 * allocate_dtv callocs (max module id + DTV_SURPLUS 14 + 2) 16-byte
 * entries; allocate_stack maps stacksize + guardsize PROT_NONE and opens
 * all but the guard. */
static void hello(fl_glibc_hello_t *h) {
  size_t m = 0;
  pthread_attr_t a;
  dl_iterate_phdr(max_modid, &m);
  h->dtv_entries = m + 14 + 2;
  h->dtv_entry_size = 16;
  if (pthread_getattr_default_np(&a) == 0) {
    size_t v;
    if (pthread_attr_getstacksize(&a, &v) == 0) h->stack_size = v;
    if (pthread_attr_getguardsize(&a, &v) == 0) h->guard_size = v;
    pthread_attr_destroy(&a);
  }
}

static bool xfer(int fd, void *buf, size_t len, bool in) {
  unsigned char *b = buf;
  while (len) {
    ssize_t k = in ? read(fd, b, len) : write(fd, b, len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    b += k;
    len -= (size_t)k;
  }
  return true;
}

int main(void) {
  /* The initial break, for the tracer (a start-up call: glibc's own
   * __curbrk is untouched, so its malloc still asks at its first sysmalloc). */
  (void)syscall(SYS_brk, 0);
  fl_glibc_hello_t h;
  memset(&h, 0, sizeof h);
  hello(&h);
  if (!xfer(FL_GLIBC_FD_REP, &h, sizeof h, false)) _exit(1);
  marker(); /* ready: everything before this was start-up */
  for (;;) {
    fl_op_t op;
    if (!xfer(FL_GLIBC_FD_REQ, &op, sizeof op, true)) _exit(0);
    fl_glibc_reply_t r;
    memset(&r, 0, sizeof r);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_on_thread(&op, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r.ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
    if (!xfer(FL_GLIBC_FD_REP, &r, sizeof r, false)) _exit(1);
    marker();
  }
}

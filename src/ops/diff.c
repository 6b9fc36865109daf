/* diff.c — refmalloc against the real glibc, op by op (see diff.h). */
#include "ops/diff.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "alloc/refmalloc.h"
#include "host/profile.h"
#include "ops/exec.h"
#include "ops/rmtarget.h"
#include "ops/text.h"
#include "vm/vm.h"

#define GLIBC_CALLS_CAP 65536

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ============================================================ normalisation */

typedef enum { NV_RAW, NV_HEAP, NV_MAP } nv_kind_t;

/* A normalised value: raw, heap-relative (h+off) or mapping-relative. */
typedef struct nval {
  uint32_t kind; /* nv_kind_t */
  uint32_t idx;  /* NV_MAP: the mapping's creation index */
  int64_t off;   /* NV_RAW: the value itself */
} nval_t;

typedef struct nsys {
  uint32_t no;   /* fl_sysno_t */
  uint32_t nargs;
  nval_t args[5];
  nval_t ret;
} nsys_t;

typedef struct nmap {
  uint64_t origin, lo, hi; /* [lo, hi) still mapped; offsets from origin */
  uint32_t idx;
} nmap_t;

typedef struct norm {
  nmap_t *hist;     /* every mapping as it was created, in order */
  size_t nhist, caphist;
  bool based;
  uint64_t base;    /* the initial break */
  uint64_t brk;     /* the current break */
  uint64_t pre_brk; /* the break start-up left behind (glibc), 0 if unknown */
  nmap_t *m;
  size_t n, cap;
  uint32_t next;
  bool oom;
} norm_t;

static const unsigned nargs_of[FL_SYS_COUNT] = {
    [FL_SYS_MMAP] = 4, [FL_SYS_MUNMAP] = 2, [FL_SYS_MPROTECT] = 3,
    [FL_SYS_MREMAP] = 5, [FL_SYS_MADVISE] = 3, [FL_SYS_BRK] = 1};

static uint64_t page_up(uint64_t n) { return (n + 4095) & ~(uint64_t)4095; }

static nval_t raw(uint64_t v) { return (nval_t){NV_RAW, 0, (int64_t)v}; }

/* A pointer into a live mapping or the heap; failing that, an address a
 * mapping of the run spans or ends at (glibc's new_heap hints the address
 * just past its last heap, which may be gone by then). */
static nval_t norm_ptr(const norm_t *N, uint64_t p) {
  if (!p) return raw(0);
  for (size_t i = N->n; i-- > 0;)
    if (p >= N->m[i].lo && p < N->m[i].hi) return (nval_t){NV_MAP, N->m[i].idx, (int64_t)(p - N->m[i].origin)};
  uint64_t top = N->brk > N->base ? N->brk : N->base;
  if (N->based && p >= N->base && p <= top) return (nval_t){NV_HEAP, 0, (int64_t)(p - N->base)};
  for (size_t i = N->nhist; i-- > 0;)
    if (p >= N->hist[i].lo && p <= N->hist[i].hi) return (nval_t){NV_MAP, N->hist[i].idx, (int64_t)(p - N->hist[i].origin)};
  return raw(p);
}

static void push(norm_t *N, nmap_t **v, size_t *n, size_t *cap, nmap_t m) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 64;
    nmap_t *w = realloc(*v, c * sizeof *w);
    if (!w) {
      N->oom = true;
      return;
    }
    *v = w;
    *cap = c;
  }
  (*v)[(*n)++] = m;
}

static void map_push(norm_t *N, nmap_t m) { push(N, &N->m, &N->n, &N->cap, m); }

/* A mapping made by mmap or a moving mremap: live, and in the history. */
static void map_new(norm_t *N, uint64_t start, uint64_t len) {
  nmap_t m = {start, start, start + page_up(len), N->next++};
  map_push(N, m);
  push(N, &N->hist, &N->nhist, &N->caphist, m);
}

/* munmap / a moving mremap: [a, b) is no longer mapped. */
static void map_remove(norm_t *N, uint64_t a, uint64_t b) {
  for (size_t i = 0; i < N->n;) {
    nmap_t *m = &N->m[i];
    if (m->hi <= a || m->lo >= b) {
      i++;
    } else if (a <= m->lo && m->hi <= b) {
      memmove(m, m + 1, (N->n - i - 1) * sizeof *m);
      N->n--;
    } else if (a <= m->lo) {
      m->lo = b, i++;
    } else if (m->hi <= b) {
      m->hi = a, i++;
    } else { /* a hole in the middle: two pieces, one identity */
      nmap_t tail = *m;
      tail.lo = b;
      m->hi = a;
      map_push(N, tail);
      i++;
    }
  }
}

static bool failed(int64_t ret) { return ret < 0 && ret >= -4095; }

static nval_t brk_rel(const norm_t *N, uint64_t v) { return (nval_t){NV_HEAP, 0, (int64_t)(v - N->base)}; }

/* Normalises one call; false if it is not compared (a brk(0) query). */
static bool norm_call(norm_t *N, const fl_sysrec_t *c, nsys_t *out) {
  memset(out, 0, sizeof *out);
  out->no = c->no;
  out->nargs = nargs_of[c->no];
  out->ret = raw((uint64_t)c->ret);
  const uint64_t *a = c->args;
  switch (c->no) {
  case FL_SYS_BRK:
    if (!N->based) {
      N->base = c->query ? (uint64_t)c->ret : N->pre_brk;
      N->based = true;
    }
    N->brk = (uint64_t)c->ret;
    if (c->query) return false;
    out->args[0] = brk_rel(N, a[0]);
    out->ret = brk_rel(N, (uint64_t)c->ret);
    return true;
  case FL_SYS_MMAP:
    out->args[0] = norm_ptr(N, a[0]);
    for (int i = 1; i < 4; i++) out->args[i] = raw(a[i]);
    if (!failed(c->ret)) {
      map_new(N, (uint64_t)c->ret, a[1]);
      out->ret = norm_ptr(N, (uint64_t)c->ret);
    }
    return true;
  case FL_SYS_MREMAP: {
    out->args[0] = norm_ptr(N, a[0]);
    for (int i = 1; i < 4; i++) out->args[i] = raw(a[i]);
    out->args[4] = (a[3] & 2 /* MREMAP_FIXED */) ? norm_ptr(N, a[4]) : raw(0);
    if (failed(c->ret)) return true;
    uint64_t r = (uint64_t)c->ret;
    nval_t old = norm_ptr(N, a[0]);
    if (r == a[0] && old.kind == NV_MAP) {
      for (size_t i = 0; i < N->n; i++)
        if (N->m[i].idx == old.idx && a[0] >= N->m[i].lo && a[0] < N->m[i].hi) N->m[i].hi = a[0] + page_up(a[2]);
    } else {
      map_remove(N, a[0], a[0] + page_up(a[1]));
      map_new(N, r, a[2]);
    }
    out->ret = norm_ptr(N, r);
    return true;
  }
  default: /* munmap, mprotect, madvise: an address, then raw values */
    out->args[0] = norm_ptr(N, a[0]);
    for (unsigned i = 1; i < out->nargs; i++) out->args[i] = raw(a[i]);
    if (c->no == FL_SYS_MUNMAP && c->ret == 0) map_remove(N, a[0], a[0] + page_up(a[1]));
    return true;
  }
}

/* ============================================================ one side of one op */

typedef enum {
  V_OK, V_EMPTY, V_OUT, V_SKIP, V_MISMATCH, V_ACCESS, V_DIED
} vstatus_t;

static const char *const vstatus_names[] = {"ok", "empty-slot", "out-of-block", "skipped",
                                            "verify-mismatch", "access-fault", "died"};

typedef struct view {
  vstatus_t status;
  nval_t ptr;
  uint64_t usable;
  int err, ret;
  nsys_t *sys;
  size_t nsys;
  bool truncated; /* more calls than were kept */
  char died[600]; /* V_DIED: how */
} view_t;

/* Which fields the executor records for this kind (exec.c): the rest are 0
 * on both sides. */
static void view_fields(view_t *v, const fl_op_t *op, nval_t ptr, uint64_t usable, int err, int ret) {
  fl_op_kind_t k = (fl_op_kind_t)op->kind;
  bool alloc = fl_op_kind_allocates(k) || k == FL_OP_REALLOC;
  if (alloc || k == FL_OP_USABLE_SIZE) {
    v->ptr = ptr;
    v->usable = usable;
  }
  if (alloc) v->err = err;
  if (k == FL_OP_POSIX_MEMALIGN || k == FL_OP_MALLOPT || k == FL_OP_TRIM) v->ret = ret;
}

static bool nval_eq(nval_t x, nval_t y) { return x.kind == y.kind && x.idx == y.idx && x.off == y.off; }

static bool nsys_eq(const nsys_t *x, const nsys_t *y) {
  if (x->no != y->no || !nval_eq(x->ret, y->ret)) return false;
  for (unsigned i = 0; i < x->nargs; i++)
    if (!nval_eq(x->args[i], y->args[i])) return false;
  return true;
}

static bool view_eq(const view_t *x, const view_t *y) {
  if (x->status != y->status || !nval_eq(x->ptr, y->ptr) || x->usable != y->usable || x->err != y->err ||
      x->ret != y->ret || x->nsys != y->nsys || x->truncated != y->truncated)
    return false;
  for (size_t i = 0; i < x->nsys; i++)
    if (!nsys_eq(&x->sys[i], &y->sys[i])) return false;
  return true;
}

/* ---- formatting */

typedef struct buf {
  char *s;
  size_t cap, len;
} buf_t;

static void put(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf_t *b, const char *fmt, ...) {
  if (b->len >= b->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (k > 0) b->len = b->len + (size_t)k < b->cap ? b->len + (size_t)k : b->cap - 1;
}

static void put_nval(buf_t *b, nval_t v) {
  const char *sign = v.off < 0 ? "-" : "+";
  uint64_t mag = v.off < 0 ? (uint64_t)-v.off : (uint64_t)v.off;
  switch ((nv_kind_t)v.kind) {
  case NV_HEAP: put(b, "h%s0x%" PRIx64, sign, mag); break;
  case NV_MAP: put(b, "m%u%s0x%" PRIx64, v.idx, sign, mag); break;
  default:
    if (v.off < 0 && v.off >= -4095) put(b, "%" PRId64, v.off);
    else put(b, "0x%" PRIx64, (uint64_t)v.off);
  }
}

static void format_view(const view_t *v, char *out, size_t cap) {
  buf_t b = {out, cap, 0};
  out[0] = 0;
  put(&b, "%s", vstatus_names[v->status]);
  if (v->status == V_DIED) put(&b, " (%s)", v->died);
  put(&b, " ptr=");
  put_nval(&b, v->ptr);
  put(&b, " usable=%" PRIu64 " errno=%d ret=%d; calls:", v->usable, v->err, v->ret);
  if (!v->nsys) put(&b, " none");
  for (size_t i = 0; i < v->nsys; i++) {
    const nsys_t *c = &v->sys[i];
    put(&b, "%s %s(", i ? "," : "", fl_sysno_name((fl_sysno_t)c->no));
    for (unsigned k = 0; k < c->nargs; k++) {
      if (k) put(&b, ", ");
      put_nval(&b, c->args[k]);
    }
    put(&b, ") = ");
    put_nval(&b, c->ret);
  }
  if (v->truncated) put(&b, " ... (more)");
}

/* ============================================================ the refmalloc side */

typedef struct rmside {
  fl_rm_t *rm;
  fl_vm_t *vm;
  fl_glibc_hello_t hello;        /* what the helper's pthread_create does */
  bool born[FL_OP_THREADS];      /* logical threads created so far */
  fl_sysrec_t *calls;
  size_t n, cap;
  size_t *bound;       /* bound[i]: calls made up to the end of op i */
  size_t abort_index;  /* the op at which refmalloc aborted, SIZE_MAX if none */
  fl_rm_event_t event;
  unsigned cur_tid;              /* the logical thread before the op */
  bool oom;
  const fl_diff_opts_t *o;
  size_t total;
} rmside_t;

static void rm_syscall(void *ctx, const fl_vm_syscall_t *call) {
  rmside_t *s = ctx;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 4096;
    fl_sysrec_t *v = realloc(s->calls, cap * sizeof *v);
    if (!v) {
      s->oom = true;
      return;
    }
    s->calls = v;
    s->cap = cap;
  }
  fl_sysrec_t *r = &s->calls[s->n++];
  memset(r, 0, sizeof *r);
  r->no = call->no;
  memcpy(r->args, call->args, sizeof call->args);
  r->ret = call->ret;
  r->query = call->no == FL_SYS_BRK && call->args[0] == 0;
  r->injected = call->injected;
}

/* The helper's main thread creates a logical thread's pthread at the first
 * thread op that names it; pthread_create maps and opens the stack
 * (allocate_stack), then callocs the DTV on the main thread's arena
 * (_dl_allocate_tls). The model does the same, so that the stack takes the
 * same place in the address space and the DTV the same chunk. If the stack
 * cannot be mapped, or opened (then allocate_stack unmaps it again),
 * pthread_create fails and the helper stays on the current thread: so does
 * refmalloc. */
static void mirror_pthread_create(rmside_t *s, unsigned tid, unsigned prev) {
  const fl_glibc_hello_t *h = &s->hello;
  size_t len = h->stack_size + h->guard_size;
  intptr_t mem = fl_vm_mmap(s->vm, 0, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK);
  if (mem < 0) {
    fl_rm_set_thread(s->rm, prev);
    return;
  }
  if (fl_vm_mprotect(s->vm, (uintptr_t)mem + h->guard_size, h->stack_size, PROT_READ | PROT_WRITE) < 0) {
    fl_vm_munmap(s->vm, (uintptr_t)mem, len); /* allocate_stack gives the mapping back */
    fl_rm_set_thread(s->rm, prev);
    return;
  }
  fl_rm_set_thread(s->rm, 0);
  fl_rm_calloc(s->rm, h->dtv_entries, h->dtv_entry_size);
  fl_rm_set_thread(s->rm, tid);
  s->born[tid] = true;
}

static bool rm_after_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  rmside_t *s = ctx;
  if (op->kind == FL_OP_THREAD && status == FL_EXEC_OK) {
    unsigned tid = (unsigned)op->a;
    if (tid && !s->born[tid]) mirror_pthread_create(s, tid, s->cur_tid);
    s->cur_tid = fl_rm_thread(s->rm);
  }
  s->bound[index] = s->n;
  if (s->abort_index == SIZE_MAX && fl_rm_aborted(s->rm)) {
    s->abort_index = index;
    const fl_rm_event_t *ev = fl_rm_last_event(s->rm);
    if (ev) s->event = *ev;
  }
  if (s->o->progress && s->o->progress_every && (index + 1) % s->o->progress_every == 0)
    s->o->progress(s->o->progress_ctx, "refmalloc", index + 1, s->total);
  return true;
}

/* The model mirrors the helper's address space: its initial break and its
 * mmap_base are congruent to glibc's modulo 64 GiB (memalign takes
 * alignments up to 4 GiB), and every mapping the helper has above its break
 * (ld.so, libc, vdso, with the holes between them) is a placeholder VMA at
 * the same distance below the model's mmap_base, so that top-down placement
 * finds the same gaps at the same alignments. Placeholders alternate
 * between two protections no allocator uses, so that they merge neither
 * with each other nor with the allocator's mappings: the window holds as
 * many VMAs as the helper has there, and map_limit counts the helper's
 * others. The window itself must be 2 MiB aligned: the last bits come from
 * a first brk and a PROT_NONE pad above mmap_base, all made before the
 * hooks are installed. */
#define MIRROR_MASK (((uint64_t)1 << 36) - 1)
#define PMD_MASK_ (((uint64_t)1 << 21) - 1)

static fl_status_t place(fl_vm_t *vm, uint64_t lo, uint64_t hi, int prot) {
  if (fl_vm_mmap(vm, lo, hi - lo, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED) < 0)
    return fl_error(FL_EENV, "vm: cannot place a placeholder at %#llx", (unsigned long long)lo);
  return FL_OK;
}

static fl_status_t open_model(fl_vm_t **vm, const fl_glibc_layout_t *L) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = FL_VM_FAST;
  uint64_t top = (L->mmap_base + PMD_MASK_) & ~PMD_MASK_;
  cfg.base = FL_VM_DEFAULT_BASE + (L->brk0 & MIRROR_MASK & ~PMD_MASK_);
  cfg.size = FL_VM_DEFAULT_SIZE + ((top - cfg.base) & MIRROR_MASK);
  uint64_t pad = top - L->mmap_base, end = cfg.base + cfg.size;
  size_t outside = L->vmas - L->n, lim = cfg.profile->max_map_count;
  cfg.map_limit = lim > outside ? lim - outside + (pad != 0) : 1;
  fl_status_t st = fl_vm_open(vm, &cfg);
  if (st != FL_OK) return st;
  if (L->brk0 & PMD_MASK_) fl_vm_brk(*vm, cfg.base + (L->brk0 & PMD_MASK_));
  if (pad) st = place(*vm, end - pad, end, PROT_NONE);
  for (size_t i = 0; i < L->n && st == FL_OK; i++)
    st = place(*vm, L->map[i].lo - top + end, L->map[i].hi - top + end, PROT_READ | (i & 1 ? PROT_EXEC : 0));
  if (st != FL_OK) fl_vm_close(*vm);
  return st;
}

static fl_status_t run_refmalloc(const fl_ops_t *ops, const fl_diff_opts_t *o, rmside_t *s,
                                 fl_exec_result_t *er, const fl_glibc_t *h,
                                 const fl_glibc_layout_t *layout) {
  fl_vm_t *vm;
  fl_status_t st = open_model(&vm, layout);
  s->hello = *fl_glibc_hello(h);
  if (st != FL_OK) return st;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  rc.tunables = o->glibc.tunables;
  st = fl_rm_open(&s->rm, vm, &rc);
  if (st != FL_OK) {
    fl_vm_close(vm);
    return st;
  }
  fl_vm_hooks_t hooks = {.ctx = s, .syscall = rm_syscall};
  fl_vm_set_hooks(vm, &hooks);
  s->vm = vm;
  fl_target_t t;
  fl_rmtarget_init(&t, s->rm);
  t.check = NULL; /* the helper has no invariants: skipped on both sides */
  fl_exec_options_t eo = {.budget = o->budget, .record = true, .after_op = rm_after_op, .after_op_ctx = s};
  st = fl_exec_run(ops, &t, &eo, er);
  if (st == FL_FINDING) st = FL_OK; /* a verify mismatch is compared, not fatal */
  if (st == FL_OK && s->oom) st = fl_error(FL_EENV, "out of memory recording refmalloc's system calls");
  fl_rm_close(s->rm);
  s->rm = NULL;
  fl_vm_close(vm);
  return st;
}

static vstatus_t rm_status(fl_exec_status_t s) {
  switch (s) {
  case FL_EXEC_OK: case FL_EXEC_CHECK_FAILED: return V_OK;
  case FL_EXEC_EMPTY_SLOT: return V_EMPTY;
  case FL_EXEC_OUT_OF_BLOCK: return V_OUT;
  case FL_EXEC_MISMATCH: return V_MISMATCH;
  case FL_EXEC_ACCESS: return V_ACCESS;
  default: return V_SKIP;
  }
}

/* ============================================================ the comparison */

typedef struct cmp {
  const fl_ops_t *ops;
  const fl_diff_opts_t *o;
  fl_diff_result_t *r;
  rmside_t rs;
  fl_exec_result_t er;
  norm_t nr, ng;
  nsys_t *rsys, *gsys; /* per-op scratch */
  size_t rsys_cap;
  fl_sysrec_t *gcalls;
  fl_glibc_t *h;
} cmp_t;

static size_t norm_list(norm_t *N, const fl_sysrec_t *c, size_t n, nsys_t *out, size_t cap,
                        bool *truncated) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    nsys_t s;
    if (!norm_call(N, &c[i], &s)) continue;
    if (k < cap) out[k] = s;
    k++;
  }
  *truncated = k > cap;
  return k < cap ? k : cap;
}

static void rm_view(cmp_t *x, size_t i, view_t *v) {
  const fl_op_t *op = &x->ops->v[i];
  const fl_exec_record_t *rec = &x->er.records[i];
  size_t lo = i ? x->rs.bound[i - 1] : 0, hi = x->rs.bound[i];
  memset(v, 0, sizeof *v);
  v->status = rm_status((fl_exec_status_t)rec->status);
  view_fields(v, op, norm_ptr(&x->nr, 0), rec->usable, rec->err, rec->ret);
  v->sys = x->rsys;
  /* no call recorded yet: calls is NULL, and NULL + 0 is undefined */
  const fl_sysrec_t *calls = x->rs.calls ? x->rs.calls + lo : NULL;
  v->nsys = norm_list(&x->nr, calls, hi - lo, x->rsys, GLIBC_CALLS_CAP, &v->truncated);
  /* the result pointer is normalised after the calls that made its home */
  if (fl_op_kind_allocates(op->kind) || op->kind == FL_OP_REALLOC || op->kind == FL_OP_USABLE_SIZE)
    v->ptr = norm_ptr(&x->nr, rec->ptr);
  if (i == x->rs.abort_index) {
    v->status = V_DIED;
    snprintf(v->died, sizeof v->died, "integrity event: %s", x->rs.event.message);
  }
}

/* Runs op i on glibc; FL_EENV stops everything. */
static fl_status_t glibc_view(cmp_t *x, size_t i, view_t *v) {
  const fl_op_t *op = &x->ops->v[i];
  fl_exec_status_t rs = (fl_exec_status_t)x->er.records[i].status;
  memset(v, 0, sizeof *v);
  v->sys = x->gsys;
  if (rs == FL_EXEC_UNSUPPORTED || rs == FL_EXEC_OVER_BUDGET) {
    v->status = V_SKIP; /* decided once, on refmalloc (diff.h) */
    return FL_OK;
  }
  fl_glibc_reply_t rep;
  size_t nc;
  fl_status_t st = fl_glibc_op(x->h, op, &rep, x->gcalls, GLIBC_CALLS_CAP, &nc);
  if (st != FL_OK && st != FL_FINDING) return st;
  x->r->glibc_op_seconds += (double)rep.ns / 1e9;
  bool trunc = nc > GLIBC_CALLS_CAP;
  v->nsys = norm_list(&x->ng, x->gcalls, trunc ? GLIBC_CALLS_CAP : nc, x->gsys, GLIBC_CALLS_CAP, &v->truncated);
  v->truncated |= trunc;
  if (st == FL_FINDING) {
    const fl_glibc_death_t *d = fl_glibc_death(x->h);
    v->status = V_DIED;
    if (d->timeout) snprintf(v->died, sizeof v->died, "hung: killed after the timeout");
    else if (d->signal) snprintf(v->died, sizeof v->died, "%s: %s", sigabbrev_np(d->signal) ? sigabbrev_np(d->signal) : "signal", d->message);
    else snprintf(v->died, sizeof v->died, "exited %d: %s", d->exit_code, d->message);
    return FL_OK;
  }
  switch ((fl_glibc_status_t)rep.status) {
  case FL_GLIBC_EMPTY_SLOT: v->status = V_EMPTY; break;
  case FL_GLIBC_OUT_OF_BLOCK: v->status = V_OUT; break;
  case FL_GLIBC_UNSUPPORTED: v->status = V_SKIP; break;
  default: v->status = op->kind == FL_OP_VERIFY && !rep.verify_ok ? V_MISMATCH : V_OK;
  }
  view_fields(v, op, norm_ptr(&x->ng, rep.ptr), rep.usable, rep.err, rep.ret);
  return FL_OK;
}

bool fl_diff_same_end(int signal, const char *glibc_stderr, const struct fl_rm_event *ev) {
  if (ev->kind == FL_RM_EV_SEGV) return signal == SIGSEGV;
  return signal == SIGABRT && ev->message[0] && strstr(glibc_stderr, ev->message);
}

static bool same_end(const cmp_t *x) {
  const fl_glibc_death_t *d = fl_glibc_death(x->h);
  return fl_diff_same_end(d->signal, d->message, &x->rs.event);
}

static void record_divergence(cmp_t *x, size_t i, const view_t *rv, const view_t *gv) {
  fl_diff_result_t *r = x->r;
  if (r->diverged) return;
  r->diverged = true;
  r->first_index = i;
  fl_op_format(&x->ops->v[i], r->op, sizeof r->op);
  format_view(rv, r->refmalloc, sizeof r->refmalloc);
  format_view(gv, r->glibc, sizeof r->glibc);
  fl_ops_t prefix = {.v = x->ops->v, .n = i + 1, .cap = i + 1};
  size_t len;
  if (fl_ops_print_text(&prefix, true, &r->script, &len) != FL_OK) r->script = NULL;
}

static void record_end(cmp_t *x, size_t i, bool glibc_died) {
  fl_diff_result_t *r = x->r;
  const fl_glibc_death_t *d = fl_glibc_death(x->h);
  r->crashed = true;
  r->crash_index = i;
  if (glibc_died) {
    r->crash_signal = d->signal;
    snprintf(r->glibc_message, sizeof r->glibc_message, "%s", d->message);
  }
  if (x->rs.abort_index == i)
    snprintf(r->refmalloc_event, sizeof r->refmalloc_event, "%s", x->rs.event.message);
}

static fl_status_t compare_all(cmp_t *x) {
  fl_diff_result_t *r = x->r;
  size_t n = x->ops->n;
  for (size_t i = 0; i < n; i++) {
    view_t rv, gv;
    rm_view(x, i, &rv);
    fl_status_t st = glibc_view(x, i, &gv);
    if (st != FL_OK) return st;
    r->ops++;
    bool rdied = rv.status == V_DIED, gdied = gv.status == V_DIED;
    if (rdied || gdied) { /* the calls of a dying op are not compared */
      record_end(x, i, gdied);
      r->crash_agreed = rdied && gdied && same_end(x);
      if (r->crash_agreed) r->identical++;
      else record_divergence(x, i, &rv, &gv);
      return FL_OK;
    }
    if (view_eq(&rv, &gv)) r->identical++;
    else record_divergence(x, i, &rv, &gv);
    if (x->o->progress && x->o->progress_every && (i + 1) % x->o->progress_every == 0)
      x->o->progress(x->o->progress_ctx, "glibc", i + 1, n);
  }
  return FL_OK;
}

fl_status_t fl_diff_run(const fl_ops_t *ops, const fl_diff_opts_t *o, fl_diff_result_t *r) {
  static const fl_diff_opts_t none;
  memset(r, 0, sizeof *r);
  r->stream_ops = ops->n;
  if (!o) o = &none;
  cmp_t x = {.ops = ops, .o = o, .r = r};
  x.rs.abort_index = SIZE_MAX;
  x.rs.o = o;
  x.rs.total = ops->n;
  x.rs.bound = calloc(ops->n ? ops->n : 1, sizeof *x.rs.bound);
  x.rsys = calloc(GLIBC_CALLS_CAP, sizeof *x.rsys);
  x.gsys = calloc(GLIBC_CALLS_CAP, sizeof *x.gsys);
  x.gcalls = calloc(GLIBC_CALLS_CAP, sizeof *x.gcalls);
  fl_status_t st = FL_OK;
  if (!x.rs.bound || !x.rsys || !x.gsys || !x.gcalls) st = fl_error(FL_EENV, "out of memory");
  fl_glibc_layout_t layout;
  if (st == FL_OK) st = fl_glibc_open(&x.h, &o->glibc);
  if (st == FL_OK) st = fl_glibc_layout(x.h, &layout);
  double t0 = seconds();
  if (st == FL_OK) st = run_refmalloc(ops, o, &x.rs, &x.er, x.h, &layout);
  double t1 = seconds();
  r->refmalloc_seconds = t1 - t0;
  for (size_t i = 0; st == FL_OK && i < ops->n; i++) r->budget_skips += x.er.records[i].status == FL_EXEC_OVER_BUDGET;
  if (st == FL_OK) {
    x.ng.pre_brk = layout.brk0;
    st = compare_all(&x);
    if (st == FL_OK && (x.nr.oom || x.ng.oom)) st = fl_error(FL_EENV, "out of memory normalising");
  }
  r->glibc_seconds = seconds() - t1;
  fl_glibc_close(x.h);
  fl_exec_result_free(&x.er);
  free(x.rs.calls);
  free(x.rs.bound);
  free(x.rsys);
  free(x.gsys);
  free(x.gcalls);
  free(x.nr.m);
  free(x.ng.m);
  free(x.nr.hist);
  free(x.ng.hist);
  return st;
}

/* ============================================================ the generated stream */

static bool aligns(fl_op_kind_t k) {
  return k == FL_OP_MEMALIGN || k == FL_OP_ALIGNED_ALLOC || k == FL_OP_POSIX_MEMALIGN;
}

/* Drops the ops fl_diff_generate leaves out, in place. */
static void drop_perturbed_huge_aligns(fl_ops_t *ops, uint64_t budget) {
  bool perturb = false;
  size_t k = 0;
  for (size_t i = 0; i < ops->n; i++) {
    const fl_op_t *op = &ops->v[i];
    if (op->kind == FL_OP_MALLOPT && op->a == FL_OP_M_PERTURB) perturb = (int32_t)op->b != 0;
    if (perturb && aligns((fl_op_kind_t)op->kind) && op->a > budget) continue;
    ops->v[k++] = *op;
  }
  ops->n = k;
}

fl_status_t fl_diff_generate(uint64_t seed, size_t n, unsigned threads, uint64_t budget, fl_ops_t *out) {
  fl_gen_options_t g;
  fl_gen_options_default(&g);
  g.threads = threads;
  g.budget = budget;
  for (size_t want = n;;) {
    out->n = 0;
    fl_status_t st = fl_ops_generate(seed, want, &g, out);
    if (st != FL_OK) return st;
    drop_perturbed_huge_aligns(out, budget);
    if (out->n >= n) {
      out->n = n; /* a prefix of a stream is a stream */
      return FL_OK;
    }
    want += n - out->n + 16;
  }
}

void fl_diff_result_free(fl_diff_result_t *r) {
  free(r->script);
  r->script = NULL;
}

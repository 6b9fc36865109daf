#include "view/demo.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc/refmalloc.h"
#include "host/procfs.h"
#include "host/profile.h"
#include "ops/glibc.h"
#include "view/snapshot.h"

#define DEMO_SMALL 100
#define DEMO_BIG ((uint64_t)100 * 1024 * 1024)

const char *fl_demo_side_name(fl_demo_side_t s) {
  static const char *names[FL_DEMO_SIDES] = {"model", "kernel", "glibc"};
  return (unsigned)s < FL_DEMO_SIDES ? names[s] : "?";
}

/* The article's program, step by step; slot 0 is p, slot 1 is q. */
static void plan(fl_demo_t *d) {
  static const struct {
    const char *code;
    fl_op_t op;
  } steps[FL_DEMO_STEPS] = {
      {"p = malloc(100)", {.kind = FL_OP_MALLOC, .dst = 0, .a = DEMO_SMALL}},
      {"memset(p, 1, 100)", {.kind = FL_OP_WRITE, .src = 0, .b = DEMO_SMALL, .byte = 1}},
      {"q = malloc(104857600)", {.kind = FL_OP_MALLOC, .dst = 1, .a = DEMO_BIG}},
      {"memset(q, 2, 104857600)", {.kind = FL_OP_WRITE, .src = 1, .b = DEMO_BIG, .byte = 2}},
      {"free(p)", {.kind = FL_OP_FREE, .src = 0}},
      {"free(q)", {.kind = FL_OP_FREE, .src = 1}},
  };
  memset(d, 0, sizeof *d);
  d->nsteps = FL_DEMO_STEPS;
  for (size_t i = 0; i < FL_DEMO_STEPS; i++) {
    d->steps[i].code = steps[i].code;
    d->steps[i].op = steps[i].op;
  }
}

const fl_demo_step_t *fl_demo_step(const fl_demo_t *d, fl_op_kind_t kind, unsigned slot) {
  for (size_t i = 0; i < d->nsteps; i++) {
    const fl_op_t *op = &d->steps[i].op;
    if (op->kind == kind && (fl_op_kind_allocates(kind) ? op->dst : op->src) == slot) return &d->steps[i];
  }
  return NULL;
}

/* ---- the two processes ------------------------------------------------------ */

typedef struct demo_run {
  fl_demo_t *d;
  fl_demo_step_t *cur;
  fl_vm_t *vm;
  fl_rm_t *rm;
  fl_glibc_t *g;
  uint64_t slot[FL_DEMO_SIDES][2]; /* p and q on each side */
  /* glibc: q's mapping (from its mmap call), and the helper's VMAs as they
   * were before q's malloc */
  uint64_t qmap, qlen;
  fl_smaps_entry_t before_q[512];
  size_t nbefore_q;
} demo_run_t;

static void on_model_call(void *ctx, const fl_vm_syscall_t *c) {
  demo_run_t *r = ctx;
  size_t *n = &r->cur->ncalls[FL_DEMO_MODEL];
  if (*n < FL_DEMO_MAX_CALLS) {
    fl_demo_call_t *dc = &r->cur->calls[FL_DEMO_MODEL][*n];
    *dc = (fl_demo_call_t){.no = c->no, .ret = c->ret};
    memcpy(dc->args, c->args, sizeof c->args);
  }
  (*n)++;
}

/* The step on refmalloc; the kernel performs its calls (shadow mode). */
static void model_step(demo_run_t *r, fl_demo_step_t *s) {
  uint64_t *slot = r->slot[FL_DEMO_MODEL];
  const fl_op_t *op = &s->op;
  if (op->kind == FL_OP_MALLOC) slot[op->dst] = fl_rm_malloc(r->rm, op->a);
  else if (op->kind == FL_OP_WRITE) fl_vm_fill(r->vm, slot[op->src], op->byte, op->b);
  else fl_rm_free(r->rm, slot[op->src]);
  s->ptr[FL_DEMO_MODEL] = s->ptr[FL_DEMO_KERNEL] = op->kind == FL_OP_MALLOC ? slot[op->dst] : 0;
}

static fl_status_t glibc_step(demo_run_t *r, fl_demo_step_t *s) {
  fl_glibc_reply_t rep;
  fl_sysrec_t rec[FL_DEMO_MAX_CALLS];
  size_t n = 0;
  long before = fl_proc_minflt(r->d->glibc_pid);
  fl_status_t st = fl_glibc_op(r->g, &s->op, &rep, rec, FL_DEMO_MAX_CALLS, &n);
  if (st != FL_OK) {
    const fl_glibc_death_t *death = fl_glibc_death(r->g);
    return st == FL_FINDING ? fl_error(FL_EENV, "the glibc helper died in '%s': %s", s->code, death->message)
                            : st;
  }
  s->minflt[FL_DEMO_GLIBC] = fl_proc_minflt(r->d->glibc_pid) - before;
  s->ncalls[FL_DEMO_GLIBC] = n;
  for (size_t i = 0; i < n && i < FL_DEMO_MAX_CALLS; i++) {
    fl_demo_call_t *dc = &s->calls[FL_DEMO_GLIBC][i];
    *dc = (fl_demo_call_t){.no = rec[i].no, .ret = rec[i].ret};
    memcpy(dc->args, rec[i].args, sizeof dc->args);
  }
  if (s->op.kind == FL_OP_MALLOC) r->slot[FL_DEMO_GLIBC][s->op.dst] = s->ptr[FL_DEMO_GLIBC] = rep.ptr;
  for (size_t i = 0; s->op.kind == FL_OP_MALLOC && s->op.dst == 1 && i < n && i < FL_DEMO_MAX_CALLS; i++)
    if (rec[i].no == FL_SYS_MMAP && rec[i].ret > 0) r->qmap = (uint64_t)rec[i].ret, r->qlen = rec[i].args[1];
  return FL_OK;
}

/* The helper's VMAs now, before q's malloc (for glibc_merged). */
static fl_status_t glibc_before_q(demo_run_t *r) {
  long n = fl_smaps_read(r->d->glibc_pid, 0, UINTPTR_MAX, r->before_q, sizeof r->before_q / sizeof r->before_q[0]);
  if (n < 0) return FL_EENV;
  r->nbefore_q = (size_t)n < sizeof r->before_q / sizeof r->before_q[0] ? (size_t)n : 0;
  return FL_OK;
}

/* q's own part of the helper's VMA m, when the kernel merged q's mapping
 * with neighbours: m less the VMAs that lay in m outside q before. */
static void glibc_own_part(demo_run_t *r, fl_demo_step_t *s) {
  fl_demo_map_t *m = &s->big[FL_DEMO_GLIBC];
  uint64_t end = m->addr + (m->kbytes << 10);
  if (!m->found || !r->qlen || (m->addr == r->qmap && end == r->qmap + r->qlen)) return;
  s->glibc_merged = true;
  s->glibc_vma = *m;
  for (size_t i = 0; i < r->nbefore_q; i++) {
    const fl_smaps_entry_t *e = &r->before_q[i];
    if (e->map.start < m->addr || e->map.end > end || (e->map.start < r->qmap + r->qlen && e->map.end > r->qmap))
      continue;
    m->kbytes -= (e->map.end - e->map.start) >> 10;
    m->rss_kib -= e->rss_kib;
    m->dirty_kib -= e->dirty_kib;
  }
  m->addr = r->qmap;
}

/* ---- pmap lines ------------------------------------------------------------- */

static void model_map(const fl_snapshot_t *sn, uintptr_t p, fl_demo_map_t *m) {
  for (size_t i = 0; p && i < sn->nvmas; i++) {
    const fl_snap_vma_t *v = &sn->vmas[i];
    if (p < v->vma.start || p >= v->vma.end) continue;
    *m = (fl_demo_map_t){true, v->vma.start, (v->vma.end - v->vma.start) >> 10, v->present * 4, v->dirty * 4,
                         v->vma.prot};
  }
}

/* The VMA of /proc/PID/smaps (0: ours) holding p. */
static void smaps_map(int pid, uintptr_t p, fl_demo_map_t *m) {
  fl_smaps_entry_t e;
  if (!p || fl_smaps_read(pid, p, p + 1, &e, 1) != 1) return;
  *m = (fl_demo_map_t){true, e.map.start, (e.map.end - e.map.start) >> 10, e.rss_kib, e.dirty_kib, e.map.prot};
}

static bool maps_equal(const fl_demo_map_t *m) {
  for (int k = 1; k < FL_DEMO_SIDES; k++)
    if (m[k].found != m[0].found || m[k].kbytes != m[0].kbytes || m[k].rss_kib != m[0].rss_kib ||
        m[k].dirty_kib != m[0].dirty_kib || m[k].prot != m[0].prot)
      return false;
  return true;
}

/* Reads the VMAs holding p and q on all three sides, after the step. Once
 * freed, the block's address still names its VMA: the heap stays, q's
 * mapping is gone. */
static fl_status_t read_maps(demo_run_t *r, fl_demo_step_t *s) {
  fl_snapshot_t sn = {0};
  if (fl_snapshot_take(&sn, r->rm) != FL_OK) return FL_EENV;
  for (unsigned slot = 0; slot < 2; slot++) {
    fl_demo_map_t *m = slot ? s->big : s->heap;
    model_map(&sn, r->slot[FL_DEMO_MODEL][slot], &m[FL_DEMO_MODEL]);
    smaps_map(0, r->slot[FL_DEMO_MODEL][slot], &m[FL_DEMO_KERNEL]);
    smaps_map(r->d->glibc_pid, r->slot[FL_DEMO_GLIBC][slot], &m[FL_DEMO_GLIBC]);
  }
  glibc_own_part(r, s);
  fl_snapshot_free(&sn);
  s->maps_agree = maps_equal(s->heap) && maps_equal(s->big);
  return FL_OK;
}

/* ---- the same calls? --------------------------------------------------------- */

/* Addresses differ between the two processes; what must agree is where a
 * call's address lies relative to what the process already has: the
 * break, or a mapping an earlier call returned. */
typedef struct demo_anchor {
  uint64_t brk;
  uint64_t maps[FL_DEMO_STEPS * FL_DEMO_MAX_CALLS][2]; /* start, length */
  size_t nmaps;
} demo_anchor_t;

static int64_t rel(const demo_anchor_t *a, uint64_t addr, int *which) {
  for (size_t i = 0; i < a->nmaps; i++)
    if (addr >= a->maps[i][0] && addr - a->maps[i][0] < a->maps[i][1]) {
      *which = (int)i + 1;
      return (int64_t)(addr - a->maps[i][0]);
    }
  *which = addr ? 0 : -1;
  return addr ? (int64_t)(addr - a->brk) : 0;
}

static bool same_addr(const demo_anchor_t *a, const demo_anchor_t *b, uint64_t x, uint64_t y) {
  int wa, wb;
  int64_t ra = rel(a, x, &wa), rb = rel(b, y, &wb);
  return wa == wb && ra == rb;
}

static void advance(demo_anchor_t *a, const fl_demo_call_t *c) {
  if (c->no == FL_SYS_BRK) a->brk = (uint64_t)c->ret;
  if (c->no == FL_SYS_MMAP && c->ret > 0 && a->nmaps < sizeof a->maps / sizeof a->maps[0]) {
    a->maps[a->nmaps][0] = (uint64_t)c->ret;
    a->maps[a->nmaps++][1] = c->args[1];
  }
}

/* The arguments each call has (the model records no fd and offset for
 * mmap: anonymous memory has none), and which of them are addresses. */
static int nargs(fl_sysno_t no) {
  static const int n[FL_SYS_COUNT] = {[FL_SYS_MMAP] = 4, [FL_SYS_MUNMAP] = 2, [FL_SYS_MPROTECT] = 3,
                                      [FL_SYS_MREMAP] = 5, [FL_SYS_MADVISE] = 3, [FL_SYS_BRK] = 1};
  return (unsigned)no < FL_SYS_COUNT ? n[no] : 0;
}
static bool is_addr_arg(fl_sysno_t no, int i) { return i == 0 || (no == FL_SYS_MREMAP && i == 4); }

static bool same_call(const demo_anchor_t *a, const demo_anchor_t *b, const fl_demo_call_t *x,
                      const fl_demo_call_t *y) {
  if (x->no != y->no || (x->ret < 0) != (y->ret < 0)) return false;
  /* brk(NULL) asks where the break is: each process has its own */
  if (x->no == FL_SYS_BRK && !x->args[0]) return !y->args[0];
  for (int i = 0; i < nargs(x->no); i++) {
    bool same = is_addr_arg(x->no, i) ? same_addr(a, b, x->args[i], y->args[i]) : x->args[i] == y->args[i];
    if (!same) return false;
  }
  /* brk returns the new break: it must move by as much on both sides */
  if (x->no == FL_SYS_BRK) return (int64_t)(x->ret - a->brk) == (int64_t)(y->ret - b->brk);
  return x->no == FL_SYS_MMAP || x->no == FL_SYS_MREMAP || x->ret == y->ret;
}

static void judge_calls(demo_anchor_t an[2], fl_demo_step_t *s) {
  const fl_demo_call_t *m = s->calls[FL_DEMO_MODEL], *g = s->calls[FL_DEMO_GLIBC];
  size_t n = s->ncalls[FL_DEMO_MODEL];
  s->calls_agree = n == s->ncalls[FL_DEMO_GLIBC] && n <= FL_DEMO_MAX_CALLS;
  for (size_t i = 0; i < n && i < FL_DEMO_MAX_CALLS; i++) {
    s->calls_agree &= same_call(&an[0], &an[1], &m[i], &g[i]);
    advance(&an[0], &m[i]);
    advance(&an[1], &g[i]);
  }
}

/* ---- the experiment ---------------------------------------------------------- */

static fl_status_t step(demo_run_t *r, demo_anchor_t an[2], fl_demo_step_t *s) {
  fl_vm_stats_t v0, v1;
  fl_vm_stats(r->vm, &v0);
  size_t mm0 = fl_vm_mismatch_count(r->vm);
  r->cur = s;
  fl_vm_compare(r->vm, 0); /* the kernel's counts start here: not at our own bookkeeping since */
  long k0 = fl_minflt();
  model_step(r, s);
  s->minflt[FL_DEMO_KERNEL] = fl_minflt() - k0;
  fl_vm_stats(r->vm, &v1);
  s->minflt_min = v1.minflt_min - v0.minflt_min;
  s->minflt_max = v1.minflt_max - v0.minflt_max;
  s->minflt[FL_DEMO_MODEL] = (long)s->minflt_min;
  fl_vm_compare(r->vm, FL_CMP_ALL);
  s->kernel_agrees = fl_vm_mismatch_count(r->vm) == mm0;
  if (!s->kernel_agrees)
    snprintf(s->kernel_mismatch, sizeof s->kernel_mismatch, "%.200s", fl_vm_mismatch(r->vm, mm0)->text);
  fl_status_t st = s->op.kind == FL_OP_MALLOC && s->op.dst == 1 ? glibc_before_q(r) : FL_OK;
  if (st == FL_OK) st = glibc_step(r, s);
  if (st != FL_OK) return st;
  judge_calls(an, s);
  long g = s->minflt[FL_DEMO_GLIBC];
  s->minflt_agrees = s->kernel_agrees && g >= (long)s->minflt_min &&
                     g <= (long)(s->minflt_max + FL_DEMO_MINFLT_SLACK);
  return read_maps(r, s);
}

static fl_status_t open_sides(demo_run_t *r, const char *helper) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = FL_VM_SHADOW;
  fl_status_t st = fl_vm_open(&r->vm, &cfg);
  if (st != FL_OK) return st;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  if ((st = fl_rm_open(&r->rm, r->vm, &rc)) != FL_OK) return st;
  fl_vm_hooks_t hooks = {.ctx = r, .syscall = on_model_call};
  fl_vm_set_hooks(r->vm, &hooks);
  fl_glibc_opts_t go = {.helper = helper};
  if ((st = fl_glibc_open(&r->g, &go)) != FL_OK) return st;
  r->d->glibc_pid = (int)fl_glibc_pid(r->g);
  return FL_OK;
}

fl_status_t fl_demo_run(fl_demo_t *d, const char *helper) {
  plan(d);
  demo_run_t r = {.d = d};
  fl_status_t st = open_sides(&r, helper);
  demo_anchor_t an[2] = {{.brk = r.vm ? fl_vm_cur_brk(r.vm) : 0}, {.brk = r.g ? fl_glibc_cur_brk(r.g) : 0}};
  if (st == FL_OK) fl_vm_compare(r.vm, FL_CMP_ALL); /* the baseline */
  d->agree = st == FL_OK;
  for (size_t i = 0; i < d->nsteps && st == FL_OK; i++) {
    fl_demo_step_t *s = &d->steps[i];
    st = step(&r, an, s);
    d->agree &= s->calls_agree && s->kernel_agrees && s->maps_agree && s->minflt_agrees;
  }
  fl_glibc_close(r.g);
  if (r.rm) fl_rm_close(r.rm);
  if (r.vm) fl_vm_close(r.vm);
  return st;
}

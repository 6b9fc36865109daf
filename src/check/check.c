/* check.c — the checker object: it subscribes to refmalloc's call hook,
 * keeps the set of live chunks, runs the checks of its level after each
 * call, and records violations with a drawing of the neighbourhood. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check/internal.h"
#include "util/err.h"
#include "util/json.h"

/* ------------------------------------------------------------- live set */

static size_t lv_hash(uintptr_t m) { return (size_t)((m >> 4) * 0x9E3779B97F4A7C15ULL >> 9); }

ck_live_t *ck_live_find(ck_liveset_t *s, uintptr_t mem) {
  if (!s->cap || mem <= 1) return NULL;
  size_t m = s->cap - 1, i = lv_hash(mem) & m;
  while (s->t[i].mem) {
    if (s->t[i].mem == mem) return &s->t[i];
    i = (i + 1) & m;
  }
  return NULL;
}

static bool lv_rehash(ck_liveset_t *s, size_t cap) {
  ck_live_t *t = calloc(cap, sizeof *t);
  if (!t) return false;
  for (size_t i = 0; i < s->cap; i++) {
    if (s->t[i].mem <= 1) continue;
    size_t j = lv_hash(s->t[i].mem) & (cap - 1);
    while (t[j].mem) j = (j + 1) & (cap - 1);
    t[j] = s->t[i];
  }
  free(s->t);
  s->t = t;
  s->cap = cap;
  s->used = s->n;
  return true;
}

bool ck_live_put(ck_liveset_t *s, const ck_live_t *e) {
  ck_live_t *old = ck_live_find(s, e->mem);
  if (old) {
    *old = *e;
    return true;
  }
  if ((s->used + 1) * 2 > s->cap && !lv_rehash(s, s->n * 4 > s->cap ? (s->cap ? s->cap * 2 : 1024) : (s->cap ? s->cap : 1024)))
    return false;
  size_t m = s->cap - 1, i = lv_hash(e->mem) & m;
  while (s->t[i].mem > 1) i = (i + 1) & m;
  if (!s->t[i].mem) s->used++;
  s->t[i] = *e;
  s->n++;
  return true;
}

bool ck_live_del(ck_liveset_t *s, uintptr_t mem, ck_live_t *out) {
  ck_live_t *e = ck_live_find(s, mem);
  if (!e) return false;
  if (out) *out = *e;
  memset(e, 0, sizeof *e);
  e->mem = 1; /* tombstone */
  s->n--;
  return true;
}

/* ------------------------------------------------------------ reporting */

const char *ck_str(const char *fmt, ...) {
  static char ring[8][256];
  static unsigned k;
  char *b = ring[k++ % 8];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b, sizeof ring[0], fmt, ap);
  va_end(ap);
  return b;
}

static const char *chunk_state(fl_check_t *c, uintptr_t p, uint64_t f) {
  ck_mb_t *m = ck_mb_get(&c->mb, p, false);
  if (m && m->lists) {
    switch (m->kind) {
    case MB_TCACHE: return "tcache";
    case MB_FAST: return "fast";
    case MB_BIN: return "free";
    case MB_TCSTRUCT: return "tcache_struct";
    default: break;
    }
  }
  if (ck_live_find(&c->live, p + 16)) return (f & CK_MMAPPED) ? "mmapped" : "live";
  return "";
}

/* [0x...2a0 sz 0x20 P][0x...2c0 sz 0x30 free]...: up to two chunks each
 * side of addr, from the last walk if it found addr, else from addr on. */
static void draw_chunks(fl_check_t *c, uintptr_t addr, char *out, size_t cap) {
  size_t len = 0, from = 0, to = 0;
  bool found = false;
  for (size_t i = 0; i < c->nchunks; i++)
    if ((c->chunks[i].p & ~15UL) == addr) {
      for (size_t s = 0; s < c->nsegs; s++)
        if (i >= c->segs[s].first && i < c->segs[s].first + c->segs[s].count) {
          from = i >= c->segs[s].first + 2 ? i - 2 : c->segs[s].first;
          to = i + 3 < c->segs[s].first + c->segs[s].count ? i + 3 : c->segs[s].first + c->segs[s].count;
          found = true;
        }
      break;
    }
  uintptr_t p = addr & ~15UL;
  for (size_t k = 0; k < 5 && len + 80 < cap; k++) {
    uint64_t f;
    if (found) {
      if (from + k >= to) break;
      p = c->chunks[from + k].p;
      f = c->chunks[from + k].f;
    } else {
      f = ck_word(c, p + 8);
    }
    uintptr_t q = p & ~15UL;
    const char *st = (p & CK_TAG_TOP) ? "top" : (p & CK_TAG_FENCE) ? "fence" : chunk_state(c, q, f);
    len += (size_t)snprintf(out + len, cap - len, "%s[%#lx sz %#lx%s%s%s%s%s]", q == addr ? "*" : "",
                            (unsigned long)q, (unsigned long)(f & ~CK_SIZE_BITS), f & CK_PINUSE ? " P" : "",
                            f & CK_MMAPPED ? " M" : "", f & CK_NONMAIN ? " A" : "", *st ? " " : "", st);
    uint64_t sz = f & ~CK_SIZE_BITS;
    if (!found) {
      if (sz < 16 || (f & CK_MMAPPED)) break;
      p = q + sz;
    }
  }
}

static void draw_vmas(fl_check_t *c, uintptr_t addr, char *out, size_t cap) {
  FILE *f = fmemopen(out, cap, "w");
  if (!f) return;
  uintptr_t lo = (addr & ~(CK_PAGE - 1)) - 16 * CK_PAGE, hi = lo + 48 * CK_PAGE;
  fprintf(f, "%#lx |", (unsigned long)lo);
  fl_vm_draw(c->vm, lo, hi, CK_PAGE, f);
  fprintf(f, "| %#lx (one char per page)", (unsigned long)hi);
  fl_vma_t v;
  if (fl_vm_find(c->vm, lo, &v) && v.start < hi)
    fprintf(f, "; first VMA [%#lx-%#lx prot %d]", (unsigned long)v.start, (unsigned long)v.end, v.prot);
  fclose(f);
  out[cap - 1] = 0;
  for (char *q = out; *q; q++)
    if (*q == '\n') *q = ' ';
}

void fl_check_set_unobserved(fl_check_t *c, bool unobserved) { c->unobserved = unobserved; }

/* Held against pages the program touched without the model seeing it. */
static bool page_level_kernel_id(const char *id) {
  return !strcmp(id, "KERNEL-PAGES") || !strcmp(id, "KERNEL-PAGE-STATE") || !strcmp(id, "KERNEL-RSS") ||
         !strcmp(id, "KERNEL-MINFLT");
}

void ck_fail(fl_check_t *c, const char *id, uintptr_t addr, int draw, const char *expected, const char *actual) {
  if (c->unobserved && page_level_kernel_id(id)) return;
  /* one report per (ID, address) per op: level 3 runs op checks and a walk */
  for (size_t i = c->nstored; i-- > 0 && c->stored_run[i] == c->run;)
    if (c->stored[i].addr == addr && strcmp(c->stored[i].id, id) == 0) return;
  const fl_invariant_t *inv = fl_invariant_find(id);
  c->ntotal++;
  if (inv) c->fired[inv - fl_invariant_at(0)]++;
  fl_violation_t v;
  memset(&v, 0, sizeof v);
  v.id = inv ? inv->id : "UNREGISTERED";
  v.op_index = c->cur_op;
  v.addr = addr;
  snprintf(v.expected, sizeof v.expected, "%s", expected);
  snprintf(v.actual, sizeof v.actual, "%s", actual);
  if (draw == CK_DRAW_CHUNKS) draw_chunks(c, addr, v.drawing, sizeof v.drawing);
  if (draw == CK_DRAW_VMAS) draw_vmas(c, addr, v.drawing, sizeof v.drawing);
  if (c->nstored < CK_MAX_STORED) {
    c->stored_run[c->nstored] = c->run;
    c->stored[c->nstored++] = v;
  }
  if (c->vfn) c->vfn(c->vctx, &v);
}

/* --------------------------------------------------------------- object */

static void on_call(void *ctx, const fl_rm_call_t *call) {
  fl_check_t *c = ctx;
  fl_check_after_op(c, call->op_index, call);
}

static bool fresh(fl_rm_t *rm) {
  fl_rm_params_t mp;
  fl_rm_params(rm, &mp);
  fl_rm_arena_info_t a;
  /* before ptmalloc_init top is 0, after it initial_top, until sysmalloc */
  return fl_rm_arena(rm, 0, &a) && (a.top == 0 || a.top == fl_rm_bin_at(rm, 0, 1)) && mp.n_mmaps == 0 &&
         mp.narenas == 1 && !mp.sbrk_base;
}

uint64_t ck_failed_syscalls(fl_vm_t *vm) {
  fl_vm_stats_t st;
  fl_vm_stats(vm, &st);
  return st.failed_syscalls;
}

static uint64_t syscalls(fl_vm_t *vm) {
  fl_vm_stats_t st;
  fl_vm_stats(vm, &st);
  uint64_t n = 0;
  for (int i = 0; i < FL_SYS_COUNT; i++) n += st.syscalls[i];
  return n;
}

/* The kernel's fault count includes the checker's own (its tables, /proc
 * reads): compare once to move the baseline, and ignore what that finds. */
static void rebase_minflt(fl_check_t *c) {
  if (fl_vm_config(c->vm)->mode != FL_VM_SHADOW) return;
  fl_vm_compare(c->vm, FL_CMP_MINFLT);
  c->mm_cursor[FL_MM_MINFLT] = fl_vm_mismatch_count(c->vm);
}

void fl_check_rebase(fl_check_t *c) { rebase_minflt(c); }

int fl_check_open(fl_check_t **out, fl_rm_t *rm, fl_vm_t *vm, int level) {
  if (level < 0 || level > 3) return fl_error(FL_EUSAGE, "check level %d: must be 0 to 3", level);
  fl_check_t *c = calloc(1, sizeof *c);
  if (!c) return fl_error(FL_EENV, "check: out of memory");
  c->fired = calloc(fl_invariant_count(), sizeof *c->fired);
  c->stored = calloc(CK_MAX_STORED, sizeof *c->stored);
  c->stored_run = calloc(CK_MAX_STORED, sizeof *c->stored_run);
  if (!c->fired || !c->stored || !c->stored_run) {
    fl_check_close(c);
    return fl_error(FL_EENV, "check: out of memory");
  }
  c->rm = rm;
  c->vm = vm;
  c->level = level;
  c->walk_k = 1;
  c->exclusive = true;
  c->tracking = level > 0 && fresh(rm);
  c->last_syscalls = syscalls(vm);
  c->last_failed_syscalls = ck_failed_syscalls(vm);
  rebase_minflt(c);
  for (int k = 0; k < 8; k++) c->mm_cursor[k] = fl_vm_mismatch_count(vm);
  fl_rm_set_call_hook(rm, on_call, c);
  *out = c;
  return FL_OK;
}

void fl_check_close(fl_check_t *c) {
  if (!c) return;
  if (c->rm) fl_rm_set_call_hook(c->rm, NULL, NULL);
  free(c->live.t);
  free(c->live_mm.t);
  free(c->mb.t);
  free(c->mb_small.t);
  free(c->segs);
  free(c->chunks);
  free(c->fired);
  free(c->stored);
  free(c->stored_run);
  free(c);
}

void fl_check_set_level(fl_check_t *c, int level) {
  if (level <= 0) c->tracking = false; /* calls from now on go unseen */
  c->level = level < 0 ? 0 : level > 3 ? 3 : level;
}
int fl_check_level(const fl_check_t *c) { return c->level; }
void fl_check_set_walk_factor(fl_check_t *c, unsigned k) { c->walk_k = k ? k : 1; }
void fl_check_set_exclusive(fl_check_t *c, bool e) { c->exclusive = e; }
void fl_check_set_violation_hook(fl_check_t *c, fl_check_violation_fn fn, void *ctx) {
  c->vfn = fn;
  c->vctx = ctx;
}
bool fl_check_tracking(const fl_check_t *c) { return c->tracking; }

/* -------------------------------------------------------------- tracking */

static uint64_t request_of(const fl_rm_call_t *k) {
  switch (k->op) {
  case FL_RM_OP_MALLOC: case FL_RM_OP_VALLOC: case FL_RM_OP_PVALLOC: return k->args[0];
  case FL_RM_OP_CALLOC: return k->args[0] * k->args[1];
  default: return k->args[1]; /* realloc, memalign, aligned_alloc, posix_memalign */
  }
}

static void describe(fl_check_t *c, uintptr_t mem, uint64_t req, ck_live_t *e) {
  memset(e, 0, sizeof *e);
  e->mem = mem;
  e->req = req;
  uint64_t ps = ck_word(c, mem - 16), f = ck_word(c, mem - 8);
  if (f & CK_MMAPPED) {
    e->map_lo = mem - 16 - ps;
    e->map_hi = mem - 16 + (f & ~CK_SIZE_BITS);
  }
}

static void track(fl_check_t *c, const fl_rm_call_t *k) {
  memset(&c->last, 0, sizeof c->last);
  c->last.valid = true;
  c->last.call = *k;
  uintptr_t old = 0, got = 0;
  switch (k->op) {
  case FL_RM_OP_MALLOC: case FL_RM_OP_CALLOC: case FL_RM_OP_MEMALIGN: case FL_RM_OP_ALIGNED_ALLOC:
  case FL_RM_OP_POSIX_MEMALIGN: case FL_RM_OP_VALLOC: case FL_RM_OP_PVALLOC:
    got = k->result;
    break;
  case FL_RM_OP_FREE:
    old = k->args[0];
    break;
  case FL_RM_OP_REALLOC:
    got = k->result;
    if (k->args[0] && (k->result || k->args[1] == 0)) old = k->args[0];
    break;
  default:
    return;
  }
  if (old && ck_live_del(&c->live, old, &c->last.freed)) c->last.freed_valid = true;
  if (old) ck_live_del(&c->live_mm, old, NULL);
  if (got) {
    describe(c, got, request_of(k), &c->last.added);
    c->last.new_valid = true;
    ck_live_del(&c->live_mm, got, NULL);
    if (!ck_live_put(&c->live, &c->last.added) ||
        (c->last.added.map_hi && !ck_live_put(&c->live_mm, &c->last.added)))
      c->tracking = false;
  }
}

/* --------------------------------------------------------------- levels */

static size_t tcache_idx_of(fl_check_t *c) {
  uintptr_t mem = c->last.new_valid ? c->last.added.mem : c->last.freed_valid ? c->last.freed.mem : 0;
  if (!mem) return 999;
  uint64_t sz = ck_word(c, mem - 8) & ~CK_SIZE_BITS;
  return sz >= CK_MINSIZE ? (sz - CK_MINSIZE + 15) / 16 : 999;
}

static void run_full(fl_check_t *c) {
  c->walks++;
  c->since_walk = 0;
  if (fl_vm_config(c->vm)->mode == FL_VM_SHADOW) {
    fl_chk_kernel_minflt(c); /* first: reading /proc faults pages of ours */
    fl_chk_kernel_maps(c);
    fl_chk_kernel_pages(c);
    fl_chk_kernel_rss(c);
    fl_chk_kernel_errno(c);
    fl_chk_kernel_access(c);
  }
  fl_chk_heap(c);
  fl_chk_top(c);
  fl_chk_vmas(c);
  fl_chk_owned(c);
  fl_chk_pages(c);
  rebase_minflt(c);
}

int fl_check_after_op(fl_check_t *c, uint64_t op_index, const fl_rm_call_t *call) {
  if (c->in_check || c->level == 0) return 0;
  c->in_check = true;
  size_t before = c->ntotal;
  c->run++;
  c->cur_op = op_index;
  c->ops++;
  if (call) track(c, call);
  if (c->level < 3) {
    fl_chk_op(c);
    fl_chk_freed(c);
    fl_chk_top(c);
    fl_chk_minflt(c);
  } else {
    fl_chk_op(c);
    fl_chk_freed(c);
  }
  if (c->level == 2) {
    size_t idx = tcache_idx_of(c);
    if (idx < 64) ck_tcache_bin(c, (unsigned)idx);
    uint64_t sc = syscalls(c->vm);
    if (sc != c->last_syscalls) {
      fl_chk_vmas(c);
      fl_chk_owned(c);
    }
    c->since_walk++;
    uint64_t period = (uint64_t)c->walk_k * c->live.n;
    if (period < 64) period = 64;
    if (c->since_walk >= period) run_full(c);
  }
  if (c->level == 3) run_full(c);
  if (c->level >= 2 && call && call->op == FL_RM_OP_MALLINFO && call->mallinfo) fl_check_mallinfo(c, call->mallinfo);
  c->last_syscalls = syscalls(c->vm);
  c->last_failed_syscalls = ck_failed_syscalls(c->vm);
  c->in_check = false;
  return (int)(c->ntotal - before);
}

int fl_check_full(fl_check_t *c) {
  size_t before = c->ntotal;
  bool was = c->in_check;
  c->in_check = true;
  c->run++;
  run_full(c);
  c->in_check = was;
  return (int)(c->ntotal - before);
}

int fl_check_one(fl_check_t *c, const char *id) {
  const fl_invariant_t *inv = fl_invariant_find(id);
  if (!inv || !inv->fn) return -1; /* ORACLE-* run in the oracle's helper */
  size_t before = c->ntotal;
  c->run++;
  inv->fn(c);
  return (int)(c->ntotal - before);
}

static fl_rm_mallinfo2_t g_last_mi; /* for the registry's BIN-MALLINFO entry */
static bool g_have_mi;

int fl_chk_mallinfo_fn(fl_check_t *c) {
  if (c->last.valid && c->last.call.op == FL_RM_OP_MALLINFO && c->last.call.mallinfo) {
    g_last_mi = *c->last.call.mallinfo;
    g_have_mi = true;
  }
  return g_have_mi ? fl_check_mallinfo(c, &g_last_mi) : 0;
}

/* --------------------------------------------------------------- results */

size_t fl_check_violation_count(const fl_check_t *c) { return c->ntotal; }
size_t fl_check_violation_stored(const fl_check_t *c) { return c->nstored; }
const fl_violation_t *fl_check_violation(const fl_check_t *c, size_t i) {
  return i < c->nstored ? &c->stored[i] : NULL;
}
size_t fl_check_fired(const fl_check_t *c, const char *id) {
  const fl_invariant_t *inv = fl_invariant_find(id);
  return inv ? c->fired[inv - fl_invariant_at(0)] : 0;
}
void fl_check_clear(fl_check_t *c) {
  c->nstored = c->ntotal = 0;
  memset(c->fired, 0, fl_invariant_count() * sizeof *c->fired);
}
uint64_t fl_check_walks(const fl_check_t *c) { return c->walks; }
uint64_t fl_check_ops(const fl_check_t *c) { return c->ops; }
size_t fl_check_live(const fl_check_t *c) { return c->live.n; }

void fl_check_report(const fl_check_t *c, FILE *out, bool json) {
  if (!json) {
    fprintf(out, "check: level %d, %lu ops, %lu full walks, %zu live chunks, %zu violation(s)\n", c->level,
            (unsigned long)c->ops, (unsigned long)c->walks, c->live.n, c->ntotal);
    for (size_t i = 0; i < c->nstored; i++) {
      const fl_violation_t *v = &c->stored[i];
      fprintf(out, "%s at op %lu, %#lx\n  expected: %s\n  actual:   %s\n", v->id, (unsigned long)v->op_index,
              (unsigned long)v->addr, v->expected, v->actual);
      if (v->drawing[0]) fprintf(out, "  %s\n", v->drawing);
    }
    if (c->ntotal > c->nstored) fprintf(out, "(%zu more not kept)\n", c->ntotal - c->nstored);
    return;
  }
  fl_json_t j;
  fl_json_init(&j, out, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "level");
  fl_json_int(&j, c->level);
  fl_json_key(&j, "ops");
  fl_json_uint(&j, c->ops);
  fl_json_key(&j, "walks");
  fl_json_uint(&j, c->walks);
  fl_json_key(&j, "live");
  fl_json_uint(&j, c->live.n);
  fl_json_key(&j, "violations");
  fl_json_uint(&j, c->ntotal);
  fl_json_key(&j, "fired");
  fl_json_begin_object(&j);
  for (size_t i = 0; i < fl_invariant_count(); i++)
    if (c->fired[i]) {
      fl_json_key(&j, fl_invariant_at(i)->id);
      fl_json_uint(&j, c->fired[i]);
    }
  fl_json_end_object(&j);
  fl_json_key(&j, "list");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < c->nstored; i++) {
    const fl_violation_t *v = &c->stored[i];
    fl_json_begin_object(&j);
    fl_json_key(&j, "id");
    fl_json_string(&j, v->id);
    fl_json_key(&j, "op");
    fl_json_uint(&j, v->op_index);
    fl_json_key(&j, "addr");
    fl_json_uint(&j, v->addr);
    fl_json_key(&j, "expected");
    fl_json_string(&j, v->expected);
    fl_json_key(&j, "actual");
    fl_json_string(&j, v->actual);
    fl_json_key(&j, "drawing");
    fl_json_string(&j, v->drawing);
    fl_json_end_object(&j);
  }
  fl_json_end_array(&j);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

/* exec.c — the executor (semantics in exec.h and spec/ops.md). */
#include "ops/exec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/text.h"

typedef struct xslot {
  uintptr_t p;    /* 0: empty */
  uint64_t size;  /* requested bytes: the bounds of write/verify */
  uint64_t charge;/* what the budget counts for it (charge()) */
  uintptr_t last; /* the last block held, stale once freed: hostile ops */
} xslot_t;

typedef struct exec {
  const fl_target_t *t;
  fl_exec_options_t o;
  xslot_t *slot;        /* one per slot the stream names (prepare) */
  unsigned slots_used;  /* 1 + the highest slot ever filled */
  uint64_t charged;     /* sum of the live slots' charges: what the budget bounds */
  fl_exec_result_t *r;
  const fl_op_t *op;
  size_t index;
} exec_t;

const char *fl_exec_status_name(fl_exec_status_t s) {
  static const char *const names[] = {"ok", "empty-slot", "over-budget", "out-of-block",
                                      "unsupported", "mismatch", "access", "check-failed",
                                      "hostile"};
  return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* Records a finding; the first one is kept as a line naming op and index. */
static fl_exec_status_t finding(exec_t *x, fl_exec_status_t s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static fl_exec_status_t finding(exec_t *x, fl_exec_status_t s, const char *fmt, ...) {
  if (x->r->findings++ == 0) {
    char what[160], text[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fl_op_format(x->op, text, sizeof text);
    x->r->first_finding = x->index;
    snprintf(x->r->finding, sizeof x->r->finding, "op %zu (%s): %s", x->index, text, what);
  }
  return s;
}

/* ---------------------------------------------------------------- slots */

static void live_add(exec_t *x, uint64_t n) {
  x->r->live_bytes += n;
  if (x->r->live_bytes > x->r->peak_live_bytes) x->r->peak_live_bytes = x->r->live_bytes;
}

/* Stores a result; a block already in the slot is leaked, as the stream
 * said (its bytes stay counted: they are still allocated). */
static void slot_store(exec_t *x, uint16_t s, uintptr_t p, uint64_t size, uint64_t charge) {
  if (x->slot[s].p) x->r->leaked++;
  if (p && s >= x->slots_used) x->slots_used = s + 1u;
  x->slot[s].p = p;
  x->slot[s].size = p ? size : 0;
  x->slot[s].charge = p ? charge : 0;
  if (p) {
    x->slot[s].last = p;
    live_add(x, size);
    x->charged += charge;
  }
}

static void slot_drop(exec_t *x, uint16_t s) {
  x->r->live_bytes -= x->slot[s].size;
  x->charged -= x->slot[s].charge;
  x->slot[s].p = 0;
  x->slot[s].size = 0;
  x->slot[s].charge = 0;
}

/* ---------------------------------------------------------------- allocation */

/* The bytes an allocating op asks for; *must_fail when no allocator may
 * satisfy it (above PTRDIFF_MAX, or a calloc product that overflows). */
static uint64_t request(const fl_op_t *op, bool *must_fail) {
  uint64_t n;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_CALLOC:
    *must_fail = __builtin_mul_overflow(op->a, op->b, &n) || n > PTRDIFF_MAX;
    return *must_fail ? UINT64_MAX : n;
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
    n = op->b;
    break;
  default:
    n = op->a;
  }
  *must_fail = n > PTRDIFF_MAX;
  return n;
}

/* What the budget counts for a block of n requested bytes: n, and for the
 * memalign family, while the target fills what it takes, n + the
 * alignment. glibc's _int_memalign asks _int_malloc for n + alignment +
 * MINSIZE bytes and, under M_PERTURB, fills them all: memalign(1 GiB, 1)
 * makes 1 GiB resident, and the unused ends of a mapped chunk stay in its
 * mapping for as long as the block lives. Without M_PERTURB they are only
 * address space, and a 4 GiB alignment is a placement test worth running. */
static uint64_t charge(const exec_t *x, const fl_op_t *op, uint64_t n) {
  bool aligned = op->kind == FL_OP_MEMALIGN || op->kind == FL_OP_ALIGNED_ALLOC || op->kind == FL_OP_POSIX_MEMALIGN;
  uint64_t c;
  if (!aligned || (x->t->fills && !x->t->fills(x->t->ctx))) return n;
  return __builtin_add_overflow(n, op->a, &c) ? UINT64_MAX : c;
}

/* Would a block charged c, in place of one charged freed, take the live
 * charges over the budget? */
static bool over_budget(exec_t *x, uint64_t c, uint64_t freed) {
  uint64_t live = x->charged - freed;
  return c > x->o.budget || live > x->o.budget - c;
}

/* The call itself; *supported is false when the target lacks it. */
static uintptr_t call_alloc(exec_t *x, const fl_op_t *op, fl_exec_record_t *rec,
                            bool *supported) {
  const fl_target_t *t = x->t;
  void *c = t->ctx;
  *supported = true;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MALLOC: return t->malloc(c, op->a);
  case FL_OP_CALLOC: return t->calloc(c, op->a, op->b);
  case FL_OP_MEMALIGN:
    if (t->memalign) return t->memalign(c, op->a, op->b);
    break;
  case FL_OP_ALIGNED_ALLOC:
    if (t->aligned_alloc) return t->aligned_alloc(c, op->a, op->b);
    break;
  case FL_OP_POSIX_MEMALIGN:
    if (t->posix_memalign) {
      uintptr_t p = 0;
      rec->ret = t->posix_memalign(c, &p, op->a, op->b);
      return rec->ret == 0 ? p : 0; /* on error *out is unspecified */
    }
    break;
  case FL_OP_VALLOC:
    if (t->valloc) return t->valloc(c, op->a);
    break;
  case FL_OP_PVALLOC:
    if (t->pvalloc) return t->pvalloc(c, op->a);
    break;
  default:
    break;
  }
  *supported = false;
  return 0;
}

static fl_exec_status_t run_alloc(exec_t *x, const fl_op_t *op, fl_exec_record_t *rec) {
  bool must_fail, supported;
  uint64_t n = request(op, &must_fail), c = charge(x, op, n);
  if (!must_fail && c <= PTRDIFF_MAX && over_budget(x, c, 0)) return FL_EXEC_OVER_BUDGET;
  x->t->set_errno(x->t->ctx, 0);
  uintptr_t p = call_alloc(x, op, rec, &supported);
  if (!supported) return FL_EXEC_UNSUPPORTED;
  rec->err = x->t->get_errno(x->t->ctx);
  rec->ptr = p;
  rec->usable = p ? x->t->usable_size(x->t->ctx, p) : 0;
  slot_store(x, op->dst, p, n, c);
  return FL_EXEC_OK;
}

static fl_exec_status_t run_realloc(exec_t *x, const fl_op_t *op, fl_exec_record_t *rec) {
  xslot_t old = x->slot[op->src];
  uint64_t n = op->a;
  /* realloc(NULL, n) would be a malloc whose bytes a later verify takes
   * for the old block's: an empty source slot skips, as for free. */
  if (!old.p) return FL_EXEC_EMPTY_SLOT;
  if (n <= PTRDIFF_MAX && over_budget(x, n, old.charge)) return FL_EXEC_OVER_BUDGET;
  x->t->set_errno(x->t->ctx, 0);
  uintptr_t p = x->t->realloc(x->t->ctx, old.p, n);
  rec->err = x->t->get_errno(x->t->ctx);
  rec->ptr = p;
  rec->usable = p ? x->t->usable_size(x->t->ctx, p) : 0;
  if (p || n == 0) slot_drop(x, op->src); /* moved, or freed by realloc(p, 0) */
  if (p || op->dst != op->src) slot_store(x, op->dst, p, n, n);
  return FL_EXEC_OK;
}

/* ---------------------------------------------------------------- memory */

#define CHUNK 4096

/* The part of [off, off+len) inside the block; false if none of it is. */
static bool clip(const xslot_t *s, const fl_op_t *op, uint64_t *len) {
  if (op->a >= s->size) return false;
  *len = op->b < s->size - op->a ? op->b : s->size - op->a;
  return *len > 0;
}

static fl_exec_status_t run_write(exec_t *x, const fl_op_t *op) {
  const xslot_t *s = &x->slot[op->src];
  uint64_t len;
  if (!clip(s, op, &len)) return FL_EXEC_OUT_OF_BLOCK;
  uint8_t buf[CHUNK];
  memset(buf, op->byte, sizeof buf);
  for (uint64_t done = 0; done < len;) {
    size_t k = len - done < CHUNK ? (size_t)(len - done) : CHUNK;
    if (!x->t->write(x->t->ctx, s->p + op->a + done, buf, k))
      return finding(x, FL_EXEC_ACCESS, "cannot write %zu bytes at 0x%" PRIxPTR, k,
                     (uintptr_t)(s->p + op->a + done));
    done += k;
  }
  return FL_EXEC_OK;
}

static fl_exec_status_t run_verify(exec_t *x, const fl_op_t *op) {
  const xslot_t *s = &x->slot[op->src];
  uint64_t len;
  if (!clip(s, op, &len)) return FL_EXEC_OUT_OF_BLOCK;
  uint8_t buf[CHUNK];
  for (uint64_t done = 0; done < len;) {
    size_t k = len - done < CHUNK ? (size_t)(len - done) : CHUNK;
    uintptr_t at = (uintptr_t)(s->p + op->a + done);
    if (!x->t->read(x->t->ctx, at, buf, k))
      return finding(x, FL_EXEC_ACCESS, "cannot read %zu bytes at 0x%" PRIxPTR, k, at);
    for (size_t i = 0; i < k; i++)
      if (buf[i] != op->byte)
        return finding(x, FL_EXEC_MISMATCH,
                       "byte at offset %" PRIu64 " of #%u (0x%" PRIxPTR ") is 0x%02x, "
                       "expected 0x%02x",
                       op->a + done + i, op->src, at + i, buf[i], op->byte);
    done += k;
  }
  return FL_EXEC_OK;
}

/* ---------------------------------------------------------------- hostile */

/* The address a hostile op aims at: slot pointer (live or stale) + offset. */
static uintptr_t aim(const exec_t *x, uint16_t s, uint64_t offset) {
  return x->slot[s].last + (uintptr_t)offset;
}

static fl_exec_status_t poke(exec_t *x, uintptr_t at, uint64_t value, unsigned width) {
  uint8_t le[8];
  for (unsigned i = 0; i < 8; i++) le[i] = (uint8_t)(value >> (8 * i));
  if (!x->t->write(x->t->ctx, at, le, width))
    return finding(x, FL_EXEC_ACCESS, "cannot poke %u bytes at 0x%" PRIxPTR, width, at);
  return FL_EXEC_OK;
}

static fl_exec_status_t run_hostile(exec_t *x, const fl_op_t *op) {
  if (x->o.skip_hostile) return FL_EXEC_HOSTILE;
  if (!x->slot[op->src].last) return FL_EXEC_EMPTY_SLOT;
  uintptr_t at = aim(x, op->src, op->a);
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_FREE_AT:
    x->t->free(x->t->ctx, at);
    if (x->slot[op->src].p == at) slot_drop(x, op->src);
    return FL_EXEC_OK;
  case FL_OP_POKE:
    return poke(x, at, op->b, op->byte);
  case FL_OP_POKE_PTR: {
    if (!x->slot[op->dst].last) return FL_EXEC_EMPTY_SLOT;
    uint64_t v = aim(x, op->dst, op->b);
    if (op->byte == FL_OP_POKE_PROTECT) v ^= (uint64_t)at >> 12; /* glibc's PROTECT_PTR */
    return poke(x, at, v, 8);
  }
  default:
    return FL_EXEC_UNSUPPORTED;
  }
}

/* ---------------------------------------------------------------- the rest */

static fl_exec_status_t run_other(exec_t *x, const fl_op_t *op, fl_exec_record_t *rec) {
  const fl_target_t *t = x->t;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_THREAD:
    if (!t->set_thread) return FL_EXEC_UNSUPPORTED;
    t->set_thread(t->ctx, (unsigned)op->a);
    return FL_EXEC_OK;
  case FL_OP_MALLOPT:
    if (!t->mallopt) return FL_EXEC_UNSUPPORTED;
    rec->ret = t->mallopt(t->ctx, fl_op_mallopt_glibc((unsigned)op->a), (int)(int64_t)op->b);
    return FL_EXEC_OK;
  case FL_OP_TRIM:
    if (!t->trim) return FL_EXEC_UNSUPPORTED;
    rec->ret = t->trim(t->ctx, op->a);
    return FL_EXEC_OK;
  case FL_OP_INJECT:
    if (!t->inject || !t->inject(t->ctx, (fl_op_sys_t)op->a, (unsigned)op->b, op->aux))
      return FL_EXEC_UNSUPPORTED;
    return FL_EXEC_OK;
  case FL_OP_CHECK: {
    if (!t->check) return FL_EXEC_UNSUPPORTED;
    unsigned v = t->check(t->check_ctx, (unsigned)op->a);
    rec->ret = (int)v;
    return v ? finding(x, FL_EXEC_CHECK_FAILED, "%u invariant violation(s) at level %u", v,
                       (unsigned)op->a)
             : FL_EXEC_OK;
  }
  default:
    return FL_EXEC_UNSUPPORTED;
  }
}

static fl_exec_status_t run_op(exec_t *x, const fl_op_t *op, fl_exec_record_t *rec) {
  fl_op_kind_t k = (fl_op_kind_t)op->kind;
  const xslot_t *src = &x->slot[op->src];
  if (k == FL_OP_REALLOC) return run_realloc(x, op, rec);
  if (fl_op_kind_allocates(k)) return run_alloc(x, op, rec);
  if (fl_op_kind_hostile(k)) return run_hostile(x, op);
  if (fl_op_kind_reads_slot(k) && !src->p) return FL_EXEC_EMPTY_SLOT;
  switch (k) {
  case FL_OP_FREE:
    x->t->free(x->t->ctx, src->p);
    slot_drop(x, op->src);
    return FL_EXEC_OK;
  case FL_OP_USABLE_SIZE:
    rec->ptr = src->p;
    rec->usable = x->t->usable_size(x->t->ctx, src->p);
    return FL_EXEC_OK;
  case FL_OP_WRITE: return run_write(x, op);
  case FL_OP_VERIFY: return run_verify(x, op);
  default: return run_other(x, op, rec);
  }
}

static bool is_finding(fl_exec_status_t s) {
  return s == FL_EXEC_MISMATCH || s == FL_EXEC_ACCESS || s == FL_EXEC_CHECK_FAILED;
}

static fl_status_t prepare(const fl_ops_t *ops, const fl_target_t *t, exec_t *x) {
  if (!t->malloc || !t->calloc || !t->realloc || !t->free || !t->usable_size || !t->read ||
      !t->write || !t->get_errno || !t->set_errno)
    return fl_error(FL_EUSAGE, "target '%s' lacks a required function", t->name ? t->name : "?");
  for (size_t i = 0; i < ops->n; i++)
    if (!fl_op_is_canonical(&ops->v[i]))
      return fl_error(FL_EUSAGE, "op %zu (kind %u) is not canonical", i, ops->v[i].kind);
  /* Only the slots the stream names: a fixed table of all FL_OP_SLOTS
   * would be 2 MiB (and, under ASan, 256 KiB of shadow) to fault in and
   * poison for every run, charged to the process a kernel-mode run
   * compares with the model. */
  unsigned nslots = 1;
  for (size_t i = 0; i < ops->n; i++) {
    unsigned hi = ops->v[i].src > ops->v[i].dst ? ops->v[i].src : ops->v[i].dst;
    if (hi >= nslots) nslots = hi + 1u;
  }
  if (!(x->slot = calloc(nslots, sizeof *x->slot))) return fl_error(FL_EENV, "out of memory for %u slots", nslots);
  if (x->o.record && ops->n) {
    x->r->records = calloc(ops->n, sizeof *x->r->records);
    if (!x->r->records) return fl_error(FL_EENV, "out of memory for %zu op records", ops->n);
  }
  return FL_OK;
}

fl_status_t fl_exec_run(const fl_ops_t *ops, const fl_target_t *t,
                        const fl_exec_options_t *options, fl_exec_result_t *result) {
  exec_t *x = calloc(1, sizeof *x);
  memset(result, 0, sizeof *result);
  result->first_finding = SIZE_MAX;
  if (!x) return fl_error(FL_EENV, "out of memory for the executor");
  x->t = t;
  x->r = result;
  if (options) x->o = *options;
  if (!x->o.budget) x->o.budget = FL_EXEC_DEFAULT_BUDGET;
  fl_status_t st = prepare(ops, t, x);
  if (st == FL_OK && x->o.on_start) x->o.on_start(x->o.after_op_ctx);
  for (size_t i = 0; st == FL_OK && i < ops->n; i++) {
    fl_exec_record_t scratch, *rec = result->records ? &result->records[i] : &scratch;
    memset(rec, 0, sizeof *rec);
    x->op = &ops->v[i];
    x->index = i;
    fl_exec_status_t s = run_op(x, x->op, rec);
    rec->status = (uint8_t)s;
    if (s == FL_EXEC_OK || is_finding(s)) result->ops_run++;
    else result->skipped++;
    if (is_finding(s) && x->o.stop_on_finding) break;
    if (x->o.after_op && !x->o.after_op(x->o.after_op_ctx, i, x->op, s)) break;
  }
  for (unsigned s = 0; s < x->slots_used; s++) /* hand the target back clean */
    if (x->slot[s].p) t->free(t->ctx, x->slot[s].p);
  free(x->slot);
  free(x);
  if (st == FL_OK && result->findings) st = FL_FINDING;
  return st;
}

void fl_exec_result_free(fl_exec_result_t *result) {
  free(result->records);
  result->records = NULL;
}

/* minimize.c — ddmin over op streams (minimize.h). */
#include "ops/minimize.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct mz {
  const fl_minimize_opts_t *o;
  fl_minimize_stats_t *st;
  fl_ops_t best;  /* the smallest failing stream so far */
  fl_ops_t cand;  /* scratch */
  double deadline;
  fl_status_t status;
} mz_t;

static bool out_of_time(const mz_t *m) { return m->deadline > 0 && now() >= m->deadline; }

/* Tries m->cand; on failure-as-before it becomes m->best (cut to what the
 * failure needed). */
static bool try_candidate(mz_t *m) {
  size_t needed = m->cand.n;
  m->st->tests++;
  fl_status_t st = FL_OK;
  if (!m->o->test(m->o->ctx, &m->cand, &needed, &st)) {
    if (st != FL_OK) m->status = st;
    return false;
  }
  if (needed < m->cand.n) m->cand.n = needed;
  fl_ops_t t = m->best;
  m->best = m->cand;
  m->cand = t;
  return true;
}

/* ---- ddmin over units ------------------------------------------------------
 * A unit is a set of ops that go together: all ops of one kind, all ops
 * on one slot, or one op. The units of the current best are numbered in
 * order of first appearance. */
typedef size_t (*unit_key_fn)(const fl_op_t *op, size_t index);

static size_t key_kind(const fl_op_t *op, size_t index) {
  (void)index;
  return op->kind;
}

/* The slot an op is about (the one it allocates into, else the one it
 * reads); ops on no slot are units of their own. */
static size_t key_slot(const fl_op_t *op, size_t index) {
  fl_op_kind_t k = (fl_op_kind_t)op->kind;
  if (fl_op_kind_allocates(k)) return op->dst;
  if (fl_op_kind_reads_slot(k)) return op->src;
  return FL_OP_SLOTS + index;
}

static size_t key_op(const fl_op_t *op, size_t index) {
  (void)op;
  return index;
}

/* unit[i] = the unit number of best's op i; returns the number of units. */
static size_t number_units(mz_t *m, unit_key_fn key, size_t *unit) {
  size_t nkeys = FL_OP_SLOTS + m->best.n, nunits = 0;
  size_t *seen = malloc(nkeys * sizeof *seen);
  if (!seen) return 0;
  memset(seen, 0xff, nkeys * sizeof *seen);
  for (size_t i = 0; i < m->best.n; i++) {
    size_t k = key(&m->best.v[i], i);
    if (seen[k] == SIZE_MAX) seen[k] = nunits++;
    unit[i] = seen[k];
  }
  free(seen);
  return nunits;
}

/* m->cand = m->best without the ops of units [lo, hi). */
static fl_status_t without_units(mz_t *m, const size_t *unit, size_t lo, size_t hi) {
  fl_ops_clear(&m->cand);
  for (size_t i = 0; i < m->best.n; i++)
    if ((unit[i] < lo || unit[i] >= hi) && fl_ops_push(&m->cand, &m->best.v[i]) != FL_OK) return FL_EENV;
  return FL_OK;
}

/* Tries removing each chunk of len/n units; true if one could go. */
static bool remove_a_chunk(mz_t *m, const size_t *unit, size_t units, size_t n) {
  size_t chunk = (units + n - 1) / n;
  for (size_t lo = 0; lo < units && !out_of_time(m); lo += chunk) {
    if (without_units(m, unit, lo, lo + chunk < units ? lo + chunk : units) != FL_OK) {
      m->status = fl_error(FL_EENV, "minimize: out of memory");
      return false;
    }
    if (try_candidate(m)) return true;
    if (m->status != FL_OK) return false;
  }
  return false;
}

/* ddmin with complements over units: drop the first chunk whose removal
 * keeps the failure (the granularity shrinks by one), else split finer.
 * True when it ended 1-minimal for these units. */
static bool ddmin(mz_t *m, unit_key_fn key) {
  size_t n = 2;
  while (m->status == FL_OK && !out_of_time(m)) {
    size_t *unit = malloc((m->best.n ? m->best.n : 1) * sizeof *unit);
    if (!unit) {
      m->status = fl_error(FL_EENV, "minimize: out of memory");
      return false;
    }
    size_t units = number_units(m, key, unit);
    if (units < 2) {
      free(unit);
      return true;
    }
    if (n > units) n = units;
    bool reduced = remove_a_chunk(m, unit, units, n);
    free(unit);
    if (reduced) n = n > 2 ? n - 1 : 2;
    else if (n >= units) return m->status == FL_OK;
    else n = n * 2 < units ? n * 2 : units;
  }
  return false;
}

static void rename_slot(uint16_t *s, uint16_t *map, uint16_t *next) {
  if (map[*s] == UINT16_MAX) map[*s] = (*next)++;
  *s = map[*s];
}

void fl_ops_renumber_slots(fl_ops_t *ops) {
  uint16_t *map = malloc(FL_OP_SLOTS * sizeof *map);
  if (!map) return; /* the names stay as they were */
  memset(map, 0xff, FL_OP_SLOTS * sizeof *map);
  uint16_t next = 0;
  for (size_t i = 0; i < ops->n; i++) {
    fl_op_t *op = &ops->v[i];
    fl_op_kind_t k = (fl_op_kind_t)op->kind;
    if (fl_op_kind_reads_slot(k)) rename_slot(&op->src, map, &next);
    if (fl_op_kind_allocates(k) || k == FL_OP_POKE_PTR) rename_slot(&op->dst, map, &next);
  }
  free(map);
}

/* The renumbered stream, kept only if it still fails the same way (the
 * blocks left at the end are freed in slot order, which a failure found at
 * the very end may depend on). */
static void renumber(mz_t *m) {
  fl_ops_clear(&m->cand);
  for (size_t i = 0; i < m->best.n; i++)
    if (fl_ops_push(&m->cand, &m->best.v[i]) != FL_OK) return;
  fl_ops_renumber_slots(&m->cand);
  if (!fl_ops_equal(&m->cand, &m->best)) try_candidate(m);
}

fl_status_t fl_ops_minimize(const fl_ops_t *in, const fl_minimize_opts_t *o, fl_ops_t *out,
                            fl_minimize_stats_t *stats) {
  fl_minimize_stats_t scratch;
  if (!stats) stats = &scratch;
  memset(stats, 0, sizeof *stats);
  double t0 = now();
  mz_t m = {.o = o, .st = stats, .deadline = o->max_seconds > 0 ? t0 + o->max_seconds : 0, .status = FL_OK};
  fl_ops_init(&m.best);
  fl_ops_init(&m.cand);
  stats->from = in->n;
  for (size_t i = 0; i < in->n; i++)
    if (fl_ops_push(&m.cand, &in->v[i]) != FL_OK) m.status = fl_error(FL_EENV, "minimize: out of memory");
  if (m.status == FL_OK && !try_candidate(&m) && m.status == FL_OK)
    m.status = fl_error(FL_EUSAGE, "the input does not fail: nothing to minimize");
  /* Coarse to fine: whole kinds of ops, whole slots, then single ops. */
  if (m.status == FL_OK) ddmin(&m, key_kind);
  if (m.status == FL_OK) ddmin(&m, key_slot);
  if (m.status == FL_OK) stats->complete = ddmin(&m, key_op);
  if (m.status == FL_OK) renumber(&m);
  for (size_t i = 0; m.status == FL_OK && i < m.best.n; i++)
    if (fl_ops_push(out, &m.best.v[i]) != FL_OK) m.status = fl_error(FL_EENV, "minimize: out of memory");
  stats->to = m.best.n;
  stats->seconds = now() - t0;
  fl_ops_free(&m.best);
  fl_ops_free(&m.cand);
  return m.status;
}

/* map_record.c — runs a script and keeps one frame per op: what changed in
 * the heap, the pages and the VMAs since the frame before, and what went
 * wrong (map_view.h). */
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "host/profile.h"
#include "ops/exec.h"
#include "ops/rmtarget.h"
#include "ops/text.h"
#include "view/map_view.h"

#define PAGE 4096u
/* A heap a script corrupted can violate invariants at every op after: the
 * first ones are what a reader needs. */
#define MAX_FINDINGS 256

/* Appends one element to a growable array; false when memory runs out. */
#define PUSH(arr, n, cap, val) (((n) < (cap) || grow((void **)&(arr), &(cap), sizeof *(arr))) && ((arr)[(n)++] = (val), true))

static bool grow(void **arr, size_t *cap, size_t elem) {
  size_t ncap = *cap ? *cap * 2 : 64;
  void *p = realloc(*arr, ncap * elem);
  if (!p) return false;
  *arr = p;
  *cap = ncap;
  return true;
}

/* A frame in full: chunks by address, page runs of one state (in new_). */
typedef struct heap_state {
  fl_map_chunk_t *chunks;
  size_t n, cap;
  fl_map_pages_t *runs;
  size_t nruns, capruns;
} heap_state_t;

typedef struct rec {
  fl_map_t *m;
  const fl_map_options_t *o;
  const fl_ops_t *ops;
  fl_rm_t *rm;
  fl_snapshot_t snap;
  heap_state_t prev, cur;
  size_t first_op;      /* the first op the next frame covers */
  size_t findings_seen; /* findings of the frames taken so far */
  bool aborted;         /* refmalloc's state at the last op */
  bool done;            /* the script's last op was recorded */
  bool oom;
  fl_status_t err;      /* a frame that could not be taken stops the run */
} rec_t;

static void add_finding(rec_t *r, const char *id, uintptr_t addr, const char *text) {
  fl_map_t *m = r->m;
  if (r->done || m->nfindings >= MAX_FINDINGS) return;
  for (size_t i = r->findings_seen; i < m->nfindings; i++) /* a walk that ran twice */
    if (m->findings[i].addr == addr && !strcmp(m->findings[i].id, id)) return;
  fl_map_finding_t f = {.frame = m->nframes, .addr = addr};
  snprintf(f.id, sizeof f.id, "%s", id);
  snprintf(f.text, sizeof f.text, "%s", text);
  r->oom |= !PUSH(m->findings, m->nfindings, m->capfindings, f);
}

static void on_violation(void *ctx, const fl_violation_t *v) {
  char text[448];
  snprintf(text, sizeof text, "%s at %#lx: expected %s, actual %s", v->id, (unsigned long)v->addr, v->expected,
           v->actual);
  add_finding(ctx, v->id, v->addr, text);
}

/* glibc's abort: circle the chunk the call was given, or the address a
 * model SIGSEGV names. */
static void note_abort(rec_t *r) {
  const fl_rm_event_t *ev = fl_rm_last_event(r->rm);
  if (r->aborted || !ev) return;
  r->aborted = true;
  uintptr_t addr = ev->addr;
  if (!addr && (ev->op == FL_RM_OP_FREE || ev->op == FL_RM_OP_REALLOC) && ev->args[0] >= 16)
    addr = (uintptr_t)ev->args[0] - 16;
  char text[448];
  snprintf(text, sizeof text, "glibc aborts in %s: %.380s", fl_rm_op_name(ev->op), ev->message);
  add_finding(r, "glibc", addr, text);
}

static int by_addr(const void *a, const void *b) {
  uintptr_t x = ((const fl_map_chunk_t *)a)->addr, y = ((const fl_map_chunk_t *)b)->addr;
  return (x > y) - (x < y);
}

static int page_by_addr(const void *a, const void *b) {
  uintptr_t x = ((const fl_snap_page_t *)a)->addr, y = ((const fl_snap_page_t *)b)->addr;
  return (x > y) - (x < y);
}

/* The snapshot's chunks by address, and its pages as runs of one state. */
static void collect(rec_t *r) {
  fl_snapshot_t *s = &r->snap;
  heap_state_t *h = &r->cur;
  h->n = h->nruns = 0;
  for (size_t i = 0; i < s->nchunks; i++) {
    fl_map_chunk_t c = {.addr = s->chunks[i].addr, .size = s->chunks[i].size, .state = s->chunks[i].state};
    r->oom |= !PUSH(h->chunks, h->n, h->cap, c);
  }
  if (h->n > 1) qsort(h->chunks, h->n, sizeof *h->chunks, by_addr);
  if (s->npages > 1) qsort(s->pages, s->npages, sizeof *s->pages, page_by_addr);
  for (size_t i = 0; i < s->npages; i++) {
    fl_map_pages_t *last = h->nruns ? &h->runs[h->nruns - 1] : NULL;
    if (last && last->new_ == s->pages[i].pte && last->page + last->n * PAGE == s->pages[i].addr) {
      last->n++;
      continue;
    }
    fl_map_pages_t run = {.page = s->pages[i].addr, .n = 1, .new_ = s->pages[i].pte};
    r->oom |= !PUSH(h->runs, h->nruns, h->capruns, run);
  }
}

static bool same_chunk(const fl_map_chunk_t *a, const fl_map_chunk_t *b) {
  return a->size == b->size && a->state == b->state;
}

/* Chunks of prev not in cur (gone), then of cur not in prev (came): both
 * lists are sorted by address, one merge pass each. */
static void diff_chunks(rec_t *r, fl_map_frame_t *f, bool came) {
  fl_map_t *m = r->m;
  size_t i = 0, j = 0, first = m->nchunks;
  while (i < r->prev.n || j < r->cur.n) {
    const fl_map_chunk_t *p = i < r->prev.n ? &r->prev.chunks[i] : NULL;
    const fl_map_chunk_t *c = j < r->cur.n ? &r->cur.chunks[j] : NULL;
    const fl_map_chunk_t *emit = NULL;
    if (p && (!c || p->addr < c->addr)) {
      emit = came ? NULL : p, i++;
    } else if (c && (!p || c->addr < p->addr)) {
      emit = came ? c : NULL, j++;
    } else {
      emit = same_chunk(p, c) ? NULL : came ? c : p;
      i++, j++;
    }
    if (emit) r->oom |= !PUSH(m->chunks, m->nchunks, m->capchunks, *emit);
  }
  if (came) f->came_first = first, f->came_n = m->nchunks - first;
  else f->gone_first = first, f->gone_n = m->nchunks - first;
}

static uint64_t run_end(const fl_map_pages_t *p) { return p->page + p->n * PAGE; }

static void emit_pages(rec_t *r, uintptr_t page, uint64_t n, uint8_t old, uint8_t new_) {
  fl_map_t *m = r->m;
  fl_map_pages_t *last = m->npages ? &m->pages[m->npages - 1] : NULL;
  if (last && last->old == old && last->new_ == new_ && run_end(last) == page) {
    last->n += n;
    return;
  }
  fl_map_pages_t c = {.page = page, .n = n, .old = old, .new_ = new_};
  r->oom |= !PUSH(m->pages, m->npages, m->cappages, c);
}

/* Sweeps both run lists from boundary to boundary; where the state differs
 * the pages changed. */
static void diff_pages(rec_t *r, fl_map_frame_t *f) {
  size_t i = 0, j = 0, np = r->prev.nruns, nc = r->cur.nruns;
  const fl_map_pages_t *P = r->prev.runs, *C = r->cur.runs;
  uintptr_t pos = 0;
  f->pages_first = r->m->npages;
  while (i < np || j < nc) {
    uintptr_t next = UINTPTR_MAX;
    uint8_t a = 0, b = 0;
    if (i < np) {
      if (P[i].page <= pos) a = P[i].new_, next = run_end(&P[i]);
      else next = P[i].page;
    }
    if (j < nc) {
      uintptr_t nj = C[j].page <= pos ? (b = C[j].new_, run_end(&C[j])) : C[j].page;
      if (nj < next) next = nj;
    }
    if (a != b) emit_pages(r, pos, (next - pos) / PAGE, a, b);
    pos = next;
    if (i < np && run_end(&P[i]) <= pos) i++;
    if (j < nc && run_end(&C[j]) <= pos) j++;
  }
  f->pages_n = r->m->npages - f->pages_first;
}

/* The layout of this snapshot's VMAs: the last one again if they did not
 * change. */
static fl_status_t layout(rec_t *r, fl_map_frame_t *f) {
  fl_map_t *m = r->m;
  fl_map_layout_t l;
  fl_status_t st = fl_map_layout_build(r->snap.vmas, r->snap.nvmas, &l);
  if (st != FL_OK) return st;
  if (m->nlayouts && fl_map_layout_same(&m->layouts[m->nlayouts - 1], &l)) {
    fl_map_layout_free(&l);
  } else if (!PUSH(m->layouts, m->nlayouts, m->caplayouts, l)) {
    fl_map_layout_free(&l);
    return fl_error(FL_EENV, "map: out of memory");
  }
  f->layout = m->nlayouts - 1;
  return FL_OK;
}

/* Appends s to the text pool; returns its offset. */
static size_t add_string(rec_t *r, const char *s, size_t len) {
  fl_map_t *m = r->m;
  while (m->ntext + len + 1 > m->captext)
    if (!grow((void **)&m->text, &m->captext, 1)) {
      r->oom = true;
      return 0;
    }
  memcpy(m->text + m->ntext, s, len);
  m->text[m->ntext + len] = '\0';
  m->ntext += len + 1;
  return m->ntext - len - 1;
}

static size_t add_op_text(rec_t *r, const fl_op_t *op) {
  char buf[256];
  int n = fl_op_format(op, buf, sizeof buf);
  return add_string(r, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Keeps the state of frame `frame` whole, for the SVG picture. */
static void keep_picked(rec_t *r, size_t frame) {
  fl_map_t *m = r->m;
  const heap_state_t *h = &r->cur;
  free(m->picked_chunks);
  free(m->picked_pages);
  m->picked = frame;
  m->npicked_chunks = h->n;
  m->npicked_pages = h->nruns;
  m->picked_chunks = malloc((h->n + 1) * sizeof *h->chunks);
  m->picked_pages = malloc((h->nruns + 1) * sizeof *h->runs);
  if (!m->picked_chunks || !m->picked_pages) {
    r->oom = true;
    return;
  }
  if (h->n) memcpy(m->picked_chunks, h->chunks, h->n * sizeof *h->chunks);
  if (h->nruns) memcpy(m->picked_pages, h->runs, h->nruns * sizeof *h->runs);
}

static fl_status_t take_frame(rec_t *r, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  fl_map_t *m = r->m;
  if (fl_snapshot_take(&r->snap, r->rm) != FL_OK) return FL_EENV;
  collect(r);
  fl_map_frame_t f = {.first_op = r->first_op, .last_op = index, .status = (uint8_t)status,
                      .rss_pages = r->snap.stats.rss_pages, .text = add_op_text(r, op)};
  fl_status_t st = layout(r, &f);
  if (st != FL_OK) return st;
  diff_chunks(r, &f, false);
  diff_chunks(r, &f, true);
  diff_pages(r, &f);
  if (!PUSH(m->frames, m->nframes, m->capframes, f) || r->oom) return fl_error(FL_EENV, "map: out of memory");
  if (r->o->pick_op == index + 1 || (r->done && r->o->pick_op > index)) keep_picked(r, m->nframes - 1);
  heap_state_t was = r->prev;
  r->prev = r->cur;
  r->cur = was;
  r->first_op = index + 1;
  r->findings_seen = m->nfindings;
  return r->oom ? fl_error(FL_EENV, "map: out of memory") : FL_OK;
}

static bool is_finding(fl_exec_status_t s) {
  return s == FL_EXEC_MISMATCH || s == FL_EXEC_ACCESS || s == FL_EXEC_CHECK_FAILED;
}

static bool after_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  rec_t *r = ctx;
  note_abort(r);
  if (is_finding(status)) {
    char text[160];
    snprintf(text, sizeof text, "the executor: %s", fl_exec_status_name(status));
    add_finding(r, "exec", 0, text);
  }
  r->done = index + 1 == r->ops->n;
  bool due = r->done || (index + 1) % r->m->stride == 0 || index + 1 == r->o->pick_op ||
             r->m->nfindings > r->findings_seen;
  if (due && (r->err = take_frame(r, index, op, status)) != FL_OK) return false;
  return true;
}

/* Frame 0: before the first op, nothing mapped; it has no op text. */
static fl_status_t first_frame(rec_t *r) {
  fl_map_t *m = r->m;
  fl_map_layout_t empty = {0};
  fl_map_frame_t f = {.text = add_string(r, "", 0)};
  if (r->oom || !PUSH(m->layouts, m->nlayouts, m->caplayouts, empty) ||
      !PUSH(m->frames, m->nframes, m->capframes, f))
    return fl_error(FL_EENV, "map: out of memory");
  if (r->o->pick_op == 0 || r->ops->n == 0) keep_picked(r, 0);
  return r->oom ? fl_error(FL_EENV, "map: out of memory") : FL_OK;
}

static fl_status_t run(rec_t *r, fl_vm_t *vm) {
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  rc.tunables = r->o->tunables;
  if (fl_rm_open(&r->rm, vm, &rc) != FL_OK) return FL_EUSAGE;
  fl_check_t *chk = NULL;
  fl_status_t st = FL_OK;
  if (r->o->check && (st = fl_check_open(&chk, r->rm, vm, r->o->check)) != FL_OK) {
    fl_rm_close(r->rm);
    return st;
  }
  fl_target_t t;
  fl_rmtarget_init(&t, r->rm);
  if (chk) {
    fl_check_set_violation_hook(chk, on_violation, r);
    fl_rmtarget_set_checker(&t, chk);
  }
  fl_exec_options_t eo = {.after_op = after_op, .after_op_ctx = r};
  fl_exec_result_t res;
  if ((st = first_frame(r)) == FL_OK) {
    st = fl_exec_run(r->ops, &t, &eo, &res);
    fl_exec_result_free(&res);
    if (st == FL_FINDING) st = FL_OK;
    if (r->err != FL_OK) st = r->err;
  }
  fl_check_close(chk);
  fl_rm_close(r->rm);
  return st;
}

fl_status_t fl_map_record(const fl_ops_t *ops, const char *script, const fl_map_options_t *o, fl_map_t *m) {
  memset(m, 0, sizeof *m);
  size_t max = o->max_frames ? o->max_frames : FL_MAP_DEFAULT_FRAMES;
  m->script = script;
  m->ops = ops->n;
  m->check = o->check;
  m->stride = ops->n > max ? (ops->n + max - 1) / max : 1;
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  m->base = cfg.base;
  fl_vm_t *vm;
  fl_status_t st = fl_vm_open(&vm, &cfg);
  if (st != FL_OK) return st;
  rec_t r = {.m = m, .o = o, .ops = ops};
  st = run(&r, vm);
  fl_vm_close(vm);
  fl_snapshot_free(&r.snap);
  free(r.prev.chunks), free(r.prev.runs), free(r.cur.chunks), free(r.cur.runs);
  return st;
}

void fl_map_free(fl_map_t *m) {
  for (size_t i = 0; i < m->nlayouts; i++) fl_map_layout_free(&m->layouts[i]);
  free(m->layouts);
  free(m->frames), free(m->chunks), free(m->pages), free(m->findings), free(m->text);
  free(m->picked_chunks), free(m->picked_pages);
  memset(m, 0, sizeof *m);
}

const char *fl_map_frame_text(const fl_map_t *m, size_t frame) { return m->text + m->frames[frame].text; }

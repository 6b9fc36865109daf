#include "view/trace.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/introspect.h"
#include "ops/text.h"
#include "view/snapshot.h"
#include "view/strace.h"

#define TR_CALLS 16
#define TR_STATES (FL_CHUNK_STATE_COUNT + 1) /* + "merged into a neighbour" */
#define TR_MERGED FL_CHUNK_STATE_COUNT

typedef struct tr_entry {
  size_t index;
  char op[96];
  const char *status;       /* the executor's: "ok", "empty-slot", ... */
  bool has_result;
  uint64_t result;
  char explain[768];        /* the decisions, "; "-separated */
  char calls[TR_CALLS][160];
  size_t ncalls;            /* all of them (only TR_CALLS kept) */
  uint64_t minflt_min, minflt_max;
  int64_t rss_delta_kib;
  uint64_t rss_kib;
  const char *violations[8]; /* the IDs that fired after this op (registry strings) */
  size_t nviolations;
} tr_entry_t;

struct fl_trace {
  fl_rm_t *rm;
  fl_vm_t *vm;
  fl_check_t *chk;
  FILE *text;
  fl_snapshot_t prev, cur;
  fl_rm_params_t params;    /* mp_ before the op */
  uintptr_t tcache;         /* the running thread's tcache before the op */
  uintptr_t brk;            /* the break before the op */
  fl_vm_stats_t stats;      /* the model's counters before the op */
  size_t violations;        /* found before the op */
  bool aborted;
  fl_vm_syscall_t calls[TR_CALLS];
  size_t ncalls;
  fl_rm_call_t call;        /* the op's allocator call (refmalloc's call hook) */
  bool has_call;
  tr_entry_t *entries;      /* kept for JSON (text == NULL) */
  size_t n, cap;
};

static void on_call(void *ctx, const fl_vm_syscall_t *c) {
  fl_trace_t *t = ctx;
  if (t->ncalls < TR_CALLS) t->calls[t->ncalls] = *c;
  t->ncalls++;
}

/* The op's own call: the executor asks malloc_usable_size after each
 * allocation too (a question, not a decision). */
static void on_rm_call(void *ctx, const fl_rm_call_t *c) {
  fl_trace_t *t = ctx;
  if (c->op == FL_RM_OP_USABLE_SIZE || c->op == FL_RM_OP_MALLINFO) return;
  t->call = *c;
  t->has_call = true;
}

fl_status_t fl_trace_open(fl_trace_t **out, fl_rm_t *rm, fl_check_t *chk, FILE *text) {
  fl_trace_t *t = calloc(1, sizeof *t);
  if (!t) return fl_error(FL_EENV, "out of memory for the trace");
  *t = (fl_trace_t){.rm = rm, .vm = fl_rm_vm(rm), .chk = chk, .text = text};
  fl_vm_hooks_t hooks = {.ctx = t, .syscall = on_call};
  fl_vm_set_hooks(t->vm, &hooks);
  if (!fl_rm_add_call_hook(rm, on_rm_call, t)) {
    fl_trace_detach(t);
    fl_trace_close(t);
    return fl_error(FL_EENV, "refmalloc has no free call hook for the trace");
  }
  fl_rm_params(rm, &t->params);
  fl_vm_stats(t->vm, &t->stats);
  t->brk = fl_vm_cur_brk(t->vm);
  if (fl_snapshot_take(&t->prev, rm) != FL_OK) {
    fl_trace_detach(t);
    fl_trace_close(t);
    return FL_EENV;
  }
  *out = t;
  return FL_OK;
}

void fl_trace_detach(fl_trace_t *t) {
  if (!t) return;
  fl_vm_set_hooks(t->vm, &(fl_vm_hooks_t){0});
  fl_rm_remove_call_hook(t->rm, on_rm_call, t);
}

void fl_trace_close(fl_trace_t *t) {
  if (!t) return;
  fl_snapshot_free(&t->prev);
  fl_snapshot_free(&t->cur);
  free(t->entries);
  free(t);
}

/* ---- explaining ------------------------------------------------------------ */

/* Appends one decision, "; "-separated. */
static void say(tr_entry_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(tr_entry_t *e, const char *fmt, ...) {
  size_t len = strlen(e->explain);
  if (len + 3 >= sizeof e->explain) return;
  if (len) {
    memcpy(e->explain + len, "; ", 3);
    len += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->explain + len, sizeof e->explain - len, fmt, ap);
  va_end(ap);
}

/* "tcache bin 0x30", "fastbin 0x70", "small bin 0x90", "large bin
 * 0x400-0x430", "the unsorted bin", "top" ... of a snapshot chunk. */
static const char *where(const fl_snapshot_t *s, const fl_snap_chunk_t *c, char *buf, size_t cap) {
  char label[48];
  if (c->list < 0) {
    snprintf(buf, cap, "%s", c->state == FL_CHUNK_TOP ? "top" : fl_chunk_state_name(c->state));
    return buf;
  }
  const fl_snap_list_t *l = &s->lists[c->list];
  fl_snap_list_label(l, label, sizeof label);
  switch ((fl_list_kind_t)l->kind) {
  case FL_LIST_TCACHE: snprintf(buf, cap, "tcache bin %s", label); break;
  case FL_LIST_FASTBIN: snprintf(buf, cap, "fastbin %s", label); break;
  case FL_LIST_UNSORTED: snprintf(buf, cap, "the unsorted bin"); break;
  case FL_LIST_SMALL: snprintf(buf, cap, "small bin %s", label); break;
  default: snprintf(buf, cap, "large bin %s", label); break;
  }
  return buf;
}

static bool called(const fl_trace_t *t, fl_sysno_t no) {
  for (size_t i = 0; i < t->ncalls && i < TR_CALLS; i++)
    if (t->calls[i].no == no) return true;
  return false;
}

/* How far the break moved in this op (negative: given back). */
static int64_t brk_moved(const fl_trace_t *t) { return (int64_t)(fl_vm_cur_brk(t->vm) - t->brk); }

/* ", which now holds N" for a chunk of snapshot s on a tcache bin: that
 * bin's count after the op. */
static const char *tcache_left(const fl_trace_t *t, const fl_snapshot_t *s, const fl_snap_chunk_t *c) {
  static char buf[48];
  if (c->list < 0 || c->state != FL_CHUNK_TCACHE) return "";
  const fl_snap_list_t *bin = &s->lists[c->list];
  unsigned count = 0;
  for (size_t i = 0; i < t->cur.nlists; i++) {
    const fl_snap_list_t *l = &t->cur.lists[i];
    if (l->kind == FL_LIST_TCACHE && l->tid == bin->tid && l->index == bin->index) count = l->count;
  }
  snprintf(buf, sizeof buf, ", which now holds %u", count);
  return buf;
}

/* The first call of a thread sets up its tcache: a chunk from the heap. */
static void explain_tcache_init(fl_trace_t *t, tr_entry_t *e) {
  uintptr_t tc = fl_rm_tcache_addr(t->rm, fl_rm_thread(t->rm));
  const fl_snap_chunk_t *c = tc && tc != t->tcache ? fl_snapshot_chunk(&t->cur, tc - 16) : NULL;
  if (c) say(e, "tcache_init: the thread's tcache takes chunk %#lx (%#lx bytes)", (unsigned long)c->addr,
             (unsigned long)c->size);
}

/* The free chunk the allocation took c from, before the op. */
static void explain_source(fl_trace_t *t, tr_entry_t *e, const fl_snap_chunk_t *now) {
  char w[96];
  const fl_snap_chunk_t *was = fl_snapshot_chunk(&t->prev, now->addr);
  if (!was) was = fl_snapshot_chunk_containing(&t->prev, now->addr);
  if (!was) {
    say(e, "split of the new top");
    return;
  }
  if (was->state == FL_CHUNK_INUSE && was->addr == now->addr) {
    say(e, "resized in place (%#lx -> %#lx bytes)", (unsigned long)was->size, (unsigned long)now->size);
    return;
  }
  if (was->state == FL_CHUNK_TOP) {
    say(e, "split of top");
    return;
  }
  bool exact = was->addr == now->addr && was->size == now->size;
  say(e, "%s %s%s", exact ? "served from" : "split of a chunk from", where(&t->prev, was, w, sizeof w),
      tcache_left(t, &t->prev, was));
  const fl_snap_chunk_t *rest = exact ? NULL : fl_snapshot_chunk(&t->cur, now->addr + now->size);
  if (rest && rest->state != FL_CHUNK_INUSE)
    say(e, "remainder %#lx (%#lx bytes) to %s", (unsigned long)rest->addr, (unsigned long)rest->size,
        where(&t->cur, rest, w, sizeof w));
}

static void explain_alloc(fl_trace_t *t, tr_entry_t *e) {
  int err = fl_rm_errno(t->rm);
  if (!t->call.result) {
    say(e, "returned NULL%s%s", err ? ", errno " : "", err ? strerrorname_np(err) : "");
    return;
  }
  const fl_snap_chunk_t *now = fl_snapshot_chunk_containing(&t->cur, t->call.result - 16);
  if (!now) {
    say(e, "the returned pointer lies in no chunk the heap walk found");
    return;
  }
  if (now->state == FL_CHUNK_MAPPED) {
    if (called(t, FL_SYS_MMAP))
      say(e, "sysmalloc: mmap, the request is at or over the mmap threshold (%zu bytes)", t->params.mmap_threshold);
    else if (called(t, FL_SYS_MREMAP)) say(e, "mremap resized the mapped chunk");
    else say(e, "the mapped chunk stays as it is");
    return;
  }
  explain_source(t, e, now);
}

/* The chunk this op released: in use (or mapped) before, not after. */
static const fl_snap_chunk_t *released(const fl_trace_t *t) {
  for (size_t i = 0; i < t->prev.nchunks; i++) {
    const fl_snap_chunk_t *c = &t->prev.chunks[i];
    if (c->state != FL_CHUNK_INUSE && c->state != FL_CHUNK_MAPPED) continue;
    const fl_snap_chunk_t *now = fl_snapshot_chunk(&t->cur, c->addr);
    if (!now || (now->state != FL_CHUNK_INUSE && now->state != FL_CHUNK_MAPPED)) return c;
  }
  return NULL;
}

static void explain_free(fl_trace_t *t, tr_entry_t *e) {
  char w[96];
  const fl_snap_chunk_t *was = released(t);
  if (!was) return;
  if (was->state == FL_CHUNK_MAPPED) {
    say(e, "free: the mapped chunk %#lx goes back to the kernel (munmap)", (unsigned long)was->addr);
    return;
  }
  const fl_snap_chunk_t *now = fl_snapshot_chunk_containing(&t->cur, was->addr);
  if (!now) {
    say(e, "free: chunk %#lx is no longer in the heap (the heap shrank)", (unsigned long)was->addr);
    return;
  }
  if (now->addr == was->addr && now->size == was->size) {
    say(e, "free: chunk %#lx (%#lx bytes) to %s%s", (unsigned long)was->addr, (unsigned long)was->size,
        where(&t->cur, now, w, sizeof w), tcache_left(t, &t->cur, now));
    return;
  }
  say(e, "free: chunk %#lx (%#lx bytes) coalesced %s into %s%s %#lx (%#lx bytes)", (unsigned long)was->addr,
      (unsigned long)was->size, now->addr < was->addr ? "with the chunk before it" : "with the chunk after it",
      now->state == FL_CHUNK_TOP ? "" : "a chunk in ", where(&t->cur, now, w, sizeof w), (unsigned long)now->addr,
      (unsigned long)now->size);
}

/* Free chunks that changed lists on the way: unsorted chunks sorted into
 * their bins, fastbin chunks consolidated, small-bin chunks stashed into
 * the tcache... Counted by (state before, state after). */
static void explain_moves(fl_trace_t *t, tr_entry_t *e) {
  size_t moved[FL_CHUNK_STATE_COUNT][TR_STATES] = {{0}};
  for (size_t i = 0; i < t->prev.nchunks; i++) {
    const fl_snap_chunk_t *c = &t->prev.chunks[i];
    if (c->state == FL_CHUNK_INUSE || c->state == FL_CHUNK_TOP || c->state == FL_CHUNK_MAPPED ||
        c->state == FL_CHUNK_FENCE)
      continue;
    const fl_snap_chunk_t *now = fl_snapshot_chunk(&t->cur, c->addr);
    int to = now ? now->state : TR_MERGED;
    if (to != c->state && to != FL_CHUNK_INUSE) moved[c->state][to]++;
  }
  static const char *into[TR_STATES] = {
      [FL_CHUNK_TCACHE] = "stashed into the tcache", [FL_CHUNK_FASTBIN] = "put into a fastbin",
      [FL_CHUNK_UNSORTED] = "put into the unsorted bin", [FL_CHUNK_SMALL] = "sorted into a small bin",
      [FL_CHUNK_LARGE] = "sorted into a large bin", [FL_CHUNK_TOP] = "merged into top",
      [FL_CHUNK_FENCE] = "made fenceposts", [TR_MERGED] = "merged into a neighbour"};
  for (int from = 0; from < FL_CHUNK_STATE_COUNT; from++)
    for (int to = 0; to < TR_STATES; to++)
      if (moved[from][to] && into[to])
        say(e, "%zu %s chunk%s %s", moved[from][to], fl_chunk_state_name(from), moved[from][to] > 1 ? "s" : "",
            into[to]);
}

/* Trims and the dynamic mmap threshold: what free and malloc_trim give
 * back, and what a freed mapped chunk teaches glibc. */
static void explain_kernel(fl_trace_t *t, tr_entry_t *e) {
  int64_t moved = brk_moved(t);
  if (moved < 0) say(e, "systrim: top was over the trim threshold (%lu), brk gave back %ld bytes",
                     t->params.trim_threshold, (long)-moved);
  if (called(t, FL_SYS_MADVISE)) say(e, "madvise returned free pages to the kernel");
  fl_rm_params_t now;
  fl_rm_params(t->rm, &now);
  if (now.mmap_threshold != t->params.mmap_threshold)
    say(e, "the dynamic mmap threshold is now %zu bytes (trim threshold %lu)", now.mmap_threshold,
        now.trim_threshold);
}

static void explain(fl_trace_t *t, tr_entry_t *e, const fl_op_t *op, fl_exec_status_t status) {
  if (status != FL_EXEC_OK && status != FL_EXEC_MISMATCH && status != FL_EXEC_ACCESS) {
    say(e, "skipped (%s)", fl_exec_status_name(status));
    return;
  }
  if (op->kind == FL_OP_THREAD) say(e, "the calls that follow run on logical thread %u", fl_rm_thread(t->rm));
  if (t->cur.narenas > t->prev.narenas)
    say(e, "arena_get2: a new arena (arena %zu) on a new heap: new_heap reserves an aligned HEAP_MAX_SIZE "
           "(64 MiB) with PROT_NONE and opens its first pages with mprotect", t->cur.narenas - 1);
  explain_tcache_init(t, e);
  if (brk_moved(t) > 0) say(e, "sysmalloc: brk grew the heap by %ld bytes", (long)brk_moved(t));
  if (fl_op_kind_allocates(op->kind) && t->has_call) explain_alloc(t, e);
  if (op->kind == FL_OP_FREE || op->kind == FL_OP_FREE_AT || op->kind == FL_OP_REALLOC) explain_free(t, e);
  explain_moves(t, e);
  explain_kernel(t, e);
  if (fl_rm_aborted(t->rm) && !t->aborted) say(e, "glibc aborts here: \"%s\"", fl_rm_last_event(t->rm)->message);
  if (!e->explain[0] && (op->kind == FL_OP_WRITE || op->kind == FL_OP_VERIFY))
    say(e, "no allocator call: the program %s its block", op->kind == FL_OP_WRITE ? "writes" : "reads");
  if (!e->explain[0] && (op->kind == FL_OP_POKE || op->kind == FL_OP_POKE_PTR))
    say(e, "no allocator call: the script overwrites memory at its block (hostile)");
  if (!t->cur.walk_complete)
    say(e, "the heap walk stopped at %#lx: a chunk header there is corrupt", (unsigned long)t->cur.walk_stop);
  if (!e->explain[0]) say(e, "no allocator decision");
}

/* ---- one op ----------------------------------------------------------------- */

static void note_violations(fl_trace_t *t, tr_entry_t *e) {
  if (!t->chk) return;
  size_t now = fl_check_violation_count(t->chk), stored = fl_check_violation_stored(t->chk);
  for (size_t i = t->violations; i < now && i < stored && e->nviolations < 8; i++) {
    const char *id = fl_check_violation(t->chk, i)->id;
    bool seen = false;
    for (size_t k = 0; k < e->nviolations; k++) seen |= !strcmp(e->violations[k], id);
    if (!seen) e->violations[e->nviolations++] = id;
  }
  t->violations = now;
}

static void print_entry(const fl_trace_t *t, const tr_entry_t *e) {
  FILE *f = t->text;
  fprintf(f, "op %zu: %s", e->index, e->op);
  if (e->has_result) fprintf(f, " -> %#lx", (unsigned long)e->result);
  fputc('\n', f);
  /* one decision a line */
  for (const char *p = e->explain, *q; *p; p = q ? q + 2 : p + strlen(p)) {
    q = strstr(p, "; ");
    fprintf(f, "  %.*s\n", q ? (int)(q - p) : (int)strlen(p), p);
  }
  for (size_t i = 0; i < e->ncalls && i < TR_CALLS; i++) fprintf(f, "  %s\n", e->calls[i]);
  if (e->ncalls > TR_CALLS) fprintf(f, "  ... %zu system calls in all\n", e->ncalls);
  if (e->minflt_max || e->rss_delta_kib) {
    fprintf(f, "  minor faults %lu", (unsigned long)e->minflt_min);
    if (e->minflt_max != e->minflt_min) fprintf(f, "-%lu", (unsigned long)e->minflt_max);
    fprintf(f, ", RSS %+ld KiB (now %lu KiB)\n", (long)e->rss_delta_kib, (unsigned long)e->rss_kib);
  }
  if (t->chk) {
    fprintf(f, "  invariants (level %d): %s", fl_check_level(t->chk), e->nviolations ? "VIOLATED" : "held");
    for (size_t i = 0; i < e->nviolations; i++) fprintf(f, " %s", e->violations[i]);
    fputc('\n', f);
  }
}

static void keep(fl_trace_t *t, const tr_entry_t *e) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    tr_entry_t *p = realloc(t->entries, cap * sizeof *p);
    if (!p) return; /* the JSON then lacks the tail: memory is gone anyway */
    t->entries = p;
    t->cap = cap;
  }
  t->entries[t->n++] = *e;
}

void fl_trace_op(fl_trace_t *t, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  tr_entry_t e = {.index = index};
  fl_op_format(op, e.op, sizeof e.op);
  e.status = fl_exec_status_name(status);
  e.has_result = fl_op_kind_allocates(op->kind) && status == FL_EXEC_OK && t->has_call;
  e.result = t->call.result;
  if (fl_snapshot_take(&t->cur, t->rm) != FL_OK) snprintf(e.explain, sizeof e.explain, "(out of memory)");
  else explain(t, &e, op, status);
  e.ncalls = t->ncalls;
  for (size_t i = 0; i < t->ncalls && i < TR_CALLS; i++)
    fl_strace_format(e.calls[i], sizeof e.calls[i], t->calls[i].no, t->calls[i].args, t->calls[i].ret);
  fl_vm_stats_t s;
  fl_vm_stats(t->vm, &s);
  e.minflt_min = s.minflt_min - t->stats.minflt_min;
  e.minflt_max = s.minflt_max - t->stats.minflt_max;
  e.rss_delta_kib = ((int64_t)s.rss_pages - (int64_t)t->stats.rss_pages) * 4;
  e.rss_kib = s.rss_pages * 4;
  note_violations(t, &e);
  if (t->text) print_entry(t, &e);
  else keep(t, &e);
  /* what this op left is what the next one starts from */
  fl_snapshot_t tmp = t->prev;
  t->prev = t->cur;
  t->cur = tmp;
  t->stats = s;
  fl_rm_params(t->rm, &t->params);
  t->aborted = fl_rm_aborted(t->rm);
  t->tcache = fl_rm_tcache_addr(t->rm, fl_rm_thread(t->rm));
  t->brk = fl_vm_cur_brk(t->vm);
  t->ncalls = 0;
  t->has_call = false;
}

void fl_trace_json(const fl_trace_t *t, fl_json_t *j) {
  fl_json_begin_array(j);
  for (size_t i = 0; i < t->n; i++) {
    const tr_entry_t *e = &t->entries[i];
    fl_json_begin_object(j);
    fl_json_key(j, "index"); fl_json_uint(j, e->index);
    fl_json_key(j, "op"); fl_json_string(j, e->op);
    fl_json_key(j, "status"); fl_json_string(j, e->status);
    fl_json_key(j, "result");
    if (e->has_result) {
      char buf[24];
      snprintf(buf, sizeof buf, "%#lx", (unsigned long)e->result);
      fl_json_string(j, buf);
    } else {
      fl_json_null(j);
    }
    fl_json_key(j, "explain"); fl_json_string(j, e->explain);
    fl_json_key(j, "syscalls");
    fl_json_begin_array(j);
    for (size_t k = 0; k < e->ncalls && k < TR_CALLS; k++) fl_json_string(j, e->calls[k]);
    fl_json_end_array(j);
    fl_json_key(j, "minflt_min"); fl_json_uint(j, e->minflt_min);
    fl_json_key(j, "minflt_max"); fl_json_uint(j, e->minflt_max);
    fl_json_key(j, "rss_delta_kib"); fl_json_int(j, e->rss_delta_kib);
    fl_json_key(j, "rss_kib"); fl_json_uint(j, e->rss_kib);
    fl_json_key(j, "violations");
    fl_json_begin_array(j);
    for (size_t k = 0; k < e->nviolations; k++) fl_json_string(j, e->violations[k]);
    fl_json_end_array(j);
    fl_json_end_object(j);
  }
  fl_json_end_array(j);
}

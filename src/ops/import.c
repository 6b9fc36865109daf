#include "ops/import.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "record/record.h"

/* ---- pointer -> slot, open addressing --------------------------------- */
typedef struct pmap {
  uintptr_t *key;   /* 0 = empty, 1 = deleted */
  uint16_t *slot;
  size_t cap, used; /* used counts deleted entries too */
  uint16_t free_slots[FL_OP_SLOTS];
  size_t nfree, live;
} pmap_t;

static size_t hash(uintptr_t p, size_t cap) { return (size_t)((p >> 4) * 0x9e3779b97f4a7c15ULL) & (cap - 1); }

static fl_status_t pmap_init(pmap_t *m) {
  memset(m, 0, sizeof *m);
  m->cap = 1 << 16;
  m->key = calloc(m->cap, sizeof *m->key);
  m->slot = calloc(m->cap, sizeof *m->slot);
  if (!m->key || !m->slot) return fl_error(FL_EENV, "out of memory");
  /* Slot 0 is for NULL results; hand out 1, 2, ... first. */
  for (size_t s = FL_OP_SLOTS - 1; s >= 1; s--) m->free_slots[m->nfree++] = (uint16_t)s;
  return FL_OK;
}

static void pmap_free(pmap_t *m) {
  free(m->key);
  free(m->slot);
}

static long pmap_find(const pmap_t *m, uintptr_t p) {
  for (size_t i = hash(p, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->key[i] == p) return (long)i;
    if (m->key[i] == 0) return -1;
  }
}

static fl_status_t pmap_grow(pmap_t *m) {
  pmap_t n = *m;
  n.cap = m->cap * 2;
  n.used = 0;
  n.key = calloc(n.cap, sizeof *n.key);
  n.slot = calloc(n.cap, sizeof *n.slot);
  if (!n.key || !n.slot) {
    free(n.key);
    free(n.slot);
    return fl_error(FL_EENV, "out of memory");
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (m->key[i] <= 1) continue;
    size_t j = hash(m->key[i], n.cap);
    while (n.key[j]) j = (j + 1) & (n.cap - 1);
    n.key[j] = m->key[i];
    n.slot[j] = m->slot[i];
    n.used++;
  }
  free(m->key);
  free(m->slot);
  *m = n;
  return FL_OK;
}

/* A new block p: its slot, or -1 when every slot is taken. */
static long pmap_add(pmap_t *m, uintptr_t p) {
  if (!m->nfree) return -1;
  if ((m->used + 1) * 2 > m->cap && pmap_grow(m) != FL_OK) return -1;
  size_t i = hash(p, m->cap);
  while (m->key[i] > 1) i = (i + 1) & (m->cap - 1);
  if (m->key[i] == 0) m->used++;
  m->key[i] = p;
  m->slot[i] = m->free_slots[--m->nfree];
  m->live++;
  return m->slot[i];
}

/* Removes p; returns its slot, or -1 if p was never returned. */
static long pmap_take(pmap_t *m, uintptr_t p) {
  long i = pmap_find(m, p);
  if (i < 0) return -1;
  m->key[i] = 1;
  m->free_slots[m->nfree++] = m->slot[i];
  m->live--;
  return m->slot[i];
}

/* ---- the shared conversion -------------------------------------------- */
typedef struct conv {
  pmap_t map;
  fl_ops_t *out;
  fl_import_stats_t *st;
  fl_status_t status;
  unsigned thread;
  uint8_t seen_threads[FL_OP_THREADS];
} conv_t;

static void emit(conv_t *c, fl_op_t op) {
  if (c->status != FL_OK) return;
  c->status = fl_ops_push(c->out, &op);
  c->st->ops++;
}

static uint16_t new_slot(conv_t *c, uintptr_t result) {
  if (!result) return 0;
  long s = pmap_add(&c->map, result);
  if (s < 0 && c->status == FL_OK)
    c->status = fl_error(FL_EUSAGE, "more than %d blocks live at once: the op language cannot name them", FL_OP_SLOTS - 1);
  if (c->map.live > c->st->max_live) c->st->max_live = c->map.live;
  return s < 0 ? 0 : (uint16_t)s;
}

static void alloc_op(conv_t *c, fl_op_kind_t kind, uint64_t a, uint64_t b, uintptr_t result) {
  emit(c, (fl_op_t){.kind = (uint8_t)kind, .dst = new_slot(c, result), .a = a, .b = b});
}

static void free_op(conv_t *c, uintptr_t p) {
  long s = pmap_take(&c->map, p);
  if (s < 0) c->st->unknown++;
  else emit(c, (fl_op_t){.kind = FL_OP_FREE, .src = (uint16_t)s});
}

/* realloc(old, n) = result. The executor's rules (exec.h): realloc of an
 * empty slot is malloc; NULL with n == 0 freed the block. */
static void realloc_op(conv_t *c, uintptr_t old, uint64_t n, uintptr_t result) {
  if (!old) {
    alloc_op(c, FL_OP_MALLOC, n, 0, result);
    return;
  }
  long i = pmap_find(&c->map, old);
  if (i < 0) {
    c->st->unknown++;
    return;
  }
  uint16_t s = c->map.slot[i];
  emit(c, (fl_op_t){.kind = FL_OP_REALLOC, .dst = s, .src = s, .a = n});
  if (result || n == 0) pmap_take(&c->map, old);
  if (result) {
    long t = pmap_add(&c->map, result); /* gets s back: it was just freed */
    (void)t;
  }
}

static void thread_op(conv_t *c, uint32_t tid) {
  unsigned t = tid % FL_OP_THREADS;
  if (!c->seen_threads[t]) c->st->threads++;
  c->seen_threads[t] = 1;
  if (tid >= FL_OP_THREADS) c->st->folded++;
  if (t == c->thread) return;
  c->thread = t;
  emit(c, (fl_op_t){.kind = FL_OP_THREAD, .a = t});
}

static int mallopt_param(int64_t glibc) {
  for (unsigned p = 0; p < FL_OP_M_PARAM_COUNT; p++)
    if (fl_op_mallopt_glibc(p) == glibc) return (int)p;
  return -1;
}

static void record_op(conv_t *c, const fl_rec_t *r) {
  c->st->calls++;
  thread_op(c, r->tid);
  switch (r->kind) {
  case FL_REC_MALLOC: alloc_op(c, FL_OP_MALLOC, r->a, 0, r->result); break;
  case FL_REC_FREE: free_op(c, r->a); break;
  case FL_REC_CALLOC: alloc_op(c, FL_OP_CALLOC, r->a, r->b, r->result); break;
  case FL_REC_REALLOC: realloc_op(c, r->a, r->b, r->result); break;
  case FL_REC_MEMALIGN: alloc_op(c, FL_OP_MEMALIGN, r->a, r->b, r->result); break;
  case FL_REC_ALIGNED_ALLOC: alloc_op(c, FL_OP_ALIGNED_ALLOC, r->a, r->b, r->result); break;
  case FL_REC_POSIX_MEMALIGN: alloc_op(c, FL_OP_POSIX_MEMALIGN, r->a, r->b, r->err ? 0 : r->result); break;
  case FL_REC_VALLOC: alloc_op(c, FL_OP_VALLOC, r->a, 0, r->result); break;
  case FL_REC_PVALLOC: alloc_op(c, FL_OP_PVALLOC, r->a, 0, r->result); break;
  case FL_REC_USABLE_SIZE: {
    long i = pmap_find(&c->map, r->a);
    if (i < 0) c->st->unknown++;
    else emit(c, (fl_op_t){.kind = FL_OP_USABLE_SIZE, .src = c->map.slot[i]});
    break;
  }
  case FL_REC_MALLOPT: {
    int p = mallopt_param((int64_t)r->a);
    if (p < 0) c->st->unsupported++;
    else emit(c, (fl_op_t){.kind = FL_OP_MALLOPT, .a = (uint64_t)p, .b = (uint64_t)(int64_t)(int32_t)r->b});
    break;
  }
  case FL_REC_TRIM: emit(c, (fl_op_t){.kind = FL_OP_TRIM, .a = r->a}); break;
  default: c->st->unsupported++; break;
  }
}

fl_status_t fl_import_recording(const uint8_t *data, size_t len, const char *name, fl_ops_t *out,
                                fl_import_stats_t *stats) {
  memset(stats, 0, sizeof *stats);
  fl_rec_header_t h;
  if (len < sizeof h) return fl_error(FL_EUSAGE, "%s: too short for a recording (%zu bytes)", name, len);
  memcpy(&h, data, sizeof h);
  if (h.magic != FL_REC_MAGIC) return fl_error(FL_EUSAGE, "%s: not a faultline recording (no FLTREC01 header)", name);
  if (h.version != FL_REC_VERSION)
    return fl_error(FL_EUSAGE, "%s: recording format v%u, this faultline reads v%d", name, h.version, FL_REC_VERSION);
  if ((len - sizeof h) % sizeof(fl_rec_t))
    return fl_error(FL_EUSAGE, "%s: truncated: %zu bytes after the header is not a whole number of %zu-byte records",
                    name, len - sizeof h, sizeof(fl_rec_t));
  conv_t *c = calloc(1, sizeof *c);
  if (!c) return fl_error(FL_EENV, "out of memory");
  c->out = out;
  c->st = stats;
  c->status = pmap_init(&c->map);
  for (size_t off = sizeof h; off < len && c->status == FL_OK; off += sizeof(fl_rec_t)) {
    fl_rec_t r;
    memcpy(&r, data + off, sizeof r);
    record_op(c, &r);
  }
  fl_status_t st = c->status;
  pmap_free(&c->map);
  free(c);
  return st;
}

/* ---- mtrace ------------------------------------------------------------- */
/* One log line: "[@ caller ]OP ptr[ size]" with OP one of + - < > !. */
static fl_status_t mtrace_line(conv_t *c, const char *line, size_t n, uintptr_t *pending_old) {
  char buf[512];
  if (n >= sizeof buf) n = sizeof buf - 1;
  memcpy(buf, line, n);
  buf[n] = '\0';
  char *p = buf;
  if (p[0] == '=' || p[0] == '\0') return FL_OK; /* "= Start", "= End" */
  if (p[0] == '@') {
    p = strchr(p, ' ');                          /* the caller, then its address */
    if (p) p = strchr(p + 1, ' ');
    if (!p) return FL_EUSAGE;
    p++;
  }
  char op = p[0];
  if (!op || p[1] != ' ') return FL_EUSAGE;
  char *end;
  uintptr_t ptr = (uintptr_t)strtoull(p + 2, &end, 16);
  if (!strncmp(p + 2, "(nil)", 5)) ptr = 0, end = p + 7;
  else if (end == p + 2) return FL_EUSAGE;
  uint64_t size = strtoull(end, NULL, 16);
  c->st->calls++;
  switch (op) {
  case '+': alloc_op(c, FL_OP_MALLOC, size, 0, ptr); break;
  case '-': free_op(c, ptr); break;
  case '<': *pending_old = ptr; break;
  case '>': realloc_op(c, *pending_old, size, ptr), *pending_old = 0; break;
  case '!': realloc_op(c, ptr, size, 0); break; /* a failed realloc */
  default: return FL_EUSAGE;
  }
  return FL_OK;
}

fl_status_t fl_import_mtrace(const char *text, size_t len, const char *name, fl_ops_t *out,
                             fl_import_stats_t *stats) {
  memset(stats, 0, sizeof *stats);
  conv_t *c = calloc(1, sizeof *c);
  if (!c) return fl_error(FL_EENV, "out of memory");
  c->out = out;
  c->st = stats;
  c->status = pmap_init(&c->map);
  uintptr_t pending = 0;
  size_t lineno = 0;
  for (size_t i = 0; i < len && c->status == FL_OK;) {
    size_t e = i;
    while (e < len && text[e] != '\n') e++;
    lineno++;
    if (mtrace_line(c, text + i, e - i, &pending) != FL_OK)
      c->status = fl_error(FL_EUSAGE, "%s:%zu: not an mtrace line: '%.*s'", name, lineno,
                           (int)(e - i > 60 ? 60 : e - i), text + i);
    i = e + 1;
  }
  fl_status_t st = c->status;
  pmap_free(&c->map);
  free(c);
  return st;
}

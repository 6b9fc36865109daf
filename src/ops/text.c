/* text.c — parser and printer of the text op form (spec/ops.md, "Text"). */
#include "ops/text.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- lexing */

typedef struct cursor {
  const char *name;
  const char *s; /* the line, without its newline */
  size_t len;
  size_t pos;
  unsigned line;
} cursor_t;

typedef struct word {
  const char *p;
  size_t n;
  size_t col; /* 0-based */
} word_t;

static fl_status_t perr(const cursor_t *c, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static fl_status_t perr(const cursor_t *c, size_t col, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return fl_error(FL_EUSAGE, "%s:%u:%zu: %s", c->name, c->line, col + 1, msg);
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* A comment starts at ';' or at a '#' that does not begin a slot (#N). */
static bool at_comment(const cursor_t *c) {
  char ch = c->s[c->pos];
  if (ch == ';') return true;
  return ch == '#' && !(c->pos + 1 < c->len && is_digit(c->s[c->pos + 1]));
}

/* Words are runs of non-blank characters; '=' is always a word of its own
 * so that "#3=malloc 1" and "#3 = malloc 1" mean the same. */
static bool next_word(cursor_t *c, word_t *w) {
  while (c->pos < c->len && is_space(c->s[c->pos])) c->pos++;
  w->col = c->pos;
  w->p = c->s + c->pos;
  w->n = 0;
  if (c->pos >= c->len || at_comment(c)) return false;
  if (c->s[c->pos] == '=') {
    c->pos++;
    w->n = 1;
    return true;
  }
  while (c->pos < c->len && !is_space(c->s[c->pos]) && c->s[c->pos] != ';' &&
         c->s[c->pos] != '=')
    c->pos++;
  w->n = (size_t)(c->pos - w->col);
  return true;
}

/* ---------------------------------------------------------------- values */

static bool word_is(const word_t *w, const char *s) {
  return strlen(s) == w->n && memcmp(w->p, s, w->n) == 0;
}

/* Digits (decimal, or hex after 0x) of [p, p+n) into *v; false on junk or
 * overflow. */
static bool digits_u64(const char *p, size_t n, uint64_t *v) {
  unsigned base = 10;
  if (n > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    p += 2;
    n -= 2;
  }
  if (n == 0) return false;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    unsigned d;
    if (is_digit(ch)) d = (unsigned)(ch - '0');
    else if (base == 16 && ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
    else if (base == 16 && ch >= 'A' && ch <= 'F') d = (unsigned)(ch - 'A' + 10);
    else return false;
    if (x > (UINT64_MAX - d) / base) return false;
    x = x * base + d;
  }
  *v = x;
  return true;
}

/* NUMBER | SIZE_MAX[-N] | PTRDIFF_MAX[+N|-N] */
static bool word_u64(const word_t *w, uint64_t *v) {
  static const struct { const char *name; uint64_t v; } syms[] = {
      {"SIZE_MAX", UINT64_MAX}, {"PTRDIFF_MAX", (uint64_t)PTRDIFF_MAX}};
  for (size_t i = 0; i < 2; i++) {
    size_t k = strlen(syms[i].name);
    if (w->n < k || memcmp(w->p, syms[i].name, k) != 0) continue;
    if (w->n == k) {
      *v = syms[i].v;
      return true;
    }
    char sign = w->p[k];
    uint64_t d;
    if ((sign != '+' && sign != '-') || !digits_u64(w->p + k + 1, w->n - k - 1, &d))
      return false;
    if (sign == '-' ? d > syms[i].v : d > UINT64_MAX - syms[i].v) return false;
    *v = sign == '-' ? syms[i].v - d : syms[i].v + d;
    return true;
  }
  return digits_u64(w->p, w->n, v);
}

/* ---------------------------------------------------------------- operands */

/* Fetches the next operand word or reports which one is missing. */
static fl_status_t need_word(cursor_t *c, word_t *w, const char *what, const char *op) {
  if (next_word(c, w)) return FL_OK;
  return perr(c, w->col, "missing %s for '%s'", what, op);
}

static fl_status_t arg_u64(cursor_t *c, const char *what, const char *op, uint64_t max,
                           uint64_t *v) {
  word_t w;
  fl_status_t st = need_word(c, &w, what, op);
  if (st != FL_OK) return st;
  if (!word_u64(&w, v))
    return perr(c, w.col, "bad %s '%.*s' for '%s': expected a number (decimal, 0x hex, "
                          "SIZE_MAX-N or PTRDIFF_MAX+-N)", what, (int)w.n, w.p, op);
  if (*v > max)
    return perr(c, w.col, "%s %" PRIu64 " out of range for '%s' (max %" PRIu64 ")", what, *v,
                op, max);
  return FL_OK;
}

static fl_status_t arg_slot(cursor_t *c, const char *op, uint16_t *slot) {
  word_t w;
  uint64_t v;
  fl_status_t st = need_word(c, &w, "slot", op);
  if (st != FL_OK) return st;
  if (w.n < 2 || w.p[0] != '#' || !digits_u64(w.p + 1, w.n - 1, &v))
    return perr(c, w.col, "expected a slot like #3, got '%.*s'", (int)w.n, w.p);
  if (v >= FL_OP_SLOTS)
    return perr(c, w.col, "slot #%" PRIu64 " out of range (slots are #0..#%d)", v,
                FL_OP_SLOTS - 1);
  *slot = (uint16_t)v;
  return FL_OK;
}

static fl_status_t arg_int32(cursor_t *c, const char *op, uint64_t *v) {
  word_t w;
  fl_status_t st = need_word(c, &w, "value", op);
  if (st != FL_OK) return st;
  bool neg = w.n > 1 && w.p[0] == '-';
  uint64_t m;
  if (!digits_u64(w.p + neg, w.n - neg, &m) || m > (neg ? (uint64_t)INT_MAX + 1 : INT_MAX))
    return perr(c, w.col, "bad value '%.*s' for '%s': expected an int", (int)w.n, w.p, op);
  *v = neg ? (uint64_t)(-(int64_t)m) : m;
  return FL_OK;
}

/* A signed offset: [-]NUMBER, as int64 held in a u64. */
static fl_status_t arg_i64(cursor_t *c, const char *what, const char *op, uint64_t *v) {
  word_t w;
  fl_status_t st = need_word(c, &w, what, op);
  if (st != FL_OK) return st;
  bool neg = w.n > 1 && w.p[0] == '-';
  uint64_t m;
  if (!digits_u64(w.p + neg, w.n - neg, &m) || m > (neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX))
    return perr(c, w.col, "bad %s '%.*s' for '%s': expected a signed number like -16 or 0x20",
                what, (int)w.n, w.p, op);
  *v = neg ? 0 - m : m;
  return FL_OK;
}

/* A name from one of op.h's tables; lookup returns -1 when unknown. */
static fl_status_t arg_name(cursor_t *c, const char *what, const char *op,
                            int (*lookup)(const char *, size_t), int *v) {
  word_t w;
  fl_status_t st = need_word(c, &w, what, op);
  if (st != FL_OK) return st;
  *v = lookup(w.p, w.n);
  if (*v < 0) return perr(c, w.col, "unknown %s '%.*s' for '%s'", what, (int)w.n, w.p, op);
  return FL_OK;
}

/* ---------------------------------------------------------------- ops */

static fl_status_t parse_inject(cursor_t *c, const char *name, fl_op_t *op) {
  int sys = 0, err = 0;
  fl_status_t st = arg_name(c, "syscall", name, fl_op_sys_lookup, &sys);
  if (st == FL_OK) st = arg_u64(c, "count", name, FL_OP_INJECT_NTH_MAX, &op->b);
  if (st == FL_OK && op->b == 0)
    return perr(c, c->pos, "count must be at least 1 (the 1st next call)");
  if (st == FL_OK) st = arg_name(c, "errno", name, fl_op_errno_lookup, &err);
  op->a = (uint64_t)sys;
  op->aux = err;
  return st;
}

static fl_status_t parse_span(cursor_t *c, const char *name, fl_op_t *op) {
  uint64_t byte = 0;
  fl_status_t st = arg_slot(c, name, &op->src);
  if (st == FL_OK) st = arg_u64(c, "offset", name, UINT64_MAX, &op->a);
  if (st == FL_OK) st = arg_u64(c, "length", name, UINT64_MAX, &op->b);
  if (st == FL_OK) st = arg_u64(c, "byte", name, 255, &byte);
  op->byte = (uint8_t)byte;
  return st;
}

static const char *const poke_modes[] = {"plain", "protect"};

static int poke_mode_lookup(const char *name, size_t len) {
  for (int i = 0; i <= FL_OP_POKE_PROTECT; i++)
    if (strlen(poke_modes[i]) == len && memcmp(poke_modes[i], name, len) == 0) return i;
  return -1;
}

/* poke #s OFFSET VALUE WIDTH */
static fl_status_t parse_poke(cursor_t *c, const char *name, fl_op_t *op) {
  uint64_t width = 0;
  fl_status_t st = arg_slot(c, name, &op->src);
  if (st == FL_OK) st = arg_i64(c, "offset", name, &op->a);
  if (st == FL_OK) st = arg_u64(c, "value", name, UINT64_MAX, &op->b);
  if (st == FL_OK) st = arg_u64(c, "width", name, 8, &width);
  if (st != FL_OK) return st;
  if (width != 1 && width != 2 && width != 4 && width != 8)
    return perr(c, c->pos, "width must be 1, 2, 4 or 8 bytes");
  if (width < 8 && op->b >> (8 * width))
    return perr(c, c->pos, "value 0x%" PRIx64 " does not fit in %" PRIu64 " bytes", op->b, width);
  op->byte = (uint8_t)width;
  return FL_OK;
}

/* poke_ptr #s OFFSET #t TOFFSET plain|protect */
static fl_status_t parse_poke_ptr(cursor_t *c, const char *name, fl_op_t *op) {
  int mode = 0;
  fl_status_t st = arg_slot(c, name, &op->src);
  if (st == FL_OK) st = arg_i64(c, "offset", name, &op->a);
  if (st == FL_OK) st = arg_slot(c, name, &op->dst);
  if (st == FL_OK) st = arg_i64(c, "target offset", name, &op->b);
  if (st == FL_OK) st = arg_name(c, "mode (plain or protect)", name, poke_mode_lookup, &mode);
  op->byte = (uint8_t)mode;
  return st;
}

static fl_status_t parse_operands(cursor_t *c, const char *name, fl_op_t *op) {
  int param = 0;
  fl_status_t st = FL_OK;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MALLOC: case FL_OP_VALLOC: case FL_OP_PVALLOC:
    return arg_u64(c, "size", name, UINT64_MAX, &op->a);
  case FL_OP_CALLOC:
    st = arg_u64(c, "nmemb", name, UINT64_MAX, &op->a);
    return st == FL_OK ? arg_u64(c, "size", name, UINT64_MAX, &op->b) : st;
  case FL_OP_REALLOC:
    st = arg_slot(c, name, &op->src);
    return st == FL_OK ? arg_u64(c, "size", name, UINT64_MAX, &op->a) : st;
  case FL_OP_FREE: case FL_OP_USABLE_SIZE:
    return arg_slot(c, name, &op->src);
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
    st = arg_u64(c, "alignment", name, UINT64_MAX, &op->a);
    return st == FL_OK ? arg_u64(c, "size", name, UINT64_MAX, &op->b) : st;
  case FL_OP_WRITE: case FL_OP_VERIFY:
    return parse_span(c, name, op);
  case FL_OP_THREAD:
    return arg_u64(c, "thread id", name, FL_OP_THREADS - 1, &op->a);
  case FL_OP_MALLOPT:
    st = arg_name(c, "parameter", name, fl_op_mallopt_lookup, &param);
    op->a = (uint64_t)param;
    return st == FL_OK ? arg_int32(c, name, &op->b) : st;
  case FL_OP_TRIM:
    return arg_u64(c, "pad", name, UINT64_MAX, &op->a);
  case FL_OP_INJECT:
    return parse_inject(c, name, op);
  case FL_OP_CHECK:
    return arg_u64(c, "level", name, FL_OP_CHECK_MAX, &op->a);
  case FL_OP_FREE_AT:
    st = arg_slot(c, name, &op->src);
    return st == FL_OK ? arg_i64(c, "offset", name, &op->a) : st;
  case FL_OP_POKE:
    return parse_poke(c, name, op);
  case FL_OP_POKE_PTR:
    return parse_poke_ptr(c, name, op);
  case FL_OP_KIND_COUNT:
    break;
  }
  return st;
}

/* [#N =] name operands. *got is false for a blank or comment-only line. */
static fl_status_t parse_op(cursor_t *c, fl_op_t *op, bool *got) {
  word_t w, eq;
  memset(op, 0, sizeof *op);
  *got = next_word(c, &w);
  if (!*got) return FL_OK;
  bool has_dst = w.p[0] == '#';
  if (has_dst) {
    c->pos = w.col;
    fl_status_t st = arg_slot(c, "result", &op->dst);
    if (st != FL_OK) return st;
    if (!next_word(c, &eq) || !word_is(&eq, "="))
      return perr(c, eq.col, "expected '=' after the result slot");
    if (!next_word(c, &w)) return perr(c, w.col, "missing op name after '='");
  }
  int kind = fl_op_kind_lookup(w.p, w.n);
  if (kind < 0) return perr(c, w.col, "unknown op '%.*s'", (int)w.n, w.p);
  op->kind = (uint8_t)kind;
  const char *name = fl_op_kind_name((unsigned)kind);
  if (fl_op_kind_allocates(kind) && !has_dst)
    return perr(c, w.col, "'%s' needs a result slot: #N = %s ...", name, name);
  if (!fl_op_kind_allocates(kind) && has_dst)
    return perr(c, 0, "'%s' has no result; drop the '#N ='", name);
  fl_status_t st = parse_operands(c, name, op);
  if (st != FL_OK) return st;
  if (next_word(c, &w))
    return perr(c, w.col, "unexpected '%.*s' after '%s' (comments start with ';')", (int)w.n,
                w.p, name);
  return FL_OK;
}

/* "faultline-ops vN" on line 1; a script of another version is refused. */
static fl_status_t parse_header(cursor_t *c) {
  size_t k = strlen(FL_OPS_TEXT_MAGIC);
  word_t w;
  uint64_t v;
  c->pos = k;
  if (!next_word(c, &w) || w.n < 2 || w.p[0] != 'v' || !digits_u64(w.p + 1, w.n - 1, &v))
    return perr(c, w.col, "bad header: expected '%s v%d'", FL_OPS_TEXT_MAGIC,
                FL_OPS_FORMAT_VERSION);
  /* Older scripts are a subset of today's language: they parse as they are. */
  if (!fl_ops_version_readable(v)) return fl_ops_version_error(c->name, (unsigned long)v);
  if (next_word(c, &w)) return perr(c, w.col, "unexpected '%.*s' after the header", (int)w.n, w.p);
  return FL_OK;
}

static bool is_header_line(const char *s, size_t len) {
  size_t k = strlen(FL_OPS_TEXT_MAGIC);
  return len >= k && memcmp(s, FL_OPS_TEXT_MAGIC, k) == 0 && (len == k || is_space(s[k]));
}

fl_status_t fl_ops_parse_text(const char *text, size_t len, const char *name, fl_ops_t *out) {
  cursor_t c = {name ? name : "<text>", text, 0, 0, 0};
  size_t at = 0;
  while (at < len) {
    const char *nl = memchr(text + at, '\n', len - at);
    size_t end = nl ? (size_t)(nl - text) : len;
    c.s = text + at;
    c.len = end - at;
    c.pos = 0;
    c.line++;
    if (memchr(c.s, '\0', c.len))
      return perr(&c, (size_t)((const char *)memchr(c.s, '\0', c.len) - c.s),
                  "NUL byte in a text script");
    fl_op_t op;
    bool got = false;
    fl_status_t st = c.line == 1 && is_header_line(c.s, c.len) ? parse_header(&c)
                                                               : parse_op(&c, &op, &got);
    if (st == FL_OK && got) st = fl_ops_push(out, &op);
    if (st != FL_OK) return st;
    at = end + 1;
  }
  return FL_OK;
}

/* ---------------------------------------------------------------- printing */

/* Huge values print symbolically: SIZE_MAX-15 says more than its digits. */
static void fmt_u64(char buf[40], uint64_t v) {
  const uint64_t pmax = (uint64_t)PTRDIFF_MAX, near = 65536;
  if (v == UINT64_MAX) snprintf(buf, 40, "SIZE_MAX");
  else if (v > UINT64_MAX - near) snprintf(buf, 40, "SIZE_MAX-%" PRIu64, UINT64_MAX - v);
  else if (v == pmax) snprintf(buf, 40, "PTRDIFF_MAX");
  else if (v > pmax && v - pmax <= near) snprintf(buf, 40, "PTRDIFF_MAX+%" PRIu64, v - pmax);
  else if (v < pmax && pmax - v < near) snprintf(buf, 40, "PTRDIFF_MAX-%" PRIu64, pmax - v);
  else snprintf(buf, 40, "%" PRIu64, v);
}

int fl_op_format(const fl_op_t *op, char *buf, size_t size) {
  if (!fl_op_is_canonical(op)) return snprintf(buf, size, "<invalid op: kind %u>", op->kind);
  char a[40], b[40];
  const char *name = fl_op_kind_name(op->kind);
  fmt_u64(a, op->a);
  fmt_u64(b, op->b);
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MALLOC: case FL_OP_VALLOC: case FL_OP_PVALLOC:
    return snprintf(buf, size, "#%u = %s %s", op->dst, name, a);
  case FL_OP_CALLOC: case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
    return snprintf(buf, size, "#%u = %s %s %s", op->dst, name, a, b);
  case FL_OP_REALLOC:
    return snprintf(buf, size, "#%u = %s #%u %s", op->dst, name, op->src, a);
  case FL_OP_FREE: case FL_OP_USABLE_SIZE:
    return snprintf(buf, size, "%s #%u", name, op->src);
  case FL_OP_WRITE: case FL_OP_VERIFY:
    return snprintf(buf, size, "%s #%u %s %s 0x%02x", name, op->src, a, b, op->byte);
  case FL_OP_THREAD: case FL_OP_TRIM: case FL_OP_CHECK:
    return snprintf(buf, size, "%s %s", name, a);
  case FL_OP_MALLOPT:
    return snprintf(buf, size, "%s %s %" PRId64, name, fl_op_mallopt_name((unsigned)op->a),
                    (int64_t)op->b);
  case FL_OP_INJECT:
    return snprintf(buf, size, "%s %s %" PRIu64 " %s", name, fl_op_sys_name((unsigned)op->a),
                    op->b, fl_op_errno_name(op->aux));
  case FL_OP_FREE_AT:
    return snprintf(buf, size, "%s #%u %" PRId64, name, op->src, (int64_t)op->a);
  case FL_OP_POKE:
    return snprintf(buf, size, "%s #%u %" PRId64 " 0x%" PRIx64 " %u", name, op->src,
                    (int64_t)op->a, op->b, op->byte);
  case FL_OP_POKE_PTR:
    return snprintf(buf, size, "%s #%u %" PRId64 " #%u %" PRId64 " %s", name, op->src,
                    (int64_t)op->a, op->dst, (int64_t)op->b, poke_modes[op->byte]);
  case FL_OP_KIND_COUNT:
    break;
  }
  return snprintf(buf, size, "<invalid op: kind %u>", op->kind);
}

fl_status_t fl_ops_print_text(const fl_ops_t *ops, bool header, char **text, size_t *len) {
  size_t cap = 64 + ops->n * 48, n = 0;
  char *s = malloc(cap);
  if (!s) return fl_error(FL_EENV, "out of memory printing %zu ops", ops->n);
  if (header) n = (size_t)snprintf(s, cap, "%s v%d\n", FL_OPS_TEXT_MAGIC, FL_OPS_FORMAT_VERSION);
  for (size_t i = 0; i < ops->n; i++) {
    if (!fl_op_is_canonical(&ops->v[i])) {
      free(s);
      return fl_error(FL_EUSAGE, "op %zu (kind %u) is not canonical and has no text form", i,
                      ops->v[i].kind);
    }
    char line[160];
    size_t k = (size_t)fl_op_format(&ops->v[i], line, sizeof line);
    if (n + k + 2 > cap) {
      char *t = realloc(s, cap * 2 + k);
      if (!t) {
        free(s);
        return fl_error(FL_EENV, "out of memory printing %zu ops", ops->n);
      }
      s = t;
      cap = cap * 2 + k;
    }
    memcpy(s + n, line, k);
    n += k;
    s[n++] = '\n';
  }
  s[n] = '\0';
  *text = s;
  *len = n;
  return FL_OK;
}

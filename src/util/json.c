#include "util/json.h"

#include <inttypes.h>
#include <math.h>

void fl_json_init(fl_json_t *j, FILE *out, bool pretty) {
  j->out = out;
  j->depth = 0;
  j->need_comma[0] = false;
  j->after_key = false;
  j->pretty = pretty;
}

static void indent(fl_json_t *j) {
  if (!j->pretty) return;
  fputc('\n', j->out);
  for (int i = 0; i < j->depth; i++) fputs("  ", j->out);
}

/* Separator and indentation before any value or key. */
static void before_value(fl_json_t *j) {
  if (j->after_key) {
    j->after_key = false;
    return;
  }
  if (j->need_comma[j->depth]) fputc(',', j->out);
  if (j->depth > 0) indent(j);
  j->need_comma[j->depth] = true;
}

static void open_container(fl_json_t *j, char c) {
  before_value(j);
  fputc(c, j->out);
  if (j->depth + 1 < FL_JSON_MAX_DEPTH) j->depth++;
  j->need_comma[j->depth] = false;
}

static void close_container(fl_json_t *j, char c) {
  bool had = j->need_comma[j->depth];
  if (j->depth > 0) j->depth--;
  if (had) indent(j);
  fputc(c, j->out);
}

void fl_json_begin_object(fl_json_t *j) { open_container(j, '{'); }
void fl_json_end_object(fl_json_t *j) { close_container(j, '}'); }
void fl_json_begin_array(fl_json_t *j) { open_container(j, '['); }
void fl_json_end_array(fl_json_t *j) { close_container(j, ']'); }

static void write_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    default:
      if (*p < 0x20) fprintf(out, "\\u%04x", *p);
      else fputc(*p, out);
    }
  }
  fputc('"', out);
}

void fl_json_key(fl_json_t *j, const char *key) {
  before_value(j);
  write_string(j->out, key);
  fputs(j->pretty ? ": " : ":", j->out);
  j->after_key = true;
}

void fl_json_string(fl_json_t *j, const char *s) {
  before_value(j);
  if (s) write_string(j->out, s);
  else fputs("null", j->out);
}

void fl_json_int(fl_json_t *j, int64_t v) {
  before_value(j);
  fprintf(j->out, "%" PRId64, v);
}

void fl_json_uint(fl_json_t *j, uint64_t v) {
  before_value(j);
  fprintf(j->out, "%" PRIu64, v);
}

void fl_json_double(fl_json_t *j, double v) {
  before_value(j);
  if (isfinite(v)) fprintf(j->out, "%.6g", v);
  else fputs("null", j->out);
}

void fl_json_bool(fl_json_t *j, bool v) {
  before_value(j);
  fputs(v ? "true" : "false", j->out);
}

void fl_json_null(fl_json_t *j) {
  before_value(j);
  fputs("null", j->out);
}

void fl_json_finish(fl_json_t *j) { fputc('\n', j->out); fflush(j->out); }

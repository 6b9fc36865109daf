/* file.c — op file headers, detection, loading and saving. */
#include "ops/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/binary.h"
#include "ops/text.h"

const char *fl_ops_format_name(fl_ops_format_t f) {
  switch (f) {
  case FL_FMT_RAW: return "raw";
  case FL_FMT_BINARY: return "binary";
  case FL_FMT_TEXT: return "text";
  }
  return "?";
}

static bool printable(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(p[i] == '\n' || p[i] == '\t' || p[i] == '\r' || (p[i] >= 0x20 && p[i] < 0x7f)))
      return false;
  return n > 0;
}

/* Version digits after "faultline-ops v"; NO_VERSION if absent (the parser
 * then reports the malformed header with its line and column). */
#define NO_VERSION ((unsigned long)-1)

static unsigned long text_version(const uint8_t *p, size_t n) {
  size_t k = strlen(FL_OPS_TEXT_MAGIC);
  while (k < n && (p[k] == ' ' || p[k] == '\t')) k++;
  if (k >= n || p[k] != 'v') return NO_VERSION;
  unsigned long v = 0;
  size_t start = ++k;
  while (k < n && p[k] >= '0' && p[k] <= '9' && v < 100000) v = v * 10 + (p[k++] - '0');
  return k > start ? v : NO_VERSION;
}

static bool has_text_magic(const uint8_t *p, size_t n) {
  size_t k = strlen(FL_OPS_TEXT_MAGIC);
  return n >= k && memcmp(p, FL_OPS_TEXT_MAGIC, k) == 0 &&
         (n == k || p[k] == ' ' || p[k] == '\t' || p[k] == '\r' || p[k] == '\n');
}

fl_status_t fl_ops_detect(const uint8_t *data, size_t len, const char *name,
                          fl_ops_detect_t *d) {
  memset(d, 0, sizeof *d);
  name = name ? name : "<input>";
  if (len >= FL_OPS_BINARY_HEADER_LEN && memcmp(data, FL_OPS_BINARY_MAGIC, 4) == 0) {
    d->format = FL_FMT_BINARY;
    d->version = data[4];
    d->body = FL_OPS_BINARY_HEADER_LEN;
    if (!fl_ops_version_readable(d->version)) return fl_ops_version_error(name, d->version);
    return FL_OK;
  }
  if (has_text_magic(data, len)) {
    d->format = FL_FMT_TEXT;
    d->version = text_version(data, len);
    if (d->version == NO_VERSION) d->version = 0;
    else if (!fl_ops_version_readable(d->version)) return fl_ops_version_error(name, d->version);
    return FL_OK;
  }
  d->format = FL_FMT_RAW;
  d->looks_like_text = printable(data, len);
  return FL_OK;
}

static fl_status_t load_detected(const uint8_t *data, size_t len, const char *name,
                                 fl_ops_t *out, fl_ops_detect_t *d) {
  fl_status_t st = fl_ops_detect(data, len, name, d);
  if (st != FL_OK) return st;
  if (d->format == FL_FMT_TEXT)
    return fl_ops_parse_text((const char *)data, len, name ? name : "<input>", out);
  unsigned v = d->format == FL_FMT_BINARY ? d->version : FL_OPS_FORMAT_VERSION;
  return fl_ops_decode_version(data + d->body, len - d->body, v, out);
}

fl_status_t fl_ops_load_bytes(const uint8_t *data, size_t len, const char *name,
                              fl_ops_t *out, fl_ops_format_t *fmt) {
  fl_ops_detect_t d;
  fl_status_t st = load_detected(data, len, name, out, &d);
  if (fmt) *fmt = d.format;
  return st;
}

/* Reads a whole file; regular files, pipes and /dev/stdin alike. */
static fl_status_t read_all(const char *path, uint8_t **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return fl_error(FL_EUSAGE, "%s: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  uint8_t *p = malloc(cap);
  while (p) {
    n += fread(p + n, 1, cap - n, f);
    if (n < cap) break;
    uint8_t *q = realloc(p, cap * 2);
    if (!q) free(p);
    p = q;
    cap *= 2;
  }
  int err = ferror(f) ? errno : 0;
  fclose(f);
  if (!p) return fl_error(FL_EENV, "%s: out of memory reading the file", path);
  if (err) {
    free(p);
    return fl_error(FL_EUSAGE, "%s: %s", path, strerror(err));
  }
  *data = p;
  *len = n;
  return FL_OK;
}

fl_status_t fl_ops_load_file_detect(const char *path, fl_ops_t *out, fl_ops_detect_t *d) {
  uint8_t *data = NULL;
  size_t len = 0;
  memset(d, 0, sizeof *d);
  fl_status_t st = read_all(path, &data, &len);
  if (st != FL_OK) return st;
  st = load_detected(data, len, path, out, d);
  free(data);
  return st;
}

fl_status_t fl_ops_load_file(const char *path, fl_ops_t *out, fl_ops_format_t *fmt) {
  fl_ops_detect_t d;
  fl_status_t st = fl_ops_load_file_detect(path, out, &d);
  if (fmt) *fmt = d.format;
  return st;
}

fl_status_t fl_ops_serialize(const fl_ops_t *ops, fl_ops_format_t fmt, uint8_t **data,
                             size_t *len) {
  if (fmt == FL_FMT_TEXT) return fl_ops_print_text(ops, true, (char **)data, len);
  uint8_t *body = NULL;
  size_t n = 0;
  fl_status_t st = fl_ops_encode(ops, &body, &n);
  if (st != FL_OK || fmt == FL_FMT_RAW) {
    *data = body;
    *len = n;
    return st;
  }
  uint8_t *p = malloc(n + FL_OPS_BINARY_HEADER_LEN);
  if (!p) {
    free(body);
    return fl_error(FL_EENV, "out of memory serialising %zu ops", ops->n);
  }
  memcpy(p, FL_OPS_BINARY_MAGIC, 4);
  p[4] = FL_OPS_FORMAT_VERSION;
  if (n) memcpy(p + FL_OPS_BINARY_HEADER_LEN, body, n);
  free(body);
  *data = p;
  *len = n + FL_OPS_BINARY_HEADER_LEN;
  return FL_OK;
}

fl_status_t fl_ops_save_file(const char *path, const fl_ops_t *ops, fl_ops_format_t fmt) {
  uint8_t *data = NULL;
  size_t len = 0;
  fl_status_t st = fl_ops_serialize(ops, fmt, &data, &len);
  if (st != FL_OK) return st;
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(data);
    return fl_error(FL_EUSAGE, "%s: %s", path, strerror(errno));
  }
  size_t w = fwrite(data, 1, len, f);
  int err = (w != len || fflush(f) != 0) ? errno : 0;
  if (fclose(f) != 0 && !err) err = errno;
  free(data);
  if (err) return fl_error(FL_EUSAGE, "%s: %s", path, strerror(err));
  return FL_OK;
}

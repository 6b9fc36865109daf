/* jsonread.h — a tiny JSON reader for the CLI tests: enough to check that
 * a command's --json output is one well-formed value and to look members
 * up by a dotted path ("mmap_length.model", "steps.2.code"). No library:
 * the tests must not trust the writer they are checking. */
#ifndef FL_TESTS_JSONREAD_H
#define FL_TESTS_JSONREAD_H

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef enum jr_type { JR_BAD, JR_OBJECT, JR_ARRAY, JR_STRING, JR_NUMBER, JR_BOOL, JR_NULL } jr_type_t;

static inline const char *jr_ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
  return p;
}

static inline jr_type_t jr_type(const char *p) {
  p = jr_ws(p);
  switch (*p) {
  case '{': return JR_OBJECT;
  case '[': return JR_ARRAY;
  case '"': return JR_STRING;
  case 't': case 'f': return JR_BOOL;
  case 'n': return JR_NULL;
  default: return *p == '-' || isdigit((unsigned char)*p) ? JR_NUMBER : JR_BAD;
  }
}

/* Past one value, or NULL if it is malformed. */
static inline const char *jr_skip(const char *p) {
  p = jr_ws(p);
  if (*p == '"') {
    for (p++; *p && *p != '"'; p++)
      if (*p == '\\' && !*++p) return NULL;
    return *p ? p + 1 : NULL;
  }
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = jr_ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        if (jr_type(p) != JR_STRING || !(p = jr_skip(p))) return NULL;
        p = jr_ws(p);
        if (*p++ != ':') return NULL;
      }
      if (!(p = jr_skip(p))) return NULL;
      p = jr_ws(p);
      if (*p == close) return p + 1;
      if (*p++ != ',') return NULL;
    }
  }
  if (!strncmp(p, "true", 4)) return p + 4;
  if (!strncmp(p, "false", 5)) return p + 5;
  if (!strncmp(p, "null", 4)) return p + 4;
  char *end;
  strtod(p, &end);
  return end == p ? NULL : end;
}

/* The whole text is one JSON value (and whitespace). */
static inline bool jr_valid(const char *text) {
  const char *end = jr_skip(text);
  return end && !*jr_ws(end);
}

/* The member `key` (length n) of the object at p, or NULL. */
static inline const char *jr_member(const char *p, const char *key, size_t n) {
  p = jr_ws(p);
  if (*p != '{') return NULL;
  p = jr_ws(p + 1);
  while (*p == '"') {
    const char *k = p + 1, *after = jr_skip(p);
    if (!after) return NULL;
    bool hit = (size_t)(after - 1 - k) == n && !strncmp(k, key, n);
    p = jr_ws(after);
    if (*p++ != ':') return NULL;
    if (hit) return jr_ws(p);
    if (!(p = jr_skip(p))) return NULL;
    p = jr_ws(p);
    if (*p == ',') p = jr_ws(p + 1);
  }
  return NULL;
}

/* Element i of the array at p, or NULL. */
static inline const char *jr_element(const char *p, size_t i) {
  p = jr_ws(p);
  if (*p != '[') return NULL;
  p = jr_ws(p + 1);
  for (size_t k = 0; *p && *p != ']'; k++) {
    if (k == i) return p;
    if (!(p = jr_skip(p))) return NULL;
    p = jr_ws(p);
    if (*p == ',') p = jr_ws(p + 1);
  }
  return NULL;
}

/* The value at a dotted path ("a.b.3.c": digits index arrays), or NULL. */
static inline const char *jr_get(const char *p, const char *path) {
  while (p && *path) {
    size_t n = strcspn(path, ".");
    if (jr_type(p) == JR_ARRAY) p = jr_element(p, strtoul(path, NULL, 10));
    else p = jr_member(p, path, n);
    path += n + (path[n] == '.');
  }
  return p;
}

static inline double jr_number(const char *p) { return p ? strtod(jr_ws(p), NULL) : -1; }
static inline bool jr_true(const char *p) { return p && !strncmp(jr_ws(p), "true", 4); }
/* The string at p starts with s (p points at the opening quote). */
static inline bool jr_string_is(const char *p, const char *s) {
  p = p ? jr_ws(p) : NULL;
  return p && *p == '"' && !strncmp(p + 1, s, strlen(s)) && p[1 + strlen(s)] == '"';
}

#endif

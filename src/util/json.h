/* json.h — a small streaming JSON writer (objects, arrays, scalars).
 *
 * The writer tracks nesting so commas come out right; keys are written with
 * fl_json_key() before a value inside an object. Strings are escaped. */
#ifndef FL_UTIL_JSON_H
#define FL_UTIL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define FL_JSON_MAX_DEPTH 32

typedef struct fl_json {
  FILE *out;
  int depth;
  bool need_comma[FL_JSON_MAX_DEPTH];
  bool after_key;
  bool pretty;
} fl_json_t;

void fl_json_init(fl_json_t *j, FILE *out, bool pretty);
void fl_json_begin_object(fl_json_t *j);
void fl_json_end_object(fl_json_t *j);
void fl_json_begin_array(fl_json_t *j);
void fl_json_end_array(fl_json_t *j);
void fl_json_key(fl_json_t *j, const char *key);
void fl_json_string(fl_json_t *j, const char *s);
void fl_json_int(fl_json_t *j, int64_t v);
void fl_json_uint(fl_json_t *j, uint64_t v);
void fl_json_double(fl_json_t *j, double v);
void fl_json_bool(fl_json_t *j, bool v);
void fl_json_null(fl_json_t *j);
/* Ends the document with a newline. */
void fl_json_finish(fl_json_t *j);

#endif

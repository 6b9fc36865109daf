/* text.h — the text op form: scripts people write and read.
 *
 *   faultline-ops v1          ; optional header on line 1 (required in files)
 *   #3 = malloc 100           ; allocating ops name their result slot
 *   #4 = realloc #3 200
 *   write #4 0 16 0xab
 *   verify #4 0 16 0xab
 *   free #4                   # '#' not followed by a digit is a comment too
 *
 * One op per line. Comments run from ';' or from a '#' that is not followed
 * by a digit to the end of the line. The printer emits the canonical text
 * (single spaces, no comments, decimal sizes, 0x%02x bytes, huge values as
 * SIZE_MAX-N / PTRDIFF_MAX+N); parse(print(ops)) == ops for canonical ops.
 * Full grammar: spec/ops.md. */
#ifndef FL_OPS_TEXT_H
#define FL_OPS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "ops/op.h"

#define FL_OPS_TEXT_MAGIC "faultline-ops"

/* Parses text (len bytes, need not be NUL-terminated) and appends its ops
 * to out. name is used in messages: "name:line:column: message". On error
 * returns FL_EUSAGE (out keeps the ops of the lines before the error);
 * a header line of another version gives fl_ops_version_error's message. */
fl_status_t fl_ops_parse_text(const char *text, size_t len, const char *name, fl_ops_t *out);

/* Prints ops as canonical text into a malloc'd NUL-terminated string
 * (*len excludes the NUL), with the header line when header is set.
 * FL_EUSAGE if an op is not canonical. */
fl_status_t fl_ops_print_text(const fl_ops_t *ops, bool header, char **text, size_t *len);

/* One op as canonical text without newline; returns snprintf's count.
 * A non-canonical op prints as "<invalid op: kind K>". */
int fl_op_format(const fl_op_t *op, char *buf, size_t size);

#endif

/* binary.h — the binary op form: what fuzzers feed and corpus files hold.
 *
 * EVERY byte string decodes to a valid (canonical) op sequence: there is no
 * rejection. Out-of-range bytes are folded with modulo, and a truncated
 * tail is decoded with defaults (a missing byte reads as 0), so the last,
 * partial op is still an op. Sizes and alignments go through token tables
 * biased to the boundaries of glibc 2.36 ptmalloc2 (spec/ops.md, "Binary
 * form"). The encoder writes the shortest token for each value, and
 * decode(encode(x)) == x for every canonical x. */
#ifndef FL_OPS_BINARY_H
#define FL_OPS_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"

/* Decodes len raw bytes (no header) and appends the ops to out.
 * Fails only when memory runs out (FL_EENV). */
fl_status_t fl_ops_decode(const uint8_t *data, size_t len, fl_ops_t *out);
/* The same for a file of format version v (fl_ops_version_readable): v1's
 * opcodes fold onto its 17 kinds, so an old corpus file keeps its meaning. */
fl_status_t fl_ops_decode_version(const uint8_t *data, size_t len, unsigned v, fl_ops_t *out);

/* Encodes ops (no header) into a malloc'd buffer the caller frees.
 * FL_EUSAGE if an op is not canonical (it names the op index). */
fl_status_t fl_ops_encode(const fl_ops_t *ops, uint8_t **data, size_t *len);

/* The boundary tables, exported for the generator and the tests. */
typedef enum fl_token_table {
  FL_TOK_SIZE,    /* request sizes, trim pads */
  FL_TOK_ALIGN,   /* memalign alignments */
  FL_TOK_SPAN,    /* write/verify offsets and lengths */
  FL_TOK_MALLOPT, /* mallopt values (then folded to int32) */
  FL_TOK_OFFSET,  /* hostile ops' signed offsets (raw bytes sign-extend) */
  FL_TOK_TABLE_COUNT
} fl_token_table_t;

size_t fl_token_table_size(fl_token_table_t t);
uint64_t fl_token_table_value(fl_token_table_t t, size_t i);

#endif

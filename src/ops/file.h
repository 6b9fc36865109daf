/* file.h — op files: the header, format detection, loading and saving.
 *
 *   binary with header   "FLOP" u8(version) <binary ops>
 *   text                 "faultline-ops v<version>" line, then one op a line
 *   raw                  anything else: headerless fuzzer bytes, decoded as
 *                        binary (every byte string is a valid op stream)
 *
 * A header of another version is refused with a message saying whether it is
 * older or newer than this faultline. A truncated header ("FL", "FLOP" with no
 * version byte) is raw, like any other byte string; an empty file is a valid
 * empty stream. Fuzz entry points never detect: they call fl_ops_decode on the
 * input as is, so no fuzzer input is ever refused. */
#ifndef FL_OPS_FILE_H
#define FL_OPS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"

#define FL_OPS_BINARY_MAGIC "FLOP"
#define FL_OPS_BINARY_HEADER_LEN 5

typedef enum fl_ops_format {
  FL_FMT_RAW,    /* headerless binary */
  FL_FMT_BINARY, /* binary with header */
  FL_FMT_TEXT,
} fl_ops_format_t;

typedef struct fl_ops_detect {
  fl_ops_format_t format;
  unsigned long version; /* from the header; 0 for raw or a malformed text header */
  size_t body;           /* offset of the first op byte (binary) */
  /* Raw, but every byte is printable text: most likely a script that lacks
   * its "faultline-ops v2" line. It still decodes as raw; callers may warn. */
  bool looks_like_text;
} fl_ops_detect_t;

const char *fl_ops_format_name(fl_ops_format_t f);

/* Tells the three forms apart. FL_EUSAGE for a header of another version
 * (the message names name, the version and whether it is older or newer). */
fl_status_t fl_ops_detect(const uint8_t *data, size_t len, const char *name,
                          fl_ops_detect_t *d);

/* Detects and decodes/parses; appends to out. fmt may be NULL. */
fl_status_t fl_ops_load_bytes(const uint8_t *data, size_t len, const char *name,
                              fl_ops_t *out, fl_ops_format_t *fmt);
/* Reads path whole; unreadable: FL_EUSAGE "path: <strerror>". */
fl_status_t fl_ops_load_file(const char *path, fl_ops_t *out, fl_ops_format_t *fmt);
/* The same, also telling what detection saw (d may not be NULL). */
fl_status_t fl_ops_load_file_detect(const char *path, fl_ops_t *out, fl_ops_detect_t *d);

/* Serialises ops with the header of fmt (raw: none) into a malloc'd buffer. */
fl_status_t fl_ops_serialize(const fl_ops_t *ops, fl_ops_format_t fmt, uint8_t **data,
                             size_t *len);
fl_status_t fl_ops_save_file(const char *path, const fl_ops_t *ops, fl_ops_format_t fmt);

#endif

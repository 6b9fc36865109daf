/* import.h — op streams from what real programs did: recordings made by
 * libfaultline-record.so (spec/record.md) and glibc mtrace logs.
 *
 * Pointers become slots: a block gets a free slot when it is returned and
 * gives it back when freed (slot 0 is kept for calls that returned NULL, so
 * the call is replayed and its NULL lands nowhere). A free, realloc or
 * usable_size of a pointer never seen returned (allocated before recording
 * began, or by a path not recorded) cannot be replayed: it is dropped and
 * counted. Threads keep their numbers (recordings), folded into the op
 * language's 16 logical threads if a program had more. */
#ifndef FL_OPS_IMPORT_H
#define FL_OPS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"

typedef struct fl_import_stats {
  size_t calls;        /* records or log lines read */
  size_t ops;          /* ops produced */
  size_t unknown;      /* calls on pointers never seen returned: dropped */
  size_t unsupported;  /* calls the op language cannot say (mallopt params it lacks) */
  size_t threads;      /* distinct logical threads used */
  size_t folded;       /* calls of threads past the 16th, folded onto another's id */
  size_t max_live;     /* most blocks live at once */
} fl_import_stats_t;

/* A recording file's bytes. FL_EUSAGE (with name) if the header is not a
 * recording's, the version unknown, or the body not whole records. */
fl_status_t fl_import_recording(const uint8_t *data, size_t len, const char *name, fl_ops_t *out,
                                fl_import_stats_t *stats);

/* An mtrace log (mtrace(3)). mtrace does not say which function allocated
 * or with what alignment: every "+" becomes malloc of the logged size. */
fl_status_t fl_import_mtrace(const char *text, size_t len, const char *name, fl_ops_t *out,
                             fl_import_stats_t *stats);

#endif

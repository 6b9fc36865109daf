/* repro.h — an op stream as a standalone C program, for bug reports.
 *
 * The program replays the ops against the system allocator (or whatever
 * LD_PRELOAD puts in its place) with plain malloc/free/realloc/... calls:
 * slots are an array of pointers, write is memset, verify is memcmp (a
 * mismatch prints the op and exits 1), hostile ops are pointer stores and
 * frees at an offset of a slot's live or last pointer, as the executor does
 * (exec.h). Each call is preceded by the op's text as a comment. It needs
 * only a C11 compiler and glibc's <malloc.h> for the GNU extensions
 * (memalign, pvalloc, malloc_usable_size, mallopt, malloc_trim):
 *
 *   cc -std=c11 -Wall -o repro repro.c && ./repro
 *
 * What a single-threaded program cannot replay is kept as a comment: thread
 * switches (one thread runs everything), inject (no system call can be made
 * to fail) and check (faultline's invariants). The executor's live-byte
 * budget is not applied. */
#ifndef FL_OPS_REPRO_H
#define FL_OPS_REPRO_H

#include <stddef.h>

#include "ops/op.h"
#include "util/err.h"

/* The program as a malloc'd NUL-terminated string (*len excludes the NUL).
 * source names the stream in the program's opening comment. FL_EUSAGE for
 * a non-canonical op, FL_EENV if memory runs out. */
fl_status_t fl_ops_repro_c(const fl_ops_t *ops, const char *source, char **text, size_t *len);

#endif

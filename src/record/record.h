/* record.h — the raw recording format of libfaultline-record.so.
 *
 * A file is a header, then one fixed-size record per malloc-family call in
 * the order the calls returned (the recorder's lock orders them across
 * threads). Pointers are the process's real ones; `faultline record` turns
 * them into op-script slots. Little-endian, x86-64. */
#ifndef FL_RECORD_RECORD_H
#define FL_RECORD_RECORD_H

#include <stdint.h>

#define FL_REC_MAGIC 0x3130434552544c46ULL /* the bytes "FLTREC01" */
#define FL_REC_VERSION 1

typedef struct fl_rec_header {
  uint64_t magic;
  uint32_t version;
  uint32_t pid;
} fl_rec_header_t;

enum {
  FL_REC_MALLOC = 1,        /* a = size */
  FL_REC_FREE = 2,          /* a = pointer */
  FL_REC_CALLOC = 3,        /* a = nmemb, b = size */
  FL_REC_REALLOC = 4,       /* a = old pointer, b = size */
  FL_REC_MEMALIGN = 5,      /* a = alignment, b = size */
  FL_REC_ALIGNED_ALLOC = 6, /* a = alignment, b = size */
  FL_REC_POSIX_MEMALIGN = 7,/* a = alignment, b = size, err = the return value */
  FL_REC_VALLOC = 8,        /* a = size */
  FL_REC_PVALLOC = 9,       /* a = size */
  FL_REC_USABLE_SIZE = 10,  /* a = pointer, result = usable size */
  FL_REC_MALLOPT = 11,      /* a = param, b = value, result = return value */
  FL_REC_TRIM = 12,         /* a = pad, result = return value */
};

typedef struct fl_rec {
  uint8_t kind;
  uint8_t pad[3];
  uint32_t tid;      /* the recorder's thread number, in order of first call */
  uint32_t err;      /* errno after the call (posix_memalign: its return value) */
  uint32_t pad2;
  uint64_t a, b;
  uint64_t result;   /* returned pointer or value */
} fl_rec_t;

_Static_assert(sizeof(fl_rec_t) == 40, "fl_rec_t is 40 bytes on disk");
_Static_assert(sizeof(fl_rec_header_t) == 16, "the header is 16 bytes on disk");

#endif

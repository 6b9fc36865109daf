/* fuzz/written.h — which verify mismatches are the allocator's doing.
 *
 * A verify op compares a block with one byte. The generator only verifies
 * what it wrote, but a fuzzer's input may verify bytes it never wrote, or
 * wrote with another byte: that mismatch is the input's doing, not a
 * finding. Each slot remembers the last region its block was written with
 * one byte (calloc: all of it, zero; realloc carries it to the new block,
 * cut to the smaller size). A mismatch counts only when the verified range
 * lies inside that region and asks for that byte.
 *
 * Driven from the executor's after_op hook with records on (the pointer an
 * allocating op returned tells whether the slot now holds a block). */
#ifndef FL_FUZZ_WRITTEN_H
#define FL_FUZZ_WRITTEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "ops/exec.h"
#include "ops/op.h"

typedef struct fl_fuzz_block {
  uint64_t size;          /* requested bytes: write/verify clip to them */
  uint64_t off, end;      /* the region last written, clipped; off == end: none */
  uint8_t byte;
} fl_fuzz_block_t;

typedef struct fl_fuzz_written {
  fl_fuzz_block_t *slot;  /* FL_OP_SLOTS entries */
  const fl_exec_result_t *res;
  size_t input_mismatches; /* verify mismatches of bytes the input never wrote */
} fl_fuzz_written_t;

static inline bool fl_fuzz_written_open(fl_fuzz_written_t *w, const fl_exec_result_t *res) {
  w->slot = calloc(FL_OP_SLOTS, sizeof *w->slot);
  w->res = res;
  w->input_mismatches = 0;
  return w->slot != NULL;
}

static inline void fl_fuzz_written_close(fl_fuzz_written_t *w) { free(w->slot); }

/* [op->a, op->a + op->b) cut to the block, as the executor clips. */
static inline void fl_fuzz_clip(const fl_fuzz_block_t *b, const fl_op_t *op, uint64_t *off, uint64_t *end) {
  *off = op->a < b->size ? op->a : b->size;
  *end = op->b < b->size - *off ? *off + op->b : b->size;
}

static inline uint64_t fl_fuzz_requested(const fl_op_t *op) {
  switch (op->kind) {
  case FL_OP_CALLOC: return op->a * op->b; /* overflowing products return NULL */
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN: return op->b;
  default: return op->a; /* malloc, valloc, pvalloc, realloc */
  }
}

/* After op index: updates the slots; true if a verify mismatch there is the
 * input's own doing (it is then counted and to be ignored). */
static inline bool fl_fuzz_written_after(fl_fuzz_written_t *w, size_t index, const fl_op_t *op,
                                         fl_exec_status_t status) {
  fl_fuzz_block_t *src = &w->slot[op->src], *dst = &w->slot[op->dst];
  uint64_t off, end;
  if (status == FL_EXEC_OK && op->kind == FL_OP_WRITE) {
    fl_fuzz_clip(src, op, &off, &end);
    *src = (fl_fuzz_block_t){.size = src->size, .off = off, .end = end, .byte = op->byte};
  } else if (status == FL_EXEC_MISMATCH) {
    fl_fuzz_clip(src, op, &off, &end);
    bool written = src->off <= off && end <= src->end && src->byte == op->byte;
    w->input_mismatches += !written;
    return !written;
  } else if (status == FL_EXEC_OK && op->kind == FL_OP_FREE) {
    *src = (fl_fuzz_block_t){0};
  } else if (status == FL_EXEC_OK && op->kind == FL_OP_REALLOC) {
    if (!w->res->records[index].ptr) { /* failed (the block stays), or freed by realloc(p, 0) */
      if (op->a == 0) *src = (fl_fuzz_block_t){0};
      return false;
    }
    fl_fuzz_block_t moved = *src;
    uint64_t n = op->a;
    *src = (fl_fuzz_block_t){0};
    *dst = (fl_fuzz_block_t){.size = n, .off = moved.off < n ? moved.off : n, .end = moved.end < n ? moved.end : n,
                             .byte = moved.byte};
  } else if (status == FL_EXEC_OK && fl_op_kind_allocates(op->kind)) {
    uint64_t n = w->res->records[index].ptr ? fl_fuzz_requested(op) : 0;
    *dst = (fl_fuzz_block_t){.size = n, .end = op->kind == FL_OP_CALLOC ? n : 0};
  }
  return false;
}

#endif

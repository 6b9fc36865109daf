/* binary.c — decoder and encoder of the binary op form (spec/ops.md).
 *
 * Layout: one opcode byte (kind = byte % FL_OP_KIND_COUNT), then the kind's
 * operands. Slots are one byte. Sizes, alignments, spans and mallopt values
 * are *tokens*: one byte t, m = t % (table size + 8); m < table size picks a
 * boundary value from the table, otherwise the next (m - table size + 1)
 * bytes are the value, little endian. Bytes past the end read as 0. */
#include "ops/binary.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define PTRDIFF_MAX_U ((uint64_t)PTRDIFF_MAX)

/* Request sizes. Each group sits on a glibc 2.36 boundary; request2size(r)
 * is (r + SIZE_SZ + MALLOC_ALIGN_MASK) & ~MALLOC_ALIGN_MASK = (r + 23) & ~15
 * on x86-64, floored at MINSIZE (32), so a chunk size c is reached by
 * requests c-23 .. c-8. spec/ops.md explains every line. */
static const uint64_t size_table[] = {
    /* 0, MINSIZE: requests 0..24 -> chunk 32, 25 -> 48 */
    0, 1, 8, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 48,
    /* fastbins: DEFAULT_MXFAST 128 -> chunk 0x80 is requests 105..120 */
    56, 64, 104, 112, 119, 120, 121, 128, 136,
    /* MAX_FAST_SIZE (80 * SIZE_SZ / 4 = 160): the largest M_MXFAST */
    152, 153,
    /* small bins */
    200, 255, 256, 257, 496, 512,
    /* MIN_LARGE_SIZE 0x400: request 1000 -> 0x3f0 (small), 1001 -> 0x400 */
    1000, 1001, 1008, 1009, 1016, 1017, 1024,
    /* MAX_TCACHE_SIZE tidx2usize(63) = 1032: 1032 cached, 1033 not */
    1032, 1033, 1040, 2048,
    /* largebin_index_64 spacing changes at chunk 0xc40, 0x2a00, 0xb000 */
    3128, 3129, 10744, 10745, 45048, 45049,
    /* pages: 4 KiB multiples +-1 */
    4095, 4096, 4097, 8191, 8192, 8193, 12287, 12288, 12289,
    65535, 65536, 65537,
    /* DEFAULT_MMAP_THRESHOLD 128 KiB compares chunk sizes: 131049 is the
     * first request whose chunk reaches it; 131071..131073 as users see it */
    131048, 131049, 131071, 131072, 131073, 135168,
    /* the last large bins (chunk 0x28000, 0xc0000) */
    163832, 163833, 786424, 786425,
    /* 1 MiB and 2 MiB (THP size; mmap of 2 MiB multiples is 2 MiB aligned) */
    1048575, 1048576, 1048577, 2097151, 2097152, 2097153, 4194304,
    /* DEFAULT_MMAP_THRESHOLD_MAX 32 MiB: the dynamic threshold's ceiling */
    33554431, 33554432, 33554433,
    /* HEAP_MAX_SIZE 64 MiB: a non-main arena heap cannot hold this */
    67108863, 67108864, 67108865,
    /* the seed article's malloc(100 MiB) */
    104857600,
    /* huge: fit nowhere, but pass checked_request2size */
    (uint64_t)1 << 32, ((uint64_t)1 << 32) + 1, (uint64_t)1 << 46, (uint64_t)1 << 47,
    /* impossible: > PTRDIFF_MAX fails in checked_request2size; SIZE_MAX-15
     * would wrap request2size; 1 << 60 times 16 overflows calloc */
    PTRDIFF_MAX_U - 4096, PTRDIFF_MAX_U, PTRDIFF_MAX_U + 1, (uint64_t)1 << 60,
    UINT64_MAX - 4096, UINT64_MAX - 16, UINT64_MAX - 15, UINT64_MAX - 1, UINT64_MAX,
};

/* Alignments: every power of two up to 1 MiB, then the invalid ones:
 * _mid_memalign rounds a non power of two up, posix_memalign refuses it
 * (and anything below sizeof(void *)), alignments above SIZE_MAX/2+1 are
 * EINVAL and 2^63 is accepted but must fail with ENOMEM. */
static const uint64_t align_table[] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
    32768, 65536, 131072, 262144, 524288, 1048576,
    0, 3, 12, 24, 48, 100, 4095, 4097, (uint64_t)1 << 32,
    (uint64_t)1 << 62, (uint64_t)1 << 63, UINT64_MAX,
};

/* write/verify offsets and lengths: around word, chunk-header and page
 * sizes; UINT64_MAX as a length means "to the end of the block". */
static const uint64_t span_table[] = {
    0, 1, 2, 7, 8, 15, 16, 17, 23, 24, 31, 32, 63, 64, 100, 127, 128, 255,
    256, 1000, 1024, 4095, 4096, 4097, 65536, UINT64_MAX,
};

/* mallopt values, as int32 (sign-extended): limits of M_MXFAST (0..160),
 * thresholds near 128 KiB and 32 MiB, M_PERTURB bytes, INT extremes. */
static const uint64_t mallopt_table[] = {
    0, 1, (uint64_t)-1, 2, 8, 16, 64, 80, 120, 128, 160, 161, 0xab, 255, 256,
    4096, 65536, 131072, 131073, 1048576, 33554432, 33554433, 67108864,
    (uint64_t)INT_MAX, (uint64_t)(int64_t)INT_MIN,
};

/* Hostile ops' offsets, as int64: chunk-header fields seen from a user
 * pointer (prev_size -16, size -8), fd/bk/fd_nextsize/bk_nextsize (0..24),
 * the next chunk's header past small blocks, and a page either way. */
static const uint64_t offset_table[] = {
    0, (uint64_t)-16, (uint64_t)-8, (uint64_t)-1, 1, 8, 16, 24, 32, 40, 48, 56,
    64, 96, 128, 256, 1024, 4096, (uint64_t)-4096,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
  const uint64_t *v;
  size_t n;
} tables[FL_TOK_TABLE_COUNT] = {
    {size_table, COUNT(size_table)},
    {align_table, COUNT(align_table)},
    {span_table, COUNT(span_table)},
    {mallopt_table, COUNT(mallopt_table)},
    {offset_table, COUNT(offset_table)},
};

size_t fl_token_table_size(fl_token_table_t t) { return tables[t].n; }
uint64_t fl_token_table_value(fl_token_table_t t, size_t i) { return tables[t].v[i]; }

/* ---------------------------------------------------------------- decode */

typedef struct reader {
  const uint8_t *p;
  size_t len, pos;
} reader_t;

/* Bytes past the end read as 0: a truncated tail decodes with defaults. */
static uint8_t rd_u8(reader_t *r) {
  uint8_t b = r->pos < r->len ? r->p[r->pos] : 0;
  r->pos++;
  return b;
}

/* A slot: one byte below FL_SLOT_LONG, else the next two bytes (little
 * endian) are the slot. Any bytes decode; the encoder writes the short form
 * whenever it can, so canonical ops round-trip. */
#define FL_SLOT_LONG 240

static uint16_t rd_slot(reader_t *r) {
  uint8_t b = rd_u8(r);
  if (b < FL_SLOT_LONG) return b;
  uint16_t lo = rd_u8(r);
  return (uint16_t)(lo | (uint16_t)rd_u8(r) << 8);
}

static uint64_t rd_token(reader_t *r, fl_token_table_t t) {
  size_t n = tables[t].n;
  unsigned m = rd_u8(r) % (unsigned)(n + 8);
  if (m < n) return tables[t].v[m];
  unsigned k = m - (unsigned)n + 1;
  uint64_t v = 0;
  for (unsigned i = 0; i < k; i++) v |= (uint64_t)rd_u8(r) << (8 * i);
  if (t == FL_TOK_OFFSET && k < 8 && (v >> (8 * k - 1)) & 1) v |= ~0ULL << (8 * k);
  return v;
}

/* mallopt takes an int: keep the low 32 bits, sign-extended. */
static uint64_t fold_int32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)(uint32_t)v; }

static void decode_operands(reader_t *r, fl_op_t *op) {
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MALLOC: case FL_OP_VALLOC: case FL_OP_PVALLOC:
    op->dst = rd_slot(r);
    op->a = rd_token(r, FL_TOK_SIZE);
    break;
  case FL_OP_CALLOC:
    op->dst = rd_slot(r);
    op->a = rd_token(r, FL_TOK_SIZE);
    op->b = rd_token(r, FL_TOK_SIZE);
    break;
  case FL_OP_REALLOC:
    op->dst = rd_slot(r);
    op->src = rd_slot(r);
    op->a = rd_token(r, FL_TOK_SIZE);
    break;
  case FL_OP_FREE: case FL_OP_USABLE_SIZE:
    op->src = rd_slot(r);
    break;
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
    op->dst = rd_slot(r);
    op->a = rd_token(r, FL_TOK_ALIGN);
    op->b = rd_token(r, FL_TOK_SIZE);
    break;
  case FL_OP_WRITE: case FL_OP_VERIFY:
    op->src = rd_slot(r);
    op->a = rd_token(r, FL_TOK_SPAN);
    op->b = rd_token(r, FL_TOK_SPAN);
    op->byte = rd_u8(r);
    break;
  case FL_OP_THREAD:
    op->a = rd_u8(r) % FL_OP_THREADS;
    break;
  case FL_OP_MALLOPT:
    op->a = rd_u8(r) % FL_OP_M_PARAM_COUNT;
    op->b = fold_int32(rd_token(r, FL_TOK_MALLOPT));
    break;
  case FL_OP_TRIM:
    op->a = rd_token(r, FL_TOK_SIZE);
    break;
  case FL_OP_INJECT:
    op->a = rd_u8(r) % FL_OP_SYS_KIND_COUNT;
    op->b = (uint64_t)rd_u8(r) + 1;
    op->aux = fl_op_errno_at(rd_u8(r));
    break;
  case FL_OP_CHECK:
    op->a = rd_u8(r) % (FL_OP_CHECK_MAX + 1);
    break;
  case FL_OP_FREE_AT:
    op->src = rd_slot(r);
    op->a = rd_token(r, FL_TOK_OFFSET);
    break;
  case FL_OP_POKE:
    op->src = rd_slot(r);
    op->a = rd_token(r, FL_TOK_OFFSET);
    op->byte = (uint8_t)(1u << (rd_u8(r) % 4)); /* width 1, 2, 4, 8 */
    op->b = rd_token(r, FL_TOK_SIZE);
    if (op->byte < 8) op->b &= (1ULL << (8 * op->byte)) - 1;
    break;
  case FL_OP_POKE_PTR:
    op->src = rd_slot(r);
    op->a = rd_token(r, FL_TOK_OFFSET);
    op->dst = rd_slot(r);
    op->b = rd_token(r, FL_TOK_OFFSET);
    op->byte = rd_u8(r) % (FL_OP_POKE_PROTECT + 1);
    break;
  case FL_OP_KIND_COUNT:
    break;
  }
}

fl_status_t fl_ops_decode(const uint8_t *data, size_t len, fl_ops_t *out) {
  return fl_ops_decode_version(data, len, FL_OPS_FORMAT_VERSION, out);
}

fl_status_t fl_ops_decode_version(const uint8_t *data, size_t len, unsigned v, fl_ops_t *out) {
  unsigned kinds = v == 1 ? FL_OPS_V1_KIND_COUNT : FL_OP_KIND_COUNT;
  reader_t r = {data, len, 0};
  while (r.pos < r.len) {
    fl_op_t op;
    memset(&op, 0, sizeof op);
    op.kind = (uint8_t)(rd_u8(&r) % kinds);
    decode_operands(&r, &op);
    fl_status_t st = fl_ops_push(out, &op);
    if (st != FL_OK) return st;
  }
  return FL_OK;
}

/* ---------------------------------------------------------------- encode */

typedef struct writer {
  uint8_t *p;
  size_t len, cap;
  bool oom;
} writer_t;

static void wr_u8(writer_t *w, uint8_t b);

static void wr_slot(writer_t *w, uint16_t s) {
  if (s < FL_SLOT_LONG) {
    wr_u8(w, (uint8_t)s);
    return;
  }
  wr_u8(w, FL_SLOT_LONG);
  wr_u8(w, (uint8_t)(s & 0xff));
  wr_u8(w, (uint8_t)(s >> 8));
}

static void wr_u8(writer_t *w, uint8_t b) {
  if (w->oom) return;
  if (w->len == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 256;
    uint8_t *p = realloc(w->p, cap);
    if (!p) {
      w->oom = true;
      return;
    }
    w->p = p;
    w->cap = cap;
  }
  w->p[w->len++] = b;
}

/* The shortest token: a table index when the value is there (the first
 * match, so the encoding is a function of the value), else the fewest raw
 * bytes. For mallopt the table entry may match after folding to int32. */
static void wr_token(writer_t *w, fl_token_table_t t, uint64_t v) {
  size_t n = tables[t].n;
  for (size_t i = 0; i < n; i++) {
    uint64_t e = tables[t].v[i];
    if (e == v || (t == FL_TOK_MALLOPT && fold_int32(e) == v)) {
      wr_u8(w, (uint8_t)i);
      return;
    }
  }
  uint64_t raw = t == FL_TOK_MALLOPT ? (uint32_t)v : v;
  unsigned k = 1;
  if (t == FL_TOK_OFFSET) /* the fewest bytes that sign-extend back to v */
    while (k < 8 && (uint64_t)((int64_t)(raw << (64 - 8 * k)) >> (64 - 8 * k)) != raw) k++;
  else
    while (k < 8 && (raw >> (8 * k)) != 0) k++;
  wr_u8(w, (uint8_t)(n + k - 1));
  for (unsigned i = 0; i < k; i++) wr_u8(w, (uint8_t)(raw >> (8 * i)));
}

static void encode_operands(writer_t *w, const fl_op_t *op) {
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MALLOC: case FL_OP_VALLOC: case FL_OP_PVALLOC:
    wr_slot(w, op->dst);
    wr_token(w, FL_TOK_SIZE, op->a);
    break;
  case FL_OP_CALLOC:
    wr_slot(w, op->dst);
    wr_token(w, FL_TOK_SIZE, op->a);
    wr_token(w, FL_TOK_SIZE, op->b);
    break;
  case FL_OP_REALLOC:
    wr_slot(w, op->dst);
    wr_slot(w, op->src);
    wr_token(w, FL_TOK_SIZE, op->a);
    break;
  case FL_OP_FREE: case FL_OP_USABLE_SIZE:
    wr_slot(w, op->src);
    break;
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
    wr_slot(w, op->dst);
    wr_token(w, FL_TOK_ALIGN, op->a);
    wr_token(w, FL_TOK_SIZE, op->b);
    break;
  case FL_OP_WRITE: case FL_OP_VERIFY:
    wr_slot(w, op->src);
    wr_token(w, FL_TOK_SPAN, op->a);
    wr_token(w, FL_TOK_SPAN, op->b);
    wr_u8(w, op->byte);
    break;
  case FL_OP_THREAD: case FL_OP_CHECK:
    wr_u8(w, (uint8_t)op->a);
    break;
  case FL_OP_MALLOPT:
    wr_u8(w, (uint8_t)op->a);
    wr_token(w, FL_TOK_MALLOPT, op->b);
    break;
  case FL_OP_TRIM:
    wr_token(w, FL_TOK_SIZE, op->a);
    break;
  case FL_OP_INJECT:
    wr_u8(w, (uint8_t)op->a);
    wr_u8(w, (uint8_t)(op->b - 1));
    wr_u8(w, (uint8_t)fl_op_errno_index(op->aux));
    break;
  case FL_OP_FREE_AT:
    wr_slot(w, op->src);
    wr_token(w, FL_TOK_OFFSET, op->a);
    break;
  case FL_OP_POKE:
    wr_slot(w, op->src);
    wr_token(w, FL_TOK_OFFSET, op->a);
    wr_u8(w, (uint8_t)__builtin_ctz(op->byte));
    wr_token(w, FL_TOK_SIZE, op->b);
    break;
  case FL_OP_POKE_PTR:
    wr_slot(w, op->src);
    wr_token(w, FL_TOK_OFFSET, op->a);
    wr_slot(w, op->dst);
    wr_token(w, FL_TOK_OFFSET, op->b);
    wr_u8(w, op->byte);
    break;
  case FL_OP_KIND_COUNT:
    break;
  }
}

fl_status_t fl_ops_encode(const fl_ops_t *ops, uint8_t **data, size_t *len) {
  writer_t w = {NULL, 0, 0, false};
  *data = NULL;
  *len = 0;
  for (size_t i = 0; i < ops->n; i++) {
    const fl_op_t *op = &ops->v[i];
    if (!fl_op_is_canonical(op)) {
      free(w.p);
      return fl_error(FL_EUSAGE, "op %zu (kind %u) is not canonical and has no encoding", i,
                      op->kind);
    }
    wr_u8(&w, op->kind);
    encode_operands(&w, op);
  }
  if (w.oom) {
    free(w.p);
    return fl_error(FL_EENV, "out of memory encoding %zu ops", ops->n);
  }
  *data = w.p;
  *len = w.len;
  return FL_OK;
}

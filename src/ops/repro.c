/* repro.c — an op stream as a standalone C program (repro.h). */
#include "ops/repro.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/text.h"

/* The helper functions the program needs, by what its ops use. */
enum {
  NEED_PUT = 1 << 0,     /* allocating ops */
  NEED_RELEASE = 1 << 1, /* free, realloc */
  NEED_REALLOC = 1 << 2,
  NEED_FILL = 1 << 3,
  NEED_CHECK = 1 << 4,
  NEED_FREE_AT = 1 << 5,
  NEED_POKE = 1 << 6,    /* poke, poke_ptr */
  NEED_POKE_PTR = 1 << 7,
};

static unsigned needs_of(const fl_ops_t *ops, unsigned *slots) {
  unsigned need = 0;
  *slots = 1;
  for (size_t i = 0; i < ops->n; i++) {
    const fl_op_t *op = &ops->v[i];
    fl_op_kind_t k = (fl_op_kind_t)op->kind;
    if (fl_op_kind_allocates(k)) need |= NEED_PUT;
    if (k == FL_OP_FREE) need |= NEED_RELEASE;
    if (k == FL_OP_REALLOC) need |= NEED_PUT | NEED_RELEASE | NEED_REALLOC;
    if (k == FL_OP_WRITE) need |= NEED_FILL;
    if (k == FL_OP_VERIFY) need |= NEED_CHECK;
    if (k == FL_OP_FREE_AT) need |= NEED_FREE_AT;
    if (k == FL_OP_POKE) need |= NEED_POKE;
    if (k == FL_OP_POKE_PTR) need |= NEED_POKE | NEED_POKE_PTR;
    unsigned top = op->dst > op->src ? op->dst : op->src;
    if (top + 1u > *slots) *slots = top + 1u;
  }
  return need;
}

static void prologue(FILE *f, const char *source, size_t n, unsigned slots, unsigned need) {
  fprintf(f,
          "/* A reproducer written by `faultline repro` from %s: its %zu ops replayed\n"
          " * against the system allocator with plain calls. Slots are pointers in\n"
          " * slot[]; stale[] keeps the last block each slot held (the hostile ops\n"
          " * aim there, freed or not); req[] the size asked for (writes and\n"
          " * verifies stay inside it). A verify that reads other bytes exits 1.\n"
          " *\n"
          " *   cc -std=c11 -Wall -o repro repro.c && ./repro\n"
          " */\n"
          "#define _GNU_SOURCE\n"
          "#include <malloc.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
          "\n#define SLOTS %u\n"
          "static unsigned char *slot[SLOTS], *stale[SLOTS];\nstatic size_t req[SLOTS];\n",
          source, n, slots);
  if (need & NEED_PUT)
    fputs("\nstatic void put(int s, void *p, size_t n) {\n"
          "  slot[s] = p;\n  req[s] = p ? n : 0;\n  if (p) stale[s] = p;\n}\n", f);
  if (need & NEED_RELEASE)
    fputs("\nstatic void release(int s) {\n  free(slot[s]);\n  slot[s] = NULL;\n  req[s] = 0;\n}\n", f);
  if (need & NEED_REALLOC)
    fputs("\n/* realloc(p, 0) frees p and returns NULL (glibc); any other NULL keeps p. */\n"
          "static void resize(int d, int s, size_t n) {\n"
          "  if (!slot[s]) return;\n  void *p = realloc(slot[s], n);\n"
          "  if (p || n == 0) {\n    slot[s] = NULL;\n    req[s] = 0;\n  }\n"
          "  if (p || d != s) put(d, p, n);\n}\n", f);
  if (need & (NEED_FILL | NEED_CHECK))
    fputs("\n/* [off, off+len) clipped to the block; 0 if nothing is left. */\n"
          "static size_t clip(int s, size_t off, size_t len) {\n"
          "  if (!slot[s] || off >= req[s]) return 0;\n  return len < req[s] - off ? len : req[s] - off;\n}\n", f);
  if (need & NEED_FILL)
    fputs("\nstatic void fill(int s, size_t off, size_t len, int byte) {\n"
          "  if ((len = clip(s, off, len))) memset(slot[s] + off, byte, len);\n}\n", f);
  if (need & NEED_CHECK)
    fputs("\nstatic void check(int op, int s, size_t off, size_t len, int byte) {\n"
          "  unsigned char *want = (len = clip(s, off, len)) ? malloc(len) : NULL;\n"
          "  if (!want) return;\n  memset(want, byte, len);\n"
          "  if (memcmp(slot[s] + off, want, len) != 0)\n"
          "    for (size_t i = 0; i < len; i++)\n      if (slot[s][off + i] != byte) {\n"
          "        printf(\"op %d: byte %zu of #%d (%p) is 0x%02x, expected 0x%02x\\n\", op, off + i, s,\n"
          "               (void *)(slot[s] + off + i), slot[s][off + i], byte);\n        exit(1);\n      }\n"
          "  free(want);\n}\n", f);
  if (need & (NEED_FREE_AT | NEED_POKE))
    fputs("\n/* The slot's live or last pointer plus a signed offset. */\n"
          "static unsigned char *aim(int s, intptr_t off) { return (unsigned char *)((uintptr_t)stale[s] + (uintptr_t)off); }\n",
          f);
  if (need & NEED_FREE_AT)
    fputs("\nstatic void free_at(int s, intptr_t off) {\n  if (!stale[s]) return;\n  unsigned char *p = aim(s, off);\n"
          "  free(p);\n  if (slot[s] == p) {\n    slot[s] = NULL;\n    req[s] = 0;\n  }\n}\n", f);
  if (need & NEED_POKE)
    fputs("\n/* Little-endian stores, as on x86-64. */\n"
          "static void poke(int s, intptr_t off, uint64_t value, size_t width) {\n"
          "  if (stale[s]) memcpy(aim(s, off), &value, width);\n}\n", f);
  if (need & NEED_POKE_PTR)
    fputs("\n/* protect: glibc's PROTECT_PTR, (address of the field >> 12) ^ pointer. */\n"
          "static void poke_ptr(int s, intptr_t off, int t, intptr_t toff, int protect) {\n"
          "  if (!stale[s] || !stale[t]) return;\n  uintptr_t v = (uintptr_t)aim(t, toff);\n"
          "  if (protect) v ^= (uintptr_t)aim(s, off) >> 12;\n  poke(s, off, v, sizeof v);\n}\n", f);
  fputs("\nint main(void) {\n", f);
}

#define U(x) (unsigned long long)(x)
#define I(x) (long long)(int64_t)(x)

static void allocation(FILE *f, const fl_op_t *op) {
  unsigned d = op->dst;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MALLOC: fprintf(f, "  put(%u, malloc(%lluu), %lluu);\n", d, U(op->a), U(op->a)); break;
  case FL_OP_CALLOC:
    fprintf(f, "  put(%u, calloc(%lluu, %lluu), (size_t)%lluu * %lluu);\n", d, U(op->a), U(op->b), U(op->a), U(op->b));
    break;
  case FL_OP_MEMALIGN: fprintf(f, "  put(%u, memalign(%lluu, %lluu), %lluu);\n", d, U(op->a), U(op->b), U(op->b)); break;
  case FL_OP_ALIGNED_ALLOC:
    fprintf(f, "  put(%u, aligned_alloc(%lluu, %lluu), %lluu);\n", d, U(op->a), U(op->b), U(op->b));
    break;
  case FL_OP_POSIX_MEMALIGN:
    fprintf(f, "  {\n    void *p = NULL;\n    put(%u, posix_memalign(&p, %lluu, %lluu) ? NULL : p, %lluu);\n  }\n", d,
            U(op->a), U(op->b), U(op->b));
    break;
  case FL_OP_VALLOC: fprintf(f, "  put(%u, valloc(%lluu), %lluu);\n", d, U(op->a), U(op->a)); break;
  case FL_OP_PVALLOC: fprintf(f, "  put(%u, pvalloc(%lluu), %lluu);\n", d, U(op->a), U(op->a)); break;
  case FL_OP_REALLOC: fprintf(f, "  resize(%u, %u, %lluu);\n", d, op->src, U(op->a)); break;
  default: break;
  }
}

static void statement(FILE *f, size_t i, const fl_op_t *op) {
  unsigned s = op->src;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_FREE: fprintf(f, "  if (slot[%u]) release(%u);\n", s, s); break;
  case FL_OP_USABLE_SIZE: fprintf(f, "  if (slot[%u]) (void)malloc_usable_size(slot[%u]);\n", s, s); break;
  case FL_OP_WRITE: fprintf(f, "  fill(%u, %lluu, %lluu, 0x%02x);\n", s, U(op->a), U(op->b), op->byte); break;
  case FL_OP_VERIFY: fprintf(f, "  check(%zu, %u, %lluu, %lluu, 0x%02x);\n", i, s, U(op->a), U(op->b), op->byte); break;
  case FL_OP_MALLOPT:
    fprintf(f, "  mallopt(%s, %d);\n", fl_op_mallopt_name((unsigned)op->a), (int)(int64_t)op->b);
    break;
  case FL_OP_TRIM: fprintf(f, "  malloc_trim(%lluu);\n", U(op->a)); break;
  case FL_OP_THREAD: fputs("  /* one thread runs every op here */\n", f); break;
  case FL_OP_INJECT: fputs("  /* a system call cannot be made to fail here: not replayed */\n", f); break;
  case FL_OP_CHECK: fputs("  /* faultline's invariants: not replayed */\n", f); break;
  case FL_OP_FREE_AT: fprintf(f, "  free_at(%u, %lld);\n", s, I(op->a)); break;
  case FL_OP_POKE: fprintf(f, "  poke(%u, %lld, 0x%llxu, %u);\n", s, I(op->a), U(op->b), op->byte); break;
  case FL_OP_POKE_PTR:
    fprintf(f, "  poke_ptr(%u, %lld, %u, %lld, %d);\n", s, I(op->a), op->dst, I(op->b), op->byte == FL_OP_POKE_PROTECT);
    break;
  default: allocation(f, op); break;
  }
}

fl_status_t fl_ops_repro_c(const fl_ops_t *ops, const char *source, char **text, size_t *len) {
  for (size_t i = 0; i < ops->n; i++)
    if (!fl_op_is_canonical(&ops->v[i]))
      return fl_error(FL_EUSAGE, "op %zu (kind %u) is not canonical", i, ops->v[i].kind);
  *text = NULL;
  *len = 0;
  FILE *f = open_memstream(text, len);
  if (!f) return fl_error(FL_EENV, "repro: out of memory");
  unsigned slots;
  unsigned need = needs_of(ops, &slots);
  /* The name goes inside a comment: one that would end it is not used. */
  prologue(f, source && !strstr(source, "*/") ? source : "an op stream", ops->n, slots, need);
  for (size_t i = 0; i < ops->n; i++) {
    char line[160];
    fl_op_format(&ops->v[i], line, sizeof line);
    fprintf(f, "  /* %zu: %s */\n", i, line);
    statement(f, i, &ops->v[i]);
  }
  fprintf(f, "  printf(\"all %zu ops ran; the allocator did not abort\\n\");\n  return 0;\n}\n", ops->n);
  if (fclose(f) != 0 || !*text) {
    free(*text);
    *text = NULL;
    return fl_error(FL_EENV, "repro: out of memory");
  }
  return FL_OK;
}

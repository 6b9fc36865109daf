/* gen.c — the seeded generator (spec/ops.md, "Generator"). */
#include "ops/gen.h"

#include <stdlib.h>
#include <string.h>

#include "ops/binary.h"

/* ---------------------------------------------------------------- PRNG */

/* splitmix64 spreads one seed over xoshiro's 256-bit state (Vigna's
 * recommended seeding), so nearby seeds give unrelated streams. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void fl_rng_seed(fl_rng_t *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fl_rng_next(fl_rng_t *r) { /* xoshiro256** */
  uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

uint64_t fl_rng_below(fl_rng_t *r, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
  uint64_t x;
  do x = fl_rng_next(r);
  while (x >= limit);
  return x % n;
}

uint64_t fl_ops_hash_bytes(const uint8_t *data, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) h = (h ^ data[i]) * 0x100000001b3ull;
  return h;
}

/* ---------------------------------------------------------------- state */

typedef struct gslot {
  bool live;
  uint64_t size;       /* requested bytes, counted in the budget */
  uint64_t woff, wlen; /* the region last written (wlen 0: none) */
  uint8_t wbyte;
} gslot_t;

typedef struct gen {
  fl_rng_t rng;
  fl_gen_options_t o;
  gslot_t slot[FL_OP_SLOTS];
  unsigned nlive;
  uint64_t live_bytes;
  fl_ops_t *out;
  size_t left; /* ops still to emit */
  fl_status_t st;
} gen_t;

static uint64_t rnd(gen_t *g, uint64_t n) { return fl_rng_below(&g->rng, n); }
static bool chance(gen_t *g, unsigned percent) { return rnd(g, 100) < percent; }
static bool enabled(const gen_t *g, fl_op_kind_t k) { return g->o.kinds & FL_GEN_KIND(k); }

static bool emit(gen_t *g, const fl_op_t *op) {
  if (g->left == 0 || g->st != FL_OK) return false;
  g->st = fl_ops_push(g->out, op);
  g->left--;
  return g->st == FL_OK;
}

static fl_op_t mk(fl_op_kind_t kind) {
  fl_op_t op;
  memset(&op, 0, sizeof op);
  op.kind = (uint8_t)kind;
  return op;
}

/* A uniformly chosen live slot, or -1. */
static int pick_live(gen_t *g) {
  if (g->nlive == 0) return -1;
  uint64_t k = rnd(g, g->nlive);
  for (unsigned i = 0; i < g->o.slots; i++)
    if (g->slot[i].live && k-- == 0) return (int)i;
  return -1;
}

static int pick_free(gen_t *g) {
  unsigned nfree = g->o.slots - g->nlive;
  if (nfree == 0) return -1;
  uint64_t k = rnd(g, nfree);
  for (unsigned i = 0; i < g->o.slots; i++)
    if (!g->slot[i].live && k-- == 0) return (int)i;
  return -1;
}

static void slot_set(gen_t *g, int s, uint64_t size) {
  gslot_t *sl = &g->slot[s];
  if (sl->live) g->live_bytes -= sl->size;
  else g->nlive++;
  memset(sl, 0, sizeof *sl);
  sl->live = true;
  sl->size = size;
  g->live_bytes += size;
}

static void slot_clear(gen_t *g, int s) {
  if (!g->slot[s].live) return;
  g->live_bytes -= g->slot[s].size;
  g->nlive--;
  memset(&g->slot[s], 0, sizeof g->slot[s]);
}

static bool fits(const gen_t *g, uint64_t size) {
  return size <= g->o.budget && g->live_bytes <= g->o.budget - size;
}

/* ---------------------------------------------------------------- sizes */

/* 2^lo .. 2^(hi+1)-1, log-uniform: as many 100-byte blocks as 1 MiB ones
 * would be unrealistic, as would the reverse. */
static uint64_t log_uniform(gen_t *g, unsigned lo, unsigned hi) {
  unsigned b = lo + (unsigned)rnd(g, hi - lo + 1);
  return ((uint64_t)1 << b) + rnd(g, (uint64_t)1 << b);
}

/* A boundary value from the decoder's size table (so the fuzz-relevant
 * edges are also hit by generated streams). */
static uint64_t boundary_size(gen_t *g) {
  size_t n = fl_token_table_size(FL_TOK_SIZE);
  return fl_token_table_value(FL_TOK_SIZE, rnd(g, n));
}

/* The size class of one burst: mostly small, like real programs. */
static uint64_t burst_size(gen_t *g) {
  unsigned r = (unsigned)rnd(g, 100);
  if (r < 50) return 1 + rnd(g, 256);
  if (r < 65) return 1 + rnd(g, 2048);
  if (r < 75) return boundary_size(g);
  if (r < 88) return log_uniform(g, 11, 16);
  if (r < 96) return log_uniform(g, 17, 21);
  return log_uniform(g, 22, 25);
}

/* ---------------------------------------------------------------- actions */

/* Writes a region of slot s (at most max_write bytes) and remembers it. */
static void do_write(gen_t *g, int s) {
  gslot_t *sl = &g->slot[s];
  if (!enabled(g, FL_OP_WRITE) || sl->size == 0 || sl->size > PTRDIFF_MAX) return;
  uint64_t len = sl->size < g->o.max_write ? sl->size : g->o.max_write;
  uint64_t off = chance(g, 70) ? 0 : rnd(g, sl->size - len + 1);
  fl_op_t op = mk(FL_OP_WRITE);
  op.src = (uint8_t)s;
  op.a = off;
  op.b = len;
  op.byte = (uint8_t)rnd(g, 256);
  if (!emit(g, &op)) return;
  sl->woff = off;
  sl->wlen = len;
  sl->wbyte = op.byte;
}

/* Verifies all or part of what was last written into a live slot. */
static void do_verify_slot(gen_t *g, int s) {
  if (s < 0 || !enabled(g, FL_OP_VERIFY) || g->slot[s].wlen == 0) return;
  gslot_t *sl = &g->slot[s];
  fl_op_t op = mk(FL_OP_VERIFY);
  op.src = (uint8_t)s;
  op.a = sl->woff;
  op.b = sl->wlen;
  if (chance(g, 30)) { /* a sub-range: the first or last bytes matter most */
    op.b = 1 + rnd(g, sl->wlen);
    op.a = sl->woff + (chance(g, 50) ? 0 : sl->wlen - op.b);
  }
  op.byte = sl->wbyte;
  emit(g, &op);
}

/* A few tries to find a live slot that was written. */
static void do_verify(gen_t *g) {
  for (int i = 0; i < 4; i++) {
    int s = pick_live(g);
    if (s >= 0 && g->slot[s].wlen) {
      do_verify_slot(g, s);
      return;
    }
  }
}

static void do_free(gen_t *g, int s) {
  if (s < 0 || !enabled(g, FL_OP_FREE)) return;
  if (chance(g, 25)) do_verify_slot(g, s); /* programs read a block before dropping it */
  fl_op_t op = mk(FL_OP_FREE);
  op.src = (uint8_t)s;
  if (emit(g, &op)) slot_clear(g, s);
}

/* A slot to allocate into, freeing a live one first when all are taken. */
static int alloc_target(gen_t *g) {
  int s = pick_free(g);
  if (s >= 0) return s;
  do_free(g, pick_live(g));
  return pick_free(g);
}

/* The allocating kind for one block: mostly malloc. */
static fl_op_kind_t alloc_kind(gen_t *g) {
  static const fl_op_kind_t order[] = {FL_OP_CALLOC, FL_OP_MEMALIGN, FL_OP_ALIGNED_ALLOC,
                                       FL_OP_POSIX_MEMALIGN, FL_OP_VALLOC, FL_OP_PVALLOC};
  static const unsigned weight[] = {8, 3, 3, 3, 1, 1};
  unsigned r = (unsigned)rnd(g, 100);
  for (unsigned i = 0; i < 6; i++) {
    if (r < weight[i] && enabled(g, order[i])) return order[i];
    r -= r < weight[i] ? r : weight[i];
  }
  if (enabled(g, FL_OP_MALLOC)) return FL_OP_MALLOC;
  for (unsigned i = 0; i < 6; i++)
    if (enabled(g, order[i])) return order[i];
  return FL_OP_KIND_COUNT;
}

/* Alignment: mostly a valid power of two up to 64 KiB, sometimes one of the
 * table's larger or invalid values. */
static uint64_t pick_align(gen_t *g) {
  if (chance(g, 85)) return (uint64_t)1 << rnd(g, 17);
  return fl_token_table_value(FL_TOK_ALIGN, rnd(g, fl_token_table_size(FL_TOK_ALIGN)));
}

/* Splits a calloc request into nmemb * size; now and then a product that
 * overflows size_t, which calloc must refuse. Returns the counted bytes
 * (UINT64_MAX: must fail, not counted). */
static uint64_t calloc_args(gen_t *g, uint64_t size, fl_op_t *op) {
  if (chance(g, 2)) {
    op->a = (uint64_t)1 << 32;
    op->b = ((uint64_t)1 << 32) + rnd(g, 16);
    return UINT64_MAX;
  }
  op->a = 1 + rnd(g, 16);
  op->b = size / op->a;
  return op->a * op->b;
}

/* One allocation into a free slot, then usually a write of it. */
static void alloc_one(gen_t *g, uint64_t size) {
  fl_op_kind_t k = alloc_kind(g);
  if (k == FL_OP_KIND_COUNT) return;
  if (chance(g, 2)) /* impossible: > PTRDIFF_MAX, must fail with ENOMEM */
    size = PTRDIFF_MAX + (uint64_t)1 + rnd(g, (uint64_t)1 << 62);
  fl_op_t op = mk(k);
  uint64_t counted = size;
  if (k == FL_OP_CALLOC) counted = calloc_args(g, size, &op);
  else if (k == FL_OP_MEMALIGN || k == FL_OP_ALIGNED_ALLOC || k == FL_OP_POSIX_MEMALIGN) {
    op.a = pick_align(g);
    op.b = size;
  } else op.a = size;
  if (counted <= PTRDIFF_MAX && !fits(g, counted)) {
    if (g->nlive) do_free(g, pick_live(g)); /* make room, as programs do */
    return;
  }
  int s = alloc_target(g);
  if (s < 0) return;
  op.dst = (uint8_t)s;
  if (!emit(g, &op) || counted > PTRDIFF_MAX) return;
  slot_set(g, s, counted);
  if (chance(g, 60)) do_write(g, s);
}

/* Programs allocate in bursts of similar sizes (nodes of one list, lines of
 * one file): the bins and tcache see runs of one size class. */
static void do_burst(gen_t *g) {
  uint64_t base = burst_size(g);
  unsigned k = 1 + (unsigned)rnd(g, 8);
  for (unsigned i = 0; i < k && g->left; i++) {
    uint64_t size = base;
    if (base > 16 && base <= PTRDIFF_MAX && chance(g, 50)) size = base - rnd(g, base / 8);
    alloc_one(g, size);
  }
}

static uint64_t realloc_size(gen_t *g, uint64_t old) {
  unsigned r = (unsigned)rnd(g, 100);
  if (r < 40 && old < ((uint64_t)1 << 40)) return (old ? old : 8) * (2 + rnd(g, 3));
  if (r < 70) return old / 2;
  if (r < 90) return burst_size(g);
  if (r < 95) return 0;
  return UINT64_MAX - rnd(g, 32); /* must fail and leave the block alone */
}

static void do_realloc(gen_t *g) {
  int s = pick_live(g);
  if (s < 0 || !enabled(g, FL_OP_REALLOC)) return;
  gslot_t old = g->slot[s];
  uint64_t n = realloc_size(g, old.size);
  bool impossible = n > PTRDIFF_MAX;
  if (!impossible && old.size < n && !fits(g, n - old.size)) return;
  int d = s;
  if (n != 0 && !impossible && chance(g, 30) && pick_free(g) >= 0) d = pick_free(g);
  fl_op_t op = mk(FL_OP_REALLOC);
  op.dst = (uint8_t)d;
  op.src = (uint8_t)s;
  op.a = n;
  if (!emit(g, &op) || impossible) return;
  slot_clear(g, s); /* realloc(p, 0) frees p in glibc and returns NULL */
  if (n == 0) return;
  slot_set(g, d, n);
  /* realloc keeps the prefix: what was written below n is still there. */
  if (old.wlen && old.woff < n) {
    g->slot[d].woff = old.woff;
    g->slot[d].wlen = old.wlen < n - old.woff ? old.wlen : n - old.woff;
    g->slot[d].wbyte = old.wbyte;
  }
}

static void do_mallopt(gen_t *g) {
  static const int32_t values[FL_OP_M_PARAM_COUNT][4] = {
      {0, 64, 128, 160},              /* M_MXFAST: 0 disables fastbins */
      {0, 4096, 131072, 1 << 20},     /* M_TRIM_THRESHOLD */
      {0, 4096, 131072, 1 << 20},     /* M_TOP_PAD */
      {4096, 65536, 131072, 1 << 25}, /* M_MMAP_THRESHOLD */
      {0, 1, 64, 65536},              /* M_MMAP_MAX: 0 forces brk */
      {1, 2, 4, 8},                   /* M_ARENA_MAX */
      {0, 0xab, 0x5a, 1},             /* M_PERTURB */
  };
  fl_op_t op = mk(FL_OP_MALLOPT);
  op.a = rnd(g, FL_OP_M_PARAM_COUNT);
  op.b = (uint64_t)(int64_t)values[op.a][rnd(g, 4)];
  emit(g, &op);
}

static void do_misc(gen_t *g, fl_op_kind_t k) {
  fl_op_t op = mk(k);
  int s = pick_live(g);
  if (!enabled(g, k)) return;
  switch (k) {
  case FL_OP_USABLE_SIZE:
    if (s < 0) return;
    op.src = (uint8_t)s;
    break;
  case FL_OP_TRIM: op.a = chance(g, 60) ? 0 : boundary_size(g) % ((uint64_t)1 << 24); break;
  case FL_OP_THREAD:
    if (g->o.threads < 2) return;
    op.a = rnd(g, g->o.threads);
    break;
  case FL_OP_CHECK: op.a = 1 + rnd(g, FL_OP_CHECK_MAX); break;
  case FL_OP_INJECT:
    op.a = rnd(g, FL_OP_SYS_KIND_COUNT);
    op.b = 1 + rnd(g, 4);
    op.aux = fl_op_errno_at(chance(g, 80) ? 0 : (unsigned)rnd(g, FL_OP_ERRNO_COUNT));
    break;
  case FL_OP_MALLOPT: do_mallopt(g); return;
  default: return;
  }
  emit(g, &op);
}

/* One step: weights out of 100, chosen to look like an ordinary program. */
static void step(gen_t *g) {
  unsigned r = (unsigned)rnd(g, 100);
  if (r < 30) do_burst(g);
  else if (r < 52) do_free(g, pick_live(g));
  else if (r < 56) {
    for (unsigned i = 0, k = 2 + (unsigned)rnd(g, 6); i < k && g->left; i++)
      do_free(g, pick_live(g));
  } else if (r < 64) {
    int s = pick_live(g);
    if (s >= 0) do_write(g, s);
  } else if (r < 78) do_verify(g);
  else if (r < 88) do_realloc(g);
  else if (r < 91) do_misc(g, FL_OP_USABLE_SIZE);
  else if (r < 92) do_misc(g, FL_OP_MALLOPT);
  else if (r < 93) do_misc(g, FL_OP_TRIM);
  else if (r < 96) do_misc(g, FL_OP_THREAD);
  else if (r < 98) do_misc(g, FL_OP_CHECK);
  else if (r < 99) do_misc(g, FL_OP_INJECT);
  else alloc_one(g, boundary_size(g));
}

void fl_gen_options_default(fl_gen_options_t *o) {
  o->threads = 1;
  o->kinds = FL_GEN_ALL_KINDS;
  o->budget = FL_GEN_DEFAULT_BUDGET;
  o->slots = 64;
  o->max_write = 65536;
}

static fl_status_t generate(gen_t *g, uint64_t seed, size_t n, const fl_gen_options_t *options,
                            fl_ops_t *out);

fl_status_t fl_ops_generate(uint64_t seed, size_t n, const fl_gen_options_t *options,
                            fl_ops_t *out) {
  gen_t *g = calloc(1, sizeof *g); /* FL_OP_SLOTS slots: too big for the stack */
  if (!g) return fl_error(FL_EENV, "out of memory for the generator");
  fl_status_t st = generate(g, seed, n, options, out);
  free(g);
  return st;
}

static fl_status_t generate(gen_t *g, uint64_t seed, size_t n, const fl_gen_options_t *options,
                            fl_ops_t *out) {
  if (options) g->o = *options;
  else fl_gen_options_default(&g->o);
  if (g->o.threads < 1 || g->o.threads > FL_OP_THREADS || g->o.slots < 1 ||
      g->o.slots > FL_OP_SLOTS || g->o.max_write < 1 || (g->o.kinds & ~FL_GEN_ALL_KINDS))
    return fl_error(FL_EUSAGE, "generator options out of range (threads 1..%d, slots 1..%d)",
                    FL_OP_THREADS, FL_OP_SLOTS);
  fl_rng_seed(&g->rng, seed);
  g->out = out;
  g->left = n;
  unsigned idle = 0;
  while (g->left && g->st == FL_OK) {
    size_t before = g->left;
    step(g);
    idle = g->left == before ? idle + 1 : 0;
    if (idle > 10000)
      return fl_error(FL_EUSAGE, "the enabled op kinds (mask 0x%x) cannot make %zu ops",
                      g->o.kinds, n);
  }
  return g->st;
}

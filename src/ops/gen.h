/* gen.h — the seeded op generator and its PRNG.
 *
 * fl_ops_generate(seed, n, options) gives the same n ops for the same seed
 * and options on every machine and build: it uses its own PRNG (xoshiro256**
 * seeded through splitmix64), no floating point and no libc randomness.
 * The mix imitates programs: allocation bursts of one size class followed by
 * writes, frees of random live slots, verifies of what was written, and now
 * and then realloc, calloc, the memalign family, usable_size, mallopt,
 * malloc_trim, thread switches, check and inject. It tracks live bytes and
 * never emits an allocation that would take them over the budget (sizes
 * above PTRDIFF_MAX, which must fail, do not count). spec/ops.md. */
#ifndef FL_OPS_GEN_H
#define FL_OPS_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"

typedef struct fl_rng {
  uint64_t s[4];
} fl_rng_t;

void fl_rng_seed(fl_rng_t *r, uint64_t seed);
uint64_t fl_rng_next(fl_rng_t *r);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t fl_rng_below(fl_rng_t *r, uint64_t n);

#define FL_GEN_DEFAULT_BUDGET ((uint64_t)1 << 30) /* 1 GiB live */
/* Every kind but the hostile ones (they come last), which a generated
 * stream never contains. */
#define FL_GEN_ALL_KINDS ((1u << FL_OP_FREE_AT) - 1)
#define FL_GEN_KIND(k) (1u << (k))

typedef struct fl_gen_options {
  unsigned threads; /* logical threads 1..FL_OP_THREADS; default 1 */
  uint32_t kinds;   /* FL_GEN_KIND() mask of enabled kinds; default all */
  uint64_t budget;  /* live-byte budget; default FL_GEN_DEFAULT_BUDGET */
  unsigned slots;   /* slots used, 1..FL_OP_SLOTS; default 64 */
  uint64_t max_write; /* longest write/verify; default 64 KiB */
} fl_gen_options_t;

void fl_gen_options_default(fl_gen_options_t *o);

/* Appends exactly n ops to out. options may be NULL (defaults).
 * FL_EUSAGE if the options are out of range or the enabled kinds cannot
 * make n ops (e.g. only free enabled). */
fl_status_t fl_ops_generate(uint64_t seed, size_t n, const fl_gen_options_t *options,
                            fl_ops_t *out);

/* FNV-1a over bytes: the golden-value hash the tests pin. */
uint64_t fl_ops_hash_bytes(const uint8_t *data, size_t len);

#endif

/* test_binary.c — the binary op form: every byte string decodes, round trips,
 * and the boundary tables hold the glibc edges spec/ops.md promises. */
#include <stdlib.h>

#include "harness/harness.h"
#include "ops/binary.h"
#include "ops/gen.h"

/* Decodes data and checks the promises of binary.h: no error, at most one op
 * per byte, every op canonical, and re-encoding decodes to the same ops. */
static bool decode_is_sound(const uint8_t *data, size_t len, char *why, size_t whylen) {
  fl_ops_t ops, again;
  fl_ops_init(&ops);
  fl_ops_init(&again);
  bool ok = false;
  uint8_t *enc = NULL;
  size_t elen = 0;
  if (fl_ops_decode(data, len, &ops) != FL_OK) snprintf(why, whylen, "decode failed");
  else if (ops.n > len) snprintf(why, whylen, "%zu ops from %zu bytes", ops.n, len);
  else if (fl_ops_encode(&ops, &enc, &elen) != FL_OK) snprintf(why, whylen, "not canonical");
  else if (fl_ops_decode(enc, elen, &again) != FL_OK || !fl_ops_equal(&ops, &again))
    snprintf(why, whylen, "re-encode differs at op %zu", fl_ops_first_diff(&ops, &again));
  else ok = true;
  free(enc);
  fl_ops_free(&ops);
  fl_ops_free(&again);
  return ok;
}

FL_TEST(decode_random_bytes) {
  fl_rng_t r;
  fl_rng_seed(&r, 42);
  uint8_t buf[300];
  char why[128];
  for (int i = 0; i < 100000; i++) {
    size_t len = (size_t)fl_rng_below(&r, sizeof buf + 1);
    for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)fl_rng_next(&r);
    FL_CHECK_MSG(decode_is_sound(buf, len, why, sizeof why), "input %d (len %zu): %s", i, len,
                 why);
  }
}

FL_TEST(decode_all_short_patterns) {
  static const uint8_t fills[] = {0x00, 0xff, 0x55, 0xaa, 0x7f, 0x80, 0x10, 0xf7};
  uint8_t buf[64];
  char why[128];
  for (size_t f = 0; f < sizeof fills + 2; f++) {
    for (size_t len = 0; len <= sizeof buf; len++) {
      for (size_t j = 0; j < len; j++)
        buf[j] = f < sizeof fills ? fills[f] : f == sizeof fills ? (uint8_t)j : (uint8_t)(255 - j);
      FL_CHECK_MSG(decode_is_sound(buf, len, why, sizeof why), "pattern %zu len %zu: %s", f,
                   len, why);
    }
  }
}

FL_TEST(every_one_and_two_byte_input) {
  uint8_t buf[2];
  char why[128];
  for (unsigned a = 0; a < 256; a++) {
    buf[0] = (uint8_t)a;
    FL_CHECK_MSG(decode_is_sound(buf, 1, why, sizeof why), "0x%02x: %s", a, why);
    for (unsigned b = 0; b < 256; b++) {
      buf[1] = (uint8_t)b;
      FL_CHECK_MSG(decode_is_sound(buf, 2, why, sizeof why), "0x%02x%02x: %s", a, b, why);
    }
  }
}

/* The documented truncation rule: missing bytes read as 0. */
FL_TEST(truncated_tail_uses_defaults) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  const uint8_t one[] = {FL_OP_CALLOC};
  FL_CHECK_EQ(fl_ops_decode(one, 1, &ops), FL_OK);
  FL_CHECK_EQ(ops.n, 1);
  FL_CHECK_EQ(ops.v[0].kind, FL_OP_CALLOC);
  FL_CHECK_EQ(ops.v[0].dst, 0);
  FL_CHECK_EQ(ops.v[0].a, 0);
  FL_CHECK_EQ(ops.v[0].b, 0);
  fl_ops_clear(&ops);
  /* malloc #7 with a raw 8-byte size token of which only 2 bytes remain */
  size_t n = fl_token_table_size(FL_TOK_SIZE);
  const uint8_t cut[] = {FL_OP_MALLOC, 7, (uint8_t)(n + 7), 0x34, 0x12};
  FL_CHECK_EQ(fl_ops_decode(cut, sizeof cut, &ops), FL_OK);
  FL_CHECK_EQ(ops.n, 1);
  FL_CHECK_EQ(ops.v[0].dst, 7);
  FL_CHECK_EQ(ops.v[0].a, 0x1234);
  fl_ops_free(&ops);
}

/* Opcodes and folded operands: byte % count, so 17 + k is kind k. */
FL_TEST(fold_with_modulo) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  const uint8_t in[] = {FL_OP_KIND_COUNT + FL_OP_THREAD, 0xff, FL_OP_CHECK, 0xff,
                        FL_OP_INJECT, 0xff, 0xff, 0xff};
  FL_CHECK_EQ(fl_ops_decode(in, sizeof in, &ops), FL_OK);
  FL_CHECK_EQ(ops.n, 3);
  FL_CHECK_EQ(ops.v[0].kind, FL_OP_THREAD);
  FL_CHECK_EQ(ops.v[0].a, 0xff % FL_OP_THREADS);
  FL_CHECK_EQ(ops.v[1].a, 3);
  FL_CHECK_EQ(ops.v[2].a, 0xff % FL_OP_SYS_KIND_COUNT);
  FL_CHECK_EQ(ops.v[2].b, 256);
  FL_CHECK_EQ(ops.v[2].aux, fl_op_errno_at(0xff));
  fl_ops_free(&ops);
}

static bool in_table(fl_token_table_t t, uint64_t v) {
  for (size_t i = 0; i < fl_token_table_size(t); i++)
    if (fl_token_table_value(t, i) == v) return true;
  return false;
}

FL_TEST(size_table_has_glibc_boundaries) {
  static const uint64_t want[] = {
      0, 24, 25, 32, 120, 121, 1000, 1001, 1008, 1009, 1032, 1033, 4095, 4096, 4097,
      131048, 131049, 131071, 131072, 131073, 33554431, 33554432, 33554433,
      (uint64_t)PTRDIFF_MAX, (uint64_t)PTRDIFF_MAX + 1, UINT64_MAX, UINT64_MAX - 15};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    FL_CHECK_MSG(in_table(FL_TOK_SIZE, want[i]), "size %llu missing",
                 (unsigned long long)want[i]);
  for (unsigned b = 0; b <= 20; b++)
    FL_CHECK_MSG(in_table(FL_TOK_ALIGN, (uint64_t)1 << b), "alignment 2^%u missing", b);
  FL_CHECK(in_table(FL_TOK_ALIGN, 0));
  FL_CHECK(in_table(FL_TOK_ALIGN, 3));
  FL_CHECK(in_table(FL_TOK_ALIGN, 24));
  /* every table fits a token byte with room for the 8 raw widths */
  for (int t = 0; t < FL_TOK_TABLE_COUNT; t++) FL_CHECK_LE(fl_token_table_size(t) + 8, 256);
}

/* Values of every byte width survive encode/decode, in every token kind. */
FL_TEST(roundtrip_every_width) {
  fl_ops_t ops, back;
  fl_ops_init(&ops);
  fl_ops_init(&back);
  fl_rng_t r;
  fl_rng_seed(&r, 7);
  for (unsigned w = 0; w <= 64; w++) {
    /* a value of exactly w significant bits */
    uint64_t mask = w == 64 ? UINT64_MAX : ((uint64_t)1 << w) - 1;
    uint64_t v = w ? (fl_rng_next(&r) & mask) | ((uint64_t)1 << (w - 1)) : 0;
    fl_op_t m = {.kind = FL_OP_MALLOC, .dst = (uint8_t)w, .a = v};
    fl_op_t c = {.kind = FL_OP_POSIX_MEMALIGN, .dst = 1, .a = v, .b = ~v};
    fl_op_t s = {.kind = FL_OP_VERIFY, .src = 9, .a = v, .b = v / 3, .byte = (uint8_t)v};
    fl_op_t o = {.kind = FL_OP_MALLOPT, .a = w % FL_OP_M_PARAM_COUNT,
                 .b = (uint64_t)(int64_t)(int32_t)(uint32_t)v};
    FL_CHECK_EQ(fl_ops_push(&ops, &m), FL_OK);
    FL_CHECK_EQ(fl_ops_push(&ops, &c), FL_OK);
    FL_CHECK_EQ(fl_ops_push(&ops, &s), FL_OK);
    FL_CHECK_EQ(fl_ops_push(&ops, &o), FL_OK);
  }
  uint8_t *enc;
  size_t len;
  FL_CHECK_EQ(fl_ops_encode(&ops, &enc, &len), FL_OK);
  FL_CHECK_EQ(fl_ops_decode(enc, len, &back), FL_OK);
  free(enc);
  FL_CHECK_EQ(fl_ops_first_diff(&ops, &back), ops.n);
  FL_CHECK_EQ(back.n, ops.n);
  fl_ops_free(&ops);
  fl_ops_free(&back);
}

FL_TEST(roundtrip_generated_streams) {
  for (uint64_t seed = 1; seed <= 200; seed++) {
    fl_ops_t ops, back;
    fl_ops_init(&ops);
    fl_ops_init(&back);
    FL_CHECK_EQ(fl_ops_generate(seed, 500, NULL, &ops), FL_OK);
    uint8_t *enc;
    size_t len;
    FL_CHECK_EQ(fl_ops_encode(&ops, &enc, &len), FL_OK);
    FL_CHECK_EQ(fl_ops_decode(enc, len, &back), FL_OK);
    free(enc);
    FL_CHECK_MSG(fl_ops_equal(&ops, &back), "seed %llu differs at op %zu",
                 (unsigned long long)seed, fl_ops_first_diff(&ops, &back));
    fl_ops_free(&ops);
    fl_ops_free(&back);
  }
}

FL_TEST(encode_refuses_noncanonical) {
  static const fl_op_t bad[] = {
      {.kind = FL_OP_KIND_COUNT},
      {.kind = FL_OP_FREE, .src = 1, .a = 5},           /* unused field set */
      {.kind = FL_OP_THREAD, .a = FL_OP_THREADS},       /* out of range */
      {.kind = FL_OP_CHECK, .a = 4},
      {.kind = FL_OP_INJECT, .a = 0, .b = 0, .aux = 12}, /* nth 0 */
      {.kind = FL_OP_MALLOPT, .a = 0, .b = (uint64_t)1 << 32},
      {.kind = FL_OP_MALLOC, .dst = 1, .src = 2, .a = 1},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fl_ops_t ops;
    fl_ops_init(&ops);
    FL_CHECK_EQ(fl_ops_push(&ops, &bad[i]), FL_OK);
    uint8_t *enc = NULL;
    size_t len;
    FL_CHECK_MSG(fl_ops_encode(&ops, &enc, &len) == FL_EUSAGE, "bad op %zu encoded", i);
    FL_CHECK(strstr(fl_error_message(), "not canonical") != NULL);
    fl_ops_free(&ops);
  }
}

/* Slots above 239 take the long form and round-trip; any long form decodes. */
FL_TEST(wide_slots_roundtrip) {
  fl_ops_t ops, back;
  fl_ops_init(&ops);
  fl_ops_init(&back);
  const uint16_t slots[] = {0, 239, 240, 255, 256, 4095, 65535};
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
    fl_op_t op = {.kind = FL_OP_MALLOC, .dst = slots[i], .a = 24};
    FL_CHECK_EQ(fl_ops_push(&ops, &op), FL_OK);
    fl_op_t fr = {.kind = FL_OP_FREE, .src = slots[i]};
    FL_CHECK_EQ(fl_ops_push(&ops, &fr), FL_OK);
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  FL_CHECK_EQ(fl_ops_encode(&ops, &bytes, &len), FL_OK);
  FL_CHECK_EQ(fl_ops_decode(bytes, len, &back), FL_OK);
  FL_CHECK(fl_ops_equal(&ops, &back));
  free(bytes);
  fl_ops_free(&ops);
  fl_ops_free(&back);
}

/* test_text.c — the text op form: parsing, canonical printing, round trips
 * with the binary form, and error messages with line and column. */
#include <stdlib.h>

#include "harness/harness.h"
#include "ops/binary.h"
#include "ops/gen.h"
#include "ops/text.h"

static fl_status_t parse(const char *text, fl_ops_t *ops) {
  fl_ops_init(ops);
  return fl_ops_parse_text(text, strlen(text), "t.ops", ops);
}

/* Every op kind once, in canonical text. */
static const char canonical[] =
    "faultline-ops v2\n"
    "#3 = malloc 100\n"
    "#5 = calloc 4 25\n"
    "#4 = realloc #3 200\n"
    "#6 = memalign 64 100\n"
    "#7 = aligned_alloc 4096 8192\n"
    "#8 = posix_memalign 3 100\n"
    "#9 = valloc 100\n"
    "#10 = pvalloc 4097\n"
    "usable_size #4\n"
    "write #4 0 16 0xab\n"
    "verify #4 0 16 0xab\n"
    "thread 2\n"
    "mallopt M_MMAP_THRESHOLD 65536\n"
    "mallopt M_PERTURB -1\n"
    "malloc_trim 0\n"
    "inject mmap 1 ENOMEM\n"
    "inject brk 256 EAGAIN\n"
    "check 2\n"
    "#11 = malloc SIZE_MAX\n"
    "#12 = malloc SIZE_MAX-15\n"
    "#13 = malloc PTRDIFF_MAX+1\n"
    "#14 = calloc 4294967296 4294967296\n"
    "write #14 0 SIZE_MAX 0x00\n"
    "free #4\n"
    "free_at #4 0\n"
    "free_at #6 -16\n"
    "poke #6 -8 0x91 8\n"
    "poke #9 4096 0x0 1\n"
    "poke_ptr #7 0 #9 -16 protect\n"
    "poke_ptr #7 8 #7 0 plain\n";

FL_TEST(parse_print_canonical_script) {
  fl_ops_t ops;
  FL_CHECK_MSG(parse(canonical, &ops) == FL_OK, "%s", fl_error_message());
  FL_CHECK_EQ(ops.n, 30);
  FL_CHECK_EQ(ops.v[25].kind, FL_OP_FREE_AT);
  FL_CHECK_EQ((int64_t)ops.v[25].a, -16);
  FL_CHECK_EQ(ops.v[26].byte, 8);
  FL_CHECK_EQ(ops.v[26].b, 0x91);
  FL_CHECK_EQ(ops.v[28].dst, 9);
  FL_CHECK_EQ((int64_t)ops.v[28].b, -16);
  FL_CHECK_EQ(ops.v[28].byte, FL_OP_POKE_PROTECT);
  FL_CHECK_EQ(ops.v[0].kind, FL_OP_MALLOC);
  FL_CHECK_EQ(ops.v[0].dst, 3);
  FL_CHECK_EQ(ops.v[0].a, 100);
  FL_CHECK_EQ(ops.v[2].src, 3);
  FL_CHECK_EQ(ops.v[2].dst, 4);
  FL_CHECK_EQ((int64_t)ops.v[13].b, -1);
  FL_CHECK_EQ(ops.v[19].a, UINT64_MAX - 15);
  char *text;
  size_t len;
  FL_CHECK_EQ(fl_ops_print_text(&ops, true, &text, &len), FL_OK);
  FL_CHECK_STREQ(text, canonical);
  free(text);
  fl_ops_free(&ops);
}

/* Comments, blank lines, spacing and CRLF are accepted; printing gives the
 * canonical form. */
FL_TEST(comments_and_spacing) {
  const char *script =
      "faultline-ops v1   ; header\r\n"
      "# a comment line\n"
      "\n"
      "   ; another\n"
      "#1=malloc 0x20   # trailing comment\n"
      "  #2   =   malloc 32;x\n"
      "#! also a comment\n"
      "write #1 0 32 171 // comment\n";
  fl_ops_t ops;
  fl_status_t st = parse(script, &ops);
  /* "//" is not a comment: only ';' and '#' not followed by a digit are. */
  FL_CHECK_EQ(st, FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(), "t.ops:8:19: unexpected '//' after 'write' (comments start with ';')");
  fl_ops_free(&ops);
  const char *ok = "#1=malloc 0x20   # c\n  #2   =   malloc 32;x\n#! c\nwrite #1 0 32 171 ;c\n";
  FL_CHECK_MSG(parse(ok, &ops) == FL_OK, "%s", fl_error_message());
  char *text;
  size_t len;
  FL_CHECK_EQ(fl_ops_print_text(&ops, false, &text, &len), FL_OK);
  FL_CHECK_STREQ(text, "#1 = malloc 32\n#2 = malloc 32\nwrite #1 0 32 0xab\n");
  free(text);
  fl_ops_free(&ops);
}

/* text -> ops -> binary -> ops -> text for many generated streams. */
FL_TEST(roundtrip_text_binary_generated) {
  fl_gen_options_t o;
  fl_gen_options_default(&o);
  o.threads = 4;
  for (uint64_t seed = 1; seed <= 100; seed++) {
    fl_ops_t ops, fromtext, frombin;
    fl_ops_init(&ops);
    fl_ops_init(&frombin);
    FL_CHECK_EQ(fl_ops_generate(seed, 400, &o, &ops), FL_OK);
    char *text, *text2;
    size_t len, len2;
    uint8_t *bin;
    size_t blen;
    FL_CHECK_EQ(fl_ops_print_text(&ops, true, &text, &len), FL_OK);
    FL_CHECK_MSG(parse(text, &fromtext) == FL_OK, "seed %llu: %s", (unsigned long long)seed,
                 fl_error_message());
    FL_CHECK_MSG(fl_ops_equal(&ops, &fromtext), "seed %llu: text differs at op %zu",
                 (unsigned long long)seed, fl_ops_first_diff(&ops, &fromtext));
    FL_CHECK_EQ(fl_ops_encode(&fromtext, &bin, &blen), FL_OK);
    FL_CHECK_EQ(fl_ops_decode(bin, blen, &frombin), FL_OK);
    FL_CHECK_EQ(fl_ops_print_text(&frombin, true, &text2, &len2), FL_OK);
    FL_CHECK_STREQ(text, text2);
    free(text);
    free(text2);
    free(bin);
    fl_ops_free(&ops);
    fl_ops_free(&fromtext);
    fl_ops_free(&frombin);
  }
}

/* Random bytes decode to ops whose text parses back to the same ops and
 * whose binary re-encoding is stable: binary -> text -> binary. */
FL_TEST(roundtrip_random_binary_through_text) {
  fl_rng_t r;
  fl_rng_seed(&r, 99);
  for (int i = 0; i < 3000; i++) {
    uint8_t buf[128];
    for (size_t j = 0; j < sizeof buf; j++) buf[j] = (uint8_t)fl_rng_next(&r);
    fl_ops_t ops, back;
    fl_ops_init(&ops);
    FL_CHECK_EQ(fl_ops_decode(buf, sizeof buf, &ops), FL_OK);
    char *text;
    size_t len;
    FL_CHECK_EQ(fl_ops_print_text(&ops, false, &text, &len), FL_OK);
    FL_CHECK_MSG(parse(text, &back) == FL_OK, "input %d: %s", i, fl_error_message());
    FL_CHECK_MSG(fl_ops_equal(&ops, &back), "input %d differs at op %zu", i,
                 fl_ops_first_diff(&ops, &back));
    free(text);
    fl_ops_free(&ops);
    fl_ops_free(&back);
  }
}

FL_TEST(parse_errors_name_line_and_column) {
  static const struct {
    const char *text, *msg;
  } cases[] = {
      {"#1 = malloc 1\nfrob #1\n", "t.ops:2:1: unknown op 'frob'"},
      {"malloc 10\n", "t.ops:1:1: 'malloc' needs a result slot: #N = malloc ..."},
      {"#1 = free #2\n", "t.ops:1:1: 'free' has no result; drop the '#N ='"},
      {"#1 = malloc\n", "t.ops:1:12: missing size for 'malloc'"},
      {"#1 = malloc 12x\n", "t.ops:1:13: bad size '12x' for 'malloc': expected a number "
                            "(decimal, 0x hex, SIZE_MAX-N or PTRDIFF_MAX+-N)"},
      {"#1 = malloc 18446744073709551616\n", "t.ops:1:13: bad size '18446744073709551616' "
       "for 'malloc': expected a number (decimal, 0x hex, SIZE_MAX-N or PTRDIFF_MAX+-N)"},
      {"\n\n#65536 = malloc 1\n", "t.ops:3:1: slot #65536 out of range (slots are #0..#65535)"},
      {"#1 malloc 1\n", "t.ops:1:4: expected '=' after the result slot"},
      {"free 3\n", "t.ops:1:6: expected a slot like #3, got '3'"},
      {"write #1 0 16 256\n", "t.ops:1:15: byte 256 out of range for 'write' (max 255)"},
      {"thread 16\n", "t.ops:1:8: thread id 16 out of range for 'thread' (max 15)"},
      {"check 4\n", "t.ops:1:7: level 4 out of range for 'check' (max 3)"},
      {"mallopt M_FOO 1\n", "t.ops:1:9: unknown parameter 'M_FOO' for 'mallopt'"},
      {"mallopt M_MXFAST 2147483648\n", "t.ops:1:18: bad value '2147483648' for 'mallopt': "
                                        "expected an int"},
      {"inject mmap 0 ENOMEM\n", "t.ops:1:14: count must be at least 1 (the 1st next call)"},
      {"inject fork 1 ENOMEM\n", "t.ops:1:8: unknown syscall 'fork' for 'inject'"},
      {"inject mmap 1 ENOENT\n", "t.ops:1:15: unknown errno 'ENOENT' for 'inject'"},
      {"free #1 #2\n", "t.ops:1:9: unexpected '#2' after 'free' (comments start with ';')"},
      {"poke #1 0 256 1\n", "t.ops:1:16: value 0x100 does not fit in 1 bytes"},
      {"poke #1 0 1 3\n", "t.ops:1:14: width must be 1, 2, 4 or 8 bytes"},
      {"free_at #1 --8\n", "t.ops:1:12: bad offset '--8' for 'free_at': expected a signed "
                            "number like -16 or 0x20"},
      {"poke_ptr #1 0 #2 0 xor\n", "t.ops:1:20: unknown mode (plain or protect) 'xor' for "
                                   "'poke_ptr'"},
      {"faultline-ops v0\n", "t.ops: format v0 is older than this faultline (v2): its ops "
       "would decode differently; convert it with the faultline release that wrote it"},
      {"faultline-ops v7\n", "t.ops: format v7 is newer than this faultline (v2): use a "
                             "newer faultline"},
      {"faultline-ops\n", "t.ops:1:14: bad header: expected 'faultline-ops v2'"},
      {"#1 = malloc SIZE_MAX+1\n", "t.ops:1:13: bad size 'SIZE_MAX+1' for 'malloc': expected "
       "a number (decimal, 0x hex, SIZE_MAX-N or PTRDIFF_MAX+-N)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fl_ops_t ops;
    fl_error_clear();
    FL_CHECK_MSG(parse(cases[i].text, &ops) == FL_EUSAGE, "case %zu parsed", i);
    FL_CHECK_STREQ(fl_error_message(), cases[i].msg);
    fl_ops_free(&ops);
  }
}

/* A header anywhere but line 1 is an error; the header is optional. */
FL_TEST(header_only_on_line_one) {
  fl_ops_t ops;
  FL_CHECK_EQ(parse("#1 = malloc 1\nfaultline-ops v1\n", &ops), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(), "t.ops:2:1: unknown op 'faultline-ops'");
  fl_ops_free(&ops);
  FL_CHECK_EQ(parse("", &ops), FL_OK);
  FL_CHECK_EQ(ops.n, 0);
  FL_CHECK_EQ(parse("faultline-ops v1", &ops), FL_OK);
  FL_CHECK_EQ(ops.n, 0);
  fl_ops_free(&ops);
}

FL_TEST(symbolic_values_print_and_parse) {
  static const uint64_t v[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 65535,
                               UINT64_MAX - 65536, (uint64_t)PTRDIFF_MAX,
                               (uint64_t)PTRDIFF_MAX + 1, (uint64_t)PTRDIFF_MAX - 4096,
                               (uint64_t)PTRDIFF_MAX + 65536, (uint64_t)PTRDIFF_MAX + 65537,
                               0, 1};
  static const char *const want[] = {
      "#0 = malloc SIZE_MAX", "#0 = malloc SIZE_MAX-1", "#0 = malloc SIZE_MAX-65535",
      "#0 = malloc 18446744073709486079", "#0 = malloc PTRDIFF_MAX",
      "#0 = malloc PTRDIFF_MAX+1", "#0 = malloc PTRDIFF_MAX-4096",
      "#0 = malloc PTRDIFF_MAX+65536", "#0 = malloc 9223372036854841344",
      "#0 = malloc 0", "#0 = malloc 1"};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    fl_op_t op = {.kind = FL_OP_MALLOC, .a = v[i]};
    char line[128];
    fl_op_format(&op, line, sizeof line);
    FL_CHECK_STREQ(line, want[i]);
    fl_ops_t ops;
    FL_CHECK_EQ(parse(line, &ops), FL_OK);
    FL_CHECK_EQ(ops.n, 1);
    FL_CHECK(fl_op_equal(&ops.v[0], &op));
    fl_ops_free(&ops);
  }
}

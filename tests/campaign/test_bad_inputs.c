/* test_bad_inputs.c — truncated, empty, enormous and random inputs given to
 * what replay, minimize, run and repro do with a file: a clear error or a
 * valid run, never a crash. In-process through the library (load, run in
 * glass-box mode, expectations, C output, minimization), then a sample
 * through the CLI, whose errors must be one line and exit 2. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/harness.h"
#include "ops/campaign.h"
#include "ops/file.h"
#include "ops/gen.h"
#include "ops/minimize.h"
#include "ops/repro.h"
#include "ops/text.h"

#define RANDOM_INPUTS 5800
#define MUTATED_SCRIPTS 3000
#define RUN_EVERY 25          /* one loaded input in RUN_EVERY is also run */
#define RUN_MAX_OPS 200       /* ... cut to its first ops */
#define ENORMOUS (4u << 20)

typedef struct tally {
  size_t inputs, loaded, refused, ran, findings, minimized;
} tally_t;

static fl_rng_t rng;

/* A valid script with every kind, hostile ones included. */
static const char script[] =
    "faultline-ops v2\n"
    "; expect: clean in glass-box check 2\n"
    "#0 = malloc 24\n#1 = calloc 3 40\n#2 = realloc #0 1000\nwrite #2 0 1000 0xab\nverify #2 0 1000 0xab\n"
    "#3 = memalign 64 100\n#4 = aligned_alloc 32 64\n#5 = posix_memalign 128 200\n#6 = valloc 10\n"
    "#7 = pvalloc 5000\nusable_size #7\nthread 1\n#8 = malloc 200000\nmallopt M_MXFAST 64\n"
    "malloc_trim 0\ninject mmap 1 ENOMEM\n#9 = malloc 300000\ncheck 2\nfree #8\nfree #2\nfree_at #1 0\n"
    "poke #3 0 0x41 1\npoke_ptr #4 0 #3 -16 protect\nfree #3\nfree #4\n";

static void check_error_line(const char *what) {
  const char *m = fl_error_message();
  if (!m || !*m || strchr(m, '\n')) fl_test_fail(__FILE__, __LINE__, "%s: error message not one line: '%s'", what, m ? m : "(null)");
}

/* One input through everything replay/minimize/run/repro do with it. */
static void exercise(const uint8_t *data, size_t len, tally_t *t) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_ops_format_t fmt = FL_FMT_RAW;
  t->inputs++;
  fl_status_t st = fl_ops_load_bytes(data, len, "input", &ops, &fmt);
  if (st != FL_OK) {
    if (st != FL_EUSAGE) fl_test_fail(__FILE__, __LINE__, "load: status %d, not FL_EUSAGE", st);
    check_error_line("load");
    t->refused++;
    fl_ops_free(&ops);
    return;
  }
  t->loaded++;
  fl_expect_t e;
  if (fmt == FL_FMT_TEXT && fl_expect_parse((const char *)data, len, "input", &e) < 0) check_error_line("expect");
  char *c = NULL;
  size_t clen;
  if (fl_ops_repro_c(&ops, "input", &c, &clen) != FL_OK) fl_test_fail(__FILE__, __LINE__, "repro refused loaded ops");
  free(c);
  if (t->loaded % RUN_EVERY == 0) {
    if (ops.n > RUN_MAX_OPS) ops.n = RUN_MAX_OPS;
    fl_campaign_opts_t o;
    fl_campaign_opts_default(&o, FL_CAMPAIGN_GLASS);
    o.hostile = fmt == FL_FMT_TEXT;
    o.budget = 16 << 20;
    fl_finding_t f;
    st = fl_campaign_run(&ops, &o, &f, NULL);
    if (st != FL_OK) fl_test_fail(__FILE__, __LINE__, "run: status %d: %s", st, fl_error_message());
    t->ran++;
    t->findings += f.found;
  }
  fl_ops_free(&ops);
}

static void random_bytes(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)fl_rng_next(&rng);
}

/* A copy of the script with one random edit: a byte changed, removed or
 * doubled, or a line repeated. */
static size_t mutate(char *buf, size_t cap) {
  size_t n = sizeof script - 1, at = (size_t)fl_rng_below(&rng, n);
  memcpy(buf, script, n);
  switch (fl_rng_below(&rng, 4)) {
  case 0: buf[at] = (char)fl_rng_next(&rng); break;
  case 1: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;
  case 2: memmove(buf + at + 1, buf + at, n - at); n++; break;
  default: {
    size_t ln = 0;
    while (at + ln < n && buf[at + ln] != '\n') ln++;
    if (n + ln + 1 < cap) {
      memcpy(buf + n, buf + at, ln + 1 <= n - at ? ln + 1 : n - at);
      n += ln + 1 <= n - at ? ln + 1 : n - at;
    }
  }
  }
  return n;
}

FL_TEST(ten_thousand_bad_inputs) {
  double t0 = (double)clock() / CLOCKS_PER_SEC;
  fl_rng_seed(&rng, 5);
  tally_t t = {0};
  exercise((const uint8_t *)"", 0, &t);
  for (size_t n = 0; n < sizeof script - 1; n++) exercise((const uint8_t *)script, n, &t); /* every truncation */
  fl_ops_t gen;
  fl_ops_init(&gen);
  FL_CHECK_EQ(fl_ops_generate(9, 400, NULL, &gen), FL_OK);
  uint8_t *bin;
  size_t blen;
  FL_CHECK_EQ(fl_ops_serialize(&gen, FL_FMT_BINARY, &bin, &blen), FL_OK);
  for (size_t n = 0; n < blen; n += 1 + blen / 1500) exercise(bin, n, &t); /* truncated binaries */
  free(bin);
  fl_ops_free(&gen);
  uint8_t buf[1024];
  for (int i = 0; i < RANDOM_INPUTS; i++) {
    size_t n = 1 + (size_t)fl_rng_below(&rng, sizeof buf);
    random_bytes(buf, n);
    if (i % 3 == 0) memcpy(buf, "FLOP\002", n < 5 ? n : 5); /* random ops behind a valid header */
    exercise(buf, n, &t);
  }
  char text[sizeof script * 2];
  for (int i = 0; i < MUTATED_SCRIPTS; i++) {
    size_t n = mutate(text, sizeof text);
    exercise((const uint8_t *)text, n, &t);
  }
  printf("%zu inputs: %zu loaded, %zu refused with one-line errors, %zu run (%zu findings) in %.1f s CPU\n", t.inputs,
         t.loaded, t.refused, t.ran, t.findings, (double)clock() / CLOCKS_PER_SEC - t0);
  FL_CHECK_GE(t.inputs, 10000);
  FL_CHECK_GT(t.refused, 100);
  FL_CHECK_GT(t.ran, 100);
}

/* Inputs too big to run whole: loading them is what must not fail. */
FL_TEST(enormous_inputs) {
  fl_rng_seed(&rng, 6);
  uint8_t *big = malloc(ENORMOUS + 64);
  FL_CHECK(big);
  random_bytes(big, ENORMOUS);
  fl_ops_t ops;
  fl_ops_init(&ops);
  FL_CHECK_EQ(fl_ops_load_bytes(big, ENORMOUS, "raw", &ops, NULL), FL_OK); /* every byte string decodes */
  FL_CHECK_GT(ops.n, 100000);
  fl_ops_free(&ops);
  /* a text script with one 4 MiB line, then one with a 4000-digit size */
  memcpy(big, "faultline-ops v2\n#1 = malloc ", 29);
  memset(big + 29, 'x', ENORMOUS - 29);
  FL_CHECK_EQ(fl_ops_load_bytes(big, ENORMOUS, "long-line", &ops, NULL), FL_EUSAGE);
  check_error_line("long line");
  memset(big + 29, '9', 4000);
  FL_CHECK_EQ(fl_ops_load_bytes(big, 29 + 4000, "long-number", &ops, NULL), FL_EUSAGE);
  check_error_line("long number");
  FL_CHECK_EQ(fl_ops_load_bytes((const uint8_t *)"faultline-ops v99999999999\n", 27, "v", &ops, NULL), FL_EUSAGE);
  check_error_line("version");
  fl_ops_free(&ops);
  free(big);
}

/* The commands on bad files: exit 2 with one line, or a valid run. */
static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (f) {
    fwrite(data, 1, len, f);
    fclose(f);
  }
}

static void check_cli(const char *cmd, const char *path) {
  char line[1024], out[8192];
  snprintf(line, sizeof line, "faultline %s %s", cmd, path);
  int rc = fl_test_run_tool(line, out, sizeof out);
  if (rc < 0 || rc > 2) fl_test_fail(__FILE__, __LINE__, "%s: exit %d (a crash?):\n%s", line, rc, out);
  if (rc == 2) {
    char want[64];
    snprintf(want, sizeof want, "faultline %.*s: ", (int)strcspn(cmd, " "), cmd);
    const char *err = strstr(out, want);
    if (!err || strchr(err, '\n') != err + strlen(err) - 1)
      fl_test_fail(__FILE__, __LINE__, "%s: exit 2 without one error line:\n%s", line, out);
  }
}

FL_TEST(commands_on_bad_files) {
  char dir[] = "/tmp/fl-bad-XXXXXX", path[256];
  FL_CHECK(mkdtemp(dir));
  fl_rng_seed(&rng, 7);
  static const char *const cmds[] = {"replay", "minimize --seconds 2", "run", "repro --c -o /dev/null"};
  uint8_t buf[300];
  int files = 0;
  for (int i = 0; i < 12; i++, files++) {
    snprintf(path, sizeof path, "%s/in%d", dir, i);
    size_t n = 0;
    switch (i % 4) {
    case 0: n = (size_t)i * 13 % (sizeof script - 1); memcpy(buf, script, n); break; /* truncated */
    case 1: n = 1 + (size_t)fl_rng_below(&rng, 64); random_bytes(buf, n); break;     /* random */
    case 2: n = (size_t)snprintf((char *)buf, sizeof buf, "faultline-ops v2\n#1 = malloc %0200d\n", 7); break;
    default: n = i == 3 ? 0 : 5; memcpy(buf, "FLOP\377", n); break;                  /* empty, v255 */
    }
    write_file(path, buf, n);
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) check_cli(cmds[c], path);
  }
  for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
    check_cli(cmds[c], "/nonexistent/file");
    check_cli(cmds[c], dir); /* a directory */
  }
  printf("%d files and 2 unreadable paths through replay, minimize, run and repro\n", files);
  snprintf(path, sizeof path, "rm -rf %s", dir);
  FL_CHECK_EQ(system(path), 0);
}

/* minimize on inputs that find something: a smaller input that still does. */
static bool finds_integrity(void *ctx, const fl_ops_t *c, size_t *needed, fl_status_t *status) {
  (void)ctx;
  fl_campaign_opts_t o;
  fl_campaign_opts_default(&o, FL_CAMPAIGN_GLASS);
  o.hostile = true;
  fl_finding_t f;
  *status = fl_campaign_run(c, &o, &f, NULL);
  if (!f.found) return false;
  if (f.op_index < c->n) *needed = f.op_index + 1;
  return true;
}

FL_TEST(minimize_shrinks_a_double_free) {
  static const char dbl[] = "faultline-ops v2\n#0 = malloc 24\n#1 = malloc 40\nwrite #1 0 40 0x11\n#2 = malloc 24\n"
                            "free #0\nfree #2\nfree_at #0 0\n#3 = malloc 100\n";
  fl_ops_t in, out;
  fl_ops_init(&in);
  fl_ops_init(&out);
  FL_CHECK_EQ(fl_ops_parse_text(dbl, sizeof dbl - 1, "dbl", &in), FL_OK);
  fl_minimize_opts_t mo = {.test = finds_integrity, .max_seconds = 20};
  fl_minimize_stats_t ms;
  FL_CHECK_EQ(fl_ops_minimize(&in, &mo, &out, &ms), FL_OK);
  FL_CHECK(ms.complete);
  FL_CHECK_EQ(out.n, 3); /* malloc, free, free again */
  FL_CHECK_EQ(out.v[0].kind, FL_OP_MALLOC);
  FL_CHECK_EQ(out.v[0].dst, 0);
  FL_CHECK_EQ(out.v[2].kind, FL_OP_FREE_AT);
  fl_ops_free(&in);
  fl_ops_free(&out);
}

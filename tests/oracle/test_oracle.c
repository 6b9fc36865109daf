/* test_oracle.c — the black-box oracle (src/oracle, faultline verify
 * --allocator): every ORACLE-* promise fires on the broken allocator made
 * to break it (tests/oracle/broken) and on nothing else; the four real
 * allocators Debian ships break exactly their documented deviations
 * (tests/known-deviations) under --promises c and under --promises posix,
 * and nothing else. */
#include <stdlib.h>
#include <unistd.h>

#include "check/check.h"
#include "harness/harness.h"
#include "oracle/oracle.h"

#define LIBDIR "/usr/lib/x86_64-linux-gnu/"

static char out[1 << 17];

static int verify(const char *fmt, const char *arg, const char *extra) {
  char cmd[4096];
  int n = snprintf(cmd, sizeof cmd, fmt, arg, extra);
  if (n < 0 || (size_t)n >= sizeof cmd) {
    fl_test_fail(__FILE__, __LINE__, "the command does not fit: %.80s...", cmd);
    return -1;
  }
  return fl_test_run_tool(cmd, out, sizeof out);
}

static size_t count(const char *s, const char *end, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(s, needle); p && p < end; p = strstr(p + 1, needle)) n++;
  return n;
}

/* True if the JSON report's "fired" object names exactly id. */
static bool fired_exactly(const char *id) {
  const char *f = strstr(out, "\"fired\": {");
  const char *end = f ? strchr(f, '}') : NULL;
  if (!end) return false;
  char key[64];
  snprintf(key, sizeof key, "\"%s\"", id);
  return count(f, end, "\"ORACLE-") == 1 && count(f, end, key) == 1;
}

/* ------------------------------------------------------------ the registry */

FL_TEST(every_promise_is_registered) {
  FL_CHECK_GE(FL_ORACLE_ID_COUNT, 12);
  for (unsigned i = 0; i < FL_ORACLE_ID_COUNT; i++) {
    const char *name = fl_oracle_id_name(i);
    const fl_invariant_t *inv = fl_invariant_find(name);
    FL_CHECK_MSG(inv, "%s is not in the registry", name);
    FL_CHECK_STREQ(inv->family, "ORACLE");
    FL_CHECK_EQ(fl_oracle_id_lookup(name), (int)i);
  }
  FL_CHECK_EQ(fl_oracle_id_lookup("ORACLE-NOPE"), -1);
  FL_CHECK(fl_oracle_id_name(FL_ORACLE_ID_COUNT) == NULL);
}

FL_TEST(probes_are_canonical_and_cover_every_alignment) {
  fl_ops_t ops = {0};
  FL_CHECK_EQ(fl_oracle_probes(&ops), FL_OK);
  size_t aligned_2mib = 0, impossible = 0;
  for (size_t i = 0; i < ops.n; i++) {
    FL_CHECK(fl_op_is_canonical(&ops.v[i]));
    aligned_2mib += ops.v[i].kind == FL_OP_POSIX_MEMALIGN && ops.v[i].a == (1u << 21);
    impossible += ops.v[i].kind == FL_OP_MALLOC && ops.v[i].a > PTRDIFF_MAX;
  }
  FL_CHECK_EQ(aligned_2mib, 4);
  FL_CHECK_EQ(impossible, 2);
  fl_ops_free(&ops);
}

/* ------------------------------------------------------------ the API */

FL_TEST(api_runs_glibc_clean_and_gives_back) {
  fl_oracle_t *o;
  fl_oracle_opts_t opts = {.allocator = "/lib/x86_64-linux-gnu/libc.so.6"};
  FL_CHECK_EQ(fl_oracle_open(&o, &opts), FL_OK);
  FL_CHECK(strstr(fl_oracle_provider(o), "libc.so.6") != NULL);
  FL_CHECK(fl_oracle_provided(o) & (1u << FL_ORACLE_FN_MALLOC_TRIM));
  fl_ops_t ops = {0};
  FL_CHECK_EQ(fl_oracle_stream(7, 2000, &ops), FL_OK);
  static fl_oracle_result_t r;
  for (int run = 0; run < 2; run++) { /* the same helper, twice */
    FL_CHECK_MSG(fl_oracle_run(o, &ops, &r) == FL_OK, "%s", r.nviol ? r.viol[0].detail : fl_error_message());
    FL_CHECK_GT(r.ops_run, 1500);
    FL_CHECK(r.measured);
    FL_CHECK_LE(r.rss_after, r.rss_bound);
    FL_CHECK(r.purged & (1u << FL_ORACLE_FN_MALLOC_TRIM));
  }
  fl_ops_free(&ops);
  fl_oracle_close(o);
}

/* A script the broken overlap allocator cannot pass, through the API:
 * every 50th small malloc lands 16 bytes into the last small live block. */
FL_TEST(api_reports_the_op_and_stops) {
  char so[1024];
  snprintf(so, sizeof so, "%s/oracle-broken/libbroken-overlap.so", getenv("FAULTLINE_BUILD_DIR"));
  fl_oracle_t *o;
  fl_oracle_opts_t opts = {.allocator = so};
  FL_CHECK_EQ(fl_oracle_open(&o, &opts), FL_OK);
  fl_ops_t ops = {0};
  for (unsigned i = 0; i < 200; i++) {
    fl_op_t op = {.kind = FL_OP_MALLOC, .dst = (uint16_t)i, .a = 40};
    FL_CHECK_EQ(fl_ops_push(&ops, &op), FL_OK);
  }
  static fl_oracle_result_t r;
  FL_CHECK_EQ(fl_oracle_run(o, &ops, &r), FL_FINDING);
  FL_CHECK_EQ(r.nviol, 1);
  FL_CHECK_EQ(r.viol[0].id, FL_ORACLE_NO_OVERLAP);
  FL_CHECK_LT(r.viol[0].op_index, 200);
  FL_CHECK(!r.measured); /* stopped: the heap was not torn down */
  FL_CHECK(strstr(r.viol[0].detail, "= malloc 40`: returned") != NULL);
  fl_ops_free(&ops);
  fl_oracle_close(o);
}

/* ------------------------------------------------------------ bad input */

FL_TEST(bad_allocators_are_usage_errors) {
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", "/no/such.so", ""), 2);
  FL_CHECK(strstr(out, "faultline verify: /no/such.so: No such file") == out);
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", "/etc/hostname", ""), 2);
  FL_CHECK(strstr(out, "was not loaded") != NULL);
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", "/lib/x86_64-linux-gnu/libm.so.6", ""), 2);
  FL_CHECK(strstr(out, "does not define malloc") != NULL);
  FL_CHECK_EQ(verify("faultline verify --allocator%s%s", "", ""), 2);
  FL_CHECK(strstr(out, "needs a value") != NULL);
}

FL_TEST(bad_flags_are_usage_errors) {
  const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", libc, " --promises iso"), 2);
  FL_CHECK(strstr(out, "expected c or posix") != NULL);
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", libc, " --allow ORACLE-NOPE"), 2);
  FL_CHECK(strstr(out, "unknown promise") != NULL);
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", libc, " --allow ORACLE-ENOMEM:mallocx"), 2);
  FL_CHECK(strstr(out, "unknown op kind 'mallocx'") != NULL);
  FL_CHECK_EQ(verify("faultline verify --allocator=%s%s", libc, " --seconds 1x"), 2);
  FL_CHECK(strstr(out, "bad number '1x' for --seconds") != NULL);
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", libc, " --timeout 0"), 2);
}

/* ------------------------------------------------------------ broken allocators */

/* The broken allocator libbroken-<name>.so breaks exactly `id`. */
static void breaks_exactly(const char *name, const char *id, const char *extra) {
  char so[1024], args[256];
  snprintf(so, sizeof so, "%s/oracle-broken/libbroken-%s.so", getenv("FAULTLINE_BUILD_DIR"), name);
  snprintf(args, sizeof args, " --seconds 1 --seed 1 --timeout 1000 --json%s", extra);
  int st = verify("faultline verify --allocator %s%s", so, args);
  FL_CHECK_MSG(st == 1, "libbroken-%s.so: exit %d, expected 1:\n%s", name, st, out);
  FL_CHECK_MSG(fired_exactly(id), "libbroken-%s.so should break exactly %s:\n%s", name, id, out);
}

FL_TEST(broken_misalign_breaks_align) { breaks_exactly("misalign", "ORACLE-ALIGN", " --ops 2000"); }
FL_TEST(broken_ignore_align_breaks_align_explicit) {
  breaks_exactly("ignore_align", "ORACLE-ALIGN-EXPLICIT", " --ops 2000");
}
FL_TEST(broken_overlap_breaks_no_overlap) { breaks_exactly("overlap", "ORACLE-NO-OVERLAP", ""); }
FL_TEST(broken_short_usable_breaks_usable) { breaks_exactly("short_usable", "ORACLE-USABLE", ""); }
FL_TEST(broken_scribble_breaks_contents) { breaks_exactly("scribble", "ORACLE-CONTENTS", ""); }
FL_TEST(broken_lose_prefix_breaks_realloc_prefix) {
  breaks_exactly("lose_prefix", "ORACLE-REALLOC-PREFIX", "");
}
FL_TEST(broken_dirty_calloc_breaks_calloc_zero) {
  breaks_exactly("dirty_calloc", "ORACLE-CALLOC-ZERO", " --ops 2000");
}
FL_TEST(broken_huge_ok_breaks_impossible) { breaks_exactly("huge_ok", "ORACLE-IMPOSSIBLE", ""); }
FL_TEST(broken_free_null_breaks_free_null) {
  breaks_exactly("free_null", "ORACLE-FREE-NULL", "");
  FL_CHECK(strstr(out, "\"signal\": 11") != NULL);
}
FL_TEST(broken_zero_shared_breaks_zero_size) { breaks_exactly("zero_shared", "ORACLE-ZERO-SIZE", ""); }
FL_TEST(broken_no_errno_breaks_enomem) {
  breaks_exactly("no_errno", "ORACLE-ENOMEM", " --ops 2000");
  char so[1024]; /* a POSIX promise: the C standard does not make it */
  snprintf(so, sizeof so, "%s/oracle-broken/libbroken-no_errno.so", getenv("FAULTLINE_BUILD_DIR"));
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", so, " --ops 2000 --promises c"), 0);
}
FL_TEST(broken_any_align_breaks_einval) { breaks_exactly("any_align", "ORACLE-EINVAL", " --ops 2000"); }
FL_TEST(broken_hoard_breaks_give_back) { breaks_exactly("hoard", "ORACLE-GIVE-BACK", " --ops 6000"); }
FL_TEST(broken_crash_breaks_crash) {
  breaks_exactly("crash", "ORACLE-CRASH", "");
  FL_CHECK(strstr(out, "\"signal\": 11") != NULL);
}
FL_TEST(broken_hang_breaks_hang) {
  breaks_exactly("hang", "ORACLE-HANG", "");
  FL_CHECK(strstr(out, "\"timeout\": true") != NULL);
}

/* The text report names the promise, the op, the last ops and the replay. */
FL_TEST(text_report_shows_the_last_ops) {
  char so[1024];
  snprintf(so, sizeof so, "%s/oracle-broken/libbroken-lose_prefix.so", getenv("FAULTLINE_BUILD_DIR"));
  FL_CHECK_EQ(verify("faultline verify --allocator %s%s", so, " --seed 3"), 1);
  FL_CHECK(strstr(out, "FINDING             ORACLE-REALLOC-PREFIX at op") != NULL);
  FL_CHECK(strstr(out, "#12 = realloc #12 5000") != NULL);
  FL_CHECK(strstr(out, "replay: faultline verify --allocator") != NULL);
  FL_CHECK(strstr(out, "--seed 3 ") != NULL);
}

/* ------------------------------------------------------------ real allocators */

static const char *real_path(const char *name) {
  if (!strcmp(name, "glibc")) return "/lib/x86_64-linux-gnu/libc.so.6";
  if (!strcmp(name, "jemalloc")) return LIBDIR "libjemalloc.so.2";
  if (!strcmp(name, "tcmalloc")) return LIBDIR "libtcmalloc_minimal.so.4";
  return LIBDIR "libmimalloc.so.2";
}

/* The "deviation ID KIND" lines of tests/known-deviations/<name> that the
 * promises look for, as "ID KIND\n" lines, and the --allow flags for them. */
static bool known_deviations(const char *name, bool posix, char *set, size_t cap, char *allow, size_t acap) {
  char path[1024], line[512];
  snprintf(path, sizeof path, "%s/tests/known-deviations/%s", getenv("FAULTLINE_SOURCE_DIR"), name);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  *set = *allow = 0;
  while (fgets(line, sizeof line, f)) {
    char id[64], kind[64];
    if (sscanf(line, "deviation %63s %63s", id, kind) != 2) continue;
    int i = fl_oracle_id_lookup(id);
    if (i >= 0 && !posix && (FL_ORACLE_BIT(i) & FL_ORACLE_POSIX_ONLY)) continue;
    snprintf(set + strlen(set), cap - strlen(set), "%s %s\n", id, kind);
    snprintf(allow + strlen(allow), acap - strlen(allow), " --allow %s:%s", id, kind);
  }
  fclose(f);
  return true;
}

/* The (ID, op kind) pairs of the JSON report's violations. */
static void found_deviations(char *set, size_t cap) {
  *set = 0;
  for (const char *p = strstr(out, "\"id\": \""); p; p = strstr(p + 1, "\"id\": \"")) {
    char id[64], op[128];
    if (sscanf(p, "\"id\": \"%63[^\"]", id) != 1) continue;
    const char *o = strstr(p, "\"op\": \"");
    if (!o || sscanf(o, "\"op\": \"%127[^\"]", op) != 1) continue;
    const char *eq = strstr(op, "= ");
    char kind[64];
    sscanf(eq ? eq + 2 : op, "%63s", kind);
    char pair[160];
    snprintf(pair, sizeof pair, "%s %s\n", id, kind);
    if (!strstr(set, pair)) snprintf(set + strlen(set), cap - strlen(set), "%s", pair);
  }
}

static bool same_lines(const char *a, const char *b) {
  size_t na = count(a, a + strlen(a), "\n"), nb = count(b, b + strlen(b), "\n");
  if (na != nb) return false;
  for (const char *l = a; *l; l = strchr(l, '\n') + 1) {
    char line[160];
    size_t n = (size_t)(strchr(l, '\n') - l);
    snprintf(line, sizeof line, "%.*s\n", (int)n, l);
    if (!strstr(b, line)) return false;
  }
  return true;
}

/* Adds to set the pairs of got that it lacks, and an --allow for each. */
static void add_new_pairs(char *set, size_t cap, char *allow, size_t acap, const char *got) {
  for (const char *l = got; *l; l = strchr(l, '\n') + 1) {
    char id[64], kind[64], line[160];
    if (sscanf(l, "%63s %63s", id, kind) != 2) break;
    snprintf(line, sizeof line, "%s %s\n", id, kind);
    if (strstr(set, line)) continue;
    snprintf(set + strlen(set), cap - strlen(set), "%s", line);
    snprintf(allow + strlen(allow), acap - strlen(allow), " --allow %s:%s", id, kind);
  }
}

/* Under these promises the oracle finds exactly the documented deviations
 * of this allocator, and nothing once they are allowed. A promise whose
 * breaking leaves the heap suspect (ORACLE-IMPOSSIBLE, ...) stops the run
 * at the first that is not allowed, so the deviations are found in rounds:
 * each round allows what the earlier ones found, until a run is clean. */
static void finds_the_known_deviations(const char *name, bool posix) {
  const char *so = real_path(name);
  if (access(so, R_OK)) {
    fl_test_skip("the library is not installed (scripts/setup.sh installs it)");
    return;
  }
  static char want[4096], got[4096], allow[2048];
  FL_CHECK_MSG(known_deviations(name, posix, want, sizeof want, allow, sizeof allow),
               "no tests/known-deviations/%s", name);
  static char found[4096], round_allow[2048];
  char extra[2400];
  int st = 1, rounds = 0;
  *found = *round_allow = 0;
  for (; st == 1 && rounds < 16; rounds++) {
    snprintf(extra, sizeof extra, " --ops 5000 --seconds 2 --seed 1 --json --promises %s%s", posix ? "posix" : "c",
             round_allow);
    st = verify("faultline verify --allocator %s%s", so, extra);
    found_deviations(got, sizeof got);
    size_t before = strlen(found);
    add_new_pairs(found, sizeof found, round_allow, sizeof round_allow, got);
    FL_CHECK_MSG(st != 1 || strlen(found) > before, "%s: a finding that is no deviation\n%s", name, out);
  }
  FL_CHECK_MSG(st == 0, "%s: exit %d after %d rounds\n%s", name, st, rounds, out);
  FL_CHECK_MSG(same_lines(want, found), "%s: documented\n%sfound\n%s", name, want, found);
  snprintf(extra, sizeof extra, " --ops 5000 --seconds 2 --seed 1 --promises %s%s", posix ? "posix" : "c", allow);
  st = verify("faultline verify --allocator %s%s", so, extra);
  FL_CHECK_MSG(st == 0, "%s with%s: exit %d\n%s", name, allow, st, out);
}

FL_TEST(glibc_c_finds_exactly_the_known_deviations) { finds_the_known_deviations("glibc", false); }
FL_TEST(jemalloc_c_finds_exactly_the_known_deviations) { finds_the_known_deviations("jemalloc", false); }
FL_TEST(tcmalloc_c_finds_exactly_the_known_deviations) { finds_the_known_deviations("tcmalloc", false); }
FL_TEST(mimalloc_c_finds_exactly_the_known_deviations) { finds_the_known_deviations("mimalloc", false); }
FL_TEST(glibc_posix_finds_exactly_the_known_deviations) { finds_the_known_deviations("glibc", true); }
FL_TEST(jemalloc_posix_finds_exactly_the_known_deviations) { finds_the_known_deviations("jemalloc", true); }
FL_TEST(tcmalloc_posix_finds_exactly_the_known_deviations) { finds_the_known_deviations("tcmalloc", true); }
FL_TEST(mimalloc_posix_finds_exactly_the_known_deviations) { finds_the_known_deviations("mimalloc", true); }

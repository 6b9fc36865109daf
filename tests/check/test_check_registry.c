/* test_check_registry.c — the registry against spec/invariants.md, the
 * CLI, and the checker on clean seeded workloads (levels 2 and 3). */
#include <stdlib.h>

#include "check/cktest.h"

FL_TEST(spec_matches_registry) {
  const char *src = getenv("FAULTLINE_SOURCE_DIR");
  if (!src) src = ".";
  char path[1024];
  snprintf(path, sizeof path, "%s/spec/invariants.md", src);
  FILE *f = fopen(path, "r");
  FL_CHECK_MSG(f, "cannot open %s", path);
  char line[4096];
  size_t seen = 0;
  bool bad = false;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "| `", 3) != 0) continue;
    char *end = strchr(line + 3, '`');
    if (!end) continue;
    *end = 0;
    const char *id = line + 3;
    if (!fl_invariant_find(id)) {
      fprintf(stderr, "%s is in the spec, not in the registry\n", id);
      bad = true;
    }
    seen++;
  }
  fclose(f);
  FL_CHECK(!bad);
  FL_CHECK_EQ(seen, fl_invariant_count());
  size_t fam[5] = {0};
  for (size_t i = 0; i < fl_invariant_count(); i++) {
    const char *fm = fl_invariant_at(i)->family;
    fam[!strcmp(fm, "BIN") ? 0 : !strcmp(fm, "VMA") ? 1 : !strcmp(fm, "KERNEL") ? 3 : 2]++;
  }
  FL_CHECK_GE(fam[0], 20);
  FL_CHECK_GE(fam[1], 8);
  FL_CHECK_GE(fam[2], 6);
  FL_CHECK_GE(fam[3], 5);
}

FL_TEST(cli_list) {
  static char out[65536];
  FL_CHECK_EQ(fl_test_run_tool("faultline check --list --json", out, sizeof out), 0);
  FL_CHECK(strstr(out, "\"BIN-TILE\"") != NULL);
  FL_CHECK_EQ(fl_test_run_tool("faultline check --list", out, sizeof out), 0);
  FL_CHECK(strstr(out, "VMA-MERGED") != NULL);
  FL_CHECK_EQ(fl_test_run_tool("faultline check --help", out, sizeof out), 0);
  FL_CHECK_EQ(fl_test_run_tool("faultline check --bogus", out, sizeof out), 2);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Seeded malloc/free/realloc/calloc/memalign, some in a second thread. */
static void workload(unsigned n) {
  uintptr_t slot[256] = {0};
  static const size_t sizes[] = {8, 24, 40, 100, 200, 500, 1000, 1100, 3000, 5000, 70000, 200000};
  for (unsigned i = 0; i < n; i++) {
    unsigned k = (unsigned)(next() % 256), r = (unsigned)(next() % 10);
    size_t sz = sizes[next() % 12] + next() % 64;
    if (i == n / 2) fl_rm_set_thread(T.rm, 1);
    if (slot[k]) {
      if (r < 6) {
        fl_rm_free(T.rm, slot[k]);
        slot[k] = 0;
      } else {
        uintptr_t p = fl_rm_realloc(T.rm, slot[k], sz);
        if (p) slot[k] = p;
      }
    } else {
      slot[k] = r < 5 ? fl_rm_malloc(T.rm, sz) : r < 7 ? fl_rm_calloc(T.rm, 1, sz)
                : fl_rm_memalign(T.rm, (size_t)64 << (next() % 6), sz);
    }
    if (i % 997 == 0) fl_rm_mallinfo2(T.rm);
  }
}

FL_TEST(clean_workload_level3) {
  FL_CHECK(ckt_open(3, NULL));
  FL_CHECK(fl_check_tracking(T.c));
  workload(3000);
  FL_CHECK(!fl_rm_aborted(T.rm));
  FL_CHECK_GE(fl_check_walks(T.c), 3000);
  FL_CHECK(ckt_clean());
  ckt_close();
}

FL_TEST(level2_amortised_walk) {
  FL_CHECK(ckt_open(2, NULL));
  workload(4000);
  uint64_t walks = fl_check_walks(T.c), ops = fl_check_ops(T.c);
  FL_CHECK(ckt_clean());
  /* a walk every max(64, live) ops: some, but far fewer than ops */
  FL_CHECK_GT(walks, 0);
  FL_CHECK_LE(walks * 64, ops + 64);
  fl_check_full(T.c);
  FL_CHECK(ckt_clean());
  ckt_close();
}

FL_TEST(report_json) {
  FL_CHECK(ckt_open(2, NULL));
  uintptr_t a = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  wr(hdr(a) + 8, rd(hdr(a) + 8) | 4);
  fl_check_full(T.c);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fl_check_report(T.c, f, true);
  fclose(f);
  FL_CHECK(strstr(buf, "\"BIN-ARENA-BIT\"") != NULL);
  FL_CHECK(strstr(buf, "sz 0x20") != NULL);
  free(buf);
  ckt_close();
}

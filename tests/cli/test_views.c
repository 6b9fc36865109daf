/* test_views.c — `faultline bins`, `pmap` and `run --trace` on real
 * scripts, and every bad input they (and `demo`) refuse with one line and
 * exit 2. corpus/scripts/bins-tour.ops leaves a chunk in every state glibc
 * has; the tests hold the views to what that script does. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/jsonread.h"
#include "harness/harness.h"

static char out[1 << 20];

static int tool(const char *fmt, const char *arg) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, arg);
  return fl_test_run_tool(cmd, out, sizeof out);
}

static const char *tour(void) {
  static char path[1024];
  const char *src = getenv("FAULTLINE_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/corpus/scripts/bins-tour.ops", src ? src : ".");
  return path;
}

static size_t lines(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* Exit 2 and one line "faultline CMD: ..." that mentions `mentions`. */
#define CHECK_REFUSED(cmdname, mentions)                                                     \
  do {                                                                                       \
    FL_CHECK_MSG(lines(out) == 1 && strstr(out, "faultline " cmdname ": ") == out &&         \
                     strstr(out, mentions) != NULL,                                          \
                 "expected one line 'faultline %s: ...%s...', got:\n%s", cmdname, mentions, out); \
  } while (0)

FL_TEST(bins_shows_every_list_kind_of_the_tour) {
  FL_CHECK_EQ(tool("faultline bins %s", tour()), 0);
  FL_CHECK(strstr(out, "after op 58 of ops 0-58 (the last)") != NULL);
  const char *kinds[] = {"tcachebins (thread 0)", "fastbins (arena 0", "unsorted (arena 0", "small (arena 0",
                         "large (arena 0", "top (arena 0)", "mapped: "};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    FL_CHECK_MSG(strstr(out, kinds[i]) != NULL, "no '%s' in:\n%s", kinds[i], out);
  /* the script's own numbers: 3 chunks of 0x30 in the tcache, 2 of 0x70 in the fastbin */
  FL_CHECK(strstr(out, "0x30             [  3]:") != NULL);
  FL_CHECK(strstr(out, "(0x70) -> 0x") != NULL);
  FL_CHECK(strstr(out, "0x4c0-0x4f0") != NULL);
}

FL_TEST(bins_json_lists_chunks_in_glibc_order) {
  FL_CHECK_EQ(tool("faultline bins %s --json", tour()), 0);
  FL_CHECK(jr_valid(out));
  FL_CHECK(jr_string_is(jr_get(out, "stop"), "end"));
  FL_CHECK_EQ(jr_number(jr_get(out, "after_op")), 58);
  FL_CHECK(jr_string_is(jr_get(out, "lists.0.kind"), "tcache"));
  FL_CHECK(jr_type(jr_get(out, "lists.0.chunks.0.addr")) == JR_STRING);
  FL_CHECK(jr_type(jr_get(out, "mapped.0.size")) == JR_NUMBER);
  FL_CHECK(jr_true(jr_get(out, "walk_complete")));
}

FL_TEST(bins_at_an_op_shows_the_heap_then) {
  /* after op 30 nothing is free yet: only top (and the mapped chunk) */
  FL_CHECK_EQ(tool("faultline bins %s --at 30", tour()), 0);
  FL_CHECK(strstr(out, "after op 30 of ops 0-58") != NULL);
  FL_CHECK(strstr(out, "every bin is empty") != NULL);
  FL_CHECK(strstr(out, "top (arena 0)") != NULL);
}

FL_TEST(bins_stops_at_glibcs_abort) {
  char path[] = "/tmp/fl-views-XXXXXX";
  int fd = mkstemp(path);
  static const char df[] = "faultline-ops v2\n#0 = malloc 100\nfree_at #0 0\nfree_at #0 0\n#1 = malloc 50\n";
  FL_CHECK_EQ(write(fd, df, sizeof df - 1), (ssize_t)(sizeof df - 1));
  close(fd);
  FL_CHECK_EQ(tool("faultline bins %s", path), 1);
  FL_CHECK(strstr(out, "after op 2 of ops 0-3") != NULL);
  FL_CHECK(strstr(out, "double free detected in tcache 2") != NULL);
  unlink(path);
}

FL_TEST(bins_stops_at_the_first_violation) {
  char path[] = "/tmp/fl-views-XXXXXX";
  int fd = mkstemp(path);
  /* a tcache chunk's size field overwritten: glibc notices nothing yet,
   * the invariants do at the next call */
  static const char poke[] = "faultline-ops v2\n#0 = malloc 100\n#1 = malloc 100\nfree #0\n"
                             "poke #0 -8 0x55 8\n#2 = malloc 24\nfree #1\n";
  FL_CHECK_EQ(write(fd, poke, sizeof poke - 1), (ssize_t)(sizeof poke - 1));
  close(fd);
  FL_CHECK_EQ(tool("faultline bins %s --check 3", path), 1);
  FL_CHECK(strstr(out, "after op 4 of ops 0-5") != NULL);
  FL_CHECK(strstr(out, "stopped at a violation: BIN-HEADER at 0x") != NULL);
  FL_CHECK(strstr(out, "the heap walk stopped at 0x") != NULL);
  FL_CHECK_EQ(tool("faultline bins %s --check 3 --json", path), 1);
  FL_CHECK(jr_string_is(jr_get(out, "stop"), "violation"));
  FL_CHECK(jr_string_is(jr_get(out, "violation.id"), "BIN-HEADER"));
  FL_CHECK(!jr_true(jr_get(out, "walk_complete")));
  unlink(path);
}

FL_TEST(pmap_model_and_kernel_agree_on_the_tour) {
  FL_CHECK_EQ(tool("faultline pmap %s", tour()), 0);
  FL_CHECK(strstr(out, "[heap]") != NULL);
  FL_CHECK(strstr(out, "[mmap chunk]") != NULL);
  FL_CHECK(strstr(out, "the kernel agrees") != NULL);
  FL_CHECK(strstr(out, "DIFFER") == NULL);
}

FL_TEST(pmap_json_has_both_sides_per_mapping) {
  FL_CHECK_EQ(tool("faultline pmap %s --at 1 --json", tour()), 0);
  FL_CHECK(jr_valid(out));
  FL_CHECK(jr_true(jr_get(out, "agree")));
  /* after op 1 the program wrote 40000 bytes of its mapped chunk: 10 pages
   * of it, and the chunk header's page, are resident */
  FL_CHECK(jr_string_is(jr_get(out, "mappings.1.mapping"), "[mmap chunk]"));
  FL_CHECK_EQ(jr_number(jr_get(out, "mappings.1.model.rss_kib")), 40);
  FL_CHECK_EQ(jr_number(jr_get(out, "mappings.1.kernel.rss_kib")), 40);
}

FL_TEST(run_trace_explains_each_decision) {
  FL_CHECK_EQ(tool("faultline run %s --trace --check 2", tour()), 0);
  const char *said[] = {
      "tcache_init: the thread's tcache takes chunk",
      "sysmalloc: brk grew the heap by 135168 bytes",
      "sysmalloc: mmap, the request is at or over the mmap threshold",
      "mmap(NULL, 200704, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x",
      "split of top",
      "to tcache bin 0x90, which now holds 7",
      "to the unsorted bin",
      "1 unsorted chunk sorted into a small bin",
      "1 unsorted chunk sorted into a large bin",
      "to fastbin 0x70",
      "served from tcache bin 0x30, which now holds 2",
      "no allocator call: the program writes its block",
      "invariants (level 2): held",
  };
  for (size_t i = 0; i < sizeof said / sizeof said[0]; i++)
    FL_CHECK_MSG(strstr(out, said[i]) != NULL, "the trace never says '%s'", said[i]);
}

FL_TEST(run_trace_shows_munmap_trim_and_coalescing) {
  char path[] = "/tmp/fl-views-XXXXXX";
  int fd = mkstemp(path);
  static const char s[] = "faultline-ops v2\n#0 = malloc 300000\nfree #0\n#1 = malloc 300000\n"
                          "#2 = malloc 200000\nfree #2\nfree #1\n";
  FL_CHECK_EQ(write(fd, s, sizeof s - 1), (ssize_t)(sizeof s - 1));
  close(fd);
  FL_CHECK_EQ(tool("faultline run %s --trace", path), 0);
  FL_CHECK(strstr(out, "goes back to the kernel (munmap)") != NULL);
  FL_CHECK(strstr(out, "the dynamic mmap threshold is now 303104 bytes") != NULL);
  FL_CHECK(strstr(out, "coalesced with the chunk after it into top") != NULL);
  FL_CHECK(strstr(out, "systrim: top was over the trim threshold (606208), brk gave back") != NULL);
  FL_CHECK_EQ(tool("faultline run %s --trace --json", path), 0);
  FL_CHECK(jr_valid(out));
  FL_CHECK(jr_string_is(jr_get(out, "trace.1.syscalls.0"), "munmap(0x30fffffb6000, 303104) = 0"));
  unlink(path);
}

/* ---- bad input: one line, exit 2 ---------------------------------------------- */

FL_TEST(views_refuse_bad_flags_and_values) {
  FL_CHECK_EQ(tool("faultline bins %s --frobnicate", tour()), 2);
  CHECK_REFUSED("bins", "unknown option '--frobnicate'");
  FL_CHECK_EQ(tool("faultline pmap %s --at", tour()), 2);
  CHECK_REFUSED("pmap", "--at takes an op number");
  FL_CHECK_EQ(tool("faultline bins %s --at twelve", tour()), 2);
  CHECK_REFUSED("bins", "--at takes an op number");
  FL_CHECK_EQ(tool("faultline pmap %s --check 7", tour()), 2);
  CHECK_REFUSED("pmap", "--check takes a level");
  FL_CHECK_EQ(tool("faultline bins%s", ""), 2);
  CHECK_REFUSED("bins", "which script?");
  FL_CHECK_EQ(tool("faultline pmap %s another.ops", tour()), 2);
  CHECK_REFUSED("pmap", "one SCRIPT only");
  FL_CHECK_EQ(tool("faultline bins %s --tunables", tour()), 2);
  CHECK_REFUSED("bins", "--tunables needs a value");
  FL_CHECK_EQ(tool("faultline demo %s", "--frobnicate"), 2);
  CHECK_REFUSED("demo", "unknown option '--frobnicate'");
  FL_CHECK_EQ(tool("faultline demo %s", "extra"), 2);
  CHECK_REFUSED("demo", "unknown option 'extra'");
}

FL_TEST(views_refuse_at_past_the_end) {
  FL_CHECK_EQ(tool("faultline bins %s --at 59", tour()), 2);
  CHECK_REFUSED("bins", "--at 59: ");
  FL_CHECK(strstr(out, "has 59 ops (0 to 58)") != NULL);
  FL_CHECK_EQ(tool("faultline pmap %s --at 1000000", tour()), 2);
  CHECK_REFUSED("pmap", "has 59 ops (0 to 58)");
}

FL_TEST(views_refuse_missing_unreadable_and_truncated_scripts) {
  const char *cmds[] = {"bins", "pmap"};
  char dir[] = "/tmp/fl-views-dir-XXXXXX", cut[] = "/tmp/fl-views-XXXXXX";
  FL_CHECK(mkdtemp(dir) != NULL);
  int fd = mkstemp(cut);
  static const char text[] = "faultline-ops v2\n#0 = malloc 100\n#1 = mall";
  FL_CHECK_EQ(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
  close(fd);
  for (size_t i = 0; i < 2; i++) {
    char fmt[64], name[16];
    snprintf(name, sizeof name, "%s", cmds[i]);
    snprintf(fmt, sizeof fmt, "faultline %s %%s", name);
    FL_CHECK_EQ(tool(fmt, "/nonexistent/x.ops"), 2);
    FL_CHECK_MSG(lines(out) == 1 && strstr(out, "No such file or directory"), "%s: %s", name, out);
    FL_CHECK_EQ(tool(fmt, dir), 2); /* a directory: root reads any file, not this */
    FL_CHECK_MSG(lines(out) == 1 && strstr(out, dir), "%s: %s", name, out);
    FL_CHECK_EQ(tool(fmt, cut), 2);
    FL_CHECK_MSG(lines(out) == 1 && strstr(out, ":3:"), "%s: %s", name, out);
  }
  FL_CHECK_EQ(tool("faultline run %s --trace", cut), 2);
  FL_CHECK_MSG(lines(out) == 1 && strstr(out, ":3:"), "run --trace: %s", out);
  rmdir(dir);
  unlink(cut);
}

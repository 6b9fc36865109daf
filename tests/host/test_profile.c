/* test_profile.c — the probe fills every field; the CLI prints it. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/harness.h"
#include "host/profile.h"
#include "host/sys.h"

FL_TEST(profile_fields_filled) {
  fl_kprofile_t p;
  FL_CHECK_EQ(fl_kprofile_probe(&p), 0);
  FL_CHECK_EQ(p.page_size, (size_t)sysconf(_SC_PAGESIZE));
  FL_CHECK(p.release[0] != '\0');
  FL_CHECK(p.thp_enabled[0] != '\0');
  FL_CHECK(p.thp_defrag[0] != '\0');
  FL_CHECK_GT(p.nprocs_sched, 0);
  FL_CHECK_GT(p.mem_total, 0);
  FL_CHECK_GT(p.max_map_count, 0);
  FL_CHECK_GE(p.overcommit_memory, 0);
  FL_CHECK_LE(p.overcommit_memory, 2);
  FL_CHECK_EQ(p.under_valgrind, fl_sys_under_valgrind());
  for (int i = 0; i < p.mthp_count; i++) {
    FL_CHECK_GT(p.mthp[i].kib, 0);
    if (i) FL_CHECK_GT(p.mthp[i].kib, p.mthp[i - 1].kib);
  }
  if (p.pagemap_readable) FL_CHECK_NE(p.zero_page_on_read, FL_UNKNOWN);
  if (p.zero_page_on_read == FL_NO) FL_CHECK_EQ(p.write_after_zero_read_faults, FL_NO);
  if (p.under_valgrind) {
    FL_CHECK(!p.pagemap_scan);
    FL_CHECK_EQ(p.thp_align_anon_mmap, FL_UNKNOWN);
  } else {
    FL_CHECK_NE(p.thp_align_anon_mmap, FL_UNKNOWN);
  }
  if (geteuid() == 0) FL_CHECK(p.pfn_visible);
}

FL_TEST(profile_get_is_cached) {
  const fl_kprofile_t *a = fl_kprofile_get(), *b = fl_kprofile_get();
  FL_CHECK(a == b);
  FL_CHECK_EQ(a->page_size, (size_t)sysconf(_SC_PAGESIZE));
}

FL_TEST(thp_allowed_follows_policy) {
  fl_kprofile_t p;
  memset(&p, 0, sizeof p);
  strcpy(p.thp_enabled, "always");
  FL_CHECK(fl_kprofile_thp_allowed(&p, false, false));
  FL_CHECK(!fl_kprofile_thp_allowed(&p, false, true));
  strcpy(p.thp_enabled, "madvise");
  FL_CHECK(!fl_kprofile_thp_allowed(&p, false, false));
  FL_CHECK(fl_kprofile_thp_allowed(&p, true, false));
  FL_CHECK(!fl_kprofile_thp_allowed(&p, true, true));
  strcpy(p.thp_enabled, "never");
  FL_CHECK(!fl_kprofile_thp_allowed(&p, true, false));
  strcpy(p.thp_enabled, "unknown");
  FL_CHECK(!fl_kprofile_thp_allowed(&p, true, false));
}

FL_TEST(profile_text_has_notes_last) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  FL_CHECK(f != NULL);
  fl_kprofile_print_text(fl_kprofile_get(), f);
  fclose(f);
  FL_CHECK(strstr(buf, "page_size:") != NULL);
  FL_CHECK(strstr(buf, "zero_page_on_read:") != NULL);
  char *note = strstr(buf, "note:");
  FL_CHECK(note == NULL || strstr(note, "under_valgrind:") == NULL);
  free(buf);
}

/* Runs the built CLI; returns its exit status and its output in out. */
static int run_cli(const char *args, char *out, size_t cap) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "faultline %s", args);
  return fl_test_run_tool(cmd, out, cap);
}

FL_TEST(profile_json_has_required_keys) {
  static char out[16384];
  FL_CHECK_EQ(run_cli("profile --json", out, sizeof out), 0);
  const char *keys[] = {"page_size", "zero_page_on_read", "thp_enabled", "pagemap_scan",
                        "release", "thp_defrag", "mthp", "write_after_zero_read_faults",
                        "pagemap_readable", "pfn_visible", "kpageflags_readable",
                        "thp_align_anon_mmap", "overcommit_memory", "max_map_count",
                        "mem_total", "swap_total", "nprocs_sched", "under_valgrind", "notes"};
  char q[64];
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    snprintf(q, sizeof q, "\"%s\":", keys[i]);
    FL_CHECK_MSG(strstr(out, q) != NULL, "missing key %s in:\n%s", q, out);
  }
  /* One object: starts with '{', ends with "}\n", balanced braces. */
  int depth = 0;
  bool in_str = false;
  for (const char *c = out; *c; c++) {
    if (*c == '"' && (c == out || c[-1] != '\\')) in_str = !in_str;
    if (!in_str) depth += (*c == '{' || *c == '[') - (*c == '}' || *c == ']');
    FL_CHECK_GE(depth, 0);
  }
  FL_CHECK_EQ(depth, 0);
  FL_CHECK_EQ(out[0], '{');
  /* zero_page_on_read is a JSON literal matching the in-process probe */
  fl_tristate_t z = fl_kprofile_get()->zero_page_on_read;
  const char *lit = z == FL_YES ? "\"zero_page_on_read\": true" : z == FL_NO ? "\"zero_page_on_read\": false"
                                                                            : "\"zero_page_on_read\": null";
  FL_CHECK_MSG(strstr(out, lit) != NULL, "want %s in:\n%s", lit, out);
}

FL_TEST(profile_cli_usage) {
  static char out[16384];
  FL_CHECK_EQ(run_cli("profile --bogus", out, sizeof out), 2);
  FL_CHECK_EQ(run_cli("profile --help", out, sizeof out), 0);
  FL_CHECK(strstr(out, "zero_page_on_read") != NULL);
  FL_CHECK_EQ(run_cli("profile", out, sizeof out), 0);
  FL_CHECK(strstr(out, "page_size:") != NULL);
}

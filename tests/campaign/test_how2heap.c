/* test_how2heap.c — corpus/how2heap: every glibc 2.36 technique there is
 * caught by a BIN-* invariant at its corrupting op. Each script says what it
 * expects in its header (`; expect: ID at op N in glass-box check 3`) and
 * marks the corrupting op with a "the corrupting op" comment; the test holds
 * the replay to both. */
#include <dirent.h>
#include <stdlib.h>

#include "harness/harness.h"
#include "ops/campaign.h"
#include "ops/text.h"

#define MIN_TECHNIQUES 14

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(1 << 16);
  *len = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
  fclose(f);
  if (buf) buf[*len] = 0;
  return buf;
}

/* The index of the op on the line that says "the corrupting op", or -1. */
static long corrupting_op(const char *text) {
  long index = 0;
  for (const char *p = strchr(text, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
    const char *line = p + 1, *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    if (!n || line[0] == ';') continue;
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(n < 255 ? n : 255), line);
    if (strstr(buf, "the corrupting op")) return index;
    index++;
  }
  return -1;
}

/* 1 if the script held, 0 if not (the failure is reported). */
static int check_script(const char *dir, const char *name) {
  char path[1200];
  snprintf(path, sizeof path, "%.900s/%.255s", dir, name);
  size_t len;
  char *text = slurp(path, &len);
  if (!text) {
    fl_test_fail(__FILE__, __LINE__, "%s: unreadable", path);
    return 0;
  }
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_expect_t e;
  int ok = 0;
  if (fl_ops_parse_text(text, len, name, &ops) != FL_OK || fl_expect_parse(text, len, name, &e) != 1) {
    fl_test_fail(__FILE__, __LINE__, "%s: %s", name, fl_error_message());
  } else {
    fl_campaign_opts_t o;
    fl_campaign_opts_default(&o, e.mode);
    o.check_level = e.check_level;
    o.hostile = true;
    fl_finding_t f;
    long corrupt = corrupting_op(text);
    if (fl_campaign_run(&ops, &o, &f, NULL) != FL_OK)
      fl_test_fail(__FILE__, __LINE__, "%s: %s", name, fl_error_message());
    else if (!fl_expect_matches(&e, &f) || strncmp(e.id, "BIN-", 4) || (long)e.op_index != corrupt)
      fl_test_fail(__FILE__, __LINE__, "%s: expected %s at op %zu (the corrupting op is %ld), got %s at op %zu", name,
                   e.id, e.op_index, corrupt, f.found ? f.id : "nothing", f.op_index);
    else
      ok = printf("%-36s %-18s at op %zu\n", name, f.id, f.op_index) > 0;
  }
  fl_ops_free(&ops);
  free(text);
  return ok;
}

FL_TEST(every_technique_caught_at_its_corrupting_op) {
  const char *src = getenv("FAULTLINE_SOURCE_DIR");
  if (!src) FL_SKIP("FAULTLINE_SOURCE_DIR not set (run through ctest)");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/corpus/how2heap", src);
  DIR *d = opendir(dir);
  FL_CHECK_MSG(d, "%s: cannot open", dir);
  int scripts = 0, held = 0;
  for (struct dirent *de; (de = readdir(d));) {
    size_t n = strlen(de->d_name);
    if (n < 5 || strcmp(de->d_name + n - 4, ".ops")) continue;
    scripts++;
    held += check_script(dir, de->d_name);
  }
  closedir(d);
  FL_CHECK_EQ(held, scripts);
  FL_CHECK_GE(scripts, MIN_TECHNIQUES);
}

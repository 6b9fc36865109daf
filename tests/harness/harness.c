#include "harness/harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>

#define FL_MAX_TESTS 1024

static struct {
  const char *name;
  fl_test_fn fn;
} tests[FL_MAX_TESTS];
static int ntests;
static bool cur_failed, cur_skipped;

void fl_test_register(const char *name, fl_test_fn fn) {
  if (ntests == FL_MAX_TESTS) {
    fprintf(stderr, "harness: more than %d tests in one binary\n", FL_MAX_TESTS);
    exit(2);
  }
  tests[ntests].name = name;
  tests[ntests].fn = fn;
  ntests++;
}

void fl_test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  cur_failed = true;
}

void fl_test_skip(const char *why) {
  fprintf(stderr, "skipped: %s\n", why);
  cur_skipped = true;
}

bool fl_test_failed(void) { return cur_failed; }

int fl_test_run_tool(const char *tool_and_args, char *out, size_t cap) {
  const char *dir = getenv("FAULTLINE_BUILD_DIR");
  if (!dir) {
    fprintf(stderr, "harness: FAULTLINE_BUILD_DIR not set (run through ctest)\n");
    return -1;
  }
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s/%s%s", dir, tool_and_args, out ? " 2>&1" : "");
  fflush(NULL);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = 0;
  if (out) {
    n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
  } else {
    char buf[4096];
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) fwrite(buf, 1, n, stdout);
  }
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run_one(int i) {
  cur_failed = cur_skipped = false;
  printf("[ RUN  ] %s\n", tests[i].name);
  fflush(stdout);
  tests[i].fn();
  printf("[ %s ] %s\n", cur_failed ? "FAIL" : cur_skipped ? "SKIP" : " OK ", tests[i].name);
  fflush(stdout);
  return cur_failed ? 1 : cur_skipped ? 2 : 0;
}

int main(int argc, char **argv) {
  int passed = 0, failed = 0, skipped = 0;
  for (int i = 0; i < ntests; i++) {
    bool wanted = argc == 1;
    for (int a = 1; a < argc && !wanted; a++) wanted = strcmp(argv[a], tests[i].name) == 0;
    if (!wanted) continue;
    int r = run_one(i);
    passed += r == 0;
    failed += r == 1;
    skipped += r == 2;
  }
  if (passed + failed + skipped == 0) {
    fprintf(stderr, "harness: no test matched\n");
    return 2;
  }
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  if (failed) return 1;
  return passed == 0 ? 77 : 0;
}

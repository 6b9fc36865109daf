/* harness.h — the tiny test harness.
 *
 *   FL_TEST(name) { FL_CHECK_EQ(a, b); ... }
 *
 * Each FL_TEST in tests/<area>/test_<x>.c is registered with ctest as
 * <area>.<name> (tests/tests.cmake reads the FL_TEST lines). The binary runs
 * the tests named on its command line, or all of them, and ends with the
 * line "N passed, N failed". A failed check prints both sides with file and
 * line and ends the current test; FL_SKIP ends it as skipped (exit 77 when
 * every test run was skipped, which ctest can treat as a skip). */
#ifndef FL_TESTS_HARNESS_H
#define FL_TESTS_HARNESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*fl_test_fn)(void);
void fl_test_register(const char *name, fl_test_fn fn);
void fl_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fl_test_skip(const char *why);
bool fl_test_failed(void);
/* Runs "TOOL ARGS" from the build directory ($FAULTLINE_BUILD_DIR, set by
 * ctest). With out, its stdout and stderr land there (NUL-terminated);
 * without, they go to ours. Returns the exit status, -1 if it did not run
 * or died of a signal. */
int fl_test_run_tool(const char *tool_and_args, char *out, size_t cap);

#define FL_TEST(name)                                                  \
  static void name(void);                                              \
  __attribute__((constructor)) static void fl_register_##name(void) { \
    fl_test_register(#name, name);                                     \
  }                                                                    \
  static void name(void)

#define FL_CHECK(cond)                                                    \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fl_test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);        \
      return;                                                             \
    }                                                                     \
  } while (0)

#define FL_CHECK_MSG(cond, ...)                                           \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fl_test_fail(__FILE__, __LINE__, __VA_ARGS__);                      \
      return;                                                             \
    }                                                                     \
  } while (0)

/* Integer comparisons print both sides, in decimal and hex. */
#define FL_CHECK_OP_(a, op, b)                                                 \
  do {                                                                         \
    long long fl_a_ = (long long)(a), fl_b_ = (long long)(b);                  \
    if (!(fl_a_ op fl_b_)) {                                                   \
      fl_test_fail(__FILE__, __LINE__,                                         \
                   "CHECK(%s %s %s): %lld (0x%llx) vs %lld (0x%llx)", #a, #op, \
                   #b, fl_a_, (unsigned long long)fl_a_, fl_b_,                \
                   (unsigned long long)fl_b_);                                 \
      return;                                                                  \
    }                                                                          \
  } while (0)
#define FL_CHECK_EQ(a, b) FL_CHECK_OP_(a, ==, b)
#define FL_CHECK_NE(a, b) FL_CHECK_OP_(a, !=, b)
#define FL_CHECK_LT(a, b) FL_CHECK_OP_(a, <, b)
#define FL_CHECK_LE(a, b) FL_CHECK_OP_(a, <=, b)
#define FL_CHECK_GT(a, b) FL_CHECK_OP_(a, >, b)
#define FL_CHECK_GE(a, b) FL_CHECK_OP_(a, >=, b)

#define FL_CHECK_STREQ(a, b)                                                   \
  do {                                                                         \
    const char *fl_a_ = (a), *fl_b_ = (b);                                     \
    if (!fl_a_ || !fl_b_ || strcmp(fl_a_, fl_b_) != 0) {                       \
      fl_test_fail(__FILE__, __LINE__, "CHECK(%s == %s): \"%s\" vs \"%s\"", #a, \
                   #b, fl_a_ ? fl_a_ : "(null)", fl_b_ ? fl_b_ : "(null)");    \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define FL_SKIP(why)      \
  do {                    \
    fl_test_skip(why);    \
    return;               \
  } while (0)

#endif

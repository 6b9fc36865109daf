/* test_paths.c — how faultline finds its helper executables and libraries. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/harness.h"
#include "util/paths.h"

FL_TEST(a_given_path_wins_then_the_environment) {
  char p[256];
  setenv("FL_TEST_HELPER", "/from/the/environment", 1);
  FL_CHECK(fl_path_find_helper("faultline-oracle", "/given", "FL_TEST_HELPER", p, sizeof p));
  FL_CHECK_STREQ(p, "/given");
  FL_CHECK(fl_path_find_helper("faultline-oracle", NULL, "FL_TEST_HELPER", p, sizeof p));
  FL_CHECK_STREQ(p, "/from/the/environment");
  setenv("FL_TEST_HELPER", "", 1); /* empty counts as unset */
  FL_CHECK(fl_path_find_helper("faultline-oracle", NULL, "FL_TEST_HELPER", p, sizeof p));
  FL_CHECK(strcmp(p, "") != 0 && strcmp(p, "/from/the/environment") != 0);
  unsetenv("FL_TEST_HELPER");
}

/* The tests are built beside faultline's helpers. */
FL_TEST(a_helper_beside_this_executable_is_found) {
  char p[4096], want[4096];
  FL_CHECK(fl_path_find_helper("faultline-oracle", NULL, "FL_TEST_HELPER", p, sizeof p));
  snprintf(want, sizeof want, "%s/faultline-oracle", getenv("FAULTLINE_BUILD_DIR"));
  char rp[4096], rw[4096];
  FL_CHECK(realpath(p, rp) && realpath(want, rw));
  FL_CHECK_STREQ(rp, rw);
  FL_CHECK(fl_path_beside_self("libfaultline-record.so", R_OK, p, sizeof p));
}

FL_TEST(nothing_found_leaves_the_bare_name) {
  char p[256];
  FL_CHECK(!fl_path_find_helper("faultline-no-such-helper", NULL, "FL_TEST_HELPER", p, sizeof p));
  FL_CHECK_STREQ(p, "faultline-no-such-helper");
  FL_CHECK(!fl_path_beside_self("faultline-no-such-helper", R_OK, p, sizeof p));
}

FL_TEST(a_path_that_does_not_fit_is_not_found) {
  char p[16];
  FL_CHECK(!fl_path_find_helper("faultline-oracle", "/a/given/path/that/is/long", "FL_TEST_HELPER", p, sizeof p));
  FL_CHECK(!fl_path_beside_self("faultline-oracle", X_OK, p, sizeof p));
}

/* cmd_check.c — `faultline check --list [--json]`: the invariants, from the
 * one registry (src/check/registry.c) that spec/invariants.md mirrors. */
#include <stdio.h>
#include <string.h>

#include "check/check.h"
#include "cli/cli.h"

static void check_help(FILE *out) {
  fprintf(out,
          "usage: faultline check --list [--json]\n"
          "\n"
          "Lists the invariants faultline checks: stable ID, check level, cost class\n"
          "and statement. spec/invariants.md is the same table with the glibc or\n"
          "kernel function each mirrors and the test that falsifies it.\n"
          "\n"
          "Levels (FAULTLINE_CHECK): 0 off; 1 O(1) per op on the chunks it touched;\n"
          "2 incremental structure checks plus a full walk every k * live-chunks ops;\n"
          "3 a full walk after every op.\n"
          "\n"
          "options:\n"
          "  --list      print the invariants (the default)\n"
          "  --json      a JSON array of {id, family, level, cost, function, mirrors, statement}\n"
          "  -h, --help  this text\n"
          "\n"
          "example:\n"
          "  faultline check --list\n"
          "  faultline check --list --json | python3 -m json.tool\n"
          "\n"
          "Exit status: 0 ok, 2 usage error.\n");
}

int fl_cmd_check(int argc, char **argv) {
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (fl_cli_is_help(argv[i])) {
      check_help(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
      continue;
    }
    if (strcmp(argv[i], "--list") == 0) continue;
    return fl_cli_fail("check", 2, "unknown option '%s' (see faultline check --help)", argv[i]);
  }
  fl_check_list(stdout, json);
  return 0;
}

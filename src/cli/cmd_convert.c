/* cmd_convert.c — `faultline convert IN -o OUT --to text|binary|raw`:
 * between the op language's three forms (a fuzzer's raw bytes to a script
 * to read, a script to raw bytes for a corpus). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/file.h"
#include "util/err.h"

static void help(void) {
  printf(
      "usage: faultline convert IN -o OUT [--to text|binary|raw]\n"
      "\n"
      "Reads an op stream in any form (text script, FLOP binary, raw fuzzer bytes;\n"
      "told apart by their headers) and writes it in another: text (the default,\n"
      "to read and edit), binary (with the FLOP header), or raw (no header: what\n"
      "the fuzz targets read, for corpus seeds).\n"
      "\n"
      "examples:\n"
      "  faultline convert crash-1234 -o crash.ops           # what did the fuzzer do?\n"
      "  faultline convert seed.ops -o corpus/kernel/seed --to raw\n");
}

int fl_cmd_convert(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  fl_ops_format_t to = FL_FMT_TEXT;
  for (int i = 1; i < argc; i++) {
    if (fl_cli_is_help(argv[i])) return help(), 0;
    if (!strcmp(argv[i], "-o") && i + 1 < argc) {
      out = argv[++i];
    } else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
      const char *f = argv[++i];
      if (!strcmp(f, "text")) to = FL_FMT_TEXT;
      else if (!strcmp(f, "binary")) to = FL_FMT_BINARY;
      else if (!strcmp(f, "raw")) to = FL_FMT_RAW;
      else return fl_cli_fail("convert", 2, "--to takes text, binary or raw, not '%s'", f);
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return fl_cli_fail("convert", 2, "unknown option '%s' (see faultline convert --help)", argv[i]);
    } else if (in) {
      return fl_cli_fail("convert", 2, "one input only ('%s' and '%s')", in, argv[i]);
    } else {
      in = argv[i];
    }
  }
  if (!in || !out) return fl_cli_fail("convert", 2, "usage: faultline convert IN -o OUT [--to text|binary|raw]");
  fl_ops_t ops;
  fl_ops_init(&ops);
  int from = 0;
  int rc = fl_cli_load_ops("convert", in, &ops, &from);
  if (rc == 0 && fl_ops_save_file(out, &ops, to) != FL_OK)
    rc = fl_cli_fail("convert", 2, "%s", fl_error_message());
  else if (rc == 0)
    fprintf(stderr, "faultline convert: %s (%s, %zu ops) -> %s (%s)\n", in, fl_ops_format_name(from), ops.n, out,
            fl_ops_format_name(to));
  fl_ops_free(&ops);
  return rc;
}

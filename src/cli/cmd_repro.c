/* cmd_repro.c — `faultline repro FILE --c [-o OUT.c]`: an op stream as a
 * standalone C program for a bug report (ops/repro.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/op.h"
#include "ops/repro.h"

typedef struct repro_opts {
  const char *file, *out;
  bool c;
} repro_opts_t;

static void help(void) {
  printf(
      "usage: faultline repro FILE --c [-o OUT.c]\n"
      "\n"
      "Writes FILE (a text script, a binary stream or raw fuzzer bytes) as a\n"
      "standalone C program that replays its ops against the system allocator with\n"
      "plain calls: malloc, calloc, realloc, free, memalign, aligned_alloc,\n"
      "posix_memalign, valloc, pvalloc, malloc_usable_size, mallopt, malloc_trim.\n"
      "Slots are an array of pointers, write is memset, verify is memcmp (a verify\n"
      "that reads other bytes prints the op and exits 1); free_at, poke and poke_ptr\n"
      "free and store at an offset of a slot's live or last pointer, as faultline does.\n"
      "Thread switches, inject and check are kept as comments (one thread, no failing\n"
      "system calls, no invariants). Each call is preceded by its op as a comment. It\n"
      "is meant for a bug report to an allocator's authors: it needs nothing but a C\n"
      "compiler and glibc's <malloc.h>, and LD_PRELOAD puts any allocator under it.\n"
      "\n"
      "options:\n"
      "  --c        write C (the only form so far; required, so that others can come)\n"
      "  -o OUT.c   write there instead of standard output\n"
      "\n"
      "examples:\n"
      "  faultline repro faultline-findings/BIN-FAST-CLASS-1.ops --c -o repro.c\n"
      "  cc -std=c11 -Wall -o repro repro.c && ./repro\n"
      "  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ./repro\n"
      "\n"
      "exit status: 0 written, 2 usage error (unreadable or malformed file), 3 the\n"
      "output cannot be written.\n");
}

static int parse(int argc, char **argv, repro_opts_t *o) {
  *o = (repro_opts_t){0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (!strcmp(a, "--c")) {
      o->c = true;
    } else if (!strcmp(a, "-o")) {
      if (++i >= argc) return fl_cli_fail("repro", 2, "-o needs a file name");
      o->out = argv[i];
    } else if (a[0] == '-' && a[1]) {
      return fl_cli_fail("repro", 2, "unknown option '%s' (see faultline repro --help)", a);
    } else if (o->file) {
      return fl_cli_fail("repro", 2, "one FILE only ('%s' and '%s')", o->file, a);
    } else {
      o->file = a;
    }
  }
  if (!o->file) return fl_cli_fail("repro", 2, "which file? (see faultline repro --help)");
  if (!o->c) return fl_cli_fail("repro", 2, "which form? --c is the one there is (see faultline repro --help)");
  return 0;
}

static int write_out(const repro_opts_t *o, const char *text, size_t len) {
  FILE *f = o->out ? fopen(o->out, "w") : stdout;
  if (!f) return fl_cli_fail("repro", 3, "cannot write %s: %s", o->out, strerror(errno));
  fwrite(text, 1, len, f);
  if (o->out ? fclose(f) != 0 : fflush(f) != 0)
    return fl_cli_fail("repro", 3, "cannot write %s: %s", o->out ? o->out : "standard output", strerror(errno));
  if (o->out) fprintf(stderr, "faultline repro: wrote %s; build it with: cc -std=c11 -Wall -o repro %s\n", o->out, o->out);
  return 0;
}

int fl_cmd_repro(int argc, char **argv) {
  repro_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  fl_ops_t ops;
  fl_ops_init(&ops);
  if ((st = fl_cli_load_ops("repro", o.file, &ops, NULL))) {
    fl_ops_free(&ops);
    return st;
  }
  char *text = NULL;
  size_t len = 0;
  fl_status_t rs = fl_ops_repro_c(&ops, o.file, &text, &len);
  fl_ops_free(&ops);
  if (rs != FL_OK) return fl_cli_fail("repro", rs == FL_EUSAGE ? 2 : 3, "%s: %s", o.file, fl_error_message());
  st = write_out(&o, text, len);
  free(text);
  return st;
}

/* cmd_map.c — `faultline map SCRIPT --html OUT.html | --svg OUT.svg`: a
 * picture of the heap, op by op (src/view/map_view.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/file.h"
#include "util/json.h"
#include "view/map_view.h"

typedef struct map_opts {
  const char *file, *html, *svg, *tunables;
  bool json;
  fl_map_options_t rec;
} map_opts_t;

static void help(void) {
  printf(
      "usage: faultline map SCRIPT (--html OUT.html | --svg OUT.svg) [--check L] [--op N]\n"
      "                     [--max-frames N] [--tunables STR] [--json]\n"
      "\n"
      "Runs an op script on refmalloc (glibc 2.36 malloc over faultline's kernel\n"
      "model), takes a picture of the heap after every op, and draws it:\n"
      "  - every VMA of the model to scale, a row per page (per 2, 4, ... pages in\n"
      "    a VMA of more than 64 pages; a hole between VMAs is one line whatever\n"
      "    its size),\n"
      "  - every chunk in its state's colour: in use, tcache, fastbin, unsorted,\n"
      "    small bin, large bin, top, mapped (and sysmalloc's fenceposts),\n"
      "  - the present pages as a dark strip above each row (the model's page\n"
      "    table: the pages that count in RSS),\n"
      "  - RSS over the ops, and what the invariants (--check) or glibc's\n"
      "    integrity checks found, circled in red at the op that found it.\n"
      "\n"
      "--html writes one self-contained page (no network, no external fonts) with\n"
      "a slider through the ops; #op=N after the file name opens it at op N.\n"
      "--svg writes one picture: after the last op, or after --op N ops.\n"
      "SCRIPT is a text script, a binary stream or raw fuzzer bytes (spec/ops.md).\n"
      "\n"
      "options:\n"
      "  --html FILE      write the page\n"
      "  --svg FILE       write the picture (both may be given)\n"
      "  --check L        check the invariants at level L (0-3) after every call\n"
      "  --op N           the picture after N ops (0 = before the first); the page\n"
      "                   opens there (default: after the last op)\n"
      "  --max-frames N   keep at most about N pictures (default %d): a longer script\n"
      "                   is sampled every ceil(ops / N) ops, and at every finding\n"
      "  --tunables STR   as GLIBC_TUNABLES, e.g. glibc.malloc.tcache_count=0\n"
      "  --json           print what was written as one JSON object\n"
      "\n"
      "examples:\n"
      "  faultline map corpus/scripts/bins-tour.ops --html bins.html\n"
      "  faultline map corpus/scripts/bins-tour.ops --svg bins.svg --op 56\n"
      "  faultline map crash-1234 --check 3 --html crash.html   # the violation in red\n"
      "  chromium --headless --no-sandbox --screenshot=bins.png bins.html\n"
      "\n"
      "exit status: 0 written (findings are in the picture), 2 usage error (bad\n"
      "option, unreadable or malformed SCRIPT, an OUT that cannot be written),\n"
      "3 environment error.\n",
      FL_MAP_DEFAULT_FRAMES);
}

static int parse_value(int argc, char **argv, int *i, const char **out) {
  if (++*i >= argc) return fl_cli_fail("map", 2, "%s needs a value (see faultline map --help)", argv[*i - 1]);
  *out = argv[*i];
  return 0;
}

static int parse_number(int argc, char **argv, int *i, uint64_t *out) {
  const char *v = NULL;
  int st = parse_value(argc, argv, i, &v);
  if (st) return st;
  if (!fl_cli_parse_u64(v, false, out))
    return fl_cli_fail("map", 2, "%s takes a number, not '%s'", argv[*i - 1], v);
  return 0;
}

static int parse_option(int argc, char **argv, int *i, map_opts_t *o) {
  const char *a = argv[*i];
  uint64_t n;
  int st = 0;
  if (!strcmp(a, "--html")) return parse_value(argc, argv, i, &o->html);
  if (!strcmp(a, "--svg")) return parse_value(argc, argv, i, &o->svg);
  if (!strcmp(a, "--tunables")) return parse_value(argc, argv, i, &o->tunables);
  if (!strcmp(a, "--json")) return o->json = true, 0;
  if (!strcmp(a, "--check")) {
    st = fl_cli_check_level("map", ++*i < argc ? argv[*i] : NULL, 0, &o->rec.check);
  } else if (!strcmp(a, "--op")) {
    if (!(st = parse_number(argc, argv, i, &n))) o->rec.pick_op = n;
  } else if (!strcmp(a, "--max-frames")) {
    if (!(st = parse_number(argc, argv, i, &n)) && !n)
      st = fl_cli_fail("map", 2, "--max-frames must be at least 1");
    o->rec.max_frames = n;
  } else {
    st = fl_cli_fail("map", 2, "unknown option '%s' (see faultline map --help)", a);
  }
  return st;
}

static int parse(int argc, char **argv, map_opts_t *o) {
  *o = (map_opts_t){.rec.pick_op = SIZE_MAX};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int st;
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (a[0] == '-' && a[1]) {
      if ((st = parse_option(argc, argv, &i, o))) return st;
    } else if (o->file) {
      return fl_cli_fail("map", 2, "one SCRIPT only ('%s' and '%s')", o->file, a);
    } else {
      o->file = a;
    }
  }
  if (!o->file) return fl_cli_fail("map", 2, "which script? (see faultline map --help)");
  if (!o->html && !o->svg)
    return fl_cli_fail("map", 2, "nothing to write: give --html OUT.html or --svg OUT.svg");
  o->rec.tunables = o->tunables;
  return 0;
}

/* Opens an output before the run, so that a bad path costs no time. */
static int open_out(const char *path, FILE **out) {
  struct stat sb;
  if (!stat(path, &sb) && S_ISDIR(sb.st_mode)) return fl_cli_fail("map", 2, "%s: is a directory", path);
  if (!(*out = fopen(path, "w"))) return fl_cli_fail("map", 2, "%s: %s", path, strerror(errno));
  return 0;
}

/* Writes one output with fn and closes it. st is the status so far: after
 * a failure the file is removed, so that no half-written page is left. */
static int write_out(FILE *f, const char *path, fl_status_t (*fn)(const fl_map_t *, FILE *), const fl_map_t *m,
                     int st) {
  if (!f) return st;
  fl_status_t ws = st ? FL_OK : fn(m, f);
  bool closed = fclose(f) == 0;
  if (!st && ws != FL_OK) st = fl_cli_fail("map", ws, "%s", fl_error_message());
  else if (!st && !closed) st = fl_cli_fail("map", 3, "%s: %s", path, strerror(errno));
  struct stat sb;
  if (st && !stat(path, &sb) && S_ISREG(sb.st_mode)) unlink(path); /* never /dev/null */
  return st;
}

static void print_json(const map_opts_t *o, const fl_map_t *m) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "script"); fl_json_string(&j, o->file);
  fl_json_key(&j, "ops"); fl_json_uint(&j, m->ops);
  fl_json_key(&j, "frames"); fl_json_uint(&j, m->nframes);
  fl_json_key(&j, "stride"); fl_json_uint(&j, m->stride);
  fl_json_key(&j, "picked_frame"); fl_json_uint(&j, m->picked);
  fl_json_key(&j, "chunks_at_picked"); fl_json_uint(&j, m->npicked_chunks);
  fl_json_key(&j, "findings"); fl_json_uint(&j, m->nfindings);
  fl_json_key(&j, "html"); fl_json_string(&j, o->html);
  fl_json_key(&j, "svg"); fl_json_string(&j, o->svg);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

static int draw(const map_opts_t *o, const fl_ops_t *ops) {
  FILE *html = NULL, *svg = NULL;
  int st = o->html ? open_out(o->html, &html) : 0;
  if (!st && o->svg) st = open_out(o->svg, &svg);
  fl_map_t m = {0};
  fl_status_t rs = st ? FL_OK : fl_map_record(ops, o->file, &o->rec, &m);
  if (rs != FL_OK) st = fl_cli_fail("map", rs, "%s", fl_error_message());
  st = write_out(html, o->html, fl_map_write_html, &m, st);
  st = write_out(svg, o->svg, fl_map_write_svg, &m, st);
  if (!st && o->json) print_json(o, &m);
  else if (!st)
    printf("faultline map: %zu ops, %zu pictures, %zu findings%s%s%s%s\n", m.ops, m.nframes, m.nfindings,
           o->html ? "; page " : "", o->html ? o->html : "", o->svg ? "; picture " : "", o->svg ? o->svg : "");
  fl_map_free(&m);
  return st;
}

int fl_cmd_map(int argc, char **argv) {
  map_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  fl_ops_t ops;
  fl_ops_init(&ops);
  if (!(st = fl_cli_load_ops("map", o.file, &ops, NULL))) st = draw(&o, &ops);
  fl_ops_free(&ops);
  return st;
}

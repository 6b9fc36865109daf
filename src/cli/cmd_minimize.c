/* cmd_minimize.c — `faultline minimize FILE [-o OUT]`: the shortest script
 * that still finds the same thing (ops/minimize.h), written as a text script
 * that says what it expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/findings.h"
#include "ops/minimize.h"
#include "util/json.h"
#include "vm/vm.h"

typedef struct minimize_opts {
  const char *file, *out;
  int target;      /* fl_campaign_mode_t or -1 */
  int check_level; /* 0: the file's or the default */
  uint64_t seconds;
  bool json;
} minimize_opts_t;

static void help(void) {
  printf(
      "usage: faultline minimize FILE [-o OUT] [--target glass-box|kernel|diff]\n"
      "                          [--check L] [--seconds N] [--json]\n"
      "\n"
      "Shrinks an input that finds something to the fewest ops that still find the\n"
      "same thing (the same invariant ID, INTEGRITY, VERIFY or DIFF): delta debugging\n"
      "(ddmin) over the ops, dropping everything after the op the finding needs, down\n"
      "to a script from which no single op can be removed; then slots are renamed #0,\n"
      "#1, ... in order of use. The result is a text script (`faultline-ops v2`) whose\n"
      "header says what it finds and at which op, so that `faultline replay` holds it\n"
      "to that.\n"
      "\n"
      "FILE is replayed as `faultline replay` would (its own `; expect:` mode, else\n"
      "glass-box, then kernel); the finding the replay makes is the one kept.\n"
      "\n"
      "options:\n"
      "  -o OUT        where to write the script (default FILE.min)\n"
      "  --target MODE minimize in this mode: glass-box, kernel or diff\n"
      "  --check L     glass-box check level, 1 to 3\n"
      "  --seconds N   stop after N seconds with the smallest script so far (default 60)\n"
      "  --json        print the outcome as one JSON object\n"
      "\n"
      "examples:\n"
      "  faultline minimize faultline-findings/BIN-FAST-CLASS-1.full.ops -o small.ops\n"
      "  faultline minimize crash-1234 --target kernel --seconds 30\n"
      "\n"
      "exit status: 0 written, 2 usage error (unreadable or malformed file, or a file\n"
      "that finds nothing), 3 environment error.\n");
}

static int parse(int argc, char **argv, minimize_opts_t *o) {
  *o = (minimize_opts_t){.target = -1, .seconds = 60};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (!strcmp(a, "--json")) {
      o->json = true;
    } else if (!strcmp(a, "-o")) {
      if (++i >= argc) return fl_cli_fail("minimize", 2, "-o needs a file name");
      o->out = argv[i];
    } else if (!strcmp(a, "--target")) {
      if (++i >= argc || (o->target = fl_campaign_mode_lookup(argv[i], strlen(argv[i]))) < 0)
        return fl_cli_fail("minimize", 2, "--target takes glass-box, kernel or diff");
    } else if (!strcmp(a, "--check")) {
      int st = fl_cli_check_level("minimize", ++i < argc ? argv[i] : NULL, 1, &o->check_level);
      if (st) return st;
    } else if (!strcmp(a, "--seconds")) {
      if (++i >= argc || !fl_cli_parse_u64(argv[i], false, &o->seconds) || !o->seconds)
        return fl_cli_fail("minimize", 2, "--seconds needs a number of seconds, at least 1");
    } else if (a[0] == '-' && a[1]) {
      return fl_cli_fail("minimize", 2, "unknown option '%s' (see faultline minimize --help)", a);
    } else if (o->file) {
      return fl_cli_fail("minimize", 2, "one FILE only ('%s' and '%s')", o->file, a);
    } else {
      o->file = a;
    }
  }
  if (!o->file) return fl_cli_fail("minimize", 2, "which file? (see faultline minimize --help)");
  return 0;
}

/* The candidate test: the same ID, in the same mode. */
typedef struct same_finding {
  const fl_campaign_opts_t *opts;
  char id[FL_FINDING_ID_MAX];
} same_finding_t;

static bool finds_same(void *ctx, const fl_ops_t *candidate, size_t *needed, fl_status_t *status) {
  same_finding_t *s = ctx;
  fl_finding_t f;
  *status = fl_campaign_run(candidate, s->opts, &f, NULL);
  if (*status != FL_OK || !f.found || strcmp(f.id, s->id)) return false;
  if (f.op_index < candidate->n) *needed = f.op_index + 1;
  return true;
}

/* The first mode in which the script finds something, as replay tries them. */
static int first_finding(const minimize_opts_t *o, const fl_script_t *s, fl_campaign_opts_t *opts, fl_finding_t *f) {
  fl_campaign_opts_t modes[2];
  size_t n = fl_cli_script_modes(s, o->target, o->check_level, modes);
  for (size_t i = 0; i < n; i++) {
    *opts = modes[i];
    fl_status_t st = fl_campaign_run(&s->ops, opts, f, NULL);
    if (st != FL_OK) return fl_cli_fail("minimize", st == FL_EUSAGE ? 2 : 3, "%s: %s", o->file, fl_error_message());
    if (f->found) return 0;
  }
  return fl_cli_fail("minimize", 2, "%s finds nothing in %s: nothing to minimize", o->file,
                     n > 1 ? "glass-box or kernel mode" : fl_campaign_mode_name(opts->mode));
}

static void report(const minimize_opts_t *o, const char *out, const fl_minimize_stats_t *ms, const fl_finding_t *f,
                   const fl_campaign_opts_t *opts) {
  if (!o->json) {
    printf("faultline minimize %s: %zu ops -> %zu ops in %.1f s (%zu candidates tried%s)\n", o->file, ms->from, ms->to,
           ms->seconds, ms->tests, ms->complete ? "" : "; stopped by --seconds, not 1-minimal");
    fl_cli_print_finding(stdout, "  ", f, opts);
    printf("  written to %s; replay: faultline replay %s\n", out, out);
    return;
  }
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "file"); fl_json_string(&j, o->file);
  fl_json_key(&j, "out"); fl_json_string(&j, out);
  fl_json_key(&j, "mode"); fl_json_string(&j, fl_campaign_mode_name(opts->mode));
  fl_json_key(&j, "ops_before"); fl_json_uint(&j, ms->from);
  fl_json_key(&j, "ops_after"); fl_json_uint(&j, ms->to);
  fl_json_key(&j, "candidates"); fl_json_uint(&j, ms->tests);
  fl_json_key(&j, "one_minimal"); fl_json_bool(&j, ms->complete);
  fl_json_key(&j, "seconds"); fl_json_double(&j, ms->seconds);
  fl_json_key(&j, "finding"); fl_cli_json_finding(&j, f);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

static int minimize(const minimize_opts_t *o, const fl_script_t *s, const char *out) {
  fl_campaign_opts_t opts;
  fl_finding_t f;
  int st = first_finding(o, s, &opts, &f);
  if (st) return st;
  same_finding_t same = {.opts = &opts};
  snprintf(same.id, sizeof same.id, "%s", f.id);
  fl_minimize_opts_t mo = {.test = finds_same, .ctx = &same, .max_seconds = (double)o->seconds};
  fl_minimize_stats_t ms;
  fl_ops_t small;
  fl_ops_init(&small);
  fl_status_t ms_st = fl_ops_minimize(&s->ops, &mo, &small, &ms);
  if (ms_st == FL_OK) ms_st = fl_campaign_run(&small, &opts, &f, NULL); /* the op index it now has */
  if (ms_st != FL_OK) {
    fl_ops_free(&small);
    return fl_cli_fail("minimize", ms_st == FL_EUSAGE ? 2 : 3, "%s: %s", o->file, fl_error_message());
  }
  char about[512];
  snprintf(about, sizeof about, "minimized by faultline minimize from %s (%zu ops -> %zu)", o->file, ms.from, ms.to);
  st = fl_cli_save_script("minimize", out, &small, about, &f, &opts);
  fl_ops_free(&small);
  if (!st) report(o, out, &ms, &f, &opts);
  return st;
}

int fl_cmd_minimize(int argc, char **argv) {
  minimize_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  fl_script_t s;
  if ((st = fl_cli_load_script("minimize", o.file, &s))) return st;
  char *def = NULL;
  const char *out = o.out;
  if (!out) {
    size_t n = strlen(o.file) + 5;
    if (!(def = malloc(n))) {
      fl_cli_script_free(&s);
      return fl_cli_fail("minimize", 3, "out of memory");
    }
    snprintf(def, n, "%s.min", o.file);
    out = def;
  }
  st = minimize(&o, &s, out);
  free(def);
  fl_cli_script_free(&s);
  return st;
}

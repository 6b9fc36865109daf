/* cmd_replay.c — `faultline replay FILE...`: run saved inputs again, the
 * way the campaign ran them, and say what they find (the same finding at
 * the same op, every time). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/findings.h"
#include "util/json.h"
#include "vm/vm.h"

typedef struct replay_opts {
  int target;      /* fl_campaign_mode_t, or -1: the file's, else glass-box then kernel */
  int check_level; /* 0: the file's, else the default */
  uint64_t base;
  bool json;
  int first_file;  /* argv index of the first FILE */
  int argc;
  char **argv;
} replay_opts_t;

static void help(void) {
  printf(
      "usage: faultline replay FILE... [--target glass-box|kernel|diff] [--check L]\n"
      "                        [--base ADDR] [--json]\n"
      "\n"
      "Runs each FILE (a text script, a binary stream or raw fuzzer bytes) the way\n"
      "`faultline verify` runs its streams and prints the first finding: an invariant\n"
      "ID (spec/invariants.md), INTEGRITY (refmalloc raised one of glibc's integrity\n"
      "messages), VERIFY (a block lost its bytes) or DIFF (refmalloc and glibc\n"
      "disagreed), with the op index it was seen at. Replays are deterministic: the\n"
      "same file gives the same finding at the same op.\n"
      "\n"
      "The targets (modes):\n"
      "  glass-box  refmalloc over the model in fast mode, invariants at level L\n"
      "             after every allocator call (default 2; 3 walks after every op)\n"
      "  kernel     refmalloc over the model in shadow mode, the model held against\n"
      "             /proc/self/maps, pagemap, smaps and the fault count after every op\n"
      "  diff       refmalloc against the real glibc in the faultline-glibc helper\n"
      "A script whose header says `; expect: ID at op N in MODE [check L]` is\n"
      "replayed in that mode and the result is held against the expectation; other\n"
      "files run glass-box, then kernel if glass-box found nothing. free_at, poke and\n"
      "poke_ptr run in text scripts; binary and raw inputs skip them, as the fuzz\n"
      "targets do.\n"
      "\n"
      "options:\n"
      "  --target MODE  run in this mode only\n"
      "  --check L      glass-box check level, 1 to 3\n"
      "  --base ADDR    the model's window (default 0x300000000000)\n"
      "  --json         one JSON array, an object per file\n"
      "\n"
      "examples:\n"
      "  faultline replay faultline-findings/BIN-FAST-CLASS-1.ops\n"
      "  faultline replay corpus/how2heap/*.ops --json\n"
      "  faultline replay crash-1234 --target kernel\n"
      "\n"
      "exit status: 0 every file ran clean, 1 a finding (or a file whose expectation\n"
      "did not hold), 2 usage error (unreadable or malformed file), 3 environment\n"
      "error (the window is taken, the helper cannot start).\n");
}

static int parse(int argc, char **argv, replay_opts_t *o) {
  *o = (replay_opts_t){.target = -1, .base = FL_VM_DEFAULT_BASE, .argc = argc, .argv = argv};
  int files = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (!strcmp(a, "--json")) {
      o->json = true;
    } else if (!strcmp(a, "--target")) {
      if (++i >= argc || (o->target = fl_campaign_mode_lookup(argv[i], strlen(argv[i]))) < 0)
        return fl_cli_fail("replay", 2, "--target takes glass-box, kernel or diff");
    } else if (!strcmp(a, "--check")) {
      int st = fl_cli_check_level("replay", ++i < argc ? argv[i] : NULL, 1, &o->check_level);
      if (st) return st;
    } else if (!strcmp(a, "--base")) {
      if (++i >= argc || !fl_cli_parse_u64(argv[i], false, &o->base))
        return fl_cli_fail("replay", 2, "--base needs an address");
    } else if (a[0] == '-' && a[1]) {
      return fl_cli_fail("replay", 2, "unknown option '%s' (see faultline replay --help)", a);
    } else {
      argv[++files] = argv[i]; /* FILEs collect at argv[1..files] */
    }
  }
  if (!files) return fl_cli_fail("replay", 2, "which file? (see faultline replay --help)");
  o->first_file = 1;
  o->argc = files + 1;
  return 0;
}

typedef struct replayed {
  fl_campaign_opts_t opts;
  fl_finding_t finding;
  int expect_held; /* -1: no expectation */
} replayed_t;

/* 0, or the exit status of an error. */
static int replay_one(const replay_opts_t *o, const char *path, replayed_t *r) {
  fl_script_t s;
  int st = fl_cli_load_script("replay", path, &s);
  if (st) return st;
  fl_campaign_opts_t modes[2];
  size_t n = fl_cli_script_modes(&s, o->target, o->check_level, modes);
  for (size_t i = 0; i < n; i++) {
    modes[i].base = (uintptr_t)o->base;
    r->opts = modes[i];
    fl_status_t cs = fl_campaign_run(&s.ops, &modes[i], &r->finding, NULL);
    if (cs != FL_OK) {
      fl_cli_script_free(&s);
      return fl_cli_fail("replay", cs == FL_EUSAGE ? 2 : 3, "%s: %s", path, fl_error_message());
    }
    if (r->finding.found) break;
  }
  r->expect_held = s.has_expect ? fl_expect_matches(&s.expect, &r->finding) : -1;
  if (r->expect_held == 0 && !o->json) {
    char want[160];
    if (s.expect.clean) snprintf(want, sizeof want, "clean");
    else snprintf(want, sizeof want, "%s at op %zu", s.expect.id, s.expect.op_index);
    fprintf(stderr, "faultline replay: %s: the file expects %s\n", path, want);
  }
  fl_cli_script_free(&s);
  return 0;
}

static void json_one(fl_json_t *j, const char *path, const replayed_t *r) {
  fl_json_begin_object(j);
  fl_json_key(j, "file"); fl_json_string(j, path);
  fl_json_key(j, "mode"); fl_json_string(j, fl_campaign_mode_name(r->opts.mode));
  fl_json_key(j, "check_level"); fl_json_int(j, r->opts.mode == FL_CAMPAIGN_GLASS ? r->opts.check_level : 0);
  fl_json_key(j, "finding"); fl_cli_json_finding(j, &r->finding);
  fl_json_key(j, "expectation_held");
  if (r->expect_held < 0) fl_json_null(j);
  else fl_json_bool(j, r->expect_held);
  fl_json_end_object(j);
}

int fl_cmd_replay(int argc, char **argv) {
  replay_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  fl_json_t j;
  if (o.json) {
    fl_json_init(&j, stdout, true);
    fl_json_begin_array(&j);
  }
  int status = 0;
  for (int i = o.first_file; i < o.argc; i++) {
    replayed_t r = {0};
    if ((st = replay_one(&o, o.argv[i], &r))) return st;
    if (o.json) {
      json_one(&j, o.argv[i], &r);
    } else {
      printf("%s\n", o.argv[i]);
      fl_cli_print_finding(stdout, "  ", &r.finding, &r.opts);
      if (r.expect_held >= 0) printf("  %s\n", r.expect_held ? "as the file expects" : "NOT what the file expects");
    }
    if (r.finding.found || r.expect_held == 0) status = 1;
  }
  if (o.json) {
    fl_json_end_array(&j);
    fl_json_finish(&j);
  }
  return status;
}

/* cmd_minimize.c — `faultline minimize FILE [-o OUT]`: the shortest script
 * that still finds the same thing, written as a text script that says what
 * it expects. Two steps: the fuzz engine's own minimisation (libFuzzer
 * -minimize_crash on the raw bytes, when the target's binary is built),
 * then delta debugging over the ops (ops/minimize.h). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/findings.h"
#include "ops/file.h"
#include "ops/minimize.h"
#include "util/json.h"
#include "vm/vm.h"

enum { ENGINE_AUTO, ENGINE_LIBFUZZER, ENGINE_NONE };

typedef struct minimize_opts {
  const char *file, *out;
  const char *engine_binary; /* --engine-binary, or NULL */
  int engine;                /* ENGINE_* */
  int target;      /* fl_campaign_mode_t or -1 */
  int check_level; /* 0: the file's or the default */
  uint64_t seconds;
  bool json;
} minimize_opts_t;

static void help(void) {
  printf(
      "usage: faultline minimize FILE [-o OUT] [--target glass-box|kernel|diff]\n"
      "                          [--check L] [--seconds N] [--engine auto|libfuzzer|none]\n"
      "                          [--engine-binary PATH] [--json]\n"
      "\n"
      "Shrinks an input that finds something to the fewest ops that still find the\n"
      "same thing (the same invariant ID, INTEGRITY, VERIFY or DIFF). First the fuzz\n"
      "engine: libFuzzer's -minimize_crash on the input's raw bytes, with the mode's\n"
      "fuzz target (build/fuzz/fuzz_refmalloc, fuzz_kernel or fuzz_diff), for up to\n"
      "half of --seconds; what it keeps is taken only if faultline still finds the\n"
      "same thing in it. Then delta debugging (ddmin) over the ops, dropping\n"
      "everything after the op the finding needs, down\n"
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
      "  --engine E    auto (default): the engine step when the target's libFuzzer\n"
      "                binary is built, skipped with a note when not; libfuzzer: it\n"
      "                must run (exit 3 when the binary is missing); none: ddmin only\n"
      "  --engine-binary PATH  the libFuzzer binary to use (implies --engine libfuzzer)\n"
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
    } else if (!strcmp(a, "--engine")) {
      const char *v = ++i < argc ? argv[i] : "";
      o->engine = !strcmp(v, "auto") ? ENGINE_AUTO : !strcmp(v, "libfuzzer") ? ENGINE_LIBFUZZER : !strcmp(v, "none") ? ENGINE_NONE : -1;
      if (o->engine < 0) return fl_cli_fail("minimize", 2, "--engine takes auto, libfuzzer or none");
    } else if (!strcmp(a, "--engine-binary")) {
      if (++i >= argc || !argv[i][0]) return fl_cli_fail("minimize", 2, "--engine-binary needs a path");
      o->engine_binary = argv[i];
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
  if (o->engine_binary && o->engine == ENGINE_NONE)
    return fl_cli_fail("minimize", 2, "--engine-binary and --engine none contradict each other");
  if (o->engine_binary) o->engine = ENGINE_LIBFUZZER;
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

/* ---- the engine step ------------------------------------------------------ */

typedef struct engine_step {
  bool ran;                /* the engine was started */
  bool taken;              /* what it kept still finds the same: the input now */
  char binary[PATH_MAX];
  size_t bytes_before, bytes_after, ops_before, ops_after;
  double seconds;
  char note[320];          /* why it did not run, or what came of it */
} engine_step_t;

static const char *fuzz_target_of(fl_campaign_mode_t m) {
  return m == FL_CAMPAIGN_KERNEL ? "kernel" : m == FL_CAMPAIGN_DIFF ? "diff" : "refmalloc";
}

static off_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_size : -1;
}

/* binary -minimize_crash=1 on in, the result at out, in its own process
 * group, killed at the deadline (libFuzzer keeps the best input so far at
 * -exact_artifact_path after every step, so a cut run still leaves one). */
static int run_engine(const char *binary, const char *in, const char *out, const char *log, double seconds) {
  char step[64], artifact[PATH_MAX + 32];
  unsigned per_step = seconds >= 12 ? (unsigned)(seconds / 6) : 2;
  snprintf(step, sizeof step, "-max_total_time=%u", per_step);
  snprintf(artifact, sizeof artifact, "-exact_artifact_path=%s", out);
  char *argv[] = {(char *)binary, "-minimize_crash=1", step, artifact, (char *)in, NULL};
  pid_t pid = fl_cli_spawn(argv, log);
  if (pid < 0) return -1;
  double end = fl_cli_now() + seconds;
  int st = 0;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return -1;
    if (fl_cli_now() >= end) {
      kill(-pid, SIGKILL);
      while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
      break;
    }
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs the engine over ops; what it keeps goes to *taken (e->taken) when it
 * still finds the same. Returns 0, or an exit status when --engine libfuzzer
 * cannot be honoured. */
static int engine_minimize(const minimize_opts_t *o, fl_campaign_mode_t mode, same_finding_t *same,
                           const fl_ops_t *ops, fl_ops_t *taken, double seconds, engine_step_t *e) {
  memset(e, 0, sizeof *e);
  e->ops_before = e->ops_after = ops->n;
  if (o->engine == ENGINE_NONE) return snprintf(e->note, sizeof e->note, "off (--engine none)"), 0;
  const char *target = fuzz_target_of(mode);
  if (o->engine_binary) {
    if (!fl_cli_format(e->binary, sizeof e->binary, "%s", o->engine_binary))
      return fl_cli_fail("minimize", 2, "--engine-binary: the path is too long");
  } else {
    char src[PATH_MAX];
    if (!fl_cli_find_source("fuzz/fuzz.cmake", src)) snprintf(src, sizeof src, ".");
    if (!fl_cli_format(e->binary, sizeof e->binary, "%s/build/fuzz/fuzz_%s", src, target))
      return snprintf(e->note, sizeof e->note, "skipped: the source tree's path is too long"), 0;
  }
  if (access(e->binary, X_OK) != 0) {
    if (o->engine == ENGINE_LIBFUZZER)
      return fl_cli_fail("minimize", 3, "%s: %s (cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_%s)",
                         e->binary, strerror(errno), target);
    if (!fl_cli_format(e->note, sizeof e->note, "skipped: %s is not built (cmake --build --preset fuzz --target fuzz_%s)",
                       e->binary, target))
      fl_cli_format(e->note, sizeof e->note, "skipped: fuzz_%s is not built", target);
    return 0;
  }
  char dir[] = "/tmp/faultline-minimize-XXXXXX";
  if (!mkdtemp(dir)) return fl_cli_fail("minimize", 3, "mkdtemp: %s", strerror(errno));
  char in[PATH_MAX], out[PATH_MAX], log[PATH_MAX];
  snprintf(in, sizeof in, "%s/input", dir);
  snprintf(out, sizeof out, "%s/minimized", dir);
  snprintf(log, sizeof log, "%s/engine.log", dir);
  int st = 0;
  if (fl_ops_save_file(in, ops, FL_FMT_RAW) != FL_OK) {
    st = fl_cli_fail("minimize", 3, "%s", fl_error_message());
    goto done;
  }
  e->bytes_before = e->bytes_after = (size_t)file_size(in);
  double t0 = fl_cli_now();
  int rc = run_engine(e->binary, in, out, log, seconds);
  e->ran = true;
  e->seconds = fl_cli_now() - t0;
  off_t kept = file_size(out);
  if (rc < 0 || rc == 127) {
    fl_cli_format(e->note, sizeof e->note, "the engine binary could not be run (exit %d)", rc);
  } else if (kept < 0) {
    snprintf(e->note, sizeof e->note, "the engine kept nothing (it does not crash on this input: another build?)");
  } else if ((size_t)kept >= e->bytes_before) {
    snprintf(e->note, sizeof e->note, "no smaller input than %zu bytes", e->bytes_before);
  } else {
    fl_ops_format_t fmt;
    size_t needed = 0;
    fl_status_t fs = FL_OK;
    if (fl_ops_load_file(out, taken, &fmt) == FL_OK && finds_same(same, taken, &needed, &fs)) {
      e->taken = true;
      e->bytes_after = (size_t)kept;
      e->ops_after = taken->n;
      snprintf(e->note, sizeof e->note, "%zu -> %zu bytes, %zu -> %zu ops", e->bytes_before, e->bytes_after,
               e->ops_before, e->ops_after);
    } else {
      fl_ops_free(taken);
      snprintf(e->note, sizeof e->note, "its %lld-byte input does not find %s: not taken", (long long)kept, same->id);
    }
  }
done:
  unlink(in);
  unlink(out);
  unlink(log);
  rmdir(dir);
  return st;
}

static void report(const minimize_opts_t *o, const char *out, const engine_step_t *e, const fl_minimize_stats_t *ms,
                   const fl_finding_t *f, const fl_campaign_opts_t *opts) {
  if (!o->json) {
    printf("faultline minimize %s: %zu ops -> %zu ops in %.1f s (%zu candidates tried%s)\n", o->file, e->ops_before,
           ms->to, e->seconds + ms->seconds, ms->tests, ms->complete ? "" : "; stopped by --seconds, not 1-minimal");
    printf("  engine     libFuzzer -minimize_crash: %s\n", e->note);
    printf("  ddmin      %zu ops -> %zu in %.1f s\n", ms->from, ms->to, ms->seconds);
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
  fl_json_key(&j, "ops_before"); fl_json_uint(&j, e->ops_before);
  fl_json_key(&j, "ops_after"); fl_json_uint(&j, ms->to);
  fl_json_key(&j, "candidates"); fl_json_uint(&j, ms->tests);
  fl_json_key(&j, "one_minimal"); fl_json_bool(&j, ms->complete);
  fl_json_key(&j, "seconds"); fl_json_double(&j, e->seconds + ms->seconds);
  fl_json_key(&j, "engine");
  fl_json_begin_object(&j);
  fl_json_key(&j, "ran"); fl_json_bool(&j, e->ran);
  fl_json_key(&j, "taken"); fl_json_bool(&j, e->taken);
  fl_json_key(&j, "binary"); if (e->binary[0]) fl_json_string(&j, e->binary); else fl_json_null(&j);
  fl_json_key(&j, "ops_before"); fl_json_uint(&j, e->ops_before);
  fl_json_key(&j, "ops_after"); fl_json_uint(&j, e->ops_after);
  fl_json_key(&j, "bytes_before"); fl_json_uint(&j, e->bytes_before);
  fl_json_key(&j, "bytes_after"); fl_json_uint(&j, e->bytes_after);
  fl_json_key(&j, "seconds"); fl_json_double(&j, e->seconds);
  fl_json_key(&j, "note"); fl_json_string(&j, e->note);
  fl_json_end_object(&j);
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
  fl_ops_t engine_out, small;
  fl_ops_init(&engine_out);
  fl_ops_init(&small);
  engine_step_t e;
  if ((st = engine_minimize(o, opts.mode, &same, &s->ops, &engine_out, (double)o->seconds / 2, &e))) {
    fl_ops_free(&engine_out);
    return st;
  }
  double left = (double)o->seconds - e.seconds;
  fl_minimize_opts_t mo = {.test = finds_same, .ctx = &same, .max_seconds = left > 1 ? left : 1};
  fl_minimize_stats_t ms;
  fl_status_t ms_st = fl_ops_minimize(e.taken ? &engine_out : &s->ops, &mo, &small, &ms);
  fl_ops_free(&engine_out);
  if (ms_st == FL_OK) ms_st = fl_campaign_run(&small, &opts, &f, NULL); /* the op index it now has */
  if (ms_st != FL_OK) {
    fl_ops_free(&small);
    return fl_cli_fail("minimize", ms_st == FL_EUSAGE ? 2 : 3, "%s: %s", o->file, fl_error_message());
  }
  char about[512];
  snprintf(about, sizeof about, "minimized by faultline minimize from %s (%zu ops -> %zu)", o->file, e.ops_before,
           ms.to);
  st = fl_cli_save_script("minimize", out, &small, about, &f, &opts);
  fl_ops_free(&small);
  if (!st) report(o, out, &e, &ms, &f, &opts);
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

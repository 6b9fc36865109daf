/* cmd_oracle.c — `faultline verify --allocator PATH.so`: the black-box
 * oracle on any allocator (src/oracle/oracle.h does the work; this file
 * reads flags, runs seeded streams until the time is up and reports). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/text.h"
#include "oracle/oracle.h"
#include "util/err.h"
#include "util/json.h"

#define CMD "verify"
#define LAST_OPS 12 /* ops shown before a finding */

typedef struct oracle_opts {
  const char *allocator;
  uint64_t seconds, seed, ops, timeout_ms;
  fl_oracle_promises_t promises;
  uint32_t allow[FL_ORACLE_ID_COUNT];
  bool json;
} oracle_opts_t;

/* Totals over the streams of one command. */
typedef struct totals {
  uint64_t streams, ops_run, skipped, unsupported;
  uint64_t fired[FL_ORACLE_ID_COUNT];
  uint64_t worst_extra, worst_peak_live, worst_bound_extra, max_rss_peak; /* give-back */
  bool measured;
  double seconds;
} totals_t;

static void help(void) {
  printf(
      "usage: faultline verify --allocator PATH.so [--seconds N] [--seed S] [--ops N]\n"
      "                        [--promises c|posix] [--allow ID[:KIND]]... [--timeout MS] [--json]\n"
      "\n"
      "The black-box oracle: checks what the C standard and POSIX promise about\n"
      "malloc on any allocator. The allocator runs in the faultline-oracle helper,\n"
      "started with a clean environment and LD_PRELOAD=PATH.so (so any allocator\n"
      "works, even one that cannot be dlopen'ed), and is fed seeded op streams:\n"
      "a fixed probe script (impossible sizes, every power-of-two alignment up to\n"
      "2 MiB, bad posix_memalign alignments, free(NULL), zero sizes, calloc over\n"
      "recycled memory, realloc across the mmap threshold), then N generated ops.\n"
      "Every block is filled over its whole malloc_usable_size and checked when it\n"
      "is freed or reallocated. After each stream everything is freed, the\n"
      "allocator's purge calls are made (malloc_trim, jemalloc's mallctl purge,\n"
      "tcmalloc's ReleaseFreeMemory, mi_collect) and the helper's Rss must be back\n"
      "under a bound. A crash or a hang (no progress for MS) is a finding too.\n"
      "`faultline check --list` states every ORACLE-* promise.\n"
      "\n"
      "options:\n"
      "  --allocator PATH  the allocator's shared object (glibc's own: its libc.so.6)\n"
      "  --seconds N       run streams of seeds S, S+1, ... until N seconds are up (the\n"
      "                    stream running then finishes; default: one stream); stops\n"
      "                    at the first finding\n"
      "  --seed S          the first stream's seed (default 1)\n"
      "  --ops N           generated ops per stream (default 20000)\n"
      "  --promises P      c: the C standard (C23 wording); posix (default): C and\n"
      "                    POSIX (errno ENOMEM on failure, posix_memalign's EINVAL)\n"
      "  --allow ID[:KIND] report promise ID (on ops of KIND only: malloc, calloc, ...,\n"
      "                    or end for the end of a run) but do not count it as a\n"
      "                    finding; repeatable. The deviations of glibc, jemalloc,\n"
      "                    tcmalloc and mimalloc are in tests/known-deviations/\n"
      "  --timeout MS      per-op timeout before the helper counts as hung (default 10000)\n"
      "  --json            one JSON object: allocator, streams, ops_run, ops_per_second,\n"
      "                    fired, violations, give_back, crash, finding\n"
      "\n"
      "examples:\n"
      "  faultline verify --allocator /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 --seconds 30\n"
      "  faultline verify --allocator /lib/x86_64-linux-gnu/libc.so.6 --promises c --json\n"
      "  faultline verify --allocator /usr/lib/x86_64-linux-gnu/libmimalloc.so.2 \\\n"
      "      --allow ORACLE-ENOMEM --allow ORACLE-ALIGN-EXPLICIT:aligned_alloc --seconds 30\n"
      "\n"
      "A finding prints the promise, what happened, the last ops as a script and the\n"
      "command that replays its stream alone (--seed of that stream).\n"
      "\n"
      "exit status: 0 no finding, 1 a promise broken (or the helper crashed or hung),\n"
      "2 usage error (bad flag, unreadable or unusable allocator), 3 environment error.\n");
}

/* --flag VALUE or --flag=VALUE; NULL if argv[*i] is not flag. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag, bool *missing) {
  size_t n = strlen(flag);
  if (strncmp(argv[*i], flag, n)) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n]) return NULL;
  if (*i + 1 >= argc) {
    *missing = true;
    return NULL;
  }
  return argv[++*i];
}

static int parse(int argc, char **argv, oracle_opts_t *o) {
  *o = (oracle_opts_t){.seed = 1, .ops = 20000, .timeout_ms = FL_ORACLE_DEFAULT_TIMEOUT_MS};
  for (int i = 1; i < argc; i++) {
    bool missing = false;
    const char *v, *arg = argv[i];
    uint64_t *num = NULL;
    if (fl_cli_is_help(argv[i])) {
      help();
      return -1;
    } else if (!strcmp(argv[i], "--json")) {
      o->json = true;
      continue;
    } else if ((v = flag_value(argc, argv, &i, "--allocator", &missing))) {
      o->allocator = v;
      continue;
    } else if ((v = flag_value(argc, argv, &i, "--promises", &missing))) {
      if (strcmp(v, "c") && strcmp(v, "posix"))
        return fl_cli_fail(CMD, 2, "--promises: expected c or posix, got '%s'", v);
      o->promises = strcmp(v, "c") ? FL_ORACLE_PROMISES_POSIX : FL_ORACLE_PROMISES_C;
      continue;
    } else if ((v = flag_value(argc, argv, &i, "--allow", &missing))) {
      if (fl_oracle_allow(o->allow, v) != FL_OK) return fl_cli_fail(CMD, 2, "--allow: %s", fl_error_message());
      continue;
    } else if ((v = flag_value(argc, argv, &i, "--seconds", &missing))) {
      num = &o->seconds;
    } else if ((v = flag_value(argc, argv, &i, "--seed", &missing))) {
      num = &o->seed;
    } else if ((v = flag_value(argc, argv, &i, "--ops", &missing))) {
      num = &o->ops;
    } else if ((v = flag_value(argc, argv, &i, "--timeout", &missing))) {
      num = &o->timeout_ms;
    }
    if (missing) return fl_cli_fail(CMD, 2, "%s needs a value", arg);
    if (!num) return fl_cli_fail(CMD, 2, "unknown argument '%s' (see faultline verify --help)", arg);
    if (!fl_cli_parse_u64(v, false, num)) return fl_cli_fail(CMD, 2, "bad number '%s' for %s", v, arg);
  }
  if (!o->allocator || !*o->allocator) return fl_cli_fail(CMD, 2, "--allocator needs a path");
  if (!o->timeout_ms || o->timeout_ms > 3600000) return fl_cli_fail(CMD, 2, "--timeout must be 1..3600000 ms");
  if (o->ops > 10000000) return fl_cli_fail(CMD, 2, "--ops must be at most 10000000 per stream");
  return 0;
}

static void account(totals_t *t, const fl_oracle_result_t *r) {
  t->streams++;
  t->ops_run += r->ops_run;
  t->skipped += r->skipped;
  t->unsupported += r->unsupported;
  for (unsigned i = 0; i < FL_ORACLE_ID_COUNT; i++) t->fired[i] += r->fired[i];
  if (!r->measured) return;
  uint64_t extra = r->rss_after > r->rss_before ? r->rss_after - r->rss_before : 0;
  if (!t->measured || extra > t->worst_extra) {
    t->worst_extra = extra;
    t->worst_peak_live = r->peak_live;
    t->worst_bound_extra = r->rss_bound - r->rss_before;
  }
  if (r->rss_peak > t->max_rss_peak) t->max_rss_peak = r->rss_peak;
  t->measured = true;
}

/* ------------------------------------------------------------ reports */

static void print_provided(FILE *f, uint32_t provided) {
  for (unsigned i = 0; i < FL_ORACLE_FN_COUNT; i++)
    if (provided & (1u << i)) fprintf(f, " %s", fl_oracle_fn_name(i));
  fputc('\n', f);
}

static void print_last_ops(const fl_ops_t *ops, uint64_t at) {
  uint64_t end = at < ops->n ? at + 1 : ops->n;
  uint64_t from = end > LAST_OPS ? end - LAST_OPS : 0;
  for (uint64_t i = from; i < end; i++) {
    char buf[160];
    fl_op_format(&ops->v[i], buf, sizeof buf);
    printf("    %-44s ; op %llu\n", buf, (unsigned long long)i);
  }
  if (at >= ops->n) printf("    (then the end of the run: every live block freed, purge, Rss measured)\n");
}

static void print_text(const oracle_opts_t *o, const fl_oracle_t *h, const totals_t *t,
                       const fl_oracle_result_t *last, const fl_ops_t *ops, uint64_t last_seed) {
  printf("faultline verify: the black-box oracle on %s (promises: %s), seed %llu\n", o->allocator,
         o->promises == FL_ORACLE_PROMISES_C ? "c" : "posix", (unsigned long long)o->seed);
  printf("  malloc from         %s\n  provides           ", fl_oracle_provider(h));
  print_provided(stdout, fl_oracle_provided(h));
  printf("  streams             %llu of %llu generated ops + the probes (seeds %llu..%llu)\n",
         (unsigned long long)t->streams, (unsigned long long)o->ops, (unsigned long long)o->seed,
         (unsigned long long)last_seed);
  printf("  ops run             %llu (%llu skipped, %llu unsupported), %.0f ops/s\n", (unsigned long long)t->ops_run,
         (unsigned long long)t->skipped, (unsigned long long)t->unsupported,
         t->seconds > 0 ? (double)t->ops_run / t->seconds : 0.0);
  if (t->measured)
    printf("  give-back           worst Rss after free+purge: %llu KiB over the start "
           "(bound %llu KiB; peak live %llu KiB); peak Rss %llu KiB\n",
           (unsigned long long)(t->worst_extra >> 10), (unsigned long long)(t->worst_bound_extra >> 10),
           (unsigned long long)(t->worst_peak_live >> 10), (unsigned long long)(t->max_rss_peak >> 10));
  for (unsigned i = 0; i < FL_ORACLE_ID_COUNT; i++)
    if (t->fired[i]) printf("  broken              %s x %llu\n", fl_oracle_id_name(i), (unsigned long long)t->fired[i]);
  printf("  seconds             %.1f\n", t->seconds);
  for (size_t i = 0; i < last->nviol; i++) {
    const fl_oracle_violation_t *v = &last->viol[i];
    printf("  %-19s %s at op %llu of seed %llu: %s\n", v->allowed ? "allowed deviation" : "FINDING",
           fl_oracle_id_name(v->id), (unsigned long long)v->op_index, (unsigned long long)last_seed, v->detail);
  }
  if (!last->finding) {
    printf("  verdict             no finding\n");
    return;
  }
  if (*last->message) printf("  the allocator said  %s\n", last->message);
  uint64_t at = last->died ? last->death_op : ops->n;
  for (size_t i = 0; i < last->nviol; i++)
    if (!last->viol[i].allowed && last->viol[i].op_index < at) at = last->viol[i].op_index;
  printf("  the last ops:\n");
  print_last_ops(ops, at);
  printf("  replay: faultline verify --allocator %s --seed %llu --ops %llu --promises %s\n", o->allocator,
         (unsigned long long)last_seed, (unsigned long long)o->ops,
         o->promises == FL_ORACLE_PROMISES_C ? "c" : "posix");
}

static void json_violations(fl_json_t *j, const fl_oracle_result_t *r, const fl_ops_t *ops, uint64_t seed) {
  fl_json_key(j, "violations");
  fl_json_begin_array(j);
  for (size_t i = 0; i < r->nviol; i++) {
    const fl_oracle_violation_t *v = &r->viol[i];
    char op[160] = "(end of run)";
    if (v->op_index < ops->n) fl_op_format(&ops->v[v->op_index], op, sizeof op);
    fl_json_begin_object(j);
    fl_json_key(j, "id");
    fl_json_string(j, fl_oracle_id_name(v->id));
    fl_json_key(j, "allowed");
    fl_json_bool(j, v->allowed);
    fl_json_key(j, "seed");
    fl_json_uint(j, seed);
    fl_json_key(j, "op_index");
    fl_json_uint(j, v->op_index);
    fl_json_key(j, "op");
    fl_json_string(j, op);
    fl_json_key(j, "detail");
    fl_json_string(j, v->detail);
    fl_json_end_object(j);
  }
  fl_json_end_array(j);
}

static void print_json(const oracle_opts_t *o, const fl_oracle_t *h, const totals_t *t,
                       const fl_oracle_result_t *last, const fl_ops_t *ops, uint64_t last_seed) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "allocator");
  fl_json_string(&j, o->allocator);
  fl_json_key(&j, "malloc_from");
  fl_json_string(&j, fl_oracle_provider(h));
  fl_json_key(&j, "promises");
  fl_json_string(&j, o->promises == FL_ORACLE_PROMISES_C ? "c" : "posix");
  fl_json_key(&j, "seed");
  fl_json_uint(&j, o->seed);
  fl_json_key(&j, "streams");
  fl_json_uint(&j, t->streams);
  fl_json_key(&j, "ops_per_stream");
  fl_json_uint(&j, o->ops);
  fl_json_key(&j, "ops_run");
  fl_json_uint(&j, t->ops_run);
  fl_json_key(&j, "ops_per_second");
  fl_json_double(&j, t->seconds > 0 ? (double)t->ops_run / t->seconds : 0.0);
  fl_json_key(&j, "seconds");
  fl_json_double(&j, t->seconds);
  fl_json_key(&j, "fired");
  fl_json_begin_object(&j);
  for (unsigned i = 0; i < FL_ORACLE_ID_COUNT; i++)
    if (t->fired[i]) {
      fl_json_key(&j, fl_oracle_id_name(i));
      fl_json_uint(&j, t->fired[i]);
    }
  fl_json_end_object(&j);
  json_violations(&j, last, ops, last_seed);
  fl_json_key(&j, "give_back");
  fl_json_begin_object(&j);
  fl_json_key(&j, "measured");
  fl_json_bool(&j, t->measured);
  fl_json_key(&j, "worst_extra_rss_bytes");
  fl_json_uint(&j, t->worst_extra);
  fl_json_key(&j, "bound_extra_bytes");
  fl_json_uint(&j, t->worst_bound_extra);
  fl_json_key(&j, "peak_live_bytes");
  fl_json_uint(&j, t->worst_peak_live);
  fl_json_key(&j, "peak_rss_bytes");
  fl_json_uint(&j, t->max_rss_peak);
  fl_json_end_object(&j);
  fl_json_key(&j, "crash");
  if (last->died) {
    fl_json_begin_object(&j);
    fl_json_key(&j, "signal");
    fl_json_int(&j, last->signal);
    fl_json_key(&j, "timeout");
    fl_json_bool(&j, last->timeout);
    fl_json_key(&j, "op_index");
    fl_json_uint(&j, last->death_op);
    fl_json_key(&j, "message");
    fl_json_string(&j, last->message);
    fl_json_end_object(&j);
  } else {
    fl_json_null(&j);
  }
  fl_json_key(&j, "finding");
  fl_json_bool(&j, last->finding);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

/* ------------------------------------------------------------ the command */

int fl_cmd_verify_allocator(int argc, char **argv) {
  oracle_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  fl_oracle_opts_t opts = {.allocator = o.allocator, .promises = o.promises,
                           .timeout_ms = (unsigned)o.timeout_ms, .fresh = true};
  memcpy(opts.allow, o.allow, sizeof opts.allow);
  fl_oracle_t *h;
  fl_status_t s = fl_oracle_open(&h, &opts);
  if (s != FL_OK) return fl_cli_fail(CMD, (int)s, "%s", fl_error_message());
  totals_t t = {0};
  fl_oracle_result_t *r = calloc(1, sizeof *r);
  fl_ops_t ops = {0};
  bool tty = isatty(2) && !o.json;
  double t0 = fl_cli_now(), last_tick = t0;
  uint64_t seed = o.seed;
  for (;; seed++) {
    fl_ops_clear(&ops);
    s = r ? fl_oracle_stream(seed, (size_t)o.ops, &ops) : fl_error(FL_EENV, "out of memory");
    if (s == FL_OK) s = fl_oracle_run(h, &ops, r);
    if (s != FL_OK && s != FL_FINDING) break;
    account(&t, r);
    if (s == FL_FINDING || fl_cli_now() - t0 >= (double)o.seconds) break;
    if (tty && fl_cli_now() - last_tick >= 1.0) {
      last_tick = fl_cli_now();
      fprintf(stderr, "\r  %llu streams, %llu ops, %.0f s", (unsigned long long)t.streams,
              (unsigned long long)t.ops_run, last_tick - t0);
    }
  }
  if (tty && fl_cli_now() - t0 >= 1.0) fputc('\n', stderr);
  t.seconds = fl_cli_now() - t0;
  int status = s == FL_OK || s == FL_FINDING ? (int)s : fl_cli_fail(CMD, (int)s, "%s", fl_error_message());
  if (status <= 1) {
    if (o.json) print_json(&o, h, &t, r, &ops, seed);
    else print_text(&o, h, &t, r, &ops, seed);
  }
  fl_ops_free(&ops);
  free(r);
  fl_oracle_close(h);
  return status;
}

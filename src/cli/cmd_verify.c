/* cmd_verify.c — `faultline verify`: the verification campaign.
 *
 * Seeded op streams from the generator (ops/gen.h) run in turn in the
 * campaign's three modes (ops/campaign.h): glass-box (refmalloc on a fast
 * model, invariants at level 2), kernel (refmalloc in shadow mode, the
 * model held against /proc after every op, each stream followed by a run of
 * random calls straight on the model, vm/drive.h) and diff (refmalloc
 * against the real glibc). The schedule is a fixed cycle and stream r's
 * seed comes from the campaign's seed and r alone, so `--ops N` is exactly
 * reproducible and `--seconds N` runs a prefix of the same campaign.
 *
 * The first finding stops the campaign. The stream is cut after the op that
 * found it and saved as a text script that says what it expects; it is then
 * minimized (ops/minimize.h) and saved again, with the kernel profile it was
 * found on, so that `faultline replay` reproduces it and the input can join
 * corpus/regressions/ once the bug is fixed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/findings.h"
#include "host/profile.h"
#include "ops/gen.h"
#include "ops/minimize.h"
#include "util/err.h"
#include "util/json.h"
#include "vm/drive.h"
#include "vm/vm.h"

#define MODEL_STEPS 64 /* random model calls after each kernel stream */

/* Stream lengths, from the release build's rates on this project's
 * machines (glass-box ~4,300 ops/s, kernel ~1,200, diff ~740): one cycle
 * gives the modes about 40 %, 35 % and 25 % of the time. */
static const size_t stream_len[FL_CAMPAIGN_MODE_COUNT] = {2800, 1500, 600};
/* The cycle: glass-box runs twice as often as the others. */
static const fl_campaign_mode_t cycle[] = {FL_CAMPAIGN_GLASS, FL_CAMPAIGN_KERNEL, FL_CAMPAIGN_GLASS,
                                           FL_CAMPAIGN_DIFF};
#define CYCLE_LEN (sizeof cycle / sizeof cycle[0])

typedef struct verify_opts {
  uint64_t seconds, ops, seed, base, minimize_seconds;
  bool json, ops_given, inject;
  unsigned modes; /* bit per fl_campaign_mode_t */
  const char *dir;
} verify_opts_t;

typedef struct mode_total {
  uint64_t streams, ops;
  double seconds;
  fl_campaign_stats_t st;
} mode_total_t;

typedef struct verify_run {
  verify_opts_t o;
  mode_total_t total[FL_CAMPAIGN_MODE_COUNT];
  uint64_t model_steps, model_compares, model_syscalls[FL_SYS_COUNT];
  uint64_t ops; /* generated ops + model steps: what --ops counts */
  double t0, seconds, first_finding_at;
  /* the finding, if any */
  fl_finding_t finding;
  fl_campaign_opts_t finding_opts;
  uint64_t finding_stream;
  char full_path[512], min_path[512];
  size_t min_ops;
} verify_run_t;

static void help(void) {
  printf(
      "usage: faultline verify [--seconds N | --ops N] [--seed S] [--modes LIST] [--inject]\n"
      "                        [--findings DIR] [--minimize-seconds N] [--base ADDR] [--json]\n"
      "\n"
      "The verification campaign: seeded streams of malloc, free, realloc, calloc,\n"
      "the memalign family, writes, verifies, mallopt, malloc_trim, thread switches\n"
      "and failing system calls run on refmalloc (glibc 2.36 malloc over faultline's\n"
      "kernel model) in three modes, in turn:\n"
      "  glass-box  the model in fast mode, every invariant of spec/invariants.md at\n"
      "             level 2 after every allocator call\n"
      "  kernel     the model in shadow mode (every system call also made for real\n"
      "             inside its window), held against /proc/self/maps, pagemap, smaps\n"
      "             Rss and the fault count after every op; each stream is followed by\n"
      "             64 random mmap/munmap/mprotect/mremap/madvise/brk calls and\n"
      "             accesses straight on the model, compared after every call\n"
      "  diff       the same ops on the real glibc in the faultline-glibc helper,\n"
      "             compared op by op: pointers, sizes, errno and system calls\n"
      "The first finding stops the campaign: it is printed with its invariant ID (or\n"
      "INTEGRITY, VERIFY, DIFF) and op index, and saved in DIR as <ID>-<seed>.full.ops\n"
      "(the stream up to that op), <ID>-<seed>.ops (minimized) and\n"
      "<ID>-<seed>.profile.json (this kernel's profile), with the replay command.\n"
      "\n"
      "options:\n"
      "  --seconds N            stop after N seconds (default 60)\n"
      "  --ops N                stop after exactly N ops instead (fully reproducible)\n"
      "  --seed S               the campaign's seed (default 1): same seed, same streams\n"
      "  --modes LIST           comma-separated modes to run (default glass-box,kernel,diff)\n"
      "  --findings DIR         where findings are saved (default ./faultline-findings)\n"
      "  --inject               failing system calls in glass-box and kernel streams too\n"
      "                         (default: diff only; PT-HEAP-TAIL and VMA-STRAY do not\n"
      "                         allow yet for what a failed madvise or munmap leaves)\n"
      "  --minimize-seconds N   time for minimizing a finding (default 30; 0: do not)\n"
      "  --base ADDR            the model's 1 TiB window (default 0x300000000000;\n"
      "                         a multiple of 2 MiB, free in this process)\n"
      "  --json                 print the report as one JSON object\n"
      "\n"
      "examples:\n"
      "  faultline verify                          # the main job of `make run`\n"
      "  faultline verify --ops 20000 --seed 7     # a reproducible run\n"
      "  faultline verify --seconds 20 --modes glass-box\n"
      "  faultline verify --allocator ./libmy.so   # another allocator, black box (--help)\n"
      "  faultline replay faultline-findings/BIN-FAST-CLASS-1.ops\n"
      "\n"
      "exit status: 0 nothing found, 1 a finding, 2 usage error, 3 environment error\n"
      "(window taken, /proc unreadable, the glibc helper cannot start).\n");
}

static int parse_modes(const char *list, unsigned *modes) {
  *modes = 0;
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    int m = fl_campaign_mode_lookup(p, len);
    if (m < 0) return fl_cli_fail("verify", 2, "--modes: '%.*s' is not glass-box, kernel or diff", (int)len, p);
    *modes |= 1u << m;
    p += len + (end != NULL);
  }
  return *modes ? 0 : fl_cli_fail("verify", 2, "--modes needs at least one mode");
}

static int parse(int argc, char **argv, verify_opts_t *o) {
  *o = (verify_opts_t){.seconds = 60, .seed = 1, .base = FL_VM_DEFAULT_BASE, .minimize_seconds = 30,
                       .modes = (1u << FL_CAMPAIGN_MODE_COUNT) - 1, .dir = "faultline-findings"};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    uint64_t *num = NULL;
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (!strcmp(a, "--json")) {
      o->json = true;
    } else if (!strcmp(a, "--inject")) {
      o->inject = true;
    } else if (!strcmp(a, "--seconds")) {
      num = &o->seconds;
    } else if (!strcmp(a, "--ops")) {
      num = &o->ops;
      o->ops_given = true;
    } else if (!strcmp(a, "--seed")) {
      num = &o->seed;
    } else if (!strcmp(a, "--base")) {
      num = &o->base;
    } else if (!strcmp(a, "--minimize-seconds")) {
      num = &o->minimize_seconds;
    } else if (!strcmp(a, "--modes") || !strcmp(a, "--findings")) {
      if (i + 1 >= argc) return fl_cli_fail("verify", 2, "%s needs a value", a);
      if (a[2] == 'f') o->dir = argv[++i];
      else if (parse_modes(argv[++i], &o->modes)) return 2;
    } else {
      return fl_cli_fail("verify", 2, "unknown option '%s' (see faultline verify --help)", a);
    }
    if (num) {
      if (i + 1 >= argc) return fl_cli_fail("verify", 2, "%s needs a number", a);
      if (!fl_cli_parse_u64(argv[++i], false, num))
        return fl_cli_fail("verify", 2, "%s: '%s' is not a number", a, argv[i]);
    }
  }
  if (o->ops_given && o->ops == 0) return fl_cli_fail("verify", 2, "--ops must be at least 1");
  if (!o->ops_given && o->seconds == 0) return fl_cli_fail("verify", 2, "--seconds must be at least 1");
  return 0;
}

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Stream r's seed: the campaign's seed and r, nothing else. */
static uint64_t stream_seed(uint64_t seed, uint64_t r) {
  uint64_t s = seed ^ (r * 0xd1b54a32d192ed03ULL);
  return splitmix64(&s);
}

static bool budget_left(const verify_run_t *v) {
  return v->o.ops_given ? v->ops < v->o.ops : fl_cli_now() - v->t0 < (double)v->o.seconds;
}

/* ---- model runs: random calls straight on the model ---------------------- */

static int make_dir(const char *dir) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) return 0;
  return fl_cli_fail("verify", 3, "cannot create %s: %s", dir, strerror(errno));
}


static const char *mismatch_id(fl_vm_mismatch_kind_t k) {
  switch (k) {
  case FL_MM_MAPS: return "KERNEL-MAPS";
  case FL_MM_PAGES: return "KERNEL-PAGES";
  case FL_MM_RSS: return "KERNEL-RSS";
  case FL_MM_MINFLT: return "KERNEL-MINFLT";
  case FL_MM_ACCESS: return "KERNEL-ACCESS";
  default: return "KERNEL-ERRNO";
  }
}

static void print_model_steps(fl_vm_t *vm, const uint8_t *bytes, size_t nsteps, const int64_t *results) {
  fprintf(stderr, "steps of this model run:\n");
  for (size_t i = 0; i < nsteps; i++) {
    fl_drive_step_t s;
    fl_drive_decode(vm, bytes, nsteps * FL_DRIVE_STEP, i, &s);
    fprintf(stderr, "  %3zu  ", i);
    fl_drive_print(&s, results[i], stderr);
  }
  for (size_t i = 0; i < fl_vm_mismatch_count(vm); i++) fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(vm, i)->text);
  const fl_vm_config_t *c = fl_vm_config(vm);
  uintptr_t arena = c->base + c->size - (uintptr_t)FL_DRIVE_ARENA_PAGES * 4096;
  fprintf(stderr, "the model's arena, one character per 64 KiB (A-Z: VMA with present pages):\n[");
  fl_vm_draw(vm, arena, c->base + c->size, 64 * 1024, stderr);
}

/* The steps up to the failing one, as input for the vm fuzz target's replay. */
static void save_model_run(verify_run_t *v, const uint8_t *bytes, size_t nsteps) {
  if (make_dir(v->o.dir)) return;
  snprintf(v->full_path, sizeof v->full_path, "%s/%s-%llu.vm", v->o.dir, v->finding.id,
           (unsigned long long)v->o.seed);
  FILE *f = fopen(v->full_path, "wb");
  if (!f || fwrite(bytes, FL_DRIVE_STEP, nsteps, f) != nsteps || fclose(f) != 0) {
    fprintf(stderr, "faultline verify: cannot write %s: %s\n", v->full_path, strerror(errno));
    v->full_path[0] = 0;
  }
}

/* 0, 1 a mismatch (recorded in v->finding), or the exit status of an error. */
static int model_run(verify_run_t *v, uint64_t r, size_t steps) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = FL_VM_SHADOW;
  cfg.base = (uintptr_t)v->o.base;
  fl_vm_t *vm;
  if (fl_vm_open(&vm, &cfg) != FL_OK) return fl_cli_fail("verify", 3, "%s", fl_error_message());
  uint8_t bytes[MODEL_STEPS * FL_DRIVE_STEP];
  int64_t results[MODEL_STEPS];
  uint64_t rng = stream_seed(v->o.seed, r) ^ 0x6d6f64656cULL; /* "model" */
  for (size_t i = 0; i < sizeof bytes; i += 8) {
    uint64_t x = splitmix64(&rng);
    memcpy(bytes + i, &x, 8);
  }
  fl_vm_compare(vm, FL_CMP_ALL);
  int status = 0;
  for (size_t i = 0; i < steps && !status; i++) {
    fl_drive_step_t s;
    fl_drive_decode(vm, bytes, sizeof bytes, i, &s);
    results[i] = fl_drive_apply(vm, &s);
    v->model_steps++;
    v->model_compares++;
    if (fl_vm_compare(vm, FL_CMP_ALL) || fl_vm_mismatch_count(vm)) {
      const fl_vm_mismatch_t *m = fl_vm_mismatch(vm, 0);
      v->finding = (fl_finding_t){.found = true, .op_index = i};
      snprintf(v->finding.id, sizeof v->finding.id, "%s", m ? mismatch_id(m->kind) : "KERNEL-MAPS");
      snprintf(v->finding.message, sizeof v->finding.message, "model step %zu: %.500s", i, m ? m->text : "");
      print_model_steps(vm, bytes, i + 1, results);
      save_model_run(v, bytes, i + 1);
      status = 1;
    }
  }
  fl_vm_stats_t stats;
  fl_vm_stats(vm, &stats);
  for (int k = 0; k < FL_SYS_COUNT; k++) v->model_syscalls[k] += stats.syscalls[k];
  fl_vm_close(vm);
  return status;
}

/* ---- streams ------------------------------------------------------------ */

/* Budgets: shadow mode backs every byte with real memory, and glass-box
 * checks metadata, where large blocks add copying time but no new states
 * past the mmap threshold's 32 MiB ceiling. */
static const uint64_t budget_mib[FL_CAMPAIGN_MODE_COUNT] = {32, 16, 64};

static void gen_options(const verify_opts_t *o, fl_campaign_mode_t m, fl_gen_options_t *g) {
  fl_gen_options_default(g);
  /* Several logical threads reach the non-main arenas; the helper of the
   * diff runs one thread. */
  g->threads = m == FL_CAMPAIGN_DIFF ? 1 : 4;
  g->budget = budget_mib[m] << 20;
  if (m == FL_CAMPAIGN_GLASS) g->max_write = 4096;
  /* A failed madvise or munmap leaves pages or mappings that PT-HEAP-TAIL
   * and VMA-STRAY do not allow for yet: inject runs in the diff (glibc
   * fails the same way) and on request elsewhere. */
  if (m != FL_CAMPAIGN_DIFF && !o->inject) g->kinds &= ~FL_GEN_KIND(FL_OP_INJECT);
}

static void campaign_opts(const verify_run_t *v, fl_campaign_mode_t m, fl_campaign_opts_t *c) {
  fl_campaign_opts_default(c, m);
  c->base = (uintptr_t)v->o.base;
  c->budget = budget_mib[m] << 20;
}

/* Saves the stream up to the finding's op, and replays that file's ops to
 * be sure they find the same thing where the campaign did. */
static int save_full(verify_run_t *v, const fl_ops_t *stream, uint64_t seed) {
  fl_ops_t cut = *stream;
  if (v->finding.op_index < cut.n) cut.n = v->finding.op_index + 1;
  snprintf(v->full_path, sizeof v->full_path, "%s/%s-%llu.full.ops", v->o.dir, v->finding.id,
           (unsigned long long)v->o.seed);
  char about[256];
  snprintf(about, sizeof about,
           "found by faultline verify --seed %llu: stream %llu (%s), generator seed %llu, cut after the op",
           (unsigned long long)v->o.seed, (unsigned long long)v->finding_stream,
           fl_campaign_mode_name(v->finding_opts.mode), (unsigned long long)seed);
  fl_finding_t again;
  if (fl_campaign_run(&cut, &v->finding_opts, &again, NULL) != FL_OK)
    return fl_cli_fail("verify", 3, "replaying the finding: %s", fl_error_message());
  if (!again.found || strcmp(again.id, v->finding.id) || again.op_index != v->finding.op_index)
    fprintf(stderr, "faultline verify: WARNING: the stream cut after op %zu does not find %s there again "
            "(replay says %s): the campaign is not deterministic here\n",
            v->finding.op_index, v->finding.id, again.found ? again.id : "clean");
  return fl_cli_save_script("verify", v->full_path, &cut, about, &again, &v->finding_opts);
}

typedef struct same_id {
  const fl_campaign_opts_t *opts;
  const char *id;
} same_id_t;

static bool finds_same_id(void *ctx, const fl_ops_t *candidate, size_t *needed, fl_status_t *status) {
  same_id_t *s = ctx;
  fl_finding_t f;
  *status = fl_campaign_run(candidate, s->opts, &f, NULL);
  if (*status != FL_OK || !f.found || strcmp(f.id, s->id)) return false;
  if (f.op_index < candidate->n) *needed = f.op_index + 1;
  return true;
}

static int save_minimized(verify_run_t *v, const fl_ops_t *stream) {
  same_id_t same = {.opts = &v->finding_opts, .id = v->finding.id};
  fl_minimize_opts_t mo = {.test = finds_same_id, .ctx = &same, .max_seconds = (double)v->o.minimize_seconds};
  fl_minimize_stats_t ms;
  fl_ops_t small;
  fl_ops_init(&small);
  fl_finding_t f;
  fl_status_t st = fl_ops_minimize(stream, &mo, &small, &ms);
  if (st == FL_OK) st = fl_campaign_run(&small, &v->finding_opts, &f, NULL);
  int status = 0;
  if (st != FL_OK) {
    fprintf(stderr, "faultline verify: minimizing the finding: %s\n", fl_error_message());
  } else {
    snprintf(v->min_path, sizeof v->min_path, "%s/%s-%llu.ops", v->o.dir, v->finding.id,
             (unsigned long long)v->o.seed);
    char about[256];
    snprintf(about, sizeof about, "found by faultline verify --seed %llu, minimized from %zu ops to %zu in %.1f s%s",
             (unsigned long long)v->o.seed, ms.from, ms.to, ms.seconds, ms.complete ? "" : " (time ran out)");
    status = fl_cli_save_script("verify", v->min_path, &small, about, &f, &v->finding_opts);
    v->min_ops = small.n;
    if (status) v->min_path[0] = 0;
  }
  fl_ops_free(&small);
  return status;
}

static void save_profile(const verify_run_t *v) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s-%llu.profile.json", v->o.dir, v->finding.id, (unsigned long long)v->o.seed);
  FILE *f = fopen(path, "w");
  if (!f) return;
  fl_kprofile_print_json(fl_kprofile_get(), f);
  fclose(f);
}

/* A finding in a generated stream: print it, save it cut and minimized. */
static int keep_finding(verify_run_t *v, const fl_ops_t *stream, uint64_t seed) {
  fprintf(stderr, "faultline verify: FINDING in stream %llu (%s, generator seed %llu) after %.1f s:\n",
          (unsigned long long)v->finding_stream, fl_campaign_mode_name(v->finding_opts.mode),
          (unsigned long long)seed, v->first_finding_at);
  fl_cli_print_finding(stderr, "  ", &v->finding, &v->finding_opts);
  save_profile(v);
  int st = save_full(v, stream, seed);
  if (!st && v->o.minimize_seconds) {
    fl_ops_t cut = *stream;
    if (v->finding.op_index < cut.n) cut.n = v->finding.op_index + 1;
    st = save_minimized(v, &cut);
  }
  return st;
}

/* A length of the cycle: --ops smaller than one cycle shrinks every
 * stream (and model run) alike, so that a short reproducible run still
 * visits every mode. */
static size_t scaled(const verify_run_t *v, size_t n) {
  uint64_t cycle_ops = 0;
  for (size_t i = 0; i < CYCLE_LEN; i++)
    if (v->o.modes & (1u << cycle[i]))
      cycle_ops += stream_len[cycle[i]] + (cycle[i] == FL_CAMPAIGN_KERNEL ? MODEL_STEPS : 0);
  if (v->o.ops_given && v->o.ops < cycle_ops) n = (size_t)(n * v->o.ops / cycle_ops);
  return n ? n : 1;
}

/* One stream in mode m: 0, 1 a finding, or the exit status of an error. */
static int run_stream(verify_run_t *v, uint64_t r, fl_campaign_mode_t m) {
  size_t n = scaled(v, stream_len[m]);
  if (v->o.ops_given && v->o.ops - v->ops < n) n = (size_t)(v->o.ops - v->ops);
  uint64_t seed = stream_seed(v->o.seed, r);
  fl_gen_options_t g;
  gen_options(&v->o, m, &g);
  fl_ops_t ops;
  fl_ops_init(&ops);
  if (fl_ops_generate(seed, n, &g, &ops) != FL_OK) {
    fl_ops_free(&ops);
    return fl_cli_fail("verify", 3, "%s", fl_error_message());
  }
  fl_campaign_opts_t c;
  campaign_opts(v, m, &c);
  mode_total_t *t = &v->total[m];
  double t0 = fl_cli_now();
  fl_status_t st = fl_campaign_run(&ops, &c, &v->finding, &t->st);
  t->seconds += fl_cli_now() - t0;
  t->streams++;
  /* A finding ends the stream at its op (ops.n: found by the last walk). */
  size_t ran = v->finding.found && v->finding.op_index < ops.n ? v->finding.op_index + 1 : ops.n;
  t->ops += ran;
  v->ops += ran;
  int status = 0;
  if (st != FL_OK) {
    status = fl_cli_fail("verify", st == FL_EUSAGE ? 2 : 3, "%s%s", fl_error_message(),
                         m == FL_CAMPAIGN_DIFF ? " (--modes glass-box,kernel runs without the helper)" : "");
  } else if (v->finding.found) {
    v->seconds = v->first_finding_at = fl_cli_now() - v->t0;
    v->finding_opts = c;
    v->finding_stream = r;
    int save = make_dir(v->o.dir);
    status = save ? save : keep_finding(v, &ops, seed);
    if (!status) status = 1;
  }
  fl_ops_free(&ops);
  return status;
}

/* Stream r of the cycle, and for kernel mode the model run after it. */
static int run_round(verify_run_t *v, uint64_t r) {
  fl_campaign_mode_t m = cycle[r % CYCLE_LEN];
  if (!(v->o.modes & (1u << m))) return 0;
  int st = run_stream(v, r, m);
  if (st || m != FL_CAMPAIGN_KERNEL || !budget_left(v)) return st;
  size_t steps = scaled(v, MODEL_STEPS);
  if (v->o.ops_given && v->o.ops - v->ops < steps) steps = (size_t)(v->o.ops - v->ops);
  double t0 = fl_cli_now();
  st = model_run(v, r, steps);
  v->total[m].seconds += fl_cli_now() - t0;
  v->ops += steps;
  if (st == 1) {
    v->seconds = v->first_finding_at = fl_cli_now() - v->t0;
    campaign_opts(v, m, &v->finding_opts);
    v->finding_stream = r;
    fl_cli_print_finding(stderr, "  ", &v->finding, &v->finding_opts);
    if (v->full_path[0]) save_profile(v);
  }
  return st;
}

/* ---- the report --------------------------------------------------------- */

static const char *const sysnames[FL_SYS_COUNT] = {"mmap", "munmap", "mprotect", "mremap", "madvise", "brk"};

static double rate(uint64_t n, double s) { return s > 0 ? (double)n / s : 0; }

static void json_mode(fl_json_t *j, const verify_run_t *v, fl_campaign_mode_t m) {
  const mode_total_t *t = &v->total[m];
  fl_json_key(j, fl_campaign_mode_name(m));
  fl_json_begin_object(j);
  fl_json_key(j, "streams"); fl_json_uint(j, t->streams);
  fl_json_key(j, "ops"); fl_json_uint(j, t->ops);
  fl_json_key(j, "seconds"); fl_json_double(j, t->seconds);
  fl_json_key(j, "budget_skips"); fl_json_uint(j, t->st.budget_skips);
  fl_json_key(j, "ops_per_second"); fl_json_double(j, rate(t->ops, t->seconds));
  if (m != FL_CAMPAIGN_DIFF) {
    fl_json_key(j, "checked_ops"); fl_json_uint(j, t->st.checked_ops);
    fl_json_key(j, "full_walks"); fl_json_uint(j, t->st.walks);
  }
  if (m == FL_CAMPAIGN_KERNEL) {
    fl_json_key(j, "kernel_comparisons"); fl_json_uint(j, t->st.kernel_compares + v->model_compares);
    fl_json_key(j, "model_steps"); fl_json_uint(j, v->model_steps);
  }
  if (m == FL_CAMPAIGN_DIFF) {
    fl_json_key(j, "ops_compared"); fl_json_uint(j, t->st.diff_ops);
  }
  fl_json_end_object(j);
}

static void json_finding(fl_json_t *j, const verify_run_t *v) {
  if (!v->finding.found) {
    fl_json_null(j);
    return;
  }
  fl_json_begin_object(j);
  fl_json_key(j, "id"); fl_json_string(j, v->finding.id);
  fl_json_key(j, "op"); fl_json_uint(j, v->finding.op_index);
  fl_json_key(j, "mode"); fl_json_string(j, fl_campaign_mode_name(v->finding_opts.mode));
  fl_json_key(j, "stream"); fl_json_uint(j, v->finding_stream);
  fl_json_key(j, "seconds"); fl_json_double(j, v->first_finding_at);
  fl_json_key(j, "message"); fl_json_string(j, v->finding.message);
  fl_json_key(j, "stream_file"); fl_json_string(j, v->full_path);
  fl_json_key(j, "reproducer");
  if (v->min_path[0]) fl_json_string(j, v->min_path);
  else fl_json_null(j);
  fl_json_key(j, "reproducer_ops"); fl_json_uint(j, v->min_ops);
  fl_json_end_object(j);
}

static void print_json(const verify_run_t *v) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "campaign"); fl_json_string(&j, "refmalloc-model-kernel-glibc");
  fl_json_key(&j, "seed"); fl_json_uint(&j, v->o.seed);
  fl_json_key(&j, "ops"); fl_json_uint(&j, v->ops);
  fl_json_key(&j, "seconds"); fl_json_double(&j, v->seconds);
  fl_json_key(&j, "modes");
  fl_json_begin_object(&j);
  for (int m = 0; m < FL_CAMPAIGN_MODE_COUNT; m++)
    if (v->o.modes & (1u << m)) json_mode(&j, v, (fl_campaign_mode_t)m);
  fl_json_end_object(&j);
  fl_json_key(&j, "model_syscalls");
  fl_json_begin_object(&j);
  for (int k = 0; k < FL_SYS_COUNT; k++) {
    fl_json_key(&j, sysnames[k]);
    fl_json_uint(&j, v->model_syscalls[k]);
  }
  fl_json_end_object(&j);
  fl_json_key(&j, "findings"); fl_json_uint(&j, v->finding.found);
  fl_json_key(&j, "first_finding"); json_finding(&j, v);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

static void print_mode(const verify_run_t *v, fl_campaign_mode_t m) {
  const mode_total_t *t = &v->total[m];
  printf("  %-10s %6llu streams %9llu ops %6.1f s %9.0f ops/s  ", fl_campaign_mode_name(m),
         (unsigned long long)t->streams, (unsigned long long)t->ops, t->seconds, rate(t->ops, t->seconds));
  if (m == FL_CAMPAIGN_GLASS)
    printf("invariants after %llu calls, %llu full walks\n", (unsigned long long)t->st.checked_ops,
           (unsigned long long)t->st.walks);
  else if (m == FL_CAMPAIGN_KERNEL)
    printf("%llu kernel comparisons (+ %llu model steps)\n",
           (unsigned long long)(t->st.kernel_compares + v->model_compares), (unsigned long long)v->model_steps);
  else
    printf("%llu ops compared with glibc\n", (unsigned long long)t->st.diff_ops);
}

static void print_text(const verify_run_t *v) {
  printf("faultline verify: refmalloc, the model and this kernel (and glibc), seed %llu\n",
         (unsigned long long)v->o.seed);
  for (int m = 0; m < FL_CAMPAIGN_MODE_COUNT; m++)
    if (v->o.modes & (1u << m)) print_mode(v, (fl_campaign_mode_t)m);
  printf("  %-10s ", "model");
  for (int k = 0; k < FL_SYS_COUNT; k++)
    printf("%s %llu%s", sysnames[k], (unsigned long long)v->model_syscalls[k], k + 1 < FL_SYS_COUNT ? ", " : "\n");
  printf("  ops        %llu in %.1f s", (unsigned long long)v->ops, v->seconds);
  uint64_t skips = 0;
  for (int m = 0; m < FL_CAMPAIGN_MODE_COUNT; m++) skips += v->total[m].st.budget_skips;
  if (skips) printf(" (%llu skipped: over the live-byte budget)", (unsigned long long)skips);
  putchar('\n');
  if (!v->finding.found) {
    printf("  verdict    nothing found\n");
    return;
  }
  printf("  verdict    FINDING after %.1f s: %s at op %zu of stream %llu (%s)\n", v->first_finding_at, v->finding.id,
         v->finding.op_index, (unsigned long long)v->finding_stream, fl_campaign_mode_name(v->finding_opts.mode));
  if (v->full_path[0]) printf("  saved      %s\n", v->full_path);
  if (v->min_path[0]) {
    printf("  minimized  %s (%zu ops)\n", v->min_path, v->min_ops);
    printf("  replay     faultline replay %s\n", v->min_path);
  } else if (v->full_path[0] && strstr(v->full_path, ".vm")) {
    printf("  replay     replay_vm %s (the vm fuzz target's replay binary, next to faultline)\n", v->full_path);
  } else if (v->full_path[0]) {
    printf("  replay     faultline replay %s\n", v->full_path);
  }
}

static void progress(const verify_run_t *v) {
  fprintf(stderr, "\r  %.0f s: glass-box %llu ops, kernel %llu ops + %llu model steps, diff %llu ops   ",
          fl_cli_now() - v->t0, (unsigned long long)v->total[FL_CAMPAIGN_GLASS].ops,
          (unsigned long long)v->total[FL_CAMPAIGN_KERNEL].ops, (unsigned long long)v->model_steps,
          (unsigned long long)v->total[FL_CAMPAIGN_DIFF].ops);
}

int fl_cmd_verify(int argc, char **argv) {
  for (int i = 1; i < argc; i++) /* the black-box oracle on any allocator: cmd_oracle.c */
    if (!strncmp(argv[i], "--allocator", 11) && (!argv[i][11] || argv[i][11] == '='))
      return fl_cmd_verify_allocator(argc, argv);
  verify_run_t *v = calloc(1, sizeof *v);
  if (!v) return fl_cli_fail("verify", 3, "out of memory");
  int status = parse(argc, argv, &v->o);
  if (status) {
    free(v);
    return status < 0 ? 0 : status;
  }
  bool tty = isatty(2) && !v->o.json;
  v->t0 = fl_cli_now();
  double last = v->t0;
  for (uint64_t r = 0; status == 0 && budget_left(v); r++) {
    status = run_round(v, r);
    if (tty && fl_cli_now() - last >= 1.0) {
      last = fl_cli_now();
      progress(v);
    }
  }
  if (tty) fputc('\n', stderr);
  if (!v->finding.found) v->seconds = fl_cli_now() - v->t0; /* else: up to the finding, not its minimization */
  if (status <= 1) {
    if (v->o.json) print_json(v);
    else print_text(v);
  }
  free(v);
  return status;
}

/* cmd_verify.c — `faultline verify`: the verification campaign.
 *
 * Runs alternate between two kinds, each on a fresh model in shadow mode,
 * with the window compared with /proc/self/maps, pagemap, smaps Rss and the
 * minor-fault count after every step:
 *  - model runs: seeded random mmap/munmap/mprotect/mremap/madvise/brk and
 *    accesses straight on the model (src/vm/drive.h);
 *  - refmalloc runs: seeded random malloc/free/realloc/calloc/memalign,
 *    writes into the blocks and malloc_trim on refmalloc, whose every
 *    system call and access goes through the model. A glibc integrity
 *    message from refmalloc is a finding too (the stream is valid).
 * Any difference is a finding. The op language's generator and the
 * invariant checks replace the small allocator stream here when they land. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "host/profile.h"
#include "util/err.h"
#include "util/json.h"
#include "alloc/refmalloc.h"
#include "vm/drive.h"
#include "vm/vm.h"

#define STEPS_PER_RUN 64
#define SLOTS 32

typedef struct verify_opts {
  uint64_t seconds, ops, seed, base;
  bool json, ops_given;
} verify_opts_t;

typedef struct verify_result {
  uint64_t ops, runs, comparisons, mismatches, alloc_ops;
  uint64_t syscalls[FL_SYS_COUNT];
  double seconds;
} verify_result_t;

static void help(void) {
  printf(
      "usage: faultline verify [--seconds N | --ops N] [--seed S] [--json]\n"
      "\n"
      "Runs the verification campaign on this kernel: seeded random sequences of\n"
      "mmap, munmap, mprotect, mremap, madvise, brk and reads/writes drive the\n"
      "kernel model in shadow mode (every call is also made for real inside the\n"
      "model's window), and after every step the model is compared with\n"
      "/proc/self/maps, /proc/self/pagemap, smaps Rss and getrusage's minor faults.\n"
      "\n"
      "options:\n"
      "  --seconds N   stop after N seconds (default 60)\n"
      "  --ops N       run exactly N steps instead (fully reproducible)\n"
      "  --seed S      the campaign's seed (default 1): same seed, same steps\n"
      "  --base ADDR   where the model's 1 TiB window starts (default 0x300000000000;\n"
      "                a multiple of 2 MiB, free in this process)\n"
      "  --json        print the report as one JSON object\n"
      "\n"
      "examples:\n"
      "  faultline verify                       # the main job of `make run`\n"
      "  faultline verify --ops 20000 --seed 7  # a reproducible run\n"
      "\n"
      "exit status: 0 nothing found, 1 a mismatch (printed with the steps that\n"
      "led to it), 2 usage error, 3 environment error (window taken, /proc unreadable).\n");
}

static int parse(int argc, char **argv, verify_opts_t *o) {
  *o = (verify_opts_t){.seconds = 60, .seed = 1, .base = FL_VM_DEFAULT_BASE};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    uint64_t *num = NULL;
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (!strcmp(a, "--json")) {
      o->json = true;
    } else if (!strcmp(a, "--seconds")) {
      num = &o->seconds;
    } else if (!strcmp(a, "--ops")) {
      num = &o->ops;
      o->ops_given = true;
    } else if (!strcmp(a, "--seed")) {
      num = &o->seed;
    } else if (!strcmp(a, "--base")) {
      num = &o->base;
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
  return 0;
}

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report_finding(fl_vm_t *vm, const uint8_t *bytes, size_t nsteps, const int64_t *results,
                           const verify_opts_t *o, uint64_t run) {
  fprintf(stderr, "faultline verify: the model and the kernel disagree (seed %llu, run %llu, step %zu)\n",
          (unsigned long long)o->seed, (unsigned long long)run, nsteps - 1);
  fprintf(stderr, "steps of this run:\n");
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

/* A fresh model in shadow mode at the campaign's window; 0 or the exit status. */
static int open_model(const fl_kprofile_t *prof, const verify_opts_t *o, fl_vm_t **vm) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, prof);
  cfg.mode = FL_VM_SHADOW;
  cfg.base = (uintptr_t)o->base;
  int st = fl_vm_open(vm, &cfg);
  return st == FL_OK ? 0 : fl_cli_fail("verify", st == FL_EUSAGE ? 2 : 3, "%s", fl_error_message());
}

/* One run: a fresh model, STEPS_PER_RUN steps, a comparison after each. */
static int run_once(const fl_kprofile_t *prof, uint64_t *rng, size_t steps, const verify_opts_t *o,
                    verify_result_t *r) {
  fl_vm_t *vm;
  int st = open_model(prof, o, &vm);
  if (st) return st;
  uint8_t bytes[STEPS_PER_RUN * FL_DRIVE_STEP];
  int64_t results[STEPS_PER_RUN];
  for (size_t i = 0; i < sizeof bytes; i += 8) {
    uint64_t x = splitmix64(rng);
    memcpy(bytes + i, &x, 8);
  }
  fl_vm_compare(vm, FL_CMP_ALL);
  for (size_t i = 0; i < steps; i++) {
    fl_drive_step_t s;
    fl_drive_decode(vm, bytes, sizeof bytes, i, &s);
    results[i] = fl_drive_apply(vm, &s);
    r->ops++;
    r->comparisons++;
    if (fl_vm_compare(vm, FL_CMP_ALL) || fl_vm_mismatch_count(vm)) {
      r->mismatches += fl_vm_mismatch_count(vm);
      report_finding(vm, bytes, i + 1, results, o, r->runs);
      fl_vm_close(vm);
      return 1;
    }
  }
  fl_vm_stats_t stats;
  fl_vm_stats(vm, &stats);
  for (int k = 0; k < FL_SYS_COUNT; k++) r->syscalls[k] += stats.syscalls[k];
  fl_vm_close(vm);
  r->runs++;
  return 0;
}

/* ---- refmalloc runs ------------------------------------------------------ */
/* Sizes where glibc 2.36 changes its mind: MINSIZE, the fastbin and tcache
 * limits, the small/large boundary, the mmap threshold, page multiples. */
static const size_t boundary_sizes[] = {0, 1, 24, 25, 40, 120, 121, 1008, 1009, 1032, 1033, 4095, 4096,
                                        65536, 131071, 131072, 131073, 262144, 1048576};

static size_t pick_size(uint64_t x) {
  switch (x & 3) {
  case 0: return boundary_sizes[(x >> 2) % (sizeof boundary_sizes / sizeof boundary_sizes[0])];
  case 1: return (x >> 2) % 2048;
  case 2: return (x >> 2) % 70000;
  default: return (x >> 2) % 600000;
  }
}

/* One allocator step on slot table `slot`; returns a short description. */
static const char *alloc_step(fl_rm_t *rm, uintptr_t *slot, uint64_t x) {
  unsigned s = (unsigned)(x >> 56) % SLOTS;
  uintptr_t p = slot[s];
  switch ((x >> 48) & 15) {
  case 0: case 1: case 2: case 3:
    if (p) fl_rm_free(rm, p);
    slot[s] = fl_rm_malloc(rm, pick_size(x));
    return "malloc";
  case 4: case 5: case 6:
    if (p) fl_rm_free(rm, p);
    slot[s] = 0;
    return "free";
  case 7: case 8: {
    /* realloc(p, 0) frees p and returns NULL (2.36); a failure keeps p. */
    size_t n = pick_size(x);
    uintptr_t q = fl_rm_realloc(rm, p, n);
    slot[s] = q ? q : p && n ? p : 0;
    return "realloc";
  }
  case 9:
    if (p) fl_rm_free(rm, p);
    slot[s] = fl_rm_calloc(rm, 1 + (x & 7), pick_size(x >> 3) / 8);
    return "calloc";
  case 10:
    if (p) fl_rm_free(rm, p);
    slot[s] = fl_rm_memalign(rm, (size_t)16 << ((x >> 8) % 9), pick_size(x));
    return "memalign";
  case 11:
    fl_rm_trim(rm, (x >> 8) % 65536);
    return "malloc_trim";
  default:
    if (p) fl_vm_fill(fl_rm_vm(rm), p, (int)(x & 0xff), fl_rm_usable_size(rm, p));
    return "write";
  }
}

static int run_alloc_once(const fl_kprofile_t *prof, uint64_t *rng, size_t steps, const verify_opts_t *o,
                          verify_result_t *r) {
  fl_vm_t *vm;
  int st = open_model(prof, o, &vm);
  if (st) return st;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  fl_rm_t *rm;
  if (fl_rm_open(&rm, vm, &rc) != FL_OK) {
    fl_vm_close(vm);
    return fl_cli_fail("verify", 3, "%s", fl_error_message());
  }
  uintptr_t slot[SLOTS] = {0};
  int status = 0;
  for (size_t i = 0; i < steps && !status; i++) {
    const char *what = alloc_step(rm, slot, splitmix64(rng));
    r->ops++;
    r->alloc_ops++;
    r->comparisons++;
    if (fl_rm_aborted(rm)) {
      fprintf(stderr, "faultline verify: refmalloc raised \"%s\" at step %zu (%s) of a valid stream (seed %llu, run %llu)\n",
              fl_rm_last_event(rm)->message, i, what, (unsigned long long)o->seed, (unsigned long long)r->runs);
      status = 1;
    } else if (fl_vm_compare(vm, FL_CMP_ALL) || fl_vm_mismatch_count(vm)) {
      r->mismatches += fl_vm_mismatch_count(vm);
      fprintf(stderr, "faultline verify: under refmalloc, the model and the kernel disagree after step %zu (%s) "
              "(seed %llu, run %llu)\n", i, what, (unsigned long long)o->seed, (unsigned long long)r->runs);
      for (size_t k = 0; k < fl_vm_mismatch_count(vm); k++) fprintf(stderr, "mismatch: %s\n", fl_vm_mismatch(vm, k)->text);
      status = 1;
    }
  }
  fl_vm_stats_t stats;
  fl_vm_stats(vm, &stats);
  for (int k = 0; k < FL_SYS_COUNT; k++) r->syscalls[k] += stats.syscalls[k];
  fl_rm_close(rm);
  fl_vm_close(vm);
  r->runs += !status;
  return status;
}

static void print_report(const verify_opts_t *o, const verify_result_t *r, int status) {
  static const char *names[] = {"mmap", "munmap", "mprotect", "mremap", "madvise", "brk"};
  if (o->json) {
    fl_json_t j;
    fl_json_init(&j, stdout, true);
    fl_json_begin_object(&j);
    fl_json_key(&j, "campaign"); fl_json_string(&j, "model-and-refmalloc-vs-kernel");
    fl_json_key(&j, "seed"); fl_json_uint(&j, o->seed);
    fl_json_key(&j, "ops"); fl_json_uint(&j, r->ops);
    fl_json_key(&j, "runs"); fl_json_uint(&j, r->runs);
    fl_json_key(&j, "refmalloc_ops"); fl_json_uint(&j, r->alloc_ops);
    fl_json_key(&j, "kernel_comparisons"); fl_json_uint(&j, r->comparisons);
    fl_json_key(&j, "mismatches"); fl_json_uint(&j, r->mismatches);
    fl_json_key(&j, "findings"); fl_json_uint(&j, status == 1);
    fl_json_key(&j, "seconds"); fl_json_double(&j, r->seconds);
    fl_json_key(&j, "syscalls");
    fl_json_begin_object(&j);
    for (int k = 0; k < FL_SYS_COUNT; k++) {
      fl_json_key(&j, names[k]);
      fl_json_uint(&j, r->syscalls[k]);
    }
    fl_json_end_object(&j);
    fl_json_end_object(&j);
    fl_json_finish(&j);
    return;
  }
  printf("faultline verify: the model and refmalloc against this kernel, seed %llu\n", (unsigned long long)o->seed);
  printf("  steps               %llu in %llu runs (%llu of them refmalloc calls)\n", (unsigned long long)r->ops,
         (unsigned long long)r->runs, (unsigned long long)r->alloc_ops);
  printf("  kernel comparisons  %llu (maps, pagemap, smaps Rss, minflt after every step)\n",
         (unsigned long long)r->comparisons);
  printf("  system calls        ");
  for (int k = 0; k < FL_SYS_COUNT; k++) printf("%s %llu%s", names[k], (unsigned long long)r->syscalls[k], k + 1 < FL_SYS_COUNT ? ", " : "\n");
  printf("  seconds             %.1f\n", r->seconds);
  printf("  verdict             %s\n", status == 0 ? "no mismatch" : "MISMATCH (see above)");
}

int fl_cmd_verify(int argc, char **argv) {
  verify_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  const fl_kprofile_t *prof = fl_kprofile_get();
  verify_result_t r = {0};
  uint64_t rng = o.seed;
  bool tty = isatty(2) && !o.json;
  double t0 = now(), last = t0;
  int status = 0;
  while (status == 0) {
    if (o.ops_given ? r.ops >= o.ops : now() - t0 >= (double)o.seconds) break;
    size_t steps = STEPS_PER_RUN;
    if (o.ops_given && o.ops - r.ops < steps) steps = (size_t)(o.ops - r.ops);
    status = r.runs % 2 ? run_alloc_once(prof, &rng, steps, &o, &r) : run_once(prof, &rng, steps, &o, &r);
    if (tty && now() - last >= 1.0) {
      last = now();
      fprintf(stderr, "\r  %llu steps, %llu runs, %.0f s", (unsigned long long)r.ops, (unsigned long long)r.runs, last - t0);
    }
  }
  if (tty) fputc('\n', stderr);
  r.seconds = now() - t0;
  if (status > 1) return status;
  print_report(&o, &r, status);
  return status;
}

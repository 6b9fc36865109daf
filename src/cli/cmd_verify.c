/* cmd_verify.c — `faultline verify`: the verification campaign.
 *
 * Today the campaign holds the kernel model against this kernel: seeded
 * random sequences of mmap/munmap/mprotect/mremap/madvise/brk and memory
 * accesses run on the model in shadow mode, and after every step the
 * window is compared with /proc/self/maps, pagemap, smaps Rss and the
 * minor-fault count. Any difference is a finding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "host/profile.h"
#include "util/err.h"
#include "util/json.h"
#include "vm/drive.h"
#include "vm/vm.h"

#define STEPS_PER_RUN 64

typedef struct verify_opts {
  uint64_t seconds, ops, seed, base;
  bool json, ops_given;
} verify_opts_t;

typedef struct verify_result {
  uint64_t ops, runs, comparisons, mismatches;
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

/* One run: a fresh model, STEPS_PER_RUN steps, a comparison after each. */
static int run_once(const fl_kprofile_t *prof, uint64_t *rng, size_t steps, const verify_opts_t *o,
                    verify_result_t *r) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, prof);
  cfg.mode = FL_VM_SHADOW;
  cfg.base = (uintptr_t)o->base;
  fl_vm_t *vm;
  int st = fl_vm_open(&vm, &cfg);
  if (st != FL_OK) return fl_cli_fail("verify", st == FL_EUSAGE ? 2 : 3, "%s", fl_error_message());
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

static void print_report(const verify_opts_t *o, const verify_result_t *r, int status) {
  static const char *names[] = {"mmap", "munmap", "mprotect", "mremap", "madvise", "brk"};
  if (o->json) {
    fl_json_t j;
    fl_json_init(&j, stdout, true);
    fl_json_begin_object(&j);
    fl_json_key(&j, "campaign"); fl_json_string(&j, "vm-kernel");
    fl_json_key(&j, "seed"); fl_json_uint(&j, o->seed);
    fl_json_key(&j, "ops"); fl_json_uint(&j, r->ops);
    fl_json_key(&j, "runs"); fl_json_uint(&j, r->runs);
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
  printf("faultline verify: model vs kernel, seed %llu\n", (unsigned long long)o->seed);
  printf("  steps               %llu in %llu runs\n", (unsigned long long)r->ops, (unsigned long long)r->runs);
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
    status = run_once(prof, &rng, steps, &o, &r);
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

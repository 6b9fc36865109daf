/* cmd_demo.c — `faultline demo`: the seed article's experiment, live, on
 * the model, on the kernel and on the real glibc side by side
 * (src/view/demo.h measures; this file prints). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/viewargs.h"
#include "ops/glibc.h"
#include "util/json.h"
#include "view/demo.h"
#include "view/strace.h"

static void help(void) {
  printf(
      "usage: faultline demo [--json]\n"
      "\n"
      "Runs the experiment of the article faultline grew from (\"from malloc to\n"
      "page fault\"), live, three ways at once:\n"
      "\n"
      "  p = malloc(100); memset(p, 1, 100);\n"
      "  q = malloc(104857600); memset(q, 2, 104857600);   /* 100 MiB */\n"
      "  free(p); free(q);\n"
      "\n"
      "  model   refmalloc (glibc 2.36 malloc) over faultline's kernel model\n"
      "  kernel  the same calls made for real by the model's shadow mode, read\n"
      "          back from /proc/self/smaps and getrusage\n"
      "  glibc   the real glibc malloc in a child process (faultline-glibc),\n"
      "          its system calls traced, /proc/PID/smaps and /proc/PID/stat read\n"
      "\n"
      "For each step it prints the system calls in strace's format, the pmap -x\n"
      "lines of the heap and of the 100 MiB mapping (RSS 4 KiB before the memset,\n"
      "102404 KiB after: the kernel hands out pages at the first touch), the minor\n"
      "faults, and a verdict: do model, kernel and glibc agree? Every number is\n"
      "measured on this machine, none is written into faultline.\n"
      "\n"
      "options:\n"
      "  --json      one JSON object (spec/json.md)\n"
      "  -h, --help  this text\n"
      "\n"
      "examples:\n"
      "  faultline demo\n"
      "  faultline demo --json | python3 -m json.tool\n"
      "\n"
      "exit status: 0 the three agree, 1 they do not, 2 usage error, 3\n"
      "environment error (the model's window or the glibc helper unavailable).\n");
}

/* ---- text -------------------------------------------------------------------- */

static void print_calls(const fl_demo_step_t *s, fl_demo_side_t side) {
  size_t n = s->ncalls[side];
  for (size_t i = 0; i < n && i < FL_DEMO_MAX_CALLS; i++) {
    const fl_demo_call_t *c = &s->calls[side][i];
    char line[256];
    printf("     %-6s %s\n", fl_demo_side_name(side), fl_strace_format(line, sizeof line, c->no, c->args, c->ret));
  }
  if (n > FL_DEMO_MAX_CALLS) printf("     %-6s ... %zu calls in all\n", fl_demo_side_name(side), n);
}

static void print_map_line(const char *side, const fl_demo_map_t *m, const char *mapping) {
  if (!m->found) {
    printf("     %-6s (no mapping)\n", side);
    return;
  }
  printf("     %-6s %016lx %8lu %7lu %7lu %c%c%c--   %s\n", side, (unsigned long)m->addr, (unsigned long)m->kbytes,
         (unsigned long)m->rss_kib, (unsigned long)m->dirty_kib, m->prot & 1 ? 'r' : '-', m->prot & 2 ? 'w' : '-',
         m->prot & 4 ? 'x' : '-', mapping);
}

static void print_maps(const fl_demo_t *d, const fl_demo_step_t *s) {
  static const char *names[2] = {"[ anon ] (p: the heap)", "[ anon ] (q: 100 MiB)"};
  printf("   pmap -x                  Address   Kbytes     RSS   Dirty Mode    Mapping\n");
  for (int which = 0; which < 2; which++) {
    const fl_demo_map_t *m = which ? s->big : s->heap;
    if (!m[FL_DEMO_MODEL].found && !m[FL_DEMO_GLIBC].found) {
      if (s >= fl_demo_step(d, FL_OP_FREE, (unsigned)which)) printf("     %s: unmapped on every side\n", names[which]);
      continue;
    }
    for (int side = 0; side < FL_DEMO_SIDES; side++) print_map_line(fl_demo_side_name(side), &m[side], names[which]);
    if (which && s->glibc_merged)
      print_map_line("", &s->glibc_vma, "glibc's VMA as pmap shows it: q merged with its neighbours");
  }
}

static const char *yes(bool ok) { return ok ? "agree" : "DISAGREE"; }

static void print_step(const fl_demo_t *d, size_t i, const fl_demo_step_t *s) {
  printf("%zu. %s\n", i + 1, s->code);
  if (!s->ncalls[FL_DEMO_MODEL] && !s->ncalls[FL_DEMO_GLIBC]) {
    printf("     no system call on either side\n");
  } else {
    print_calls(s, FL_DEMO_MODEL);
    print_calls(s, FL_DEMO_GLIBC);
  }
  printf("   system calls: %s (the kernel %s the model's calls at the model's addresses)\n", yes(s->calls_agree),
         s->kernel_agrees ? "made" : "DISAGREED with");
  if (!s->kernel_agrees) printf("     kernel: %s\n", s->kernel_mismatch);
  print_maps(d, s);
  printf("   pmap lines: %s\n", yes(s->maps_agree));
  printf("   minor faults: model %lu..%lu, kernel %ld (the whole process), glibc %ld: %s\n", (unsigned long)s->minflt_min,
         (unsigned long)s->minflt_max, s->minflt[FL_DEMO_KERNEL], s->minflt[FL_DEMO_GLIBC], yes(s->minflt_agrees));
  printf("\n");
}

static void print_text(const fl_demo_t *d) {
  printf("faultline demo: the seed article's experiment, live (glibc helper pid %d)\n"
         "  model  = refmalloc over faultline's kernel model (shadow mode)\n"
         "  kernel = the model's calls made for real, read back from /proc/self\n"
         "  glibc  = the real glibc malloc in a child process, traced\n\n",
         d->glibc_pid);
  for (size_t i = 0; i < d->nsteps; i++) print_step(d, i, &d->steps[i]);
  printf("verdict: %s\n", d->agree ? "model, kernel and glibc agree on every line"
                                   : "DISAGREEMENT (see the lines marked DISAGREE)");
}

/* ---- JSON -------------------------------------------------------------------- */

static void json_calls(fl_json_t *j, const fl_demo_step_t *s, fl_demo_side_t side) {
  fl_json_begin_array(j);
  for (size_t i = 0; i < s->ncalls[side] && i < FL_DEMO_MAX_CALLS; i++) {
    const fl_demo_call_t *c = &s->calls[side][i];
    char line[256];
    fl_json_begin_object(j);
    fl_json_key(j, "name"); fl_json_string(j, fl_sysno_name(c->no));
    fl_json_key(j, "strace"); fl_json_string(j, fl_strace_format(line, sizeof line, c->no, c->args, c->ret));
    fl_json_key(j, "length");
    if (c->no == FL_SYS_BRK) fl_json_null(j);
    else fl_json_uint(j, c->args[1]);
    fl_json_key(j, "ret"); fl_json_int(j, c->ret);
    fl_json_end_object(j);
  }
  fl_json_end_array(j);
}

static void json_map(fl_json_t *j, const fl_demo_map_t *m) {
  if (!m->found) {
    fl_json_null(j);
    return;
  }
  fl_json_begin_object(j);
  fl_json_key(j, "address"); fl_json_addr(j, m->addr);
  fl_json_key(j, "kbytes"); fl_json_uint(j, m->kbytes);
  fl_json_key(j, "rss_kib"); fl_json_uint(j, m->rss_kib);
  fl_json_key(j, "dirty_kib"); fl_json_uint(j, m->dirty_kib);
  fl_json_end_object(j);
}

/* {"model": ..., "kernel": ..., "glibc": ...} of one number per side. */
static void json_sides_u(fl_json_t *j, const char *key, const uint64_t v[FL_DEMO_SIDES]) {
  fl_json_key(j, key);
  fl_json_begin_object(j);
  for (int k = 0; k < FL_DEMO_SIDES; k++) {
    fl_json_key(j, fl_demo_side_name(k));
    fl_json_uint(j, v[k]);
  }
  fl_json_end_object(j);
}

static void json_step(fl_json_t *j, const fl_demo_step_t *s) {
  fl_json_begin_object(j);
  fl_json_key(j, "code"); fl_json_string(j, s->code);
  fl_json_key(j, "syscalls");
  fl_json_begin_object(j);
  fl_json_key(j, "model"); json_calls(j, s, FL_DEMO_MODEL);
  fl_json_key(j, "glibc"); json_calls(j, s, FL_DEMO_GLIBC);
  fl_json_end_object(j);
  for (int which = 0; which < 2; which++) {
    fl_json_key(j, which ? "q_mapping" : "p_mapping");
    fl_json_begin_object(j);
    for (int k = 0; k < FL_DEMO_SIDES; k++) {
      fl_json_key(j, fl_demo_side_name(k));
      json_map(j, which ? &s->big[k] : &s->heap[k]);
    }
    fl_json_end_object(j);
  }
  fl_json_key(j, "minflt");
  fl_json_begin_object(j);
  fl_json_key(j, "model_min"); fl_json_uint(j, s->minflt_min);
  fl_json_key(j, "model_max"); fl_json_uint(j, s->minflt_max);
  fl_json_key(j, "kernel"); fl_json_int(j, s->minflt[FL_DEMO_KERNEL]);
  fl_json_key(j, "glibc"); fl_json_int(j, s->minflt[FL_DEMO_GLIBC]);
  fl_json_end_object(j);
  fl_json_key(j, "agree");
  fl_json_begin_object(j);
  fl_json_key(j, "syscalls"); fl_json_bool(j, s->calls_agree);
  fl_json_key(j, "kernel"); fl_json_bool(j, s->kernel_agrees);
  fl_json_key(j, "pmap"); fl_json_bool(j, s->maps_agree);
  fl_json_key(j, "minflt"); fl_json_bool(j, s->minflt_agrees);
  fl_json_end_object(j);
  fl_json_end_object(j);
}

/* The article's headline numbers, each measured on every side. */
static void json_summary(fl_json_t *j, const fl_demo_t *d) {
  const fl_demo_step_t *mal = fl_demo_step(d, FL_OP_MALLOC, 1), *set = fl_demo_step(d, FL_OP_WRITE, 1),
                       *fre = fl_demo_step(d, FL_OP_FREE, 1);
  uint64_t len[FL_DEMO_SIDES] = {0}, before[FL_DEMO_SIDES], after[FL_DEMO_SIDES], unmap[FL_DEMO_SIDES] = {0};
  /* the kernel performed the model's own calls: its lengths are the model's */
  static const fl_demo_side_t caller[FL_DEMO_SIDES] = {FL_DEMO_MODEL, FL_DEMO_MODEL, FL_DEMO_GLIBC};
  for (int k = 0; k < FL_DEMO_SIDES; k++) {
    fl_demo_side_t c = caller[k];
    for (size_t i = 0; i < mal->ncalls[c] && i < FL_DEMO_MAX_CALLS; i++)
      if (mal->calls[c][i].no == FL_SYS_MMAP) len[k] = mal->calls[c][i].args[1];
    for (size_t i = 0; i < fre->ncalls[c] && i < FL_DEMO_MAX_CALLS; i++)
      if (fre->calls[c][i].no == FL_SYS_MUNMAP) unmap[k] = fre->calls[c][i].args[1];
    before[k] = mal->big[k].rss_kib;
    after[k] = set->big[k].rss_kib;
  }
  json_sides_u(j, "mmap_length", len);
  json_sides_u(j, "rss_kib_before_memset", before);
  json_sides_u(j, "rss_kib_after_memset", after);
  json_sides_u(j, "munmap_length", unmap);
}

static void print_json(const fl_demo_t *d) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "glibc_pid"); fl_json_int(&j, d->glibc_pid);
  json_summary(&j, d);
  fl_json_key(&j, "steps");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < d->nsteps; i++) json_step(&j, &d->steps[i]);
  fl_json_end_array(&j);
  fl_json_key(&j, "agree"); fl_json_bool(&j, d->agree);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

int fl_cmd_demo(int argc, char **argv) {
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (fl_cli_is_help(argv[i])) {
      help();
      return 0;
    }
    if (strcmp(argv[i], "--json") != 0)
      return fl_cli_fail("demo", 2, "unknown option '%s' (see faultline demo --help)", argv[i]);
    json = true;
  }
  static fl_demo_t d;
  fl_status_t st = fl_demo_run(&d, NULL);
  if (st != FL_OK) return fl_cli_fail("demo", st == FL_EUSAGE ? 2 : 3, "%s", fl_error_message());
  if (json) print_json(&d);
  else print_text(&d);
  return d.agree ? 0 : 1;
}

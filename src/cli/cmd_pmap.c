/* cmd_pmap.c — `faultline pmap SCRIPT`: the model's window in `pmap -x`
 * columns next to what the kernel says of the same addresses
 * (/proc/self/smaps: the model runs in shadow mode, so every mapping it
 * predicts was also made for real), after a script, after op N, or at the
 * first violation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/viewargs.h"
#include "host/procfs.h"
#include "util/json.h"
#include "view/snapshot.h"

static void help(void) {
  printf(
      "usage: faultline pmap SCRIPT [--at N] [--check L] [--tunables STR] [--json]\n"
      "\n"
      "Runs an op script on refmalloc over faultline's kernel model in shadow mode\n"
      "(every mmap, munmap, brk... is also made for real inside the model's window)\n"
      "and prints the window the way `pmap -x` prints a process: Address, Kbytes,\n"
      "RSS, Dirty, Mode, Mapping. The model's prediction is on the left, the\n"
      "kernel's account of the same addresses (/proc/self/smaps) on the right, and\n"
      "each line ends with a verdict. Mappings are named by what refmalloc keeps\n"
      "there: [heap] (the brk heap), [arena heap] (a thread arena's heap),\n"
      "[mmap chunk] (one malloc above the mmap threshold).\n"
      "\n"
      "By default the view is after the last op, with every block the script left\n"
      "live still live.\n"
      "\n"
      "options:\n"
      "  --at N          stop after op N instead (ops count from 0)\n"
      "  --check L       check the invariants at level L (1-3) after every call\n"
      "                  and stop at the first violation\n"
      "  --tunables STR  as GLIBC_TUNABLES, e.g. glibc.malloc.mmap_threshold=4096\n"
      "  --json          one JSON object (spec/json.md)\n"
      "\n"
      "examples:\n"
      "  faultline pmap corpus/scripts/bins-tour.ops\n"
      "  faultline pmap corpus/scripts/bins-tour.ops --at 1   # before the mapping grows\n"
      "  faultline pmap crash.ops --check 2 --json\n"
      "\n"
      "exit status: 0 the kernel agrees, 1 it does not (or the view stopped at a\n"
      "violation or a glibc abort), 2 usage error (bad option, unreadable or\n"
      "truncated script, --at past the end), 3 environment error.\n");
}

/* One pmap -x line's numbers, from either side. */
typedef struct pm_cols {
  bool present;         /* this side has a mapping at this address */
  uintptr_t start, end;
  uint64_t rss_kib, dirty_kib;
  int prot;
} pm_cols_t;

typedef struct pm_line {
  pm_cols_t model, kernel;
  const char *mapping;
} pm_line_t;

static void mode(int prot, char out[6]) {
  snprintf(out, 6, "%c%c%c--", prot & 1 ? 'r' : '-', prot & 2 ? 'w' : '-', prot & 4 ? 'x' : '-');
}

static bool cols_equal(const pm_cols_t *a, const pm_cols_t *b) {
  return a->present && b->present && a->start == b->start && a->end == b->end && a->rss_kib == b->rss_kib &&
         a->dirty_kib == b->dirty_kib && a->prot == b->prot;
}

/* What differs between the sides, in pmap's column names. */
static const char *verdict(const pm_line_t *l, char *buf, size_t cap) {
  if (cols_equal(&l->model, &l->kernel)) return "agree";
  if (!l->kernel.present) return "DIFFER: the kernel has no mapping here";
  if (!l->model.present) return "DIFFER: the model has no mapping here";
  snprintf(buf, cap, "DIFFER:%s%s%s%s", l->model.end != l->kernel.end ? " Kbytes" : "",
           l->model.rss_kib != l->kernel.rss_kib ? " RSS" : "", l->model.dirty_kib != l->kernel.dirty_kib ? " Dirty" : "",
           l->model.prot != l->kernel.prot ? " Mode" : "");
  return buf;
}

/* Pairs the model's VMAs with the kernel's by start address, in address
 * order (a VMA only one side has gets a line of its own). */
static size_t pair(const fl_snapshot_t *sn, const fl_smaps_entry_t *k, size_t nk, pm_line_t *out) {
  size_t i = 0, j = 0, n = 0;
  while (i < sn->nvmas || j < nk) {
    pm_line_t l = {.mapping = "[anon]"};
    uintptr_t ms = i < sn->nvmas ? sn->vmas[i].vma.start : UINTPTR_MAX;
    uintptr_t ks = j < nk ? k[j].map.start : UINTPTR_MAX;
    if (ms <= ks) {
      const fl_snap_vma_t *v = &sn->vmas[i++];
      l.model = (pm_cols_t){true, v->vma.start, v->vma.end, v->present * 4, v->dirty * 4, v->vma.prot};
      l.mapping = v->label;
    }
    if (ks <= ms) {
      const fl_smaps_entry_t *e = &k[j++];
      l.kernel = (pm_cols_t){true, e->map.start, e->map.end, e->rss_kib, e->dirty_kib, e->map.prot};
    }
    out[n++] = l;
  }
  return n;
}

static void print_cols(const pm_cols_t *c) {
  char m[6];
  mode(c->prot, m);
  if (c->present) printf("%8lu %7lu %7lu %s", (unsigned long)((c->end - c->start) >> 10), (unsigned long)c->rss_kib,
                         (unsigned long)c->dirty_kib, m);
  else printf("%8s %7s %7s %5s", "-", "-", "-", "-");
}

static void totals(const pm_line_t *l, size_t n, bool kernel, uint64_t t[3]) {
  t[0] = t[1] = t[2] = 0;
  for (size_t i = 0; i < n; i++) {
    const pm_cols_t *c = kernel ? &l[i].kernel : &l[i].model;
    if (!c->present) continue;
    t[0] += (c->end - c->start) >> 10;
    t[1] += c->rss_kib;
    t[2] += c->dirty_kib;
  }
}

static void print_text(const pm_line_t *l, size_t n, bool agree) {
  printf("the model on the left, the kernel's /proc/self/smaps on the right\n");
  printf("%-16s %8s %7s %7s %-5s  %-13s | %8s %7s %7s %-5s | %s\n", "Address", "Kbytes", "RSS", "Dirty", "Mode",
         "Mapping", "Kbytes", "RSS", "Dirty", "Mode", "verdict");
  for (size_t i = 0; i < n; i++) {
    char buf[96];
    printf("%016lx ", (unsigned long)(l[i].model.present ? l[i].model.start : l[i].kernel.start));
    print_cols(&l[i].model);
    printf("  %-13s | ", l[i].mapping);
    print_cols(&l[i].kernel);
    printf(" | %s\n", verdict(&l[i], buf, sizeof buf));
  }
  uint64_t m[3], k[3];
  totals(l, n, false, m);
  totals(l, n, true, k);
  printf("%-16s %8lu %7lu %7lu %5s  %-13s | %8lu %7lu %7lu %5s | %s\n", "total kB", (unsigned long)m[0],
         (unsigned long)m[1], (unsigned long)m[2], "", "", (unsigned long)k[0], (unsigned long)k[1],
         (unsigned long)k[2], "", agree ? "the kernel agrees" : "MISMATCH");
}

static void json_cols(fl_json_t *j, const char *key, const pm_cols_t *c) {
  fl_json_key(j, key);
  if (!c->present) {
    fl_json_null(j);
    return;
  }
  char m[6];
  mode(c->prot, m);
  fl_json_begin_object(j);
  fl_json_key(j, "kbytes"); fl_json_uint(j, (c->end - c->start) >> 10);
  fl_json_key(j, "rss_kib"); fl_json_uint(j, c->rss_kib);
  fl_json_key(j, "dirty_kib"); fl_json_uint(j, c->dirty_kib);
  fl_json_key(j, "mode"); fl_json_string(j, m);
  fl_json_end_object(j);
}

static void json_total(fl_json_t *j, const char *key, const uint64_t t[3]) {
  fl_json_key(j, key);
  fl_json_begin_object(j);
  fl_json_key(j, "kbytes"); fl_json_uint(j, t[0]);
  fl_json_key(j, "rss_kib"); fl_json_uint(j, t[1]);
  fl_json_key(j, "dirty_kib"); fl_json_uint(j, t[2]);
  fl_json_end_object(j);
}

static void print_json(const fl_viewargs_t *a, const fl_session_t *s, const pm_line_t *l, size_t n, bool agree) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_viewargs_json_stop(&j, a, s);
  fl_json_key(&j, "mappings");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < n; i++) {
    fl_json_begin_object(&j);
    fl_json_key(&j, "address");
    fl_json_addr(&j, l[i].model.present ? l[i].model.start : l[i].kernel.start);
    fl_json_key(&j, "mapping"); fl_json_string(&j, l[i].mapping);
    json_cols(&j, "model", &l[i].model);
    json_cols(&j, "kernel", &l[i].kernel);
    fl_json_key(&j, "agree"); fl_json_bool(&j, cols_equal(&l[i].model, &l[i].kernel));
    fl_json_end_object(&j);
  }
  fl_json_end_array(&j);
  uint64_t m[3], k[3];
  totals(l, n, false, m);
  totals(l, n, true, k);
  json_total(&j, "total_model", m);
  json_total(&j, "total_kernel", k);
  fl_json_key(&j, "agree"); fl_json_bool(&j, agree);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

typedef struct pmap_ctx {
  const fl_viewargs_t *a;
  int status;
} pmap_ctx_t;

/* Reads both sides now (the script's blocks are all still live) and
 * prints them. */
static int show(const fl_viewargs_t *a, fl_session_t *s, fl_snapshot_t *sn) {
  if (fl_snapshot_take(sn, s->rm) != FL_OK) return fl_cli_fail("pmap", 3, "%s", fl_error_message());
  const fl_vm_config_t *cfg = fl_vm_config(s->vm);
  long nk = fl_smaps_read(0, cfg->base, cfg->base + cfg->size, NULL, 0);
  fl_smaps_entry_t *k = nk >= 0 ? calloc((size_t)nk + 1, sizeof *k) : NULL;
  pm_line_t *l = calloc(sn->nvmas + (size_t)(nk > 0 ? nk : 0) + 1, sizeof *l);
  if (!k || !l || fl_smaps_read(0, cfg->base, cfg->base + cfg->size, k, (size_t)nk) != nk) {
    free(k);
    free(l);
    return fl_cli_fail("pmap", 3, "cannot read /proc/self/smaps: %s", fl_error_message());
  }
  size_t n = pair(sn, k, (size_t)nk, l);
  bool agree = true;
  for (size_t i = 0; i < n; i++) agree &= cols_equal(&l[i].model, &l[i].kernel);
  if (a->json) {
    print_json(a, s, l, n, agree);
  } else {
    fl_viewargs_print_stop(a, s);
    print_text(l, n, agree);
  }
  free(k);
  free(l);
  return agree && s->reason != FL_STOP_VIOLATION && s->reason != FL_STOP_INTEGRITY ? 0 : 1;
}

static void at_stop(void *ctx, fl_session_t *s) {
  pmap_ctx_t *p = ctx;
  fl_snapshot_t sn = {0};
  p->status = show(p->a, s, &sn);
  fl_snapshot_free(&sn);
}

int fl_cmd_pmap(int argc, char **argv) {
  fl_viewargs_t a;
  int st = fl_viewargs_parse(&a, "pmap", argc, argv, help);
  if (st) return st < 0 ? 0 : st;
  pmap_ctx_t p = {.a = &a};
  st = fl_viewargs_run(&a, true, at_stop, &p);
  return st ? st : p.status;
}

/* cmd_bins.c — `faultline bins SCRIPT`: refmalloc's free lists after a
 * script (or after op N, or at the first violation), the way the gdb heap
 * plugins (pwndbg/gef `bins`) print glibc's: tcache, fastbins, unsorted,
 * small and large bins, with chunk addresses and sizes, then each arena's
 * top and the mapped chunks. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/viewargs.h"
#include "util/json.h"
#include "view/snapshot.h"

static void help(void) {
  printf(
      "usage: faultline bins SCRIPT [--at N] [--check L] [--tunables STR] [--json]\n"
      "\n"
      "Runs an op script on refmalloc (glibc 2.36 malloc over faultline's kernel\n"
      "model) and prints its free lists as pwndbg/gef `bins` print glibc's: the\n"
      "tcache bins of each thread, the fastbins, the unsorted bin, the small and\n"
      "the large bins of each arena, then each arena's top chunk and the mmap()ed\n"
      "chunks. Addresses are chunk (header) addresses: the pointer malloc\n"
      "returned is 16 bytes above. Lists are in glibc's order (fd links).\n"
      "\n"
      "By default the lists are shown after the last op, with every block the\n"
      "script left live still live.\n"
      "\n"
      "options:\n"
      "  --at N          stop after op N instead (ops count from 0)\n"
      "  --check L       check the invariants at level L (1-3) after every call\n"
      "                  and stop at the first violation\n"
      "  --tunables STR  as GLIBC_TUNABLES, e.g. glibc.malloc.tcache_count=0\n"
      "  --json          one JSON object (spec/json.md)\n"
      "\n"
      "examples:\n"
      "  faultline bins corpus/scripts/bins-tour.ops\n"
      "  faultline bins corpus/scripts/bins-tour.ops --at 30\n"
      "  faultline bins crash.ops --check 3          # the lists at the violation\n"
      "  faultline bins corpus/scripts/bins-tour.ops --json\n"
      "\n"
      "exit status: 0 shown, 1 shown at a violation or glibc abort, 2 usage error\n"
      "(bad option, unreadable or truncated script, --at past the end), 3\n"
      "environment error.\n");
}

static void print_list(const fl_snapshot_t *sn, const fl_snap_list_t *l) {
  char label[48];
  fl_snap_list_label(l, label, sizeof label);
  if (l->kind == FL_LIST_TCACHE) printf("  %-16s [%3u]:", label, l->count);
  else printf("  %-22s:", label);
  for (size_t k = 0; k < l->n; k++) {
    const fl_snap_entry_t *e = &sn->entries[l->first + k];
    printf("%s%#lx (%#lx)", k ? " -> " : " ", (unsigned long)e->chunk, (unsigned long)e->size);
  }
  printf(l->broken ? " -> BROKEN LINK\n" : "\n");
}

/* One heading per list kind and owner (thread for tcache, arena else). */
static void print_text(const fl_snapshot_t *sn) {
  int last_kind = -1, last_owner = -2;
  for (size_t i = 0; i < sn->nlists; i++) {
    const fl_snap_list_t *l = &sn->lists[i];
    int owner = l->kind == FL_LIST_TCACHE ? l->tid : l->arena;
    if (l->kind != last_kind || owner != last_owner) {
      if (l->kind == FL_LIST_TCACHE) printf("tcachebins (thread %u)\n", l->tid);
      else printf("%s (arena %d%s)\n", fl_list_kind_name((fl_list_kind_t)l->kind), l->arena,
                  l->arena ? "" : ", main_arena");
      last_kind = l->kind;
      last_owner = owner;
    }
    print_list(sn, l);
  }
  if (!sn->nlists) printf("every bin is empty\n");
  for (size_t i = 0; i < sn->narenas; i++)
    if (sn->arenas[i].top)
      printf("top (arena %d): %#lx (%#lx)\n", sn->arenas[i].index, (unsigned long)sn->arenas[i].top,
             (unsigned long)sn->arenas[i].top_size);
  for (size_t i = 0; i < sn->nchunks; i++)
    if (sn->chunks[i].state == FL_CHUNK_MAPPED)
      printf("mapped: %#lx (%#lx)\n", (unsigned long)sn->chunks[i].addr, (unsigned long)sn->chunks[i].size);
  if (!sn->walk_complete) printf("the heap walk stopped at %#lx: a chunk header there is corrupt\n",
                                 (unsigned long)sn->walk_stop);
}

static void print_json(const fl_viewargs_t *a, const fl_session_t *s, const fl_snapshot_t *sn) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_viewargs_json_stop(&j, a, s);
  fl_json_key(&j, "lists");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < sn->nlists; i++) {
    const fl_snap_list_t *l = &sn->lists[i];
    char label[48];
    fl_json_begin_object(&j);
    fl_json_key(&j, "kind"); fl_json_string(&j, fl_list_kind_name((fl_list_kind_t)l->kind));
    fl_json_key(&j, "arena"); fl_json_int(&j, l->arena);
    fl_json_key(&j, "thread"); fl_json_int(&j, l->kind == FL_LIST_TCACHE ? l->tid : -1);
    fl_json_key(&j, "index"); fl_json_uint(&j, l->index);
    fl_json_key(&j, "sizes"); fl_json_string(&j, fl_snap_list_label(l, label, sizeof label));
    fl_json_key(&j, "count"); fl_json_uint(&j, l->kind == FL_LIST_TCACHE ? l->count : l->n);
    fl_json_key(&j, "broken"); fl_json_bool(&j, l->broken);
    fl_json_key(&j, "chunks");
    fl_json_begin_array(&j);
    for (size_t k = 0; k < l->n; k++) {
      fl_json_begin_object(&j);
      fl_json_key(&j, "addr"); fl_json_addr(&j, sn->entries[l->first + k].chunk);
      fl_json_key(&j, "size"); fl_json_uint(&j, sn->entries[l->first + k].size);
      fl_json_end_object(&j);
    }
    fl_json_end_array(&j);
    fl_json_end_object(&j);
  }
  fl_json_end_array(&j);
  fl_json_key(&j, "tops");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < sn->narenas; i++) {
    if (!sn->arenas[i].top) continue;
    fl_json_begin_object(&j);
    fl_json_key(&j, "arena"); fl_json_int(&j, sn->arenas[i].index);
    fl_json_key(&j, "addr"); fl_json_addr(&j, sn->arenas[i].top);
    fl_json_key(&j, "size"); fl_json_uint(&j, sn->arenas[i].top_size);
    fl_json_end_object(&j);
  }
  fl_json_end_array(&j);
  fl_json_key(&j, "mapped");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < sn->nchunks; i++) {
    if (sn->chunks[i].state != FL_CHUNK_MAPPED) continue;
    fl_json_begin_object(&j);
    fl_json_key(&j, "addr"); fl_json_addr(&j, sn->chunks[i].addr);
    fl_json_key(&j, "size"); fl_json_uint(&j, sn->chunks[i].size);
    fl_json_end_object(&j);
  }
  fl_json_end_array(&j);
  fl_json_key(&j, "walk_complete"); fl_json_bool(&j, sn->walk_complete);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

typedef struct bins_ctx {
  const fl_viewargs_t *a;
  int status;
} bins_ctx_t;

static void at_stop(void *ctx, fl_session_t *s) {
  bins_ctx_t *b = ctx;
  fl_snapshot_t sn = {0};
  if (fl_snapshot_take(&sn, s->rm) != FL_OK) {
    b->status = fl_cli_fail("bins", 3, "%s", fl_error_message());
  } else if (b->a->json) {
    print_json(b->a, s, &sn);
  } else {
    fl_viewargs_print_stop(b->a, s);
    print_text(&sn);
  }
  if (!b->status && (s->reason == FL_STOP_VIOLATION || s->reason == FL_STOP_INTEGRITY)) b->status = 1;
  fl_snapshot_free(&sn);
}

int fl_cmd_bins(int argc, char **argv) {
  fl_viewargs_t a;
  int st = fl_viewargs_parse(&a, "bins", argc, argv, help);
  if (st) return st < 0 ? 0 : st;
  bins_ctx_t b = {.a = &a};
  st = fl_viewargs_run(&a, false, at_stop, &b);
  return st ? st : b.status;
}

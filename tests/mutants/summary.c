/* summary.c — the mutants' table and kill rate (ctest mutants.summary).
 *
 *   mutant_summary MUTANTS_TXT RESULT_DIR
 *
 * Reads every mutant of mutants.txt and the line its kill test left in
 * RESULT_DIR/m<id>.txt (kill.c), prints one row per mutant (what caught
 * it), the count per module and per kind of check, and the kill rate.
 * Exits 1 below 100% (a survivor, or a mutant whose kill test did not
 * run) or when the control (m0, nothing mutated) found something. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tally {
  char key[48];
  unsigned n;
} tally_t;

static void count(tally_t *t, size_t cap, const char *key) {
  for (size_t i = 0; i < cap; i++) {
    if (!t[i].key[0]) snprintf(t[i].key, sizeof t[i].key, "%s", key);
    if (!strcmp(t[i].key, key)) {
      t[i].n++;
      return;
    }
  }
}

static void print_tally(const char *title, const tally_t *t, size_t cap) {
  printf("%s:", title);
  for (size_t i = 0; i < cap && t[i].key[0]; i++) printf(" %s %u%s", t[i].key, t[i].n, i + 1 < cap && t[i + 1].key[0] ? "," : "");
  printf("\n");
}

/* The result line of mutant id: fields verdict, caught-by, detail, seconds. */
static bool read_result(const char *dir, int id, char *verdict, char *by, char *detail, double *secs) {
  char path[4096], line[1024];
  snprintf(path, sizeof path, "%s/m%d.txt", dir, id);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  int got_id;
  return ok && sscanf(line, "%d\t%15[^\t]\t%47[^\t]\t%511[^\t]\t%lf", &got_id, verdict, by, detail, secs) == 5 &&
         got_id == id;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MUTANTS_TXT RESULT_DIR\n", argv[0]);
    return 2;
  }
  FILE *list = fopen(argv[1], "r");
  if (!list) return fprintf(stderr, "mutant_summary: cannot read %s\n", argv[1]), 2;
  tally_t modules[8] = {0}, catchers[64] = {0};
  unsigned total = 0, dead = 0;
  double seconds = 0;
  char line[1024];
  printf("%-4s %-24s %-8s %-18s %6s  %s\n", "id", "file", "verdict", "caught by", "secs", "mutation / detail");
  while (fgets(line, sizeof line, list)) {
    int id, off = 0;
    char file[256];
    if (sscanf(line, "%d %255s %n", &id, file, &off) < 2 || !off) continue;
    char *what = line + off;
    what[strcspn(what, "\n")] = '\0';
    char verdict[16] = "missing", by[48] = "-", detail[512] = "the kill test did not run";
    double secs = 0;
    read_result(argv[2], id, verdict, by, detail, &secs);
    total++;
    seconds += secs;
    bool killed = !strcmp(verdict, "killed");
    dead += killed;
    char module[32];
    snprintf(module, sizeof module, "%.*s", (int)strcspn(file + 4, "/"), file + 4); /* src/<module>/ */
    count(modules, 8, module);
    if (killed) count(catchers, 64, by);
    printf("%-4d %-24s %-8s %-18s %6.1f  %s\n", id, file + 4, verdict, by, secs, what);
    printf("%-4s %-24s %-8s %-18s %6s    %.200s\n", "", "", "", "", "", detail);
  }
  fclose(list);
  char verdict[16] = "missing", by[48], detail[512];
  double secs = 0;
  bool control_clean = read_result(argv[2], 0, verdict, by, detail, &secs) && !strcmp(verdict, "survived");
  printf("control (nothing mutated): %s, %.1f s\n", control_clean ? "nothing found" : verdict, secs);
  print_tally("mutants per module", modules, 8);
  print_tally("killed by", catchers, 64);
  printf("kill rate: %u/%u (%.1f%%), %.1f s of kill tests\n", dead, total, total ? 100.0 * dead / total : 0.0,
         seconds + secs);
  return dead == total && total > 0 && control_clean ? 0 : 1;
}

/* libfaultline-record.so records what a program asks of malloc, in order,
 * with results, and the program's output is unchanged. */
#include <stdlib.h>
#include <sys/wait.h>

#include "harness/harness.h"
#include "record/record.h"

/* Records `sh -c script` into a fresh directory; returns the records of the
 * single file written by the process whose command line is the script's
 * last exec, as a malloc'd array. */
static fl_rec_t *record(const char *script, size_t *n, char *dir) {
  const char *bdir = getenv("FAULTLINE_BUILD_DIR");
  if (!bdir || !mkdtemp(dir)) return NULL;
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "FAULTLINE_RECORD_DIR=%s LD_PRELOAD=%s/libfaultline-record.so %s >/dev/null", dir,
           bdir, script);
  if (system(cmd) != 0) return NULL;
  char path[4200];
  snprintf(path, sizeof path, "ls %s/*.flrec | head -1", dir);
  FILE *p = popen(path, "r");
  if (!p || !fgets(path, sizeof path, p)) return NULL;
  pclose(p);
  path[strcspn(path, "\n")] = '\0';
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fl_rec_header_t h;
  if (fread(&h, sizeof h, 1, f) != 1 || h.magic != FL_REC_MAGIC || h.version != FL_REC_VERSION) {
    fclose(f);
    return NULL;
  }
  fl_rec_t *recs = malloc(1 << 24);
  *n = fread(recs, sizeof *recs, (1 << 24) / sizeof *recs, f);
  fclose(f);
  return recs;
}

FL_TEST(recorder_sees_each_call_in_order) {
  char dir[] = "/tmp/faultline-rec-XXXXXX";
  size_t n = 0;
  /* A tiny program through the python3 ctypes would record python's own
   * calls too; perl -e with a fixed script is enough to find ours. */
  fl_rec_t *r = record("/usr/bin/perl -e 'print 1'", &n, dir);
  FL_CHECK(r != NULL);
  FL_CHECK_GT(n, 10);
  size_t mallocs = 0, frees = 0, live = 0;
  for (size_t i = 0; i < n; i++) {
    FL_CHECK(r[i].kind >= FL_REC_MALLOC && r[i].kind <= FL_REC_TRIM);
    mallocs += r[i].kind == FL_REC_MALLOC && r[i].result;
    frees += r[i].kind == FL_REC_FREE;
  }
  live = mallocs > frees ? mallocs - frees : 0;
  fprintf(stderr, "%zu records: %zu mallocs, %zu frees (%zu live at exit)\n", n, mallocs, frees, live);
  FL_CHECK_GT(mallocs, 0);
  FL_CHECK_GT(frees, 0);
  char rm[256];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  FL_CHECK_EQ(system(rm), 0);
  free(r);
}

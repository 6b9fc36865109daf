/* replay_main.c — the standalone driver: runs LLVMFuzzerTestOneInput on each
 * file named (or each file of each directory named), without an engine and
 * without sanitizers, for valgrind and debugging. Exit 0 when every input
 * ran; a finding aborts as in the fuzzer; 2 when a file cannot be read. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 2;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0, n;
  do {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *b = realloc(buf, cap);
      if (!b) {
        fprintf(stderr, "%s: out of memory\n", path);
        free(buf);
        fclose(f);
        return 2;
      }
      buf = b;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
  } while (n > 0);
  int err = ferror(f);
  fclose(f);
  if (err) {
    fprintf(stderr, "%s: read error\n", path);
    free(buf);
    return 2;
  }
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 0;
}

static int run_path(const char *path, int *count) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    return 2;
  }
  if (!S_ISDIR(st.st_mode)) {
    ++*count;
    return run_file(path);
  }
  DIR *d = opendir(path);
  if (!d) {
    perror(path);
    return 2;
  }
  int status = 0;
  struct dirent *e;
  while ((e = readdir(d)) && status == 0) {
    if (e->d_name[0] == '.') continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    status = run_path(sub, count);
  }
  closedir(d);
  return status;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  int count = 0;
  for (int i = 1; i < argc; i++) {
    int st = run_path(argv[i], &count);
    if (st) return st;
  }
  fprintf(stderr, "%d inputs replayed\n", count);
  return 0;
}

/* cmd_record.c — `faultline record -- CMD ...` and `faultline import mtrace
 * LOG`: op scripts from what real programs asked of malloc. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/file.h"
#include "ops/import.h"
#include "util/err.h"
#include "util/paths.h"

static void record_help(void) {
  printf(
      "usage: faultline record [-o OUT] [--binary] -- CMD [ARGS...]\n"
      "\n"
      "Runs CMD with a small recording library preloaded (libfaultline-record.so,\n"
      "beside this binary) and writes every malloc-family call it made as an op\n"
      "script: pointers become slots, threads keep their numbers, each process\n"
      "(forked children, exec'd images) gets its own script. The program runs as\n"
      "it would without the recorder: calls go to glibc.\n"
      "\n"
      "options:\n"
      "  -o OUT     the script of CMD's own process (default record.ops); other\n"
      "             processes go to OUT.<pid>-<n>\n"
      "  --binary   write the binary form instead of text\n"
      "\n"
      "examples:\n"
      "  faultline record -o py.ops -- /usr/bin/python3 -c 'import json'\n"
      "  faultline run py.ops --shadow\n"
      "\n"
      "exit status: 0 recorded (CMD's own status is reported), 2 usage error, 3 the\n"
      "recorder could not be found or CMD could not be started.\n");
}

static void import_help(void) {
  printf(
      "usage: faultline import mtrace LOG [-o OUT] [--binary]\n"
      "\n"
      "Converts a glibc mtrace(3) log (MALLOC_TRACE=LOG with mtrace() in the\n"
      "program) into an op script. mtrace does not say which function allocated\n"
      "nor the alignment asked for: every '+' line becomes malloc of the logged\n"
      "size. Frees of blocks the log never showed allocated are dropped and counted.\n"
      "\n"
      "example:\n"
      "  faultline import mtrace /tmp/trace.log -o trace.ops\n");
}

static int write_ops(const char *cmd, const char *out, const fl_ops_t *ops, bool binary,
                     const fl_import_stats_t *st) {
  if (fl_ops_save_file(out, ops, binary ? FL_FMT_BINARY : FL_FMT_TEXT) != FL_OK)
    return fl_cli_fail(cmd, 2, "%s", fl_error_message());
  fprintf(stderr, "faultline %s: %s: %zu ops from %zu calls (%zu blocks live at most, %zu threads", cmd, out,
          st->ops, st->calls, st->max_live, st->threads);
  if (st->unknown) fprintf(stderr, ", %zu calls on pointers never seen allocated dropped", st->unknown);
  if (st->unsupported) fprintf(stderr, ", %zu calls the op language cannot say dropped", st->unsupported);
  if (st->folded) fprintf(stderr, ", %zu calls of threads past the 16th folded", st->folded);
  fprintf(stderr, ")\n");
  return 0;
}

static int read_whole(const char *path, uint8_t **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return fl_error(FL_EUSAGE, "%s: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0, r;
  uint8_t *buf = malloc(cap);
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      uint8_t *b = realloc(buf, cap *= 2);
      if (!b) free(buf);
      buf = b;
    }
  }
  bool err = ferror(f);
  fclose(f);
  if (!buf) return fl_error(FL_EENV, "%s: out of memory", path);
  if (err) {
    free(buf);
    return fl_error(FL_EUSAGE, "%s: read error", path);
  }
  *data = buf;
  *len = n;
  return FL_OK;
}

/* Converts one recording file to a script at out. */
static int convert(const char *path, const char *out, bool binary) {
  uint8_t *data;
  size_t len;
  if (read_whole(path, &data, &len) != FL_OK) return fl_cli_fail("record", 2, "%s", fl_error_message());
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_import_stats_t st;
  int rc = fl_import_recording(data, len, path, &ops, &st) == FL_OK ? write_ops("record", out, &ops, binary, &st)
                                                                    : fl_cli_fail("record", 2, "%s", fl_error_message());
  fl_ops_free(&ops);
  free(data);
  return rc;
}


/* Runs cmdv under the recorder. A command that cannot be started is the
 * user's input, not the environment: exit 2. exec's errno comes back on a
 * close-on-exec pipe, so a program that itself exits 127 is not mistaken
 * for one that was never found. */
static int spawn(char **cmdv, const char *dir, const char *lib, pid_t *child, int *status) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return fl_cli_fail("record", 3, "pipe: %s", strerror(errno));
  pid_t pid = *child = fork();
  if (pid < 0) return fl_cli_fail("record", 3, "fork: %s", strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    setenv("FAULTLINE_RECORD_DIR", dir, 1);
    setenv("LD_PRELOAD", lib, 1);
    execvp(cmdv[0], cmdv);
    int err = errno;
    if (write(fds[1], &err, sizeof err) != (ssize_t)sizeof err) _exit(126);
    _exit(127);
  }
  close(fds[1]);
  int err = 0;
  ssize_t got;
  while ((got = read(fds[0], &err, sizeof err)) < 0 && errno == EINTR) continue;
  close(fds[0]);
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR) return fl_cli_fail("record", 3, "waitpid: %s", strerror(errno));
  if (got == (ssize_t)sizeof err) return fl_cli_fail("record", 2, "cannot run %s: %s", cmdv[0], strerror(err));
  return 0;
}

/* Converts every file of dir: the process `main_pid` to out, others beside. */
static int convert_all(const char *dir, pid_t main_pid, const char *out, bool binary) {
  char cmd[PATH_MAX + 32];
  snprintf(cmd, sizeof cmd, "ls %s", dir);
  FILE *ls = popen(cmd, "r");
  if (!ls) return fl_cli_fail("record", 3, "cannot list %s", dir);
  char name[256];
  int rc = 0, files = 0;
  while (rc == 0 && fgets(name, sizeof name, ls)) {
    name[strcspn(name, "\n")] = '\0';
    int pid = 0, n = 0;
    if (sscanf(name, "%d-%d.flrec", &pid, &n) != 2) continue;
    char in[PATH_MAX], dst[PATH_MAX];
    snprintf(in, sizeof in, "%s/%s", dir, name);
    if (pid == main_pid && n == 0) snprintf(dst, sizeof dst, "%s", out);
    else snprintf(dst, sizeof dst, "%s.%d-%d", out, pid, n);
    rc = convert(in, dst, binary);
    unlink(in);
    files++;
  }
  pclose(ls);
  if (!files && !rc) return fl_cli_fail("record", 3, "the recorder wrote nothing (is the command static, or setuid?)");
  return rc;
}

int fl_cmd_record(int argc, char **argv) {
  const char *out = "record.ops";
  bool binary = false;
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--"); i++) {
    if (fl_cli_is_help(argv[i])) return record_help(), 0;
    if (!strcmp(argv[i], "--binary")) binary = true;
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "-o")) return fl_cli_fail("record", 2, "-o needs a file name");
    else return fl_cli_fail("record", 2, "unknown option '%s' (see faultline record --help)", argv[i]);
  }
  if (i + 1 >= argc) return fl_cli_fail("record", 2, "no command: faultline record [-o OUT] -- CMD [ARGS...]");
  char lib[PATH_MAX];
  if (!fl_path_beside_self("libfaultline-record.so", R_OK, lib, sizeof lib))
    return fl_cli_fail("record", 3, "libfaultline-record.so not found beside faultline");
  char dir[] = "/tmp/faultline-record-XXXXXX";
  if (!mkdtemp(dir)) return fl_cli_fail("record", 3, "mkdtemp: %s", strerror(errno));
  int status = 0;
  pid_t child = 0;
  int rc = spawn(argv + i + 1, dir, lib, &child, &status);
  if (rc == 0) rc = convert_all(dir, child, out, binary);
  if (rc == 0) {
    if (WIFEXITED(status)) fprintf(stderr, "faultline record: %s exited with status %d\n", argv[i + 1], WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) fprintf(stderr, "faultline record: %s died of signal %d (records still buffered are lost)\n", argv[i + 1], WTERMSIG(status));
  }
  char rmcmd[PATH_MAX + 16];
  snprintf(rmcmd, sizeof rmcmd, "rm -rf %s", dir);
  if (system(rmcmd) != 0) fprintf(stderr, "faultline record: could not remove %s\n", dir);
  return rc;
}

int fl_cmd_import(int argc, char **argv) {
  if (argc >= 2 && fl_cli_is_help(argv[1])) return import_help(), 0;
  if (argc < 3 || strcmp(argv[1], "mtrace"))
    return fl_cli_fail("import", 2, "usage: faultline import mtrace LOG [-o OUT] [--binary]");
  const char *log = argv[2], *out = "mtrace.ops";
  bool binary = false;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--binary")) binary = true;
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "-o")) return fl_cli_fail("import", 2, "-o needs a file name");
    else return fl_cli_fail("import", 2, "unknown option '%s' (see faultline import --help)", argv[i]);
  }
  uint8_t *data;
  size_t len;
  if (read_whole(log, &data, &len) != FL_OK) return fl_cli_fail("import", 2, "%s", fl_error_message());
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_import_stats_t st;
  int rc = fl_import_mtrace((const char *)data, len, log, &ops, &st) == FL_OK
               ? write_ops("import", out, &ops, binary, &st)
               : fl_cli_fail("import", 2, "%s", fl_error_message());
  fl_ops_free(&ops);
  free(data);
  return rc;
}

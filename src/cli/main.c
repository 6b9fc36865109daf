/* main.c — `faultline <command> [options]`: dispatch and shared helpers. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/file.h"
#include "ops/text.h"

static const struct command {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} commands[] = {
    {"demo", fl_cmd_demo, "the seed article's malloc/mmap/page-fault experiment, live: model, kernel, glibc"},
    {"verify", fl_cmd_verify, "run the verification campaign (the main job of `make run`)"},
    {"diff", fl_cmd_diff, "run ops on refmalloc and on the real glibc, compare op by op"},
    {"run", fl_cmd_run, "execute an op script on refmalloc over the kernel model (--trace explains it)"},
    {"pmap", fl_cmd_pmap, "the model's mappings after a script in pmap -x columns, next to the kernel's"},
    {"bins", fl_cmd_bins, "refmalloc's free lists after a script, like gdb's heap plugins"},
    {"map", fl_cmd_map, "draw the heap op by op: an HTML page with a slider, or an SVG"},
    {"record", fl_cmd_record, "record a program's malloc calls as an op script"},
    {"import", fl_cmd_import, "convert a glibc mtrace log into an op script"},
    {"convert", fl_cmd_convert, "convert an op stream between text, binary and raw"},
    {"check", fl_cmd_check, "list the invariants and their levels (--list, --json)"},
    {"replay", fl_cmd_replay, "run saved inputs again: the same finding at the same op"},
    {"minimize", fl_cmd_minimize, "shrink an input to the fewest ops that find the same thing"},
    {"repro", fl_cmd_repro, "write an input as a standalone C program (--c) for a bug report"},
    {"fuzz", fl_cmd_fuzz, "run a fuzz target under libFuzzer or AFL++ until the first finding"},
    {"bench", fl_cmd_bench, "how fast: refmalloc, checks, fuzz targets, preload vs glibc & co (--quick)"},
    {"profile", fl_cmd_profile, "probe this kernel and print its profile (--json)"},
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: faultline <command> [options]\n"
          "\n"
          "faultline checks that an allocator keeps its promises: in its own\n"
          "metadata, in the address space, and in the pages the kernel hands out.\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\n"
          "Run `faultline <command> --help` for a command's options and examples.\n"
          "Exit status: 0 ok, 1 finding, 2 usage error, 3 environment error.\n");
}

int fl_cli_fail(const char *cmd, int status, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "faultline %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return status;
}

bool fl_cli_parse_u64(const char *s, bool sizes, uint64_t *out) {
  if (!s || !*s || *s == '-' || *s == '+') return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s) return false;
  unsigned shift = 0;
  if (sizes && *end) {
    switch (*end) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: return false;
    }
    end++;
  }
  if (*end) return false;
  if (shift && v > (~0ULL >> shift)) return false;
  *out = (uint64_t)v << shift;
  return true;
}

int fl_cli_load_ops(const char *cmd, const char *path, struct fl_ops *ops, int *fmt) {
  fl_ops_detect_t d;
  fl_status_t st = fl_ops_load_file_detect(path, ops, &d);
  if (st != FL_OK) return fl_cli_fail(cmd, st == FL_EENV ? 3 : 2, "%s", fl_error_message());
  if (d.looks_like_text)
    fprintf(stderr,
            "faultline %s: warning: %s has no '%s v%d' header line: it is read as raw fuzzer "
            "bytes; add the header if it is a script\n",
            cmd, path, FL_OPS_TEXT_MAGIC, FL_OPS_FORMAT_VERSION);
  if (fmt) *fmt = (int)d.format;
  return 0;
}

static bool holds(const char *dir, const char *marker) {
  char probe[PATH_MAX * 2];
  struct stat st;
  snprintf(probe, sizeof probe, "%s/%s", dir, marker);
  return stat(probe, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir, then each directory above it (dir is cut at each '/'). */
static bool find_above(char *dir, const char *marker, char *out) {
  for (char *slash;; *slash = 0) {
    if (holds(dir, marker)) return realpath(dir, out) != NULL;
    if (!(slash = strrchr(dir, '/')) || slash == dir) return false;
  }
}

bool fl_cli_find_source(const char *marker, char *out) {
  const char *env = getenv("FAULTLINE_SOURCE_DIR");
  if (env && *env) return holds(env, marker) && realpath(env, out) != NULL;
  char dir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n > 0) {
    dir[n] = 0;
    *strrchr(dir, '/') = 0; /* the executable's directory (the link is absolute) */
    if (find_above(dir, marker, out)) return true;
  }
  return getcwd(dir, sizeof dir) && find_above(dir, marker, out);
}

int fl_cli_check_level(const char *cmd, const char *value, int lowest, int *level) {
  if (!value || value[0] < '0' + lowest || value[0] > '3' || value[1])
    return fl_cli_fail(cmd, 2, "--check takes a level: %s", lowest ? "1, 2 or 3" : "0, 1, 2 or 3");
  *level = value[0] - '0';
  return 0;
}

bool fl_cli_format(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  return n >= 0 && (size_t)n < cap;
}

double fl_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pid_t fl_cli_spawn(char *const argv[], const char *log) {
  pid_t pid = fork();
  if (pid > 0) setpgid(pid, pid); /* both sides: a kill(-pid) right after must reach it */
  if (pid != 0) return pid;
  setpgid(0, 0);
  FILE *f = freopen(log, "a", stdout);
  if (!f || dup2(fileno(stdout), 2) < 0) _exit(127);
  execv(argv[0], argv);
  fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

bool fl_cli_is_help(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (fl_cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "faultline: unknown command '%s' (see faultline --help)\n", argv[1]);
  return 2;
}

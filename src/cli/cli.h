/* cli.h — the faultline command: one file per subcommand (cmd_<name>.c),
 * each `int fl_cmd_<name>(int argc, char **argv)` returning the exit status
 * (0 ok, 1 finding, 2 usage, 3 environment). argv[0] is the subcommand. */
#ifndef FL_CLI_CLI_H
#define FL_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

int fl_cmd_profile(int argc, char **argv);
int fl_cmd_verify(int argc, char **argv);
/* verify --allocator PATH.so: the black-box oracle (cmd_oracle.c). */
int fl_cmd_verify_allocator(int argc, char **argv);
int fl_cmd_run(int argc, char **argv);
int fl_cmd_diff(int argc, char **argv);
int fl_cmd_record(int argc, char **argv);
int fl_cmd_import(int argc, char **argv);
int fl_cmd_convert(int argc, char **argv);
int fl_cmd_check(int argc, char **argv);
int fl_cmd_replay(int argc, char **argv);
int fl_cmd_minimize(int argc, char **argv);
int fl_cmd_repro(int argc, char **argv);
int fl_cmd_bins(int argc, char **argv);
int fl_cmd_pmap(int argc, char **argv);
int fl_cmd_demo(int argc, char **argv);
int fl_cmd_map(int argc, char **argv);
int fl_cmd_fuzz(int argc, char **argv);
int fl_cmd_bench(int argc, char **argv);

/* Prints "faultline <cmd>: <message>" on stderr and returns status. */
int fl_cli_fail(const char *cmd, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Strict number parsing for flags: decimal or 0x hex, optional K/M/G suffix
 * when `sizes` is true; the whole string must be used. */
bool fl_cli_parse_u64(const char *s, bool sizes, uint64_t *out);

/* Loads an op file of any form for command cmd: 0, or the exit status after
 * printing the error (2: unreadable or malformed). Warns when a headerless
 * file is all printable text (a script missing its header line, read as raw
 * fuzzer bytes). fmt may be NULL. */
struct fl_ops;
int fl_cli_load_ops(const char *cmd, const char *path, struct fl_ops *ops, int *fmt);

/* The source tree (out: PATH_MAX bytes): $FAULTLINE_SOURCE_DIR, else the
 * first directory at or above this executable's, then above the working
 * directory, that holds the file marker (a path relative to the tree, e.g.
 * "fuzz/fuzz.cmake"). False if none does. */
bool fl_cli_find_source(const char *marker, char *out);

/* The value of --check (NULL: missing), a level from lowest (0 or 1) to 3:
 * 0 with *level set, or the usage status after printing the error. */
int fl_cli_check_level(const char *cmd, const char *value, int lowest, int *level);

/* True if argv[i] is "--help" or "-h". */
bool fl_cli_is_help(const char *arg);
/* snprintf that says whether everything fit (paths made of user input can
 * be too long; a cut path must not be used). */
__attribute__((format(printf, 3, 4))) bool fl_cli_format(char *out, size_t cap, const char *fmt, ...);
/* CLOCK_MONOTONIC in seconds. */
double fl_cli_now(void);
/* Starts argv (argv[0] a path) in its own process group, stdout and stderr
 * appended to log; the child's pid, or -1. */
pid_t fl_cli_spawn(char *const argv[], const char *log);

#endif

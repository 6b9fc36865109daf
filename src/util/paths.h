/* paths.h — where faultline's own files are: the helper executables and
 * libraries built beside the faultline binary. */
#ifndef FL_UTIL_PATHS_H
#define FL_UTIL_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* Writes "<this executable's directory>/name" into path; true when that file
 * passes access(path, mode). */
bool fl_path_beside_self(const char *name, int mode, char *path, size_t cap);

/* A helper executable (faultline-glibc, faultline-oracle): given when not
 * NULL, else $env_var when set, both taken as they are; else name beside
 * this executable, else in $FAULTLINE_BUILD_DIR, when executable there.
 * When nothing is found, path holds the bare name (for messages) and the
 * result is false. */
bool fl_path_find_helper(const char *name, const char *given, const char *env_var, char *path, size_t cap);

#endif

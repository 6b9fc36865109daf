/* paths.c — where faultline's own files are (see paths.h). */
#include "util/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool put(char *path, size_t cap, const char *a, const char *b) {
  int n = b ? snprintf(path, cap, "%s/%s", a, b) : snprintf(path, cap, "%s", a);
  return n >= 0 && (size_t)n < cap;
}

bool fl_path_beside_self(const char *name, int mode, char *path, size_t cap) {
  char self[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
  if (k <= 0) return false;
  self[k] = 0;
  char *slash = strrchr(self, '/');
  if (!slash) return false;
  *slash = 0;
  return put(path, cap, self, name) && access(path, mode) == 0;
}

bool fl_path_find_helper(const char *name, const char *given, const char *env_var, char *path, size_t cap) {
  const char *e;
  if (given) return put(path, cap, given, NULL);
  if ((e = getenv(env_var)) && *e) return put(path, cap, e, NULL);
  if (fl_path_beside_self(name, X_OK, path, cap)) return true;
  if ((e = getenv("FAULTLINE_BUILD_DIR")) && *e && put(path, cap, e, name) && access(path, X_OK) == 0) return true;
  put(path, cap, name, NULL);
  return false;
}

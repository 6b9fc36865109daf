/* cmd_profile.c — `faultline profile [--json]`: what this kernel does. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "host/profile.h"
#include "util/err.h"

static void profile_help(FILE *out) {
  fprintf(out,
          "usage: faultline profile [--json]\n"
          "\n"
          "Probes the running kernel once and prints the profile the model uses.\n"
          "Nothing kernel-dependent is hard-coded in faultline: it is read from here.\n"
          "A field that cannot be probed is printed as unknown (null in JSON) and a\n"
          "note says why.\n"
          "\n"
          "fields:\n"
          "  release                      uname -r\n"
          "  page_size                    sysconf(_SC_PAGESIZE), bytes\n"
          "  thp_enabled, thp_defrag      the selected word of /sys/kernel/mm/transparent_hugepage/*\n"
          "  mthp                         per-size mTHP policy (hugepages-<N>kB/enabled)\n"
          "  zero_page_on_read            does reading fresh private anonymous memory map the\n"
          "                               shared zero page? (experiment + pagemap)\n"
          "  write_after_zero_read_faults does the first write after such a read fault again?\n"
          "  pagemap_readable             /proc/self/pagemap can be read\n"
          "  pagemap_scan                 the PAGEMAP_SCAN ioctl works (Linux >= 6.7, not valgrind)\n"
          "  pfn_visible                  pagemap shows page frame numbers (needs CAP_SYS_ADMIN)\n"
          "  kpageflags_readable          /proc/kpageflags readable (extra evidence only)\n"
          "  thp_align_anon_mmap          mmap(NULL, 4 MiB) comes back 2 MiB aligned\n"
          "  overcommit_memory            vm.overcommit_memory (0 heuristic, 1 always, 2 never)\n"
          "  max_map_count                vm.max_map_count, the per-process VMA limit\n"
          "  mem_total, swap_total        /proc/meminfo, bytes\n"
          "  nprocs_sched                 CPUs in this thread's affinity mask (glibc's arena limit)\n"
          "  under_valgrind               running under valgrind: pread pagemap, no placement probes\n"
          "\n"
          "options:\n"
          "  --json      one JSON object instead of aligned text\n"
          "  -h, --help  this text\n"
          "\n"
          "example:\n"
          "  faultline profile\n"
          "  faultline profile --json | python3 -m json.tool\n"
          "\n"
          "Exit status: 0 ok, 2 usage error, 3 the page size could not be read.\n");
}

int fl_cmd_profile(int argc, char **argv) {
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (fl_cli_is_help(argv[i])) {
      profile_help(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
      continue;
    }
    return fl_cli_fail("profile", 2, "unknown option '%s' (see faultline profile --help)", argv[i]);
  }
  fl_kprofile_t p;
  int rc = fl_kprofile_probe(&p);
  if (rc != FL_OK) return fl_cli_fail("profile", rc, "%s", fl_error_message());
  if (json) fl_kprofile_print_json(&p, stdout);
  else fl_kprofile_print_text(&p, stdout);
  return 0;
}

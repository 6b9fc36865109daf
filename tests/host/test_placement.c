/* test_placement.c — the kernel's top-down placement, seen from a floor. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness/harness.h"
#include "host/placement.h"
#include "host/profile.h"
#include "host/sys.h"
#include "util/err.h"

#define P 4096
#define MMAP(l) {.kind = FL_PLACE_MMAP, .len = (l), .prot = PROT_READ | PROT_WRITE}

static int probe(const fl_place_step_t *s, size_t n, intptr_t *rel) {
  int rc = fl_placement_probe(s, n, rel);
  if (rc != FL_OK) fprintf(stderr, "probe: %s\n", fl_error_message());
  return rc;
}

#define SKIP_IF_UNSUPPORTED()                                                 \
  do {                                                                        \
    if (fl_sys_under_valgrind()) {                                            \
      intptr_t r_;                                                            \
      fl_place_step_t s_ = MMAP(P);                                           \
      FL_CHECK_EQ(fl_placement_probe(&s_, 1, &r_), FL_EENV);                  \
      FL_SKIP("placement probes are skipped under valgrind");                \
    }                                                                         \
    if (sysconf(_SC_PAGESIZE) != P) FL_SKIP("steps are written for 4 KiB pages"); \
  } while (0)

FL_TEST(placement_successive_pages_adjacent_top_down) {
  SKIP_IF_UNSUPPORTED();
  /*   floor
   *     |
   *  ...BA|XXXXXXXX   A = first mmap, B = second, right below it */
  fl_place_step_t s[3] = {MMAP(P), MMAP(P), MMAP(3 * P)};
  intptr_t rel[3];
  FL_CHECK_EQ(probe(s, 3, rel), FL_OK);
  FL_CHECK_EQ(rel[0], -P); /* right below the floor */
  FL_CHECK_EQ(rel[1], rel[0] - P);
  FL_CHECK_EQ(rel[2], rel[1] - 3 * P);
}

FL_TEST(placement_4mib_aligned_iff_profile) {
  SKIP_IF_UNSUPPORTED();
  const fl_kprofile_t *prof = fl_kprofile_get();
  if (prof->thp_align_anon_mmap == FL_UNKNOWN) FL_SKIP("profile does not know");
  /* a page first, so a 4 MiB mapping placed naively would not be aligned */
  fl_place_step_t s[2] = {MMAP(P), MMAP(4 << 20)};
  intptr_t rel[2];
  FL_CHECK_EQ(probe(s, 2, rel), FL_OK);
  FL_CHECK_EQ(rel[0], -P);
  bool aligned = (uintptr_t)rel[1] % (2u << 20) == 0; /* the floor is 2 MiB aligned */
  FL_CHECK_EQ(aligned, prof->thp_align_anon_mmap == FL_YES);
  if (aligned) FL_CHECK_EQ(rel[1], -(6 << 20)); /* highest 2 MiB boundary with room */
  else FL_CHECK_EQ(rel[1], -P - (4 << 20));
}

FL_TEST(placement_munmap_hole_reused) {
  SKIP_IF_UNSUPPORTED();
  /*  C B A|  ->  C _ A|  ->  C D A|   (D fills B's hole: highest fitting gap) */
  fl_place_step_t s[5] = {
      MMAP(P), MMAP(2 * P), MMAP(P),
      {.kind = FL_PLACE_MUNMAP, .ref = 1, .len = 2 * P},
      MMAP(2 * P)};
  s[0].prot = PROT_READ; /* different prot: A, B, C stay separate VMAs */
  s[2].prot = PROT_READ;
  intptr_t rel[5];
  FL_CHECK_EQ(probe(s, 5, rel), FL_OK);
  FL_CHECK_EQ(rel[3], 0);
  FL_CHECK_EQ(rel[4], rel[1]);
  /* A too-big request skips the hole and goes below C. */
  fl_place_step_t t[6] = {s[0], s[1], s[2], s[3], MMAP(3 * P), MMAP(P)};
  intptr_t rel2[6];
  FL_CHECK_EQ(probe(t, 6, rel2), FL_OK);
  FL_CHECK_EQ(rel2[4], rel2[2] - 3 * P);
  FL_CHECK_EQ(rel2[5], rel2[1] + P); /* top of the 2-page hole */
}

FL_TEST(placement_mremap_and_errors) {
  SKIP_IF_UNSUPPORTED();
  fl_place_step_t s[5] = {
      MMAP(P), MMAP(P),
      {.kind = FL_PLACE_MREMAP, .ref = 0, .len = P, .len2 = 8 * P},  /* cannot grow in place */
      {.kind = FL_PLACE_MUNMAP, .ref = 4, .len = P},                 /* bad ref */
      {.kind = FL_PLACE_MMAP, .len = 0, .prot = PROT_READ}};         /* EINVAL */
  intptr_t rel[5];
  FL_CHECK_EQ(probe(s, 5, rel), FL_OK);
  FL_CHECK_EQ(rel[1], -2 * P);
  FL_CHECK_EQ(rel[2], -2 * P - 8 * P); /* moved below B */
  FL_CHECK_EQ(rel[3], -EINVAL);
  FL_CHECK_EQ(rel[4], -EINVAL);
}

FL_TEST(placement_hint_honoured_when_free) {
  SKIP_IF_UNSUPPORTED();
  fl_place_step_t s[2] = {MMAP(P), MMAP(P)};
  s[1].hint_rel = -(intptr_t)(1 << 30); /* 1 GiB below the floor: free */
  intptr_t rel[2];
  FL_CHECK_EQ(probe(s, 2, rel), FL_OK);
  FL_CHECK_EQ(rel[1], -(intptr_t)(1 << 30));
}

/* test_snapshot.c — the heap snapshot the views share (src/view): every
 * chunk state of corpus/scripts/bins-tour.ops, taken inside a session,
 * without a fault or an RSS change. */
#include <stdlib.h>

#include "harness/harness.h"
#include "ops/file.h"
#include "view/session.h"
#include "view/snapshot.h"

typedef struct seen {
  size_t states[FL_CHUNK_STATE_COUNT];
  bool same_counters;   /* the snapshot faulted nothing */
  bool tiles;           /* the main heap's chunks tile it up to top */
  fl_stop_reason_t reason;
  size_t index;
} seen_t;

static void look(void *ctx, fl_session_t *s) {
  seen_t *seen = ctx;
  fl_vm_stats_t before, after;
  fl_vm_stats(s->vm, &before);
  fl_snapshot_t sn = {0};
  if (fl_snapshot_take(&sn, s->rm) != FL_OK) return;
  fl_vm_stats(s->vm, &after);
  seen->same_counters = before.rss_pages == after.rss_pages && before.minflt_max == after.minflt_max;
  seen->tiles = sn.walk_complete;
  for (size_t i = 0; i < sn.nchunks; i++) {
    seen->states[sn.chunks[i].state]++;
    if (i && sn.chunks[i].arena == 0 && sn.chunks[i - 1].arena == 0)
      seen->tiles &= sn.chunks[i - 1].addr + sn.chunks[i - 1].size == sn.chunks[i].addr;
  }
  seen->reason = s->reason;
  seen->index = s->stop_index;
  fl_snapshot_free(&sn);
}

static bool run_tour(size_t stop_at, seen_t *seen) {
  char path[1024];
  const char *src = getenv("FAULTLINE_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/corpus/scripts/bins-tour.ops", src ? src : ".");
  fl_ops_t ops;
  fl_ops_init(&ops);
  if (fl_ops_load_file(path, &ops, NULL) != FL_OK) return false;
  fl_session_opts_t o = {.stop_at = stop_at};
  fl_session_t s;
  bool ok = fl_session_open(&s, &o) == FL_OK && fl_session_run(&s, &o, &ops, look, seen) == FL_OK;
  fl_session_close(&s);
  fl_ops_free(&ops);
  return ok;
}

FL_TEST(snapshot_sees_every_chunk_state_of_the_tour) {
  seen_t seen = {0};
  FL_CHECK(run_tour(SIZE_MAX, &seen));
  FL_CHECK_EQ(seen.reason, FL_STOP_END);
  FL_CHECK_EQ(seen.index, 58);
  FL_CHECK(seen.same_counters);
  FL_CHECK(seen.tiles);
  /* the script's own counts (see its comments) */
  FL_CHECK_EQ(seen.states[FL_CHUNK_TCACHE], 3 + 7 + 7);
  FL_CHECK_EQ(seen.states[FL_CHUNK_FASTBIN], 2);
  FL_CHECK_EQ(seen.states[FL_CHUNK_UNSORTED], 1);
  FL_CHECK_EQ(seen.states[FL_CHUNK_SMALL], 1);
  FL_CHECK_EQ(seen.states[FL_CHUNK_LARGE], 1);
  FL_CHECK_EQ(seen.states[FL_CHUNK_TOP], 1);
  FL_CHECK_EQ(seen.states[FL_CHUNK_MAPPED], 1);
  /* the tcache itself, the five guards #2 #11 #13 #23 #27, and #28 */
  FL_CHECK_EQ(seen.states[FL_CHUNK_INUSE], 7);
}

FL_TEST(session_stops_after_the_op_asked_for) {
  seen_t seen = {0};
  FL_CHECK(run_tour(30, &seen));
  FL_CHECK_EQ(seen.reason, FL_STOP_AT);
  FL_CHECK_EQ(seen.index, 30);
  FL_CHECK_EQ(seen.states[FL_CHUNK_TCACHE] + seen.states[FL_CHUNK_FASTBIN] + seen.states[FL_CHUNK_UNSORTED], 0);
  FL_CHECK_EQ(seen.states[FL_CHUNK_MAPPED], 1);
}

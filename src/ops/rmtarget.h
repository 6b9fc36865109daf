/* rmtarget.h — refmalloc as an executor target, in-process.
 *
 * Wraps an fl_rm_t (and its model) in the fl_target_t vtable. Memory
 * accessors go through the model (fl_vm_load/fl_vm_store), so the
 * executor's writes and verifies are observed accesses: they fault pages
 * and count in RSS like the program's would. inject maps onto
 * fl_vm_inject. Once refmalloc has aborted (a glibc integrity message),
 * every call returns as glibc's process would have: not at all — the
 * target reports the event and the executor's later ops see NULL/no-ops. */
#ifndef FL_OPS_RMTARGET_H
#define FL_OPS_RMTARGET_H

#include "alloc/refmalloc.h"
#include "ops/target.h"

#include "check/check.h"

/* Fills t for rm; rm must outlive t. The check op is unsupported until a
 * checker is attached. */
void fl_rmtarget_init(fl_target_t *t, fl_rm_t *rm);

/* The check op runs chk's invariants of the op's level now: the full walk
 * at level 3, the level's checks on the whole state below it. chk must be
 * open on the same rm and outlive t. */
void fl_rmtarget_set_checker(fl_target_t *t, fl_check_t *chk);

#endif

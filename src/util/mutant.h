/* mutant.h — compile-time mutants of refmalloc and the model.
 *
 * FL_MUT(id, original, mutant) is `original` in every normal build and
 * `mutant` in the one object compiled with -DFL_MUTANT=id (tests/mutants).
 * FL_MUTANT is 0 otherwise, so the choice folds away at compile time and a
 * mutant rebuilds one object, not the project. Ids are listed, with what
 * each breaks, in tests/mutants/mutants.txt. */
#ifndef FL_UTIL_MUTANT_H
#define FL_UTIL_MUTANT_H

#ifndef FL_MUTANT
#define FL_MUTANT 0
#endif

#define FL_MUT(id, original, mutant) (FL_MUTANT == (id) ? (mutant) : (original))
/* A statement the mutant leaves out: FL_MUT_SKIP(id) stmt; */
#define FL_MUT_SKIP(id) if (FL_MUTANT != (id))

#endif

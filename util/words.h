/* util/words.h: how far one word is from another, for "did you mean ...?" answers. */
#ifndef HVKIT_UTIL_WORDS_H
#define HVKIT_UTIL_WORDS_H

#include <stddef.h>

/* The edit distance between a and b: insertions, deletions, substitutions and swaps of
 * two neighbours (so "lsit" is 1 from "list"). */
int word_distance(const char *a, const char *b);
/* The word of words[0..n) closest to w, when it is close enough to be what was meant
 * (at most 2 edits, and fewer than half of w's letters); NULL otherwise. */
const char *word_closest(const char *w, const char *const *words, size_t n);

#endif

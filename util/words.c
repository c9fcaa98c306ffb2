/* words: edit distance (optimal string alignment) and the closest word of a list, for the
 * "did you mean ...?" of hvctl's verbs and options. */
#include "util/words.h"

#include <stdlib.h>
#include <string.h>

int word_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int *d, res;
	if (la > 64 || lb > 64) /* nobody mistypes a word this long: far */
		return 1000;
	d = calloc((la + 1) * (lb + 1), sizeof(*d));
	if (!d)
		return 1000;
#define D(i, j) d[(i) * (lb + 1) + (j)]
	for (size_t i = 0; i <= la; i++)
		D(i, 0) = (int)i;
	for (size_t j = 0; j <= lb; j++)
		D(0, j) = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1], v = D(i - 1, j - 1) + cost;
			if (D(i - 1, j) + 1 < v)
				v = D(i - 1, j) + 1;
			if (D(i, j - 1) + 1 < v)
				v = D(i, j - 1) + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && D(i - 2, j - 2) + 1 < v)
				v = D(i - 2, j - 2) + 1;
			D(i, j) = v;
		}
	res = D(la, lb);
#undef D
	free(d);
	return res;
}

const char *word_closest(const char *w, const char *const *words, size_t n)
{
	const char *best = NULL;
	int bd = 3, len = (int)strlen(w);
	for (size_t i = 0; i < n; i++) {
		int dist = word_distance(w, words[i]);
		if (dist < bd && 2 * dist < len) {
			bd = dist;
			best = words[i];
		}
	}
	return best;
}

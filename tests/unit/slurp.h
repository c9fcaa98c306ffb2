/* slurp: a whole file in memory for the unit tests (include after cmocka.h). */
#ifndef HVKIT_TESTS_SLURP_H
#define HVKIT_TESTS_SLURP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole file (malloc'd); its size in *size. */
static inline uint8_t *slurp(const char *path, long *size)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *all;
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	*size = ftell(fp);
	rewind(fp);
	all = malloc((size_t)*size);
	assert_int_equal(fread(all, 1, (size_t)*size, fp), (size_t)*size);
	fclose(fp);
	return all;
}

#endif

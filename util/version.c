/* version: hvkit's version, one place for every program's --version (the Makefile gives
 * it from the VERSION file and, in a git checkout, `git describe`). */
#include <stdio.h>

#include "util/util.h"

#ifndef HVKIT_VERSION
#define HVKIT_VERSION "unknown"
#endif

const char *hvkit_version(void)
{
	return HVKIT_VERSION;
}

int util_print_version(const char *prog)
{
	printf("%s hvkit %s\n", prog, HVKIT_VERSION);
	return 0;
}

/* fuzz_xlcfg: libFuzzer target for the xl.cfg parser: any text parses or is refused with
 * a file:line message; what parses formats and parses again to the same config. */
#include <string.h>

#include "hv/xlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xlcfg a, b;
	static char buf[32768];
	struct err e;
	int n;
	if (xlcfg_parse((const char *)data, size, "fuzz.cfg", &a, &e) < 0) {
		if (strncmp(e.msg, "fuzz.cfg", 8))
			__builtin_trap();
		return 0;
	}
	n = xlcfg_format(&a, buf, sizeof(buf));
	if (n < 0)
		__builtin_trap();
	if (xlcfg_parse(buf, (size_t)n, "fuzz.cfg", &b, &e) < 0 || memcmp(&a, &b, sizeof(a)))
		__builtin_trap(); /* the round trip must hold */
	return 0;
}

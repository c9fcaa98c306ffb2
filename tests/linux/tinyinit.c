/* tinyinit: the smallest /init for Linux test domains: freestanding x86-64, no libc, no
 * SSE (-mgeneral-regs-only), so it runs where the host's emulator has no SSE. It mounts
 * /proc, prints a banner with its command line, and then by the word hvkit.init= on the
 * kernel's command line panics the kernel through /proc/sysrq-trigger ("panic"), powers
 * off ("poweroff"), or sleeps (anything else). */
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_nanosleep 35
#define SYS_mount 165
#define SYS_reboot 169
#define O_RDONLY 0
#define O_WRONLY 1

static long sys6(long n, long a, long b, long c, long d, long e)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
	return r;
}

static unsigned long len(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	sys6(SYS_write, 1, (long)s, (long)len(s), 0, 0);
}

/* The value of hvkit.init= in the command line, into out. */
static void mode_of(const char *cmdline, char *out, unsigned long cap)
{
	static const char key[] = "hvkit.init=";
	out[0] = 0;
	for (const char *p = cmdline; *p; p++) {
		unsigned long i = 0, n = 0;
		if (p != cmdline && p[-1] != ' ')
			continue;
		while (key[i] && p[i] == key[i])
			i++;
		if (key[i])
			continue;
		for (p += i; *p && *p != ' ' && *p != '\n' && n + 1 < cap; p++)
			out[n++] = *p;
		out[n] = 0;
		return;
	}
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

void _start(void)
{
	static char cmdline[4096], mode[32];
	long fd, n = 0;
	sys6(SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0);
	fd = sys6(SYS_open, (long)"/proc/cmdline", O_RDONLY, 0, 0, 0);
	if (fd >= 0) {
		n = sys6(SYS_read, fd, (long)cmdline, sizeof(cmdline) - 1, 0, 0);
		sys6(SYS_close, fd, 0, 0, 0, 0);
	}
	cmdline[n > 0 ? n : 0] = 0;
	mode_of(cmdline, mode, sizeof(mode));
	say("HVKIT-TINYINIT: user space runs (pid 1), mode=");
	say(mode[0] ? mode : "sleep");
	say("\n");
	if (same(mode, "panic")) {
		fd = sys6(SYS_open, (long)"/proc/sysrq-trigger", O_WRONLY, 0, 0, 0);
		sys6(SYS_write, fd, (long)"c", 1, 0, 0);
		say("HVKIT-TINYINIT: the sysrq crash did not happen\n");
	} else if (same(mode, "poweroff")) {
		sys6(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc, 0, 0);
	}
	for (;;) {
		long ts[2] = { 3600, 0 };
		sys6(SYS_nanosleep, (long)ts, 0, 0, 0, 0);
	}
}

/* tinyinit: the smallest /init for Linux test domains: freestanding x86-64, no libc, no
 * SSE (-mgeneral-regs-only), so it runs where the host's emulator has no SSE. It mounts
 * /proc, prints a banner with its command line, and then by the word hvkit.init= on the
 * kernel's command line panics the kernel through /proc/sysrq-trigger ("panic"), powers
 * off ("poweroff"), or sleeps (anything else).
 *
 * Built with -DTINYINIT_INT80 it makes its system calls with `int $0x80` (the i386 ABI,
 * which a 64-bit kernel with IA32_EMULATION takes from 64-bit code too) instead of
 * `syscall`: the experiment that showed kvm_pvm delivers neither to a stock kernel (the
 * `syscall` arrives at MSR_LSTAR still in user mode, `int $0x80` comes back as #UD; see
 * docs/linux.md). Every pointer it passes then must fit in 32 bits: its buffers are
 * static, none is on the stack. */
#ifdef TINYINIT_INT80
#define SYS_read 3
#define SYS_write 4
#define SYS_open 5
#define SYS_close 6
#define SYS_mount 21
#define SYS_reboot 88
#define SYS_nanosleep 162
#else
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_nanosleep 35
#define SYS_mount 165
#define SYS_reboot 169
#endif
#define O_RDONLY 0
#define O_WRONLY 1

static long sys6(long n, long a, long b, long c, long d, long e)
{
	long r;
#ifdef TINYINIT_INT80
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e) : "memory");
	return (int)r; /* the i386 ABI returns 32 bits */
#else
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
	return r;
#endif
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
#ifdef TINYINIT_INT80
		static int ts[2] = { 3600, 0 }; /* the i386 ABI's old timespec: two 32-bit words */
#else
		static long ts[2] = { 3600, 0 };
#endif
		sys6(SYS_nanosleep, (long)ts, 0, 0, 0, 0);
	}
}

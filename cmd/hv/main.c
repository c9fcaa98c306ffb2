/* hv: the hypervisor program: parses the command line and boots dom0 with its console on
 * this terminal. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbgkeys/dbgkeys.h"
#include "hv/hv.h"
#include "kmdb/kmdb.h"
#include "util/access.h"

static void usage(FILE *f)
{
	fputs("usage: hv [options]\n"
	      "Boots dom0 on KVM with its serial console on this terminal.\n"
	      "  -m, --mem SIZE        guest RAM (default 128M; K/M/G suffixes, bare number = MiB)\n"
	      "  -c, --vcpus N         virtual CPUs (default 2)\n"
	      "  -k, --kernel FILE     PVH ELF kernel or Linux bzImage (default: the built-in guest)\n"
	      "  -i, --initrd FILE     initial ramdisk, passed as PVH module 0\n"
	      "  -a, --cmdline STR     kernel command line\n"
	      "  -n, --name NAME       domain name (default dom0)\n"
	      "      --on-poweroff ACT destroy|restart|preserve (default destroy)\n"
	      "      --on-reboot ACT   destroy|restart|preserve (default restart)\n"
	      "      --on-crash ACT    destroy|restart|preserve|rollback|coredump-destroy|\n"
	      "                        coredump-restart|coredump-preserve|coredump-rollback (default\n"
	      "                        destroy; coredump-* dump into the dump-dir property's directory,\n"
	      "                        /var/crash/hvkit by default, first; rollback goes back to the\n"
	      "                        domain's latest checkpoint)\n"
	      "      --weight N        credit scheduler weight of dom0 (default 256)\n"
	      "      --cap PCT         dom0 gets at most PCT% of one CPU (default 0: no cap)\n"
	      "      --pcpus N         physical-CPU slots the scheduler hands out (default: host CPUs)\n"
	      "      --dom0-cpus N     most slots dom0 holds at once (default 0: all)\n"
	      "      --daemon          no terminal: every console through `hvctl console`; hv stays\n"
	      "                        in the foreground (for systemd) until SIGTERM, SIGINT or\n"
	      "                        `hvctl shutdown-hv`, with or without dom0\n"
	      "      --socket PATH     control socket (default $HVKIT_SOCKET or " HV_DEFAULT_SOCKET ")\n"
	      "      --state-dir DIR   domain definitions and properties (default " HV_DEFAULT_STATE_DIR ")\n"
	      "  -q, --quiet           only warnings and errors from hv itself\n"
	      "      --count-insns     single-step every vCPU and report its instruction count\n"
	      "                        when the domain stops (slow; for boot-cost measurements)\n"
	      "      --mem-image FILE  fill dom0's RAM from FILE before its kernel loads (benchmarks:\n"
	      "                        big guests with real content, without emulated guest writes)\n"
	      "  -h, --help            this text\n"
	      "      --version         hv hvkit VERSION, and exit\n"
	      "Exit status: 0 dom0 shut off, 3 dom0 crashed, 1 error, 128+N signal N.\n",
	      f);
}

/* --on-crash: an action, coredump- before it, or rollback (to the latest checkpoint;
 * destroy when there is none), as on_crash in a domain's config. */
static int crash_action(const char *s, struct domain_config *cfg)
{
	bool dump = !strncmp(s, "coredump-", 9);
	if (dump)
		s += 9;
	if (!strcmp(s, "rollback")) {
		cfg->rollback_on_crash = true;
		cfg->on_crash = ACTION_DESTROY;
	} else if (domain_action_parse(s, &cfg->on_crash) < 0) {
		return -1;
	}
	cfg->coredump_on_crash = dump;
	return 0;
}

/* --state-dir DIR: there, or made now (its parent must be there), a directory, and one hv
 * may write into as util/access.h says (root's or ours; sticky if others can write it). */
static int state_dir_check(const char *dir, char *msg, size_t len)
{
	struct stat st;
	struct err e;
	int fd;
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(msg, len, "--state-dir %s: not a directory", dir);
		return -1;
	}
	if ((fd = access_dir_open(dir, true, "--state-dir", &e)) < 0) {
		snprintf(msg, len, "%s", e.msg);
		return -1;
	}
	close(fd);
	return 0;
}

static int die(const char *msg)
{
	fprintf(stderr, "hv: %s\n", msg);
	return 1;
}

int main(int argc, char **argv)
{
	enum { OPT_POWEROFF = 256, OPT_REBOOT, OPT_CRASH, OPT_COUNT, OPT_PCPUS, OPT_DOM0CPUS, OPT_WEIGHT, OPT_CAP, OPT_DAEMON, OPT_SOCKET, OPT_STATE, OPT_MEMIMAGE, OPT_VERSION };
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },     { "vcpus", required_argument, NULL, 'c' },
		{ "kernel", required_argument, NULL, 'k' },  { "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'a' }, { "name", required_argument, NULL, 'n' },
		{ "on-poweroff", required_argument, NULL, OPT_POWEROFF },
		{ "on-reboot", required_argument, NULL, OPT_REBOOT },
		{ "on-crash", required_argument, NULL, OPT_CRASH },
		{ "quiet", no_argument, NULL, 'q' },         { "count-insns", no_argument, NULL, OPT_COUNT },
		{ "pcpus", required_argument, NULL, OPT_PCPUS },   { "dom0-cpus", required_argument, NULL, OPT_DOM0CPUS },
		{ "weight", required_argument, NULL, OPT_WEIGHT }, { "cap", required_argument, NULL, OPT_CAP },
		{ "daemon", no_argument, NULL, OPT_DAEMON },       { "socket", required_argument, NULL, OPT_SOCKET },
		{ "state-dir", required_argument, NULL, OPT_STATE }, { "mem-image", required_argument, NULL, OPT_MEMIMAGE },         { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct domain_config cfg = {
		.name = "dom0", .mem_bytes = 128ull << 20, .vcpus = 2, .kernel = NULL, .cmdline = "",
		.on_poweroff = ACTION_DESTROY, .on_reboot = ACTION_RESTART, .on_crash = ACTION_DESTROY,
	};
	struct hv_options hopt = { 0 };
	struct err e;
	struct hv *hv;
	char msg[600];
	int c, status;
	bool mem_given = false;

	opterr = 0; /* one line of ours instead of getopt's and the whole usage */
	while ((c = getopt_long(argc, argv, ":m:c:k:i:a:n:qh", opts, NULL)) != -1) {
		enum domain_action *act = NULL;
		switch (c) {
		case 'm':
			mem_given = true;
			if (size_parse(optarg, 1ull << 20, &cfg.mem_bytes) < 0) {
				snprintf(msg, sizeof(msg), "--mem %s: not a size (try 256M or 1G)", optarg);
				return die(msg);
			}
			break;
		case 'c': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > HV_MAX_VCPUS) {
				snprintf(msg, sizeof(msg), "--vcpus %s: need a number from 1 to %d", optarg, HV_MAX_VCPUS);
				return die(msg);
			}
			cfg.vcpus = (unsigned)n;
			break;
		}
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'a': cfg.cmdline = optarg; break;
		case 'n': cfg.name = optarg; break;
		case 'q': hopt.quiet = true; break;
		case 'h': usage(stdout); return 0;
		case OPT_VERSION: return util_print_version("hv");
		case OPT_COUNT: hopt.count_insns = true; break;
		case OPT_DAEMON: hopt.daemon = true; break;
		case OPT_SOCKET: hopt.socket_path = optarg; break;
		case OPT_STATE: hopt.state_dir = optarg; break;
		case OPT_MEMIMAGE: cfg.mem_image = optarg; break;
		case OPT_PCPUS:
		case OPT_DOM0CPUS:
		case OPT_WEIGHT:
		case OPT_CAP: {
			char *end;
			long n = strtol(optarg, &end, 10);
			long lo = c == OPT_PCPUS || c == OPT_WEIGHT ? 1 : 0, hi = c == OPT_WEIGHT ? 65535 : c == OPT_CAP ? 25500 : 256;
			if (*end || end == optarg || n < lo || n > hi) {
				snprintf(msg, sizeof(msg), "--%s %s: need a number from %ld to %ld",
					 c == OPT_PCPUS ? "pcpus" : c == OPT_DOM0CPUS ? "dom0-cpus" : c == OPT_WEIGHT ? "weight" : "cap",
					 optarg, lo, hi);
				return die(msg);
			}
			if (c == OPT_PCPUS)
				hopt.pcpus = (unsigned)n;
			else if (c == OPT_DOM0CPUS)
				hopt.dom0_cpus = (unsigned)n;
			else if (c == OPT_WEIGHT)
				cfg.weight = (unsigned)n;
			else
				cfg.cap = (unsigned)n;
			break;
		}
		case OPT_POWEROFF: act = &cfg.on_poweroff; break;
		case OPT_REBOOT: act = &cfg.on_reboot; break;
		case OPT_CRASH: act = &cfg.on_crash; break;
		case ':':
			snprintf(msg, sizeof(msg), "%s needs a value (see hv --help)", argv[optind - 1]);
			return die(msg);
		default:
			if (optopt)
				snprintf(msg, sizeof(msg), "unknown option '-%c' (see hv --help)", optopt);
			else
				snprintf(msg, sizeof(msg), "unknown option '%s' (see hv --help)", argv[optind - 1]);
			return die(msg);
		}
		if (c == OPT_CRASH && crash_action(optarg, &cfg) == 0)
			continue;
		if (c == OPT_CRASH) {
			snprintf(msg, sizeof(msg), "--on-crash %s: unknown action (destroy, restart, preserve, rollback, "
				 "coredump-destroy, coredump-restart, coredump-preserve or coredump-rollback)", optarg);
			return die(msg);
		}
		if (act && domain_action_parse(optarg, act) < 0) {
			snprintf(msg, sizeof(msg), "--on-%s %s: unknown action (destroy, restart or preserve)",
				 c == OPT_POWEROFF ? "poweroff" : "reboot", optarg);
			return die(msg);
		}
	}
	if (optind < argc) {
		snprintf(msg, sizeof(msg), "unexpected argument '%s' (see hv --help)", argv[optind]);
		return die(msg);
	}
	if (strlen(cfg.name) == 0 || strlen(cfg.name) > 63)
		return die("--name: 1 to 63 characters");
	if (hopt.state_dir && state_dir_check(hopt.state_dir, msg, sizeof(msg)) < 0)
		return die(msg);

	if (!hopt.socket_path && getenv("HVKIT_SOCKET") && *getenv("HVKIT_SOCKET"))
		hopt.socket_path = getenv("HVKIT_SOCKET");
	if (dbgkeys_register_all(&e) < 0)
		return die(e.msg);
	kmdb_register();
	hv = hv_create(&hopt, &e);
	if (!hv)
		return die(e.msg);
	if (!mem_given) /* the dom0-mem property (hvctl setprop config/dom0-mem = N; MiB) */
		cfg.mem_bytes = (uint64_t)hv_property_int(hv, "config/dom0-mem", 128) << 20;
	if (hv_domain_start(hv, &cfg, &e) < 0) {
		hv_destroy(hv);
		return die(e.msg);
	}
	status = hv_run(hv);
	hv_destroy(hv);
	return status;
}

/*
 * vcpu-gaps: how much time the CPU it runs on is taken away from a
 * process that never gives it up.
 *
 *   vcpu-gaps [-d seconds] [-n name]
 *
 * Spins reading CLOCK_MONOTONIC (the vDSO: no system call) for -d seconds
 * (default 8) and counts the gaps between two reads longer than 0.5 ms:
 * time this process did not run.  /proc/self/schedstat tells how much of
 * it the guest's own scheduler gave to someone else (guest_wait_ms); the
 * rest went where the guest cannot see, to the host (a vCPU the host
 * deschedules counts as still running here, when steal time is not
 * reported).  Pin it with taskset.  One record on stdout:
 *
 *   type=gaps name=NAME seconds=S gaps=N lost_ms=F max_ms=F
 *       gaps_4ms=N guest_wait_ms=F
 *
 * Exit status: 0, 64 usage, 71 system error.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define GAP_NS		500000		/* a gap: over 0.5 ms */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Nanoseconds this thread waited runnable (the second schedstat field). */
static double
guest_wait_ns(void)
{
	unsigned long long run, wait;
	FILE *f = fopen("/proc/self/schedstat", "r");

	if (f == NULL)
		err(EX_OSERR, "/proc/self/schedstat");
	if (fscanf(f, "%llu %llu", &run, &wait) != 2)
		errx(EX_OSERR, "/proc/self/schedstat: unreadable");
	fclose(f);
	return (double)wait;
}

int
main(int argc, char *argv[])
{
	const char *name = "-";
	int64_t t0, prev, end, t, g, lost = 0, most = 0;
	unsigned long gaps = 0, gaps4 = 0;
	double w0;
	int secs = 8, ch;

	while ((ch = getopt(argc, argv, "d:n:")) != -1) {
		switch (ch) {
		case 'd':
			secs = atoi(optarg);
			if (secs < 1 || secs > 3600)
				errx(EX_USAGE, "-d %s: not in [1, 3600]", optarg);
			break;
		case 'n':
			name = optarg;
			break;
		default:
			fprintf(stderr, "usage: vcpu-gaps [-d seconds] "
			    "[-n name]\n");
			return EX_USAGE;
		}
	}
	w0 = guest_wait_ns();
	t0 = prev = now_ns();
	end = t0 + (int64_t)secs * 1000000000;
	while (prev < end) {
		t = now_ns();
		g = t - prev;
		if (g > GAP_NS) {
			gaps++;
			lost += g;
			if (g >= 4000000)
				gaps4++;
			if (g > most)
				most = g;
		}
		prev = t;
	}
	printf("type=gaps name=%s seconds=%d gaps=%lu lost_ms=%.1f "
	    "max_ms=%.2f gaps_4ms=%lu guest_wait_ms=%.1f\n", name, secs, gaps,
	    lost / 1e6, most / 1e6, gaps4, (guest_wait_ns() - w0) / 1e6);
	return 0;
}

/*
 * tun_delay: a point-to-point IP link with a fixed one-way delay between two
 * network namespaces, made in user space because this kernel has no netem.
 * It creates a TUN device named `tdly` in each namespace (they must exist:
 * `ip netns add NAME`) and copies every IP packet from one to the other
 * after DELAY_MS.  Everything crossing it is delayed alike, the kernel's
 * TCP handshake included, so tryst and kernel TCP can be timed on one path.
 *
 *   tun_delay NS_A NS_B DELAY_MS      (root)
 *
 * Prints "ready" once both devices exist; the caller then gives them
 * addresses and brings them up (tests/bench/run-handshake.sh).  Runs until
 * it is killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bench.h"

/* A TUN device called `tdly` in namespace `ns`; the fd stays bound to it
 * whatever namespace this process moves to next. */
static int tun_in(const char *ns)
{
	char path[256];
	struct ifreq ifr;
	snprintf(path, sizeof path, "/var/run/netns/%s", ns);
	int nfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nfd < 0 || setns(nfd, CLONE_NEWNET) != 0)
		bench_die(path);
	close(nfd);
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		bench_die("/dev/net/tun");
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strcpy(ifr.ifr_name, "tdly");
	if (ioctl(fd, TUNSETIFF, &ifr) != 0)
		bench_die("TUNSETIFF");
	if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
		bench_die("O_NONBLOCK");
	return fd;
}

int main(int argc, char **argv)
{
	static struct bench_ring to_b, to_a;
	uint8_t *buf = malloc(BENCH_RING_BYTES);
	const struct bench_held *h;
	if (argc != 4 || !buf) {
		fprintf(stderr, "usage: tun_delay NS_A NS_B DELAY_MS\n");
		return 2;
	}
	double delay = atof(argv[3]) / 1e3;
	int a = tun_in(argv[1]), b = tun_in(argv[2]);
	bench_ring_init(&to_b);
	bench_ring_init(&to_a);
	prctl(PR_SET_TIMERSLACK, 1UL); /* wake on time, not 50 µs late */
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		double now = bench_now();
		while ((h = bench_ring_due(&to_b, now)) != NULL) {
			/* EIO while the device is still down: lost, like on a wire */
			if (write(b, h->data, h->len) < 0 && errno != EAGAIN && errno != EIO)
				bench_die("write");
			bench_ring_pop(&to_b);
		}
		while ((h = bench_ring_due(&to_a, now)) != NULL) {
			if (write(a, h->data, h->len) < 0 && errno != EAGAIN && errno != EIO)
				bench_die("write");
			bench_ring_pop(&to_a);
		}
		double next = bench_ring_next(&to_b), na = bench_ring_next(&to_a);
		if (na >= 0 && (next < 0 || na < next))
			next = na;
		struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
		struct timespec ts;
		if (ppoll(p, 2, bench_until(next, now, &ts), NULL) < 0 && errno != EINTR)
			bench_die("ppoll");
		now = bench_now();
		ssize_t n;
		if (p[0].revents & POLLIN)
			while ((n = read(a, buf, BENCH_RING_BYTES)) > 0)
				bench_ring_push(&to_b, now + delay, buf, (size_t)n);
		if (p[1].revents & POLLIN)
			while ((n = read(b, buf, BENCH_RING_BYTES)) > 0)
				bench_ring_push(&to_a, now + delay, buf, (size_t)n);
	}
}

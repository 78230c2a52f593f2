/*
 * tcp_blast: kernel TCP as a yardstick.  Moves N bytes (or as much as it
 * can in T seconds) over one TCP connection and prints throughput and CPU
 * time for each side, in the format of udp_blast.
 *
 *   tcp_blast [options]                  both sides over 127.0.0.1 (fork)
 *   tcp_blast --recv PORT [options]      receiver only (one connection)
 *   tcp_blast --send HOST:PORT [options] sender only
 *
 * Options:
 *   --bytes N     bytes to send (default 4e9; suffixes k M G)
 *   --seconds T   stop sending after T seconds (whichever comes first)
 *   --size N      bytes per write() (default 131072)
 *   --cc NAME     congestion control for the sender (TCP_CONGESTION,
 *                 tcp(7)): cubic, bbr, reno ... (default: the system's)
 *   --v6          ::1 / IPv6
 *
 * The receiver's figure is the goodput: bytes read divided by the time
 * from the first byte to end of stream.  Mbit is 10^6 bits, MB 10^6 bytes.
 * The lines starting SEND and RECV are for scripts (key=value).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static unsigned long long total = 4000000000ull;
static double seconds;
static size_t wsize = 131072;
static const char *cc;
static int v6;

static int listen_on(int family, uint16_t port, uint16_t *bound)
{
	int one = 1, fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		bench_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	*bound = bench_bind_any(fd, family, port);
	if (listen(fd, 1) != 0)
		bench_die("listen");
	return fd;
}

static int run_recv(int lfd)
{
	static char buf[1 << 20];
	unsigned long long bytes = 0;
	double t0 = 0, t1 = 0, t;
	struct bench_cpu c0, c1;
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		bench_die("accept");
	close(lfd);
	c0 = bench_cpu_now();
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			bench_die("read");
		}
		if (n == 0)
			break;
		if (!bytes)
			t0 = bench_now();
		bytes += (unsigned long long)n;
	}
	t1 = bench_now();
	c1 = bench_cpu_now();
	close(fd); /* tells the sender everything was read */
	t = t1 > t0 ? t1 - t0 : 1e-9;
	double usr = c1.user - c0.user, sys = c1.sys - c0.sys;
	printf("  recv: %llu B, %.3f s, %.1f MB/s (%.1f Mbit/s), cpu %.3f s (usr %.3f sys %.3f)\n",
	       bytes, t, bytes / t / 1e6, bytes * 8 / t / 1e6, usr + sys, usr, sys);
	printf("RECV recv_MBps=%.1f recv_Mbitps=%.1f recv_cpu_s=%.3f\n", bytes / t / 1e6,
	       bytes * 8 / t / 1e6, usr + sys);
	fflush(stdout);
	return 0;
}

static int run_send(const struct sockaddr_storage *to, socklen_t len)
{
	static char buf[1 << 20];
	unsigned long long sent = 0;
	double t0, t1, t, deadline;
	struct bench_cpu c0, c1;
	char used[32] = "?";
	socklen_t ul = sizeof used - 1;
	int fd = -1;

	/* the receiver may not be listening yet (a namespace just started) */
	for (int tries = 0; tries < 100; tries++) {
		fd = socket(to->ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			bench_die("socket");
		if (cc &&
		    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) != 0)
			bench_die("TCP_CONGESTION (modprobe tcp_<name>?)");
		if (connect(fd, (const struct sockaddr *)to, len) == 0)
			break;
		if (errno != ECONNREFUSED)
			bench_die("connect");
		close(fd);
		fd = -1;
		bench_sleep_ms(50);
	}
	if (fd < 0)
		bench_die("connect");
	getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, used, &ul);
	used[ul < sizeof used ? ul : sizeof used - 1] = 0;
	memset(buf, 'T', sizeof buf);
	c0 = bench_cpu_now();
	t0 = bench_now();
	deadline = seconds > 0 ? t0 + seconds : 0;
	while (sent < total) {
		size_t n = total - sent < wsize ? (size_t)(total - sent) : wsize;
		ssize_t w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			bench_die("write");
		}
		sent += (unsigned long long)w;
		if (deadline && bench_now() >= deadline)
			break;
	}
	shutdown(fd, SHUT_WR);
	/* wait until the receiver has read everything and closed */
	while (read(fd, buf, sizeof buf) > 0)
		;
	t1 = bench_now();
	c1 = bench_cpu_now();
	close(fd);
	t = t1 - t0;
	double usr = c1.user - c0.user, sys = c1.sys - c0.sys;
	printf("  send: %llu B, %.3f s, %.1f MB/s (%.1f Mbit/s), cc %s, cpu %.3f s (usr %.3f sys "
	       "%.3f)\n",
	       sent, t, sent / t / 1e6, sent * 8 / t / 1e6, used, usr + sys, usr, sys);
	printf("SEND send_MBps=%.1f send_Mbitps=%.1f send_cpu_s=%.3f cc=%s\n", sent / t / 1e6,
	       sent * 8 / t / 1e6, usr + sys, used);
	fflush(stdout);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: tcp_blast [--bytes N] [--seconds T] [--size N] [--cc NAME] [--v6] "
	                "[--recv PORT | --send HOST:PORT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *recv_port = NULL, *send_to = NULL;
	const struct bench_opt opts[] = {
	    {"--v6", BENCH_FLAG, &v6},
	    {"--bytes", BENCH_ULL, &total},
	    {"--seconds", BENCH_DOUBLE, &seconds},
	    {"--size", BENCH_SIZE, &wsize},
	    {"--cc", BENCH_STR, &cc},
	    {"--recv", BENCH_STR, &recv_port},
	    {"--send", BENCH_STR, &send_to},
	};
	if (bench_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0]) != 0)
		usage();
	if (wsize < 1 || wsize > (1 << 20))
		usage();
	if (seconds > 0 && total == 4000000000ull)
		total = ~0ull; /* --seconds alone: no byte limit */

	if (recv_port) {
		uint16_t port;
		int lfd = listen_on(v6 ? AF_INET6 : AF_INET, (uint16_t)atoi(recv_port), &port);
		printf("tcp_blast: receiving on port %u\n", port);
		fflush(stdout);
		return run_recv(lfd);
	}
	if (send_to) {
		struct sockaddr_storage ss;
		socklen_t len = bench_resolve(send_to, SOCK_STREAM, &ss);
		printf("tcp_blast: bytes=%llu seconds=%g to %s\n", total, seconds, send_to);
		fflush(stdout);
		return run_send(&ss, len);
	}
	{
		uint16_t port;
		int lfd = listen_on(v6 ? AF_INET6 : AF_INET, 0, &port), status;
		struct sockaddr_storage ss;
		socklen_t len;
		char target[64];
		pid_t pid;
		printf("tcp_blast: bytes=%llu over %s\n", total, v6 ? "::1" : "127.0.0.1");
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			bench_die("fork");
		if (pid == 0)
			_exit(run_recv(lfd));
		close(lfd);
		snprintf(target, sizeof target, v6 ? "[::1]:%u" : "127.0.0.1:%u", port);
		len = bench_resolve(target, SOCK_STREAM, &ss);
		run_send(&ss, len);
		waitpid(pid, &status, 0);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
}

/*
 * udpio_blast: udp_blast's measurement through tryst's own UDP layer
 * (src/udp.c on libevent), to show what the layer costs against the raw
 * ceiling.  Sender and receiver are two processes over 127.0.0.1, each on
 * its own event_base, like udp_blast's default mode.
 *
 *   udpio_blast [--size N] [--bytes N] [--segs N] [--no-gso] [--no-gro] [--v6]
 *
 * --segs N: datagrams per trst_udp_send call (default 48), sent as one GSO
 * send where the kernel has GSO, else one sendmmsg.  Output as udp_blast.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "internal.h"
#include "udp.h"

#define MARK_DATA 'D'
#define MARK_END  'E'

static size_t dsize = 1200, segs = 48;
static unsigned long long total = 1000000000ull;
static int no_gso, no_gro, v6;

static void die(const char *what, int rc)
{
	fprintf(stderr, "udpio_blast: %s: %s\n", what, rc ? tryst_strerror(rc) : "failed");
	exit(2);
}

/* ---- receiver ---- */

struct rx {
	struct event_base *base;
	unsigned long long bytes, dgrams, expected, callbacks;
	double first, last;
};

static void on_recv(struct trst_udp *u, const struct trst_udp_rx *m, size_t n, void *user)
{
	struct rx *r = user;
	(void)u;
	if (!r->dgrams)
		r->first = bench_now();
	r->callbacks++;
	for (size_t i = 0; i < n; i++) {
		if (m[i].len == 9 && m[i].data[0] == MARK_END) {
			memcpy(&r->expected, m[i].data + 1, 8);
			event_base_loopbreak(r->base);
			continue;
		}
		r->bytes += m[i].len;
		r->dgrams++;
	}
	r->last = bench_now();
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fprintf(stderr, "udpio_blast: receiver idle, stopping\n");
	event_base_loopbreak(arg);
}

static int run_recv(struct event_base *base, struct trst_udp *u, struct rx *r)
{
	struct trst_udp_stats st;
	struct timeval idle = {30, 0};
	struct event *t = evtimer_new(base, on_idle, base);
	double c0, c1, t_s, loss;
	evtimer_add(t, &idle);
	c0 = bench_cpu_s();
	event_base_dispatch(base);
	c1 = bench_cpu_s();
	trst_udp_get_stats(u, &st);
	t_s = r->last > r->first ? r->last - r->first : 1e-9;
	loss = r->expected ? 100.0 * (1.0 - (double)r->dgrams / (double)r->expected) : -1;
	printf("  recv: %llu B, %llu datagrams (loss %.2f %%), %.3f s, %.1f MB/s, %.0f pkt/s, "
	       "cpu %.3f s; %llu recvmmsg calls, %llu GRO buffers, %llu callbacks\n",
	       r->bytes, r->dgrams, loss, t_s, r->bytes / t_s / 1e6, r->dgrams / t_s, c1 - c0,
	       (unsigned long long)st.rx_syscalls, (unsigned long long)st.rx_gro_buffers,
	       r->callbacks);
	printf("RECV recv_MBps=%.1f recv_pps=%.0f loss_pct=%.2f recv_cpu_s=%.3f\n",
	       r->bytes / t_s / 1e6, r->dgrams / t_s, loss, c1 - c0);
	fflush(stdout);
	event_free(t);
	return 0;
}

/* ---- sender ---- */

static int blocked;
static void on_writable(struct trst_udp *u, void *user)
{
	(void)u;
	(void)user;
	blocked = 0;
}

static void run_send(struct event_base *base, struct trst_udp *u, const struct sockaddr *to,
                     socklen_t tolen)
{
	uint8_t *buf = malloc(segs * dsize), end[9];
	unsigned long long sent = 0, dgrams = 0, again = 0;
	struct trst_udp_stats st;
	double t0, t1, c0, c1;
	if (!buf)
		die("malloc", TRYST_ERR_NOMEM);
	memset(buf, MARK_DATA, segs * dsize);
	c0 = bench_cpu_s();
	t0 = bench_now();
	while (sent < total) {
		unsigned long long left = (total - sent + dsize - 1) / dsize;
		size_t n = left < segs ? (size_t)left : segs, got = 0;
		int rc = trst_udp_send(u, to, tolen, buf, n * dsize, dsize, &got);
		dgrams += got;
		sent += got * dsize;
		if (rc == TRYST_ERR_AGAIN) {
			again++;
			blocked = 1;
			while (blocked)
				event_base_loop(base, EVLOOP_ONCE);
		} else if (rc != 0) {
			die("send", rc);
		}
	}
	t1 = bench_now();
	c1 = bench_cpu_s();
	end[0] = MARK_END;
	memcpy(end + 1, &dgrams, 8);
	for (int i = 0; i < 20; i++) {
		trst_udp_send(u, to, tolen, end, sizeof end, 0, NULL);
		bench_sleep_ms(5);
	}
	trst_udp_get_stats(u, &st);
	printf("  send: %llu B, %llu datagrams, %.3f s, %.1f MB/s, %.0f pkt/s, cpu %.3f s; "
	       "%llu syscalls, %llu GSO sends, %llu AGAIN\n",
	       sent, dgrams, t1 - t0, sent / (t1 - t0) / 1e6, dgrams / (t1 - t0), c1 - c0,
	       (unsigned long long)st.tx_syscalls, (unsigned long long)st.tx_gso_sends, again);
	printf("SEND send_MBps=%.1f send_pps=%.0f send_cpu_s=%.3f\n", sent / (t1 - t0) / 1e6,
	       dgrams / (t1 - t0), c1 - c0);
	fflush(stdout);
	free(buf);
}

static void nop_recv(struct trst_udp *u, const struct trst_udp_rx *m, size_t n, void *user)
{
	(void)u;
	(void)m;
	(void)n;
	(void)user;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage bind_ss, to;
	socklen_t tolen;
	int pfd[2], status, rc;
	pid_t pid;
	uint16_t port;
	struct event_base *base;
	struct trst_udp *u;
	struct rx r;
	const char *ip;

	const struct bench_opt opts[] = {
	    {"--no-gso", BENCH_FLAG, &no_gso}, {"--no-gro", BENCH_FLAG, &no_gro},
	    {"--v6", BENCH_FLAG, &v6},         {"--size", BENCH_SIZE, &dsize},
	    {"--bytes", BENCH_ULL, &total},    {"--segs", BENCH_SIZE, &segs},
	};
	if (bench_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0]) != 0) {
		fprintf(stderr, "usage: udpio_blast [--size N] [--bytes N] [--segs N] "
		                "[--no-gso] [--no-gro] [--v6]\n");
		return 2;
	}
	if (dsize < 10 || dsize > TRST_UDP_MAX_PAYLOAD || segs < 1 || segs > 1024)
		return 2;
	ip = v6 ? "::1" : "127.0.0.1";
	memset(&bind_ss, 0, sizeof bind_ss);
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&bind_ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&bind_ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}

	printf("udpio_blast: size=%zu bytes=%llu segs=%zu over %s, GSO %s, GRO %s\n", dsize, total,
	       segs, ip, no_gso ? "off" : "on if available", no_gro ? "off" : "on if available");
	fflush(stdout);
	if (pipe(pfd) != 0)
		return 2;
	pid = fork();
	if (pid == 0) {
		/* the receiver: its own base and socket; tells the parent its
		 * port, then reads until the end marker */
		const struct trst_udp_callbacks cbs = {on_recv, NULL, NULL};
		close(pfd[0]);
		memset(&r, 0, sizeof r);
		r.base = base = event_base_new();
		if ((rc = trst_udp_new(base, (struct sockaddr *)&bind_ss, 0, &cbs, &r, &u)) != 0)
			die("trst_udp_new", rc);
		if (no_gro)
			trst_udp_set_gro(u, 0);
		port = trst_udp_local_port(u);
		if (write(pfd[1], &port, sizeof port) != sizeof port)
			_exit(2);
		close(pfd[1]);
		rc = run_recv(base, u, &r);
		trst_udp_free(u);
		event_base_free(base);
		_exit(rc);
	}
	close(pfd[1]);
	if (read(pfd[0], &port, sizeof port) != sizeof port)
		return 2;
	close(pfd[0]);

	base = event_base_new();
	{
		const struct trst_udp_callbacks cbs = {nop_recv, on_writable, NULL};
		if ((rc = trst_udp_new(base, (struct sockaddr *)&bind_ss, 0, &cbs, NULL, &u)) != 0)
			die("trst_udp_new", rc);
	}
	if (no_gso)
		trst_udp_disable_gso(u);
	memcpy(&to, &bind_ss, sizeof to);
	if (v6) {
		((struct sockaddr_in6 *)&to)->sin6_port = htons(port);
		tolen = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&to)->sin_port = htons(port);
		tolen = sizeof(struct sockaddr_in);
	}
	bench_sleep_ms(50);
	run_send(base, u, (struct sockaddr *)&to, tolen);
	waitpid(pid, &status, 0);
	trst_udp_free(u);
	event_base_free(base);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

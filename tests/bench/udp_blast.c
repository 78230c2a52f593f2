/*
 * udp_blast: the raw UDP ceiling.  Moves N bytes in datagrams of one size
 * from a sender to a receiver with plain sockets, no tryst code, and prints
 * throughput and CPU time for each side.  The transport benchmark is
 * compared against these figures (DESIGN.md section 11).
 *
 *   udp_blast [options]                  both sides over 127.0.0.1 (fork)
 *   udp_blast --recv PORT [options]      receiver only
 *   udp_blast --send HOST:PORT [options] sender only
 *
 * Options:
 *   --mode single|mmsg|gso  one datagram per syscall (send/recv);
 *                           sendmmsg/recvmmsg batches; UDP GSO on send
 *                           (UDP_SEGMENT) and GRO on receive (UDP_GRO)
 *   --size N                datagram payload bytes (default 1200)
 *   --bytes N               bytes to send (default 1e9; suffixes k M G)
 *   --batch N               messages per sendmmsg/recvmmsg (default 32)
 *   --segs N                segments per GSO send (default 48, at most 64)
 *   --v6                    use ::1 / IPv6 instead of 127.0.0.1
 *   --unconnected           address every datagram (sendto, msg_name) instead
 *                           of connect(): what one socket for all peers does
 *
 * The sender does not wait for the receiver: datagrams the receiver cannot
 * take are dropped by its kernel and reported as loss.  MB is 10^6 bytes.
 * The lines starting SEND and RECV are for scripts (key=value).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
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

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum mode { M_SINGLE, M_MMSG, M_GSO };
static const char *mode_names[] = {"single", "mmsg", "gso"};

static enum mode mode = M_SINGLE;
static size_t dsize = 1200, batch = 32, segs = 48;
static unsigned long long total = 1000000000ull;
static int v6, unconnected;
/* the destination when unconnected */
static struct sockaddr_storage dest;
static socklen_t destlen;

#define MARK_DATA 'D'
#define MARK_END  'E'
#define RXBUF     65536

static void bufsizes(int fd)
{
	int v = 4 * 1024 * 1024;
	/* the same generous buffers the tryst socket asks for */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
}

/* ---- receiver ---------------------------------------------------------------- */

struct rx_stats {
	unsigned long long bytes, dgrams, expected;
	double first, last;
	int ended;
};

/* Account one kernel buffer of `len` bytes holding segments of `seg`. */
static void account(struct rx_stats *st, const uint8_t *p, size_t len, size_t seg)
{
	if (seg == 0 || seg > len)
		seg = len;
	if (len == 0) {
		st->dgrams++;
		return;
	}
	for (size_t o = 0; o < len; o += seg) {
		size_t piece = len - o < seg ? len - o : seg;
		if (piece == 9 && p[o] == MARK_END) {
			memcpy(&st->expected, p + o + 1, 8);
			st->ended = 1;
		} else {
			st->bytes += piece;
			st->dgrams++;
		}
	}
}

static size_t gro_size(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int gs;
			memcpy(&gs, CMSG_DATA(c), sizeof gs);
			return gs > 0 ? (size_t)gs : 0;
		}
	return 0;
}

static int run_recv(int fd, FILE *out)
{
	struct rx_stats st;
	struct bench_cpu c0 = bench_cpu_now(), c1;
	size_t nb = mode == M_SINGLE ? 1 : batch;
	uint8_t *buf = malloc(nb * RXBUF);
	struct mmsghdr *m = calloc(nb, sizeof *m);
	struct iovec *iov = calloc(nb, sizeof *iov);
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} *ctrl = calloc(nb, sizeof *ctrl);
	double idle_limit = 2.0;

	if (!buf || !m || !iov || !ctrl)
		bench_die("malloc");
	memset(&st, 0, sizeof st);
	if (mode == M_GSO) {
		int one = 1;
		if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) != 0)
			bench_die("UDP_GRO");
	}
	for (size_t i = 0; i < nb; i++) {
		iov[i].iov_base = buf + i * RXBUF;
		iov[i].iov_len = RXBUF;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	while (!st.ended) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int r;
		/* wait with a timeout so a lost end marker cannot hang us */
		r = poll(&pfd, 1, st.dgrams ? (int)(idle_limit * 1000) : 30000);
		if (r == 0) {
			fprintf(stderr, "udp_blast: receiver idle, stopping\n");
			break;
		}
		/* drain what is there, then poll again */
		unsigned long long before = st.dgrams;
		for (;;) {
			if (mode == M_SINGLE) {
				ssize_t n = recv(fd, buf, RXBUF, MSG_DONTWAIT);
				if (n < 0)
					break;
				if (!st.dgrams)
					st.first = bench_now();
				account(&st, buf, (size_t)n, 0);
				continue;
			}
			for (size_t i = 0; i < nb; i++) {
				m[i].msg_hdr.msg_control = mode == M_GSO ? ctrl[i].b : NULL;
				m[i].msg_hdr.msg_controllen = mode == M_GSO ? sizeof ctrl[i].b : 0;
			}
			r = recvmmsg(fd, m, (unsigned)nb, MSG_DONTWAIT, NULL);
			if (r <= 0)
				break;
			if (!st.dgrams)
				st.first = bench_now();
			for (int i = 0; i < r; i++)
				account(&st, iov[i].iov_base, m[i].msg_len,
				        mode == M_GSO ? gro_size(&m[i].msg_hdr) : 0);
		}
		if (st.dgrams > before)
			st.last = bench_now();
	}
	c1 = bench_cpu_now();
	{
		double t = st.last > st.first ? st.last - st.first : 1e-9;
		double cpu = (c1.user - c0.user) + (c1.sys - c0.sys);
		double loss =
		    st.expected ? 100.0 * (1.0 - (double)st.dgrams / (double)st.expected) : -1;
		fprintf(out,
		        "  recv: %llu B, %llu datagrams (loss %.2f %%), %.3f s, %.1f MB/s, %.0f "
		        "pkt/s, cpu %.3f s (usr %.3f sys %.3f)\n",
		        st.bytes, st.dgrams, loss, t, st.bytes / t / 1e6, st.dgrams / t, cpu,
		        c1.user - c0.user, c1.sys - c0.sys);
		fprintf(out, "RECV recv_MBps=%.1f recv_pps=%.0f loss_pct=%.2f recv_cpu_s=%.3f\n",
		        st.bytes / t / 1e6, st.dgrams / t, loss, cpu);
		fflush(out);
	}
	free(buf);
	free(m);
	free(iov);
	free(ctrl);
	return 0;
}

/* ---- sender ------------------------------------------------------------------- */

static void send_end(int fd, unsigned long long dgrams)
{
	uint8_t end[9];
	end[0] = MARK_END;
	memcpy(end + 1, &dgrams, 8);
	/* several times: any one may be dropped by a full receive buffer */
	for (int i = 0; i < 20; i++) {
		sendto(fd, end, sizeof end, 0, unconnected ? (struct sockaddr *)&dest : NULL,
		       unconnected ? destlen : 0);
		bench_sleep_ms(5);
	}
}

static int run_send(int fd, FILE *out)
{
	size_t per = mode == M_GSO ? segs : mode == M_MMSG ? batch : 1;
	uint8_t *buf;
	struct mmsghdr *m;
	struct iovec *iov;
	unsigned long long sent = 0, dgrams = 0, errors = 0;
	struct bench_cpu c0, c1;
	double t0, t1;
	union {
		char b[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr a;
	} ctrl;

	if (mode == M_GSO && segs * dsize > 65507) {
		segs = 65507 / dsize;
		per = segs;
	}
	buf = malloc(per * dsize);
	m = calloc(per, sizeof *m);
	iov = calloc(per, sizeof *iov);
	if (!buf || !m || !iov)
		bench_die("malloc");
	memset(buf, MARK_DATA, per * dsize);
	for (size_t i = 0; i < per; i++) {
		iov[i].iov_base = buf + i * dsize;
		iov[i].iov_len = dsize;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = unconnected ? &dest : NULL;
		m[i].msg_hdr.msg_namelen = unconnected ? destlen : 0;
	}
	if (mode == M_GSO) {
		struct cmsghdr *c;
		uint16_t gs = (uint16_t)dsize;
		iov[0].iov_len = per * dsize;
		m[0].msg_hdr.msg_control = ctrl.b;
		m[0].msg_hdr.msg_controllen = sizeof ctrl.b;
		c = CMSG_FIRSTHDR(&m[0].msg_hdr);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof gs);
		memcpy(CMSG_DATA(c), &gs, sizeof gs);
	}

	c0 = bench_cpu_now();
	t0 = bench_now();
	while (sent < total) {
		unsigned long long left = (total - sent + dsize - 1) / dsize;
		size_t n = left < per ? (size_t)left : per;
		int r;
		if (mode == M_SINGLE) {
			r = sendto(fd, buf, dsize, 0, unconnected ? (struct sockaddr *)&dest : NULL,
			           unconnected ? destlen : 0) < 0
			        ? -1
			        : 1;
		} else if (mode == M_MMSG) {
			r = sendmmsg(fd, m, (unsigned)n, 0);
		} else {
			iov[0].iov_len = n * dsize;
			r = sendmsg(fd, &m[0].msg_hdr, 0) < 0 ? -1 : (int)n;
		}
		if (r < 0) {
			/* ENOBUFS/ECONNREFUSED (receiver not up yet): count, go on */
			if (++errors > 1000000)
				bench_die("send");
			continue;
		}
		dgrams += (unsigned long long)r;
		sent += (unsigned long long)r * dsize;
	}
	t1 = bench_now();
	c1 = bench_cpu_now();
	send_end(fd, dgrams);
	{
		double t = t1 - t0, cpu = (c1.user - c0.user) + (c1.sys - c0.sys);
		fprintf(out,
		        "  send: %llu B, %llu datagrams, %.3f s, %.1f MB/s, %.0f pkt/s, cpu %.3f s "
		        "(usr %.3f sys %.3f), %llu send errors\n",
		        sent, dgrams, t, sent / t / 1e6, dgrams / t, cpu, c1.user - c0.user,
		        c1.sys - c0.sys, errors);
		fprintf(out, "SEND send_MBps=%.1f send_pps=%.0f send_cpu_s=%.3f\n", sent / t / 1e6,
		        dgrams / t, cpu);
		fflush(out);
	}
	free(buf);
	free(m);
	free(iov);
	return 0;
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
	        "usage: udp_blast [--mode single|mmsg|gso] [--size N] [--bytes N] "
	        "[--batch N] [--segs N] [--v6] [--unconnected] [--recv PORT | --send HOST:PORT]\n");
	exit(2);
}

static int bind_recv(int family, uint16_t port, uint16_t *bound)
{
	int fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0)
		bench_die("socket");
	bufsizes(fd);
	*bound = bench_bind_any(fd, family, port);
	return fd;
}

static int connect_send(const struct sockaddr_storage *to, socklen_t len)
{
	int fd = socket(to->ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		bench_die("socket");
	bufsizes(fd);
	if (unconnected) {
		memcpy(&dest, to, len);
		destlen = len;
		return fd;
	}
	/* connected: the kernel looks the route up once */
	if (connect(fd, (const struct sockaddr *)to, len) != 0)
		bench_die("connect");
	return fd;
}

int main(int argc, char **argv)
{
	const char *recv_port = NULL, *send_to = NULL, *mode_name = NULL;
	const struct bench_opt opts[] = {
	    {"--v6", BENCH_FLAG, &v6},         {"--unconnected", BENCH_FLAG, &unconnected},
	    {"--mode", BENCH_STR, &mode_name}, {"--size", BENCH_SIZE, &dsize},
	    {"--bytes", BENCH_ULL, &total},    {"--batch", BENCH_SIZE, &batch},
	    {"--segs", BENCH_SIZE, &segs},     {"--recv", BENCH_STR, &recv_port},
	    {"--send", BENCH_STR, &send_to},
	};
	if (bench_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0]) != 0)
		usage();
	if (mode_name) {
		if (!strcmp(mode_name, "single"))
			mode = M_SINGLE;
		else if (!strcmp(mode_name, "mmsg"))
			mode = M_MMSG;
		else if (!strcmp(mode_name, "gso"))
			mode = M_GSO;
		else
			usage();
	}
	if (dsize < 9 || dsize > 65507 || batch < 1 || batch > 1024 || segs < 1 || segs > 64)
		usage();

	if (recv_port) {
		uint16_t port;
		int fd = bind_recv(v6 ? AF_INET6 : AF_INET, (uint16_t)atoi(recv_port), &port);
		printf("udp_blast: receiving on port %u, mode=%s\n", port, mode_names[mode]);
		fflush(stdout);
		return run_recv(fd, stdout);
	}
	if (send_to) {
		struct sockaddr_storage ss;
		socklen_t len = bench_resolve(send_to, SOCK_DGRAM, &ss);
		printf("udp_blast: mode=%s size=%zu bytes=%llu to %s\n", mode_names[mode], dsize,
		       total, send_to);
		return run_send(connect_send(&ss, len), stdout);
	}

	/* both sides: the receiver is a child process on its own CPU time */
	{
		int pfd[2], status, fd;
		uint16_t port;
		pid_t pid;
		struct sockaddr_storage ss;
		socklen_t len;
		char target[64];
		printf("udp_blast: mode=%s size=%zu bytes=%llu%s%s over %s\n", mode_names[mode],
		       dsize, total, mode == M_GSO ? " segs=" : "",
		       mode == M_GSO ? (snprintf(target, sizeof target, "%zu", segs), target) : "",
		       v6 ? "::1" : "127.0.0.1");
		fflush(stdout);
		fd = bind_recv(v6 ? AF_INET6 : AF_INET, 0, &port);
		if (pipe(pfd) != 0)
			bench_die("pipe");
		pid = fork();
		if (pid < 0)
			bench_die("fork");
		if (pid == 0) {
			char go;
			close(pfd[1]);
			/* tell the parent we are about to read, then read */
			if (read(pfd[0], &go, 1) < 0)
				bench_die("read");
			run_recv(fd, stdout);
			_exit(0);
		}
		close(pfd[0]);
		close(fd);
		snprintf(target, sizeof target, v6 ? "[::1]:%u" : "127.0.0.1:%u", port);
		len = bench_resolve(target, SOCK_DGRAM, &ss);
		fd = connect_send(&ss, len);
		if (write(pfd[1], "g", 1) != 1)
			bench_die("write");
		bench_sleep_ms(50); /* let the receiver reach poll() */
		run_send(fd, stdout);
		waitpid(pid, &status, 0);
		close(fd);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
}

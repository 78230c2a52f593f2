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

static unsigned long long total = 4000000000ull;
static double seconds;
static size_t wsize = 131072;
static const char *cc;
static int v6;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(double *user, double *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return *user + *sys;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static unsigned long long parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	switch (*end) {
	case 'k':
	case 'K': v *= 1e3; break;
	case 'M': v *= 1e6; break;
	case 'G': v *= 1e9; break;
	}
	return (unsigned long long)v;
}

static socklen_t resolve(const char *hostport, struct sockaddr_storage *ss)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints, *ai;
	size_t hl;
	socklen_t len;
	if (!colon)
		die("--send wants HOST:PORT");
	hl = (size_t)(colon - hostport);
	if (hl >= sizeof host)
		die("host too long");
	memcpy(host, hostport, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		fprintf(stderr, "cannot resolve %s\n", hostport);
		exit(2);
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return len;
}

static int listen_on(int family, uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&ss, 0, sizeof ss);
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		int zero = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof *s4;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0)
		die("bind");
	if (listen(fd, 1) != 0)
		die("listen");
	len = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*bound = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                  : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int run_recv(int lfd)
{
	static char buf[1 << 20];
	unsigned long long bytes = 0;
	double t0 = 0, t1 = 0, u0, s0, u1, s1, c0, c1, t;
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	close(lfd);
	c0 = cpu_s(&u0, &s0);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		if (n == 0)
			break;
		if (!bytes)
			t0 = now_s();
		bytes += (unsigned long long)n;
	}
	t1 = now_s();
	c1 = cpu_s(&u1, &s1);
	close(fd); /* tells the sender everything was read */
	t = t1 > t0 ? t1 - t0 : 1e-9;
	printf("  recv: %llu B, %.3f s, %.1f MB/s (%.1f Mbit/s), cpu %.3f s (usr %.3f sys %.3f)\n",
	       bytes, t, bytes / t / 1e6, bytes * 8 / t / 1e6, c1 - c0, u1 - u0, s1 - s0);
	printf("RECV recv_MBps=%.1f recv_Mbitps=%.1f recv_cpu_s=%.3f\n", bytes / t / 1e6,
	       bytes * 8 / t / 1e6, c1 - c0);
	fflush(stdout);
	return 0;
}

static int run_send(const struct sockaddr_storage *to, socklen_t len)
{
	static char buf[1 << 20];
	unsigned long long sent = 0;
	double t0, t1, u0, s0, u1, s1, c0, c1, t, deadline;
	char used[32] = "?";
	socklen_t ul = sizeof used - 1;
	int fd = -1;

	/* the receiver may not be listening yet (a namespace just started) */
	for (int tries = 0; tries < 100; tries++) {
		fd = socket(to->ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		if (cc &&
		    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) != 0)
			die("TCP_CONGESTION (modprobe tcp_<name>?)");
		if (connect(fd, (const struct sockaddr *)to, len) == 0)
			break;
		if (errno != ECONNREFUSED)
			die("connect");
		close(fd);
		fd = -1;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (fd < 0)
		die("connect");
	getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, used, &ul);
	used[ul < sizeof used ? ul : sizeof used - 1] = 0;
	memset(buf, 'T', sizeof buf);
	c0 = cpu_s(&u0, &s0);
	t0 = now_s();
	deadline = seconds > 0 ? t0 + seconds : 0;
	while (sent < total) {
		size_t n = total - sent < wsize ? (size_t)(total - sent) : wsize;
		ssize_t w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		sent += (unsigned long long)w;
		if (deadline && now_s() >= deadline)
			break;
	}
	shutdown(fd, SHUT_WR);
	/* wait until the receiver has read everything and closed */
	while (read(fd, buf, sizeof buf) > 0)
		;
	t1 = now_s();
	c1 = cpu_s(&u1, &s1);
	close(fd);
	t = t1 - t0;
	printf("  send: %llu B, %.3f s, %.1f MB/s (%.1f Mbit/s), cc %s, cpu %.3f s (usr %.3f sys "
	       "%.3f)\n",
	       sent, t, sent / t / 1e6, sent * 8 / t / 1e6, used, c1 - c0, u1 - u0, s1 - s0);
	printf("SEND send_MBps=%.1f send_Mbitps=%.1f send_cpu_s=%.3f cc=%s\n", sent / t / 1e6,
	       sent * 8 / t / 1e6, c1 - c0, used);
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
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--v6")) {
			v6 = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--bytes"))
			total = parse_size(v);
		else if (!strcmp(a, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(a, "--size"))
			wsize = (size_t)parse_size(v);
		else if (!strcmp(a, "--cc"))
			cc = v;
		else if (!strcmp(a, "--recv"))
			recv_port = v;
		else if (!strcmp(a, "--send"))
			send_to = v;
		else
			usage();
	}
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
		socklen_t len = resolve(send_to, &ss);
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
			die("fork");
		if (pid == 0)
			_exit(run_recv(lfd));
		close(lfd);
		snprintf(target, sizeof target, v6 ? "[::1]:%u" : "127.0.0.1:%u", port);
		len = resolve(target, &ss);
		run_send(&ss, len);
		waitpid(pid, &status, 0);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
}

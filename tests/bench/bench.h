/*
 * bench.h: what the benchmark programs share: the clock, CPU time, option
 * parsing, sizes with k/M/G suffixes, HOST:PORT and bound sockets.
 * Header-only (static functions), so that each program stays one source
 * file that needs nothing of the library.
 */
#ifndef TRYST_BENCH_H
#define TRYST_BENCH_H

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds this process has used so far. */
struct bench_cpu {
	double user, sys;
};

static inline struct bench_cpu bench_cpu_now(void)
{
	struct rusage ru;
	struct bench_cpu c;
	getrusage(RUSAGE_SELF, &ru);
	c.user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	c.sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return c;
}

static inline double bench_cpu_s(void)
{
	struct bench_cpu c = bench_cpu_now();
	return c.user + c.sys;
}

static inline void bench_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* perror and exit 2: a benchmark that cannot run has no figure to give. */
static inline void bench_die(const char *what)
{
	perror(what);
	exit(2);
}

/* "1.5G" = 1.5e9: decimal suffixes k/K, M, G. */
static inline unsigned long long bench_parse_size(const char *s)
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

/* Long options, each "--name" alone (a flag) or followed by its value. */
enum bench_opt_kind {
	BENCH_FLAG,   /* int, set to 1 */
	BENCH_SIZE,   /* size_t, bench_parse_size */
	BENCH_ULL,    /* unsigned long long, bench_parse_size */
	BENCH_DOUBLE, /* double, atof */
	BENCH_STR,    /* const char *, borrowed from argv */
};

struct bench_opt {
	const char *name; /* with the dashes: "--size" */
	enum bench_opt_kind kind;
	void *dst;
};

/* Fill the options' destinations from argv; -1 on an unknown option or a
 * missing value (the caller prints its usage). */
static inline int bench_parse_opts(int argc, char **argv, const struct bench_opt *opts,
                                   size_t n_opts)
{
	for (int i = 1; i < argc; i++) {
		const struct bench_opt *o = NULL;
		for (size_t j = 0; j < n_opts && !o; j++)
			if (strcmp(argv[i], opts[j].name) == 0)
				o = &opts[j];
		if (!o)
			return -1;
		if (o->kind == BENCH_FLAG) {
			*(int *)o->dst = 1;
			continue;
		}
		if (i + 1 >= argc)
			return -1;
		const char *v = argv[++i];
		switch (o->kind) {
		case BENCH_SIZE: *(size_t *)o->dst = (size_t)bench_parse_size(v); break;
		case BENCH_ULL: *(unsigned long long *)o->dst = bench_parse_size(v); break;
		case BENCH_DOUBLE: *(double *)o->dst = atof(v); break;
		case BENCH_STR: *(const char **)o->dst = v; break;
		case BENCH_FLAG: break;
		}
	}
	return 0;
}

/* HOST:PORT or [V6]:PORT for sockets of `socktype`; exits 2 if it does not
 * resolve. */
static inline socklen_t bench_resolve(const char *hostport, int socktype,
                                      struct sockaddr_storage *ss)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints, *ai;
	size_t hl;
	socklen_t len;
	if (!colon) {
		fprintf(stderr, "want HOST:PORT, not %s\n", hostport);
		exit(2);
	}
	hl = (size_t)(colon - hostport);
	if (hl >= sizeof host) {
		fprintf(stderr, "host too long\n");
		exit(2);
	}
	memcpy(host, hostport, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = socktype;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		fprintf(stderr, "cannot resolve %s\n", hostport);
		exit(2);
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return len;
}

/* The port a bound socket has. */
static inline uint16_t bench_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &len);
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                      : ((struct sockaddr_in *)&ss)->sin_port);
}

/* Bind fd to every address of `family` (IPv6 taking IPv4 too) at `port`
 * (0: the kernel picks); returns the port bound.  Exits 2 on failure. */
static inline uint16_t bench_bind_any(int fd, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
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
		bench_die("bind");
	return bench_local_port(fd);
}

#ifdef EVENT2_EVENT_H_INCLUDED_
/* For the programs on libevent: a base with precise timers (the default
 * ones fire about 4 ms late on this machine, a fifth of a 20 ms RTT). */
static inline struct event_base *bench_base_new(void)
{
	struct event_config *c = event_config_new();
	event_config_set_flag(c, EVENT_BASE_FLAG_PRECISE_TIMER);
	struct event_base *b = event_base_new_with_config(c);
	event_config_free(c);
	return b;
}
#endif

/* A delay line: packets held until `due` (seconds, bench_now()), in
 * arrival order, which is also their departure order since every packet
 * waits the same time.  For the delay relays (bench_handshake, tun_delay),
 * because this kernel has no netem. */
#define BENCH_RING_SLOTS 256
#define BENCH_RING_BYTES 65536

struct bench_held {
	double due;
	size_t len;
	uint8_t *data;
};

struct bench_ring {
	struct bench_held h[BENCH_RING_SLOTS];
	size_t head, n;
	unsigned long long dropped;
};

static inline void bench_ring_init(struct bench_ring *r)
{
	memset(r, 0, sizeof *r);
	for (int i = 0; i < BENCH_RING_SLOTS; i++)
		if (!(r->h[i].data = malloc(BENCH_RING_BYTES)))
			bench_die("malloc");
}

/* Hold a packet; a full line drops it, as a full queue would. */
static inline void bench_ring_push(struct bench_ring *r, double due, const uint8_t *p, size_t len)
{
	if (r->n == BENCH_RING_SLOTS || len > BENCH_RING_BYTES) {
		r->dropped++;
		return;
	}
	struct bench_held *h = &r->h[(r->head + r->n++) % BENCH_RING_SLOTS];
	h->due = due;
	h->len = len;
	memcpy(h->data, p, len);
}

/* The oldest packet if it is due at `now`, else NULL; bench_ring_pop()
 * releases it. */
static inline const struct bench_held *bench_ring_due(const struct bench_ring *r, double now)
{
	return r->n && r->h[r->head].due <= now ? &r->h[r->head] : NULL;
}

static inline void bench_ring_pop(struct bench_ring *r)
{
	r->head = (r->head + 1) % BENCH_RING_SLOTS;
	r->n--;
}

/* When the next packet is due, or -1. */
static inline double bench_ring_next(const struct bench_ring *r)
{
	return r->n ? r->h[r->head].due : -1;
}

/* A ppoll timeout until `next` (-1: none) from `now`. */
static inline struct timespec *bench_until(double next, double now, struct timespec *ts)
{
	if (next < 0)
		return NULL;
	double w = next > now ? next - now : 0;
	ts->tv_sec = (time_t)w;
	ts->tv_nsec = (long)((w - (double)ts->tv_sec) * 1e9);
	return ts;
}

#endif

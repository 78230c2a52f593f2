/*
 * bench_handshake.c: handshake round trips and time to first byte through
 * the real library path (DESIGN.md section 11), beside kernel TCP.
 *
 * Three processes: a responder (a tryst node that echoes every stream, and
 * a TCP echo server), a UDP delay relay, and the dialer.  Each run makes a
 * fresh dialer node and measures, on the monotonic clock,
 *   handshake: tryst_node_connect() -> TRYST_CONN_ESTABLISHED;
 *   TTFB:      tryst_node_connect() -> the first byte of the echo of a
 *              32-byte request written on a new stream right after
 *              ESTABLISHED;
 * first on loopback, then through the relay, which holds every datagram
 * for --delay-ms in each direction (the kernel here has no netem), so the
 * figures can be read in round trips: RTT is the connection's own minimum
 * RTT estimate.  The relay counts the datagrams each way until the first
 * byte arrives.  Kernel TCP: connect() -> connected and connect() -> first
 * byte of the same echo, on loopback (a user-space relay cannot delay the
 * kernel's SYN/SYN-ACK, so TCP through the relay would look a round trip
 * faster than it is).
 *
 *   bench_handshake [--runs N] [--delay-ms D] [--json]
 *
 * Prints the median and 95th percentile of each figure.
 */
#include "config.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bench.h"
#include "tryst.h"

#define REQ_LEN  32
#define MAX_RUNS 10000

static unsigned long long runs = 50;
static double delay_ms = 10;
static int json;
static const char *serve_ip, *dial_ip, *key_text;
static unsigned long long udp_port, tcp_port;

static void ipv4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	memset(ss, 0, sizeof *ss);
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1) {
		fprintf(stderr, "bench_handshake: not an IPv4 address: %s\n", ip);
		exit(2);
	}
}

static void loopback(struct sockaddr_storage *ss, uint16_t port)
{
	ipv4(ss, "127.0.0.1", port);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of v[0..n), which it sorts. */
static double quantile(double *v, size_t n, double q)
{
	qsort(v, n, sizeof *v, cmp_double);
	size_t k = (size_t)(q * (double)n + 0.999999);
	return v[k ? k - 1 : 0];
}

/* ---- the responder: a tryst node echoing streams, a TCP echo server ---- */

static void echo_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void echo_event(struct bufferevent *bev, short what, void *arg)
{
	tryst_stream *st = arg;
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		tryst_stream_free(st);
}

static void r_stream(tryst_conn *c, tryst_stream *st, void *ud)
{
	(void)c;
	(void)ud;
	struct bufferevent *bev = tryst_stream_bufferevent(st);
	bufferevent_setcb(bev, echo_read, NULL, echo_event, st);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int r_accept(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE], const struct sockaddr *from,
                    void *ud)
{
	(void)n;
	(void)key;
	(void)from;
	(void)ud;
	return 0;
}

static void r_conn(tryst_conn *c, int ev, int err, void *ud)
{
	(void)err;
	(void)ud;
	if (ev == TRYST_CONN_CLOSED)
		tryst_conn_free(c);
}

static void tcp_echo_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return;
	/* One short exchange per connection: blocking is simplest, with a
	 * bound in case the dialer vanishes before its FIN arrives. */
	struct timeval tv = {2, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	close(fd);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Serves on `ip` until ctl_fd reaches its end; writes its UDP and TCP
 * ports to ports_fd first. */
static void responder(tryst_identity *id, const char *ip, int ports_fd, int ctl_fd)
{
	struct event_base *b = bench_base_new();
	struct tryst_node_config cfg;
	tryst_node *n;
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = ip;
	cfg.accept = r_accept;
	cfg.on_conn = r_conn;
	cfg.on_stream = r_stream;
	if (tryst_node_new(b, &cfg, &n) < 0)
		_exit(2);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_storage ss;
	ipv4(&ss, ip, 0);
	setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)) != 0 || listen(lfd, 16))
		bench_die("tcp listen");
	uint16_t ports[2] = {tryst_node_port(n), bench_local_port(lfd)};
	if (write(ports_fd, ports, sizeof ports) != sizeof ports)
		_exit(2);
	struct event *tev = event_new(b, lfd, EV_READ | EV_PERSIST, tcp_echo_cb, NULL);
	struct event *stop = event_new(b, ctl_fd, EV_READ, stop_cb, b);
	event_add(tev, NULL);
	event_add(stop, NULL);
	event_base_dispatch(b);
	event_free(tev);
	event_free(stop);
	tryst_node_free(n);
	event_base_loop(b, EVLOOP_NONBLOCK);
	event_base_free(b);
	_exit(0);
}

/* ---- the delay relay ---- */

struct relay_counts {
	unsigned long long to_responder, to_dialer, dropped;
};

/* Forwards datagrams between the dialer (whoever last sent to `front`) and
 * `server`, each after `delay` seconds.  Control bytes on ctl: 'r' resets
 * the counts, 'q' writes them to res_fd; EOF ends it. */
static void relay(int front, int back, const struct sockaddr_storage *server, double delay, int ctl,
                  int res_fd)
{
	static struct bench_ring up, down; /* to the responder, to the dialer */
	struct sockaddr_storage client;
	socklen_t client_len = 0;
	struct relay_counts cnt = {0, 0, 0};
	const struct bench_held *h;
	uint8_t *buf = malloc(BENCH_RING_BYTES);
	if (!buf)
		bench_die("malloc");
	bench_ring_init(&up);
	bench_ring_init(&down);
	prctl(PR_SET_TIMERSLACK, 1UL); /* wake on time, not 50 µs late */
	for (;;) {
		double now = bench_now(), next;
		while ((h = bench_ring_due(&up, now)) != NULL) {
			sendto(back, h->data, h->len, 0, (const struct sockaddr *)server,
			       sizeof(struct sockaddr_in));
			bench_ring_pop(&up);
		}
		while ((h = bench_ring_due(&down, now)) != NULL) {
			if (client_len) {
				sendto(front, h->data, h->len, 0, (struct sockaddr *)&client,
				       client_len);
				cnt.to_dialer++;
			}
			bench_ring_pop(&down);
		}
		next = bench_ring_next(&up);
		if (bench_ring_next(&down) >= 0 && (next < 0 || bench_ring_next(&down) < next))
			next = bench_ring_next(&down);
		struct pollfd p[3] = {{front, POLLIN, 0}, {back, POLLIN, 0}, {ctl, POLLIN, 0}};
		struct timespec ts;
		if (ppoll(p, 3, bench_until(next, now, &ts), NULL) < 0 && errno != EINTR)
			bench_die("ppoll");
		now = bench_now();
		if (p[0].revents & POLLIN) {
			ssize_t n;
			socklen_t l = sizeof client;
			while ((n = recvfrom(front, buf, BENCH_RING_BYTES, MSG_DONTWAIT,
			                     (struct sockaddr *)&client, &l)) >= 0) {
				client_len = l;
				cnt.to_responder++;
				bench_ring_push(&up, now + delay, buf, (size_t)n);
				l = sizeof client;
			}
		}
		if (p[1].revents & POLLIN) {
			ssize_t n;
			while ((n = recv(back, buf, BENCH_RING_BYTES, MSG_DONTWAIT)) >= 0)
				bench_ring_push(&down, now + delay, buf, (size_t)n);
		}
		if (p[2].revents & (POLLIN | POLLHUP)) {
			char c;
			if (read(ctl, &c, 1) != 1)
				break;
			cnt.dropped = up.dropped + down.dropped;
			if (c == 'r')
				memset(&cnt, 0, sizeof cnt);
			else if (c == 'q' && write(res_fd, &cnt, sizeof cnt) != sizeof cnt)
				break;
		}
	}
	_exit(0);
}

/* ---- the dialer ---- */

struct dial {
	struct event_base *base;
	tryst_conn *conn;
	tryst_stream *st;
	double t0, t_est, t_first;
	int failed;
	int relay_ctl, relay_res; /* -1 without a relay */
	struct relay_counts at_first;
};

static void d_read(struct bufferevent *bev, void *arg)
{
	struct dial *d = arg;
	if (d->t_first == 0 && evbuffer_get_length(bufferevent_get_input(bev))) {
		d->t_first = bench_now();
		if (d->relay_ctl >= 0) {
			if (write(d->relay_ctl, "q", 1) != 1 ||
			    read(d->relay_res, &d->at_first, sizeof d->at_first) !=
			        sizeof d->at_first)
				bench_die("relay control");
		}
		event_base_loopbreak(d->base);
	}
}

static void d_event(struct bufferevent *bev, short what, void *arg)
{
	struct dial *d = arg;
	(void)bev;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		d->failed = 1;
		event_base_loopbreak(d->base);
	}
}

static void d_conn(tryst_conn *c, int ev, int err, void *ud)
{
	struct dial *d = ud;
	static const char req[REQ_LEN] = "tryst time-to-first-byte request";
	if (ev != TRYST_CONN_ESTABLISHED) {
		if (d->t_first)
			return; /* our own close after the measurement */
		fprintf(stderr, "bench_handshake: connection closed: %s\n", tryst_strerror(err));
		d->failed = 1;
		event_base_loopbreak(d->base);
		return;
	}
	d->t_est = bench_now();
	if (tryst_stream_open(c, &d->st) < 0) {
		d->failed = 1;
		event_base_loopbreak(d->base);
		return;
	}
	struct bufferevent *bev = tryst_stream_bufferevent(d->st);
	bufferevent_setcb(bev, d_read, NULL, d_event, d);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	bufferevent_write(bev, req, sizeof req);
}

struct sample {
	double hs, ttfb, rtt;
	unsigned long long up, down;
};

/* One dial from a fresh node to `to`; 0 or -1. */
static int dial_once(tryst_identity *id, const uint8_t key[TRYST_KEY_SIZE],
                     const struct sockaddr_storage *to, int relay_ctl, int relay_res,
                     struct sample *out)
{
	struct dial d;
	struct tryst_node_config cfg;
	tryst_node *n;
	memset(&d, 0, sizeof d);
	d.base = bench_base_new();
	d.relay_ctl = relay_ctl;
	d.relay_res = relay_res;
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = NULL; /* whatever route the destination takes */
	cfg.on_conn = d_conn;
	cfg.user_data = &d;
	cfg.handshake_timeout_ms = 5000;
	if (tryst_node_new(d.base, &cfg, &n) < 0)
		bench_die("tryst_node_new");
	if (relay_ctl >= 0 && write(relay_ctl, "r", 1) != 1)
		bench_die("relay control");
	d.t0 = bench_now();
	if (tryst_node_connect(n, key, to, 1, &d, &d.conn) < 0)
		bench_die("tryst_node_connect");
	event_base_dispatch(d.base);
	struct tryst_conn_info info;
	tryst_conn_get_info(d.conn, &info);
	out->hs = (d.t_est - d.t0) * 1e3;
	out->ttfb = (d.t_first - d.t0) * 1e3;
	out->rtt = (double)info.min_rtt_us / 1e3;
	out->up = d.at_first.to_responder;
	out->down = d.at_first.to_dialer;
	tryst_stream_free(d.st);
	tryst_conn_close(d.conn, 0, "done");
	/* let the CLOSE leave before the node goes */
	struct timeval tv = {0, 2000};
	event_base_loopexit(d.base, &tv);
	event_base_dispatch(d.base);
	tryst_conn_free(d.conn);
	tryst_node_free(n);
	event_base_loop(d.base, EVLOOP_NONBLOCK);
	event_base_free(d.base);
	return d.failed || d.t_first == 0 ? -1 : 0;
}

/* Kernel TCP: connect() -> connected, and -> the first byte of the echo. */
static int tcp_once(const struct sockaddr_storage *to, struct sample *out)
{
	char req[REQ_LEN] = {0}, c;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	double t0 = bench_now();
	if (connect(fd, (const struct sockaddr *)to, sizeof(struct sockaddr_in)) != 0)
		bench_die("connect");
	double t1 = bench_now();
	if (write(fd, req, sizeof req) != sizeof req || read(fd, &c, 1) != 1)
		bench_die("tcp echo");
	double t2 = bench_now();
	close(fd);
	out->hs = (t1 - t0) * 1e3;
	out->ttfb = (t2 - t0) * 1e3;
	out->rtt = 0;
	out->up = out->down = 0;
	return 0;
}

struct summary {
	const char *name;
	double hs50, hs95, tt50, tt95, rtt50, up50, down50;
	int ok;
};

static void summarize(struct summary *s, const char *name, struct sample *v, size_t n)
{
	double *a = malloc(n * sizeof *a);
	s->name = name;
	s->ok = (int)n;
	for (size_t i = 0; i < n; i++)
		a[i] = v[i].hs;
	s->hs50 = quantile(a, n, 0.5);
	s->hs95 = quantile(a, n, 0.95);
	for (size_t i = 0; i < n; i++)
		a[i] = v[i].ttfb;
	s->tt50 = quantile(a, n, 0.5);
	s->tt95 = quantile(a, n, 0.95);
	for (size_t i = 0; i < n; i++)
		a[i] = v[i].rtt;
	s->rtt50 = quantile(a, n, 0.5);
	for (size_t i = 0; i < n; i++)
		a[i] = (double)v[i].up;
	s->up50 = quantile(a, n, 0.5);
	for (size_t i = 0; i < n; i++)
		a[i] = (double)v[i].down;
	s->down50 = quantile(a, n, 0.5);
	free(a);
}

static void print_results(struct summary *s, int n, size_t failed)
{
	if (json) {
		printf("{\"runs\":%llu,\"failed\":%zu,\"paths\":[", runs, failed);
		for (int i = 0; i < n; i++)
			printf("%s{\"path\":\"%s\",\"ok\":%d,\"handshake_ms_median\":%.3f,"
			       "\"handshake_ms_p95\":%.3f,\"ttfb_ms_median\":%.3f,\"ttfb_ms_p95\":%"
			       ".3f,"
			       "\"min_rtt_ms_median\":%.3f,\"datagrams_to_responder\":%.0f,"
			       "\"datagrams_to_dialer\":%.0f}",
			       i ? "," : "", s[i].name, s[i].ok, s[i].hs50, s[i].hs95, s[i].tt50,
			       s[i].tt95, s[i].rtt50, s[i].up50, s[i].down50);
		printf("]}\n");
		return;
	}
	printf("bench_handshake: %llu runs per path, %zu failed; medians (p95)\n", runs, failed);
	printf("%-36s %-20s %-20s %s\n", "path", "handshake ms", "first byte ms", "min RTT ms");
	for (int i = 0; i < n; i++) {
		printf("%-36s %7.3f (%7.3f)    %7.3f (%7.3f)    ", s[i].name, s[i].hs50, s[i].hs95,
		       s[i].tt50, s[i].tt95);
		if (s[i].rtt50 > 0)
			printf("%.3f\n", s[i].rtt50);
		else
			printf("-\n"); /* TCP: the kernel's estimate is not read */
	}
}

/* The same figures in round trips of the path, whose RTT the tryst
 * connections measured (TCP crosses the same path). */
static void print_rtts(const struct summary *t, const struct summary *k)
{
	if (json)
		return;
	printf("in round trips of %.3f ms: tryst handshake %.2f, first byte %.2f", t->rtt50,
	       t->hs50 / t->rtt50, t->tt50 / t->rtt50);
	if (k)
		printf("; kernel TCP connect %.2f, first byte %.2f", k->hs50 / t->rtt50,
		       k->tt50 / t->rtt50);
	printf("\n");
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_handshake [--runs N] [--delay-ms D] [--json]\n"
	                "       bench_handshake --serve IP\n"
	                "       bench_handshake --dial IP --udp-port P --tcp-port P --key KEY "
	                "[--runs N] [--json]\n");
	exit(2);
}

/* --serve: a responder on IP for another process's --dial; prints its key
 * and ports, serves until its standard input ends. */
static int serve(void)
{
	tryst_identity *id;
	char text[TRYST_KEY_TEXT_LEN + 1];
	uint8_t key[TRYST_KEY_SIZE];
	int pp[2];
	tryst_identity_generate(&id);
	tryst_identity_public_key(id, key);
	tryst_key_to_text(key, text);
	if (pipe(pp))
		bench_die("pipe");
	pid_t pid = fork();
	if (pid == 0)
		responder(id, serve_ip, pp[1], 0);
	uint16_t ports[2];
	if (read(pp[0], ports, sizeof ports) != sizeof ports)
		bench_die("responder");
	printf("SERVE key=%s udp=%u tcp=%u\n", text, ports[0], ports[1]);
	fflush(stdout);
	waitpid(pid, NULL, 0);
	tryst_identity_free(id);
	return 0;
}

/* --dial: tryst and kernel TCP to a --serve elsewhere (another namespace,
 * across a delayed link), interleaved. */
static int dial_remote(tryst_identity *did)
{
	uint8_t key[TRYST_KEY_SIZE];
	struct sockaddr_storage u, t;
	if (tryst_key_from_text(key_text, key, NULL) != 0 || !udp_port || !tcp_port)
		usage();
	ipv4(&u, dial_ip, (uint16_t)udp_port);
	ipv4(&t, dial_ip, (uint16_t)tcp_port);
	struct sample *ty = calloc(runs, sizeof *ty), *tc = calloc(runs, sizeof *tc);
	size_t n_ty = 0, n_tc = 0, failed = 0;
	for (unsigned long long i = 0; i < runs; i++) {
		if (dial_once(did, key, &u, -1, -1, &ty[n_ty]) == 0)
			n_ty++;
		else
			failed++;
		tcp_once(&t, &tc[n_tc++]);
	}
	if (!n_ty) {
		fprintf(stderr, "bench_handshake: no successful dial\n");
		return 1;
	}
	char n1[64], n2[64];
	struct summary s[2];
	snprintf(n1, sizeof n1, "tryst, to %s", dial_ip);
	snprintf(n2, sizeof n2, "kernel TCP, to %s", dial_ip);
	summarize(&s[0], n1, ty, n_ty);
	summarize(&s[1], n2, tc, n_tc);
	print_results(s, 2, failed);
	print_rtts(&s[0], &s[1]);
	free(ty);
	free(tc);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
	    {"--runs", BENCH_ULL, &runs},         {"--delay-ms", BENCH_DOUBLE, &delay_ms},
	    {"--json", BENCH_FLAG, &json},        {"--serve", BENCH_STR, &serve_ip},
	    {"--dial", BENCH_STR, &dial_ip},      {"--udp-port", BENCH_ULL, &udp_port},
	    {"--tcp-port", BENCH_ULL, &tcp_port}, {"--key", BENCH_STR, &key_text},
	};
	if (bench_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0]) != 0 || runs < 1 ||
	    runs > MAX_RUNS || delay_ms < 0)
		usage();
	if (tryst_init() < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (serve_ip)
		return serve();
	tryst_identity *rid, *did;
	uint8_t rkey[TRYST_KEY_SIZE];
	tryst_identity_generate(&did);
	if (dial_ip) {
		int rc = dial_remote(did);
		tryst_identity_free(did);
		return rc;
	}
	tryst_identity_generate(&rid);
	tryst_identity_public_key(rid, rkey);

	/* the responder */
	int pp[2], rctl[2];
	if (pipe(pp) || pipe(rctl))
		bench_die("pipe");
	pid_t rpid = fork();
	if (rpid == 0) {
		close(rctl[1]);
		responder(rid, "127.0.0.1", pp[1], rctl[0]);
	}
	close(rctl[0]);
	uint16_t ports[2];
	if (read(pp[0], ports, sizeof ports) != sizeof ports)
		bench_die("responder");

	/* the relay, in front of the responder's UDP port */
	int front = socket(AF_INET, SOCK_DGRAM, 0), back = socket(AF_INET, SOCK_DGRAM, 0);
	int cctl[2], cres[2];
	struct sockaddr_storage server, any, via, direct, tcp_to;
	loopback(&any, 0);
	if (bind(front, (struct sockaddr *)&any, sizeof(struct sockaddr_in)) ||
	    bind(back, (struct sockaddr *)&any, sizeof(struct sockaddr_in)) || pipe(cctl) ||
	    pipe(cres))
		bench_die("relay sockets");
	loopback(&server, ports[0]);
	loopback(&via, bench_local_port(front));
	loopback(&direct, ports[0]);
	loopback(&tcp_to, ports[1]);
	pid_t lpid = fork();
	if (lpid == 0) {
		close(cctl[1]);
		close(cres[0]);
		relay(front, back, &server, delay_ms / 1e3, cctl[0], cres[1]);
	}
	close(front);
	close(back);
	close(cctl[0]);
	close(cres[1]);

	struct sample *lo = calloc(runs, sizeof *lo), *rel = calloc(runs, sizeof *rel),
	              *tcp = calloc(runs, sizeof *tcp);
	size_t n_lo = 0, n_rel = 0, n_tcp = 0, failed = 0;
	/* Interleaved, so that the machine's noise falls on every path alike. */
	for (unsigned long long i = 0; i < runs; i++) {
		if (dial_once(did, rkey, &direct, -1, -1, &lo[n_lo]) == 0)
			n_lo++;
		else
			failed++;
		if (dial_once(did, rkey, &via, cctl[1], cres[0], &rel[n_rel]) == 0)
			n_rel++;
		else
			failed++;
		tcp_once(&tcp_to, &tcp[n_tcp++]);
	}
	close(rctl[1]);
	close(cctl[1]);
	waitpid(rpid, NULL, 0);
	waitpid(lpid, NULL, 0);
	if (!n_lo || !n_rel) {
		fprintf(stderr, "bench_handshake: no successful dial\n");
		return 1;
	}

	char relay_name[64];
	snprintf(relay_name, sizeof relay_name, "tryst, relay %g ms each way", delay_ms);
	struct summary s[3];
	summarize(&s[0], "tryst, loopback", lo, n_lo);
	summarize(&s[1], relay_name, rel, n_rel);
	summarize(&s[2], "kernel TCP, loopback", tcp, n_tcp);
	print_results(s, 3, failed);
	print_rtts(&s[1], NULL);
	if (!json)
		printf("datagrams before the first byte, through the relay: %.0f to the responder, "
		       "%.0f to the dialer\n",
		       s[1].up50, s[1].down50);
	tryst_identity_free(rid);
	tryst_identity_free(did);
	free(lo);
	free(rel);
	free(tcp);
	return failed ? 1 : 0;
}

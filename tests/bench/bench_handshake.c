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

#define REQ_LEN     32
#define MAX_RUNS    10000
#define RING        128
#define RELAY_DGRAM 65536

static unsigned long long runs = 50;
static double delay_ms = 10;
static int json;

static struct event_base *mkbase(void)
{
	struct event_config *c = event_config_new();
	event_config_set_flag(c, EVENT_BASE_FLAG_PRECISE_TIMER);
	struct event_base *b = event_base_new_with_config(c);
	event_config_free(c);
	return b;
}

static void loopback(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	memset(ss, 0, sizeof *ss);
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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
	/* One short exchange per connection: blocking is simplest. */
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

/* Runs until its control pipe closes; writes its UDP and TCP ports. */
static void responder(tryst_identity *id, int ports_fd, int ctl_fd)
{
	struct event_base *b = mkbase();
	struct tryst_node_config cfg;
	tryst_node *n;
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = "127.0.0.1";
	cfg.accept = r_accept;
	cfg.on_conn = r_conn;
	cfg.on_stream = r_stream;
	if (tryst_node_new(b, &cfg, &n) < 0)
		_exit(2);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_storage ss;
	loopback(&ss, 0);
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

struct held {
	double due;
	size_t len;
	uint8_t *data;
};

struct ring {
	struct held h[RING];
	size_t head, n;
};

static int ring_push(struct ring *r, double due, const uint8_t *p, size_t len)
{
	if (r->n == RING)
		return -1; /* dropped, as a full queue would */
	struct held *h = &r->h[(r->head + r->n++) % RING];
	h->due = due;
	h->len = len;
	memcpy(h->data, p, len);
	return 0;
}

struct relay_counts {
	unsigned long long to_responder, to_dialer, dropped;
};

/* Forwards datagrams between the dialer (whoever last sent to `front`) and
 * `server`, each after `delay` seconds.  Control bytes on ctl: 'r' resets
 * the counts, 'q' writes them to res_fd; EOF ends it. */
static void relay(int front, int back, const struct sockaddr_storage *server, double delay, int ctl,
                  int res_fd)
{
	struct ring up, down; /* to the responder, to the dialer */
	struct sockaddr_storage client;
	socklen_t client_len = 0;
	struct relay_counts cnt = {0, 0, 0};
	uint8_t *buf = malloc(RELAY_DGRAM);
	memset(&up, 0, sizeof up);
	memset(&down, 0, sizeof down);
	for (int i = 0; i < RING; i++) {
		up.h[i].data = malloc(RELAY_DGRAM);
		down.h[i].data = malloc(RELAY_DGRAM);
		if (!up.h[i].data || !down.h[i].data)
			bench_die("malloc");
	}
	prctl(PR_SET_TIMERSLACK, 1UL); /* wake on time, not 50 µs late */
	for (;;) {
		double now = bench_now(), next = -1;
		/* forward what is due */
		while (up.n && up.h[up.head].due <= now) {
			struct held *h = &up.h[up.head];
			sendto(back, h->data, h->len, 0, (const struct sockaddr *)server,
			       sizeof(struct sockaddr_in));
			up.head = (up.head + 1) % RING;
			up.n--;
		}
		while (down.n && down.h[down.head].due <= now) {
			struct held *h = &down.h[down.head];
			if (client_len) {
				sendto(front, h->data, h->len, 0, (struct sockaddr *)&client,
				       client_len);
				cnt.to_dialer++;
			}
			down.head = (down.head + 1) % RING;
			down.n--;
		}
		if (up.n)
			next = up.h[up.head].due;
		if (down.n && (next < 0 || down.h[down.head].due < next))
			next = down.h[down.head].due;
		struct pollfd p[3] = {{front, POLLIN, 0}, {back, POLLIN, 0}, {ctl, POLLIN, 0}};
		struct timespec ts, *tsp = NULL;
		if (next >= 0) {
			double w = next - now;
			ts.tv_sec = (time_t)w;
			ts.tv_nsec = (long)((w - (double)ts.tv_sec) * 1e9);
			tsp = &ts;
		}
		if (ppoll(p, 3, tsp, NULL) < 0 && errno != EINTR)
			bench_die("ppoll");
		now = bench_now();
		if (p[0].revents & POLLIN) {
			ssize_t n;
			socklen_t l = sizeof client;
			while ((n = recvfrom(front, buf, RELAY_DGRAM, MSG_DONTWAIT,
			                     (struct sockaddr *)&client, &l)) >= 0) {
				client_len = l;
				cnt.to_responder++;
				if (ring_push(&up, now + delay, buf, (size_t)n) < 0)
					cnt.dropped++;
				l = sizeof client;
			}
		}
		if (p[1].revents & POLLIN) {
			ssize_t n;
			while ((n = recv(back, buf, RELAY_DGRAM, MSG_DONTWAIT)) >= 0)
				if (ring_push(&down, now + delay, buf, (size_t)n) < 0)
					cnt.dropped++;
		}
		if (p[2].revents & (POLLIN | POLLHUP)) {
			char c;
			if (read(ctl, &c, 1) != 1)
				break;
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
	d.base = mkbase();
	d.relay_ctl = relay_ctl;
	d.relay_res = relay_res;
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = "127.0.0.1";
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
static int tcp_once(uint16_t port, struct sample *out)
{
	struct sockaddr_storage ss;
	char req[REQ_LEN] = {0}, c;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	loopback(&ss, port);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	double t0 = bench_now();
	if (connect(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)) != 0)
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

static void usage(void)
{
	fprintf(stderr, "usage: bench_handshake [--runs N] [--delay-ms D] [--json]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
	    {"--runs", BENCH_ULL, &runs},
	    {"--delay-ms", BENCH_DOUBLE, &delay_ms},
	    {"--json", BENCH_FLAG, &json},
	};
	if (bench_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0]) != 0 || runs < 1 ||
	    runs > MAX_RUNS || delay_ms < 0)
		usage();
	if (tryst_init() < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	tryst_identity *rid, *did;
	uint8_t rkey[TRYST_KEY_SIZE];
	tryst_identity_generate(&rid);
	tryst_identity_generate(&did);
	tryst_identity_public_key(rid, rkey);

	/* the responder */
	int pp[2], rctl[2];
	if (pipe(pp) || pipe(rctl))
		bench_die("pipe");
	pid_t rpid = fork();
	if (rpid == 0) {
		close(rctl[1]);
		responder(rid, pp[1], rctl[0]);
	}
	close(rctl[0]);
	uint16_t ports[2];
	if (read(pp[0], ports, sizeof ports) != sizeof ports)
		bench_die("responder");

	/* the relay, in front of the responder's UDP port */
	int front = socket(AF_INET, SOCK_DGRAM, 0), back = socket(AF_INET, SOCK_DGRAM, 0);
	int cctl[2], cres[2];
	struct sockaddr_storage server, any, via, direct;
	loopback(&any, 0);
	if (bind(front, (struct sockaddr *)&any, sizeof(struct sockaddr_in)) ||
	    bind(back, (struct sockaddr *)&any, sizeof(struct sockaddr_in)) || pipe(cctl) ||
	    pipe(cres))
		bench_die("relay sockets");
	loopback(&server, ports[0]);
	loopback(&via, bench_local_port(front));
	loopback(&direct, ports[0]);
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
		tcp_once(ports[1], &tcp[n_tcp++]);
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
	if (json) {
		printf("{\"runs\":%llu,\"delay_ms\":%g,\"failed\":%zu,\"paths\":[", runs, delay_ms,
		       failed);
		for (int i = 0; i < 3; i++)
			printf("%s{\"path\":\"%s\",\"ok\":%d,\"handshake_ms_median\":%.3f,"
			       "\"handshake_ms_p95\":%.3f,\"ttfb_ms_median\":%.3f,\"ttfb_ms_p95\":%"
			       ".3f,"
			       "\"min_rtt_ms_median\":%.3f,\"datagrams_to_responder\":%.0f,"
			       "\"datagrams_to_dialer\":%.0f}",
			       i ? "," : "", s[i].name, s[i].ok, s[i].hs50, s[i].hs95, s[i].tt50,
			       s[i].tt95, s[i].rtt50, s[i].up50, s[i].down50);
		printf("]}\n");
	} else {
		printf("bench_handshake: %llu runs per path, %zu failed; medians (p95)\n", runs,
		       failed);
		printf("%-30s %-20s %-20s %s\n", "path", "handshake ms", "first byte ms",
		       "min RTT ms");
		for (int i = 0; i < 3; i++)
			printf("%-30s %7.3f (%7.3f)    %7.3f (%7.3f)    %.3f\n", s[i].name,
			       s[i].hs50, s[i].hs95, s[i].tt50, s[i].tt95, s[i].rtt50);
		double rtt = 2 * delay_ms;
		printf("through the relay (RTT %.1f ms by construction, %.3f ms measured): "
		       "handshake %.2f RTT, first byte %.2f RTT; datagrams before the first byte: "
		       "%.0f to the responder, %.0f to the dialer\n",
		       rtt, s[1].rtt50, s[1].hs50 / s[1].rtt50, s[1].tt50 / s[1].rtt50, s[1].up50,
		       s[1].down50);
	}
	tryst_identity_free(rid);
	tryst_identity_free(did);
	free(lo);
	free(rel);
	free(tcp);
	return failed ? 1 : 0;
}

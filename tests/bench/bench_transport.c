/*
 * bench_transport.c: stream throughput of the real library path between two
 * processes on loopback: a sender node dials a receiver node by key, opens
 * one stream (or several) and writes N bytes through the bufferevent API;
 * the receiver reads and discards.  Prints MB/s of goodput and the CPU
 * seconds each side spent per GiB (getrusage), so it can be set beside the
 * raw UDP and kernel TCP baselines (tests/bench/README.md).
 *
 *   bench_transport [--bytes N] [--streams K] [--cc cubic|bbr] [--mtu BYTES]
 *                   [--addr IP] [--json]
 */
#include "config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bench.h"
#include "tryst.h"

#define CHUNK (256 * 1024)
#define HIGH  (8u << 20)

static uint64_t total = 1ull << 30;
static int n_streams = 1, cc = TRYST_CC_CUBIC, json;
static size_t mtu = 16384;
static const char *ip = "127.0.0.1";

static void log_cb(int level, const char *msg, void *ud)
{
	(void)ud;
	fprintf(stderr, "[%d] %d %s\n", (int)getpid(), level, msg);
}

static tryst_node *mknode(struct event_base *b, tryst_identity *id, void *ud, tryst_accept_fn acc,
                          tryst_conn_fn on_conn, tryst_stream_fn on_stream)
{
	struct tryst_node_config cfg;
	tryst_node *n;
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = ip;
	cfg.congestion_control = cc;
	cfg.max_udp_payload = mtu;
	cfg.accept = acc;
	cfg.on_conn = on_conn;
	cfg.on_stream = on_stream;
	cfg.user_data = ud;
	if (tryst_node_new(b, &cfg, &n) < 0) {
		fprintf(stderr, "bench: cannot create a node\n");
		exit(1);
	}
	return n;
}

/* ---- receiver (child) ---- */

struct rx {
	struct event_base *base;
	uint64_t got;
	int streams_done;
	double t_first, t_last;
	tryst_stream *st[64];
	int n;
};

static void rx_read(struct bufferevent *bev, void *arg)
{
	struct rx *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	if (!r->got && n)
		r->t_first = bench_now();
	r->got += n;
	evbuffer_drain(in, n);
}

static void rx_event(struct bufferevent *bev, short what, void *arg)
{
	struct rx *r = arg;
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING)) {
		rx_read(bev, r);
		r->t_last = bench_now();
		/* Linger a moment so the last acknowledgements leave. */
		struct timeval tv = {0, 200000};
		if (++r->streams_done == n_streams)
			event_base_loopexit(r->base, &tv);
	} else if (what & BEV_EVENT_ERROR) {
		fprintf(stderr, "bench: receiver stream error\n");
		event_base_loopexit(r->base, NULL);
	}
}

static int rx_accept(tryst_node *n, const uint8_t k[32], const struct sockaddr *a, void *u)
{
	(void)n;
	(void)k;
	(void)a;
	(void)u;
	return 0;
}

static void rx_stream(tryst_conn *c, tryst_stream *st, void *arg)
{
	struct rx *r = arg;
	(void)c;
	r->st[r->n++] = st;
	struct bufferevent *bev = tryst_stream_bufferevent(st);
	bufferevent_setcb(bev, rx_read, NULL, rx_event, r);
	bufferevent_enable(bev, EV_READ);
	tryst_stream_shutdown(st);
}

static void rx_conn(tryst_conn *c, int ev, int err, void *arg)
{
	(void)c;
	(void)ev;
	(void)err;
	(void)arg;
}

/* ---- sender (parent) ---- */

struct tx {
	struct event_base *base;
	tryst_conn *conn;
	tryst_stream *st[64];
	uint64_t sent[64], each;
	int acked;
	uint8_t *buf;
	double t_est, t_dial;
};

static void tx_fill(struct tx *t, int i)
{
	struct bufferevent *bev = tryst_stream_bufferevent(t->st[i]);
	struct evbuffer *out = bufferevent_get_output(bev);
	while (t->sent[i] < t->each && evbuffer_get_length(out) < HIGH) {
		size_t n = t->each - t->sent[i] < CHUNK ? (size_t)(t->each - t->sent[i]) : CHUNK;
		evbuffer_add(out, t->buf, n);
		t->sent[i] += n;
	}
	if (t->sent[i] == t->each)
		tryst_stream_shutdown(t->st[i]);
}

static void tx_write(struct bufferevent *bev, void *arg)
{
	struct tx *t = arg;
	for (int i = 0; i < n_streams; i++)
		if (tryst_stream_bufferevent(t->st[i]) == bev)
			tx_fill(t, i);
}

static void tx_event(struct bufferevent *bev, short what, void *arg)
{
	struct tx *t = arg;
	(void)bev;
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_WRITING)) {
		if (++t->acked == n_streams)
			event_base_loopexit(t->base, NULL);
	} else if (what & BEV_EVENT_ERROR) {
		fprintf(stderr, "bench: sender stream error\n");
		event_base_loopexit(t->base, NULL);
	}
}

static void tx_conn(tryst_conn *c, int ev, int err, void *arg)
{
	struct tx *t = arg;
	if (ev != TRYST_CONN_ESTABLISHED) {
		fprintf(stderr, "bench: connection closed: %s\n", tryst_strerror(err));
		event_base_loopexit(t->base, NULL);
		return;
	}
	t->t_est = bench_now();
	for (int i = 0; i < n_streams; i++) {
		if (tryst_stream_open(c, &t->st[i]) < 0)
			exit(1);
		struct bufferevent *bev = tryst_stream_bufferevent(t->st[i]);
		bufferevent_setcb(bev, NULL, tx_write, tx_event, t);
		bufferevent_setwatermark(bev, EV_WRITE, HIGH / 2, 0);
		bufferevent_enable(bev, EV_WRITE);
		tx_fill(t, i);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"bytes", required_argument, NULL, 'b'},
	                                     {"streams", required_argument, NULL, 's'},
	                                     {"cc", required_argument, NULL, 'c'},
	                                     {"mtu", required_argument, NULL, 'm'},
	                                     {"addr", required_argument, NULL, 'a'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "b:s:c:m:a:j", opts, NULL)) != -1) {
		switch (o) {
		case 'b': total = strtoull(optarg, NULL, 0); break;
		case 's': n_streams = atoi(optarg); break;
		case 'c': cc = strcmp(optarg, "bbr") == 0 ? TRYST_CC_BBR : TRYST_CC_CUBIC; break;
		case 'm': mtu = strtoul(optarg, NULL, 0); break;
		case 'a': ip = optarg; break;
		case 'j': json = 1; break;
		default:
			fprintf(stderr,
			        "usage: bench_transport [--bytes N] [--streams K] [--cc cubic|bbr] "
			        "[--mtu B] [--addr IP] [--json]\n");
			return 2;
		}
	}
	if (n_streams < 1 || n_streams > 64)
		n_streams = 1;
	tryst_init();
	if (getenv("BENCH_LOG"))
		tryst_log_set(log_cb, TRYST_LOG_DEBUG, NULL);
	tryst_identity *rid, *tid;
	uint8_t rkey[32];
	tryst_identity_generate(&rid);
	tryst_identity_generate(&tid);
	tryst_identity_public_key(rid, rkey);

	/* The receiver binds first and tells the parent its port. */
	int fds[2], res[2];
	if (pipe(fds) < 0 || pipe(res) < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		struct rx r;
		memset(&r, 0, sizeof r);
		r.base = bench_base_new();
		tryst_node *n = mknode(r.base, rid, &r, rx_accept, rx_conn, rx_stream);
		uint16_t port = tryst_node_port(n);
		if (write(fds[1], &port, sizeof port) != sizeof port)
			_exit(1);
		double c0 = bench_cpu_s();
		event_base_dispatch(r.base);
		double c1 = bench_cpu_s();
		double out[4] = {(double)r.got, r.t_last - r.t_first, c1 - c0, 0};
		if (write(res[1], out, sizeof out) != sizeof out)
			_exit(1);
		for (int i = 0; i < r.n; i++)
			tryst_stream_free(r.st[i]);
		tryst_node_free(n);
		event_base_loop(r.base, EVLOOP_NONBLOCK); /* run finalizers of freed bufferevents */
		event_base_free(r.base);
		_exit(0);
	}
	uint16_t port;
	if (read(fds[0], &port, sizeof port) != sizeof port)
		return 1;

	struct tx t;
	memset(&t, 0, sizeof t);
	t.base = bench_base_new();
	t.each = total / (uint64_t)n_streams;
	t.buf = malloc(CHUNK);
	memset(t.buf, 0x5a, CHUNK);
	tryst_node *n = mknode(t.base, tid, &t, NULL, tx_conn, NULL);
	struct sockaddr_storage a;
	memset(&a, 0, sizeof a);
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	double c0 = bench_cpu_s();
	t.t_dial = bench_now();
	if (tryst_node_connect(n, rkey, &a, 1, &t, &t.conn) < 0)
		return 1;
	event_base_dispatch(t.base);
	double c1 = bench_cpu_s(), t_end = bench_now();
	struct tryst_conn_info info;
	tryst_conn_get_info(t.conn, &info);
	double rxr[4] = {0};
	if (read(res[0], rxr, sizeof rxr) != sizeof rxr) {
		kill(pid, SIGKILL);
		fprintf(stderr, "bench: receiver did not finish\n");
		return 1;
	}
	waitpid(pid, NULL, 0);
	double secs = rxr[1], mbs = rxr[0] / 1e6 / secs, gib = rxr[0] / (1024.0 * 1024 * 1024);
	if (json)
		printf(
		    "{\"bytes\":%.0f,\"seconds\":%.3f,\"MBps\":%.1f,\"sender_cpu_s_per_GiB\":%.3f,"
		    "\"receiver_cpu_s_per_GiB\":%.3f,\"handshake_ms\":%.3f,\"mtu\":%llu,"
		    "\"lost\":%llu,\"cc\":\"%s\"}\n",
		    rxr[0], secs, mbs, (c1 - c0) / gib, rxr[2] / gib, (t.t_est - t.t_dial) * 1e3,
		    (unsigned long long)info.mtu, (unsigned long long)info.packets_lost,
		    cc == TRYST_CC_BBR ? "bbr" : "cubic");
	else
		printf(
		    "tryst stream: %.0f MiB in %.2f s = %.1f MB/s; CPU s/GiB sender %.2f receiver "
		    "%.2f; handshake %.3f ms; mtu %llu; %llu packets lost (%s, wall %.2f s)\n",
		    rxr[0] / 1048576, secs, mbs, (c1 - c0) / gib, rxr[2] / gib,
		    (t.t_est - t.t_dial) * 1e3, (unsigned long long)info.mtu,
		    (unsigned long long)info.packets_lost, cc == TRYST_CC_BBR ? "bbr" : "cubic",
		    t_end - t.t_dial);
	for (int i = 0; i < n_streams; i++)
		tryst_stream_free(t.st[i]);
	tryst_conn_free(t.conn);
	tryst_node_free(n);
	event_base_loop(t.base, EVLOOP_NONBLOCK); /* run finalizers of freed bufferevents */
	event_base_free(t.base);
	tryst_identity_free(rid);
	tryst_identity_free(tid);
	free(t.buf);
	return rxr[0] == (double)(t.each * (uint64_t)n_streams) ? 0 : 1;
}

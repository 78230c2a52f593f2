/*
 * demo_transfer.c: the live half of tryst demo: two nodes in this process
 * on 127.0.0.1, fresh identities, a handshake by key, and a transfer
 * through one encrypted stream, hashed on both ends.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "cli.h"

#define CHUNK (256u * 1024)
#define HIGH  (4u << 20)

struct demo {
	struct event_base *base;
	tryst_node *alice, *bob;
	tryst_conn *bob_conn, *alice_conn;
	tryst_stream *tx, *rx;
	uint64_t total, sent, received;
	crypto_generichash_state h_tx, h_rx;
	uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES];
	uint64_t chunk_no;
	uint8_t *buf;
	double t_dial, t_established, t_first_byte, t_done;
	struct event *progress;
	int tty, failed, finished_rx, finished_tx;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stop(struct demo *d, int failed)
{
	d->failed |= failed;
	event_base_loopexit(d->base, NULL);
}

static void maybe_done(struct demo *d)
{
	if (d->finished_rx && d->finished_tx)
		stop(d, 0);
}

/* Bob: keep the stream fed with fresh pseudo-random bytes. */
static void fill(struct demo *d)
{
	struct bufferevent *bev = tryst_stream_bufferevent(d->tx);
	struct evbuffer *out = bufferevent_get_output(bev);
	while (d->sent < d->total && evbuffer_get_length(out) < HIGH) {
		size_t n = d->total - d->sent < CHUNK ? (size_t)(d->total - d->sent) : CHUNK;
		uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
		memcpy(nonce, &d->chunk_no, sizeof d->chunk_no);
		d->chunk_no++;
		crypto_stream_chacha20_ietf(d->buf, n, nonce, d->key);
		crypto_generichash_update(&d->h_tx, d->buf, n);
		evbuffer_add(out, d->buf, n);
		d->sent += n;
	}
	if (d->sent == d->total)
		tryst_stream_shutdown(d->tx);
}

static void tx_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	fill(arg);
}

static void tx_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct demo *d = arg;
	(void)bev;
	if (what & BEV_EVENT_ERROR) {
		cli_error("demo: sending stream failed: %s",
		          tryst_strerror(tryst_stream_error(d->tx, NULL)));
		stop(d, 1);
	} else if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_WRITING)) {
		d->finished_tx = 1; /* everything acknowledged */
		maybe_done(d);
	}
}

/* Alice: hash what arrives. */
static void rx_read_cb(struct bufferevent *bev, void *arg)
{
	struct demo *d = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (!d->received && evbuffer_get_length(in))
		d->t_first_byte = mono();
	while (evbuffer_get_length(in)) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		crypto_generichash_update(&d->h_rx, v.iov_base, v.iov_len);
		d->received += v.iov_len;
		evbuffer_drain(in, v.iov_len);
	}
}

static void rx_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct demo *d = arg;
	if (what & BEV_EVENT_ERROR) {
		cli_error("demo: receiving stream failed: %s",
		          tryst_strerror(tryst_stream_error(d->rx, NULL)));
		stop(d, 1);
	} else if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING)) {
		rx_read_cb(bev, d);
		d->t_done = mono();
		d->finished_rx = 1;
		maybe_done(d);
	}
}

static int alice_accept(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                        const struct sockaddr *from, void *arg)
{
	(void)n;
	(void)key;
	(void)from;
	(void)arg;
	return 0;
}

static void alice_conn(tryst_conn *conn, int event, int err, void *arg)
{
	struct demo *d = arg;
	if (event == TRYST_CONN_ESTABLISHED) {
		d->alice_conn = conn;
	} else if (!d->finished_rx) {
		cli_error("demo: alice's connection closed: %s", tryst_strerror(err));
		stop(d, 1);
	}
}

static void alice_stream(tryst_conn *conn, tryst_stream *st, void *arg)
{
	struct demo *d = arg;
	(void)conn;
	d->rx = st;
	struct bufferevent *bev = tryst_stream_bufferevent(st);
	bufferevent_setcb(bev, rx_read_cb, NULL, rx_event_cb, d);
	bufferevent_enable(bev, EV_READ);
}

static void bob_conn(tryst_conn *conn, int event, int err, void *arg)
{
	struct demo *d = arg;
	if (event == TRYST_CONN_ESTABLISHED) {
		d->t_established = mono();
		int rc = tryst_stream_open(conn, &d->tx);
		if (rc < 0) {
			cli_error("demo: cannot open a stream: %s", tryst_strerror(rc));
			stop(d, 1);
			return;
		}
		struct bufferevent *bev = tryst_stream_bufferevent(d->tx);
		bufferevent_setcb(bev, NULL, tx_write_cb, tx_event_cb, d);
		bufferevent_setwatermark(bev, EV_WRITE, HIGH / 2, 0);
		bufferevent_enable(bev, EV_WRITE);
		fill(d);
	} else if (!d->finished_tx) {
		cli_error("demo: bob's connection closed: %s", tryst_strerror(err));
		stop(d, 1);
	}
}

static void progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct demo *d = arg;
	(void)fd;
	(void)what;
	double secs = mono() - (d->t_first_byte ? d->t_first_byte : mono());
	double mb = (double)d->received / 1e6;
	printf("%s   %7.1f of %.0f MiB  %7.1f MB/s%s", d->tty ? "\r" : "",
	       (double)d->received / 1048576.0, (double)d->total / 1048576.0,
	       secs > 0 ? mb / secs : 0.0, d->tty ? "" : "\n");
	fflush(stdout);
}

static tryst_node *make_node(struct demo *d, tryst_identity *id, int cc, int listening)
{
	struct tryst_node_config cfg;
	tryst_node *n = NULL;
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = "127.0.0.1";
	cfg.congestion_control = cc;
	cfg.user_data = d;
	if (listening) {
		cfg.accept = alice_accept;
		cfg.on_conn = alice_conn;
		cfg.on_stream = alice_stream;
	} else {
		cfg.on_conn = bob_conn;
	}
	int rc = tryst_node_new(d->base, &cfg, &n);
	if (rc < 0)
		cli_error("demo: cannot start a node: %s", tryst_strerror(rc));
	return n;
}

int demo_transfer(uint64_t bytes, int cc)
{
	struct demo d;
	tryst_identity *a = NULL, *b = NULL;
	uint8_t akey[TRYST_KEY_SIZE], h1[32], h2[32];
	char atext[TRYST_KEY_TEXT_LEN + 1];
	int status = 1;

	memset(&d, 0, sizeof d);
	d.total = bytes;
	d.tty = isatty(STDOUT_FILENO);
	randombytes_buf(d.key, sizeof d.key);
	crypto_generichash_init(&d.h_tx, NULL, 0, sizeof h1);
	crypto_generichash_init(&d.h_rx, NULL, 0, sizeof h2);
	if (!(d.buf = malloc(CHUNK)) || !(d.base = cli_event_base()) ||
	    tryst_identity_generate(&a) < 0 || tryst_identity_generate(&b) < 0)
		goto out;
	if (!(d.alice = make_node(&d, a, cc, 1)) || !(d.bob = make_node(&d, b, cc, 0)))
		goto out;

	tryst_identity_public_key(a, akey);
	tryst_key_to_text(akey, atext);
	printf("== 6. two nodes on 127.0.0.1 connect by key and move %.0f MiB\n",
	       (double)bytes / 1048576.0);
	printf("   alice listens on UDP port %u as %s\n", tryst_node_port(d.alice), atext);
	printf("   bob dials alice's key at 127.0.0.1:%u (Noise IK handshake, 1 round trip)\n",
	       tryst_node_port(d.alice));
	fflush(stdout);

	struct sockaddr_storage addr;
	memset(&addr, 0, sizeof addr);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&addr;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(tryst_node_port(d.alice));
	inet_pton(AF_INET, "127.0.0.1", &s4->sin_addr);
	d.t_dial = mono();
	if (tryst_node_connect(d.bob, akey, &addr, 1, &d, &d.bob_conn) < 0)
		goto out;
	d.progress = event_new(d.base, -1, EV_PERSIST, progress_cb, &d);
	struct timeval tv = {0, d.tty ? 200000 : 0};
	if (!d.tty)
		tv.tv_sec = 2;
	event_add(d.progress, &tv);
	event_base_dispatch(d.base);
	if (d.tty)
		printf("\n");
	if (d.failed || !d.finished_rx)
		goto out;

	crypto_generichash_final(&d.h_tx, h1, sizeof h1);
	crypto_generichash_final(&d.h_rx, h2, sizeof h2);
	struct tryst_conn_info info;
	tryst_conn_get_info(d.bob_conn, &info);
	double secs = d.t_done - d.t_first_byte;
	printf("   handshake: %.2f ms (dial to established), first byte after %.2f ms\n",
	       (d.t_established - d.t_dial) * 1e3, (d.t_first_byte - d.t_dial) * 1e3);
	printf("   moved %llu bytes in %.2f s: %.0f MB/s (%.2f Gbit/s); rtt %.0f us, mtu %llu, "
	       "%llu packets, %llu lost\n",
	       (unsigned long long)d.received, secs, (double)d.received / 1e6 / secs,
	       (double)d.received * 8 / 1e9 / secs, (double)info.rtt_us,
	       (unsigned long long)info.mtu, (unsigned long long)info.packets_sent,
	       (unsigned long long)info.packets_lost);
	printf("   BLAKE2b of what bob sent:     ");
	for (int i = 0; i < 16; i++)
		printf("%02x", h1[i]);
	printf("...\n   BLAKE2b of what alice got:    ");
	for (int i = 0; i < 16; i++)
		printf("%02x", h2[i]);
	printf("...\n");
	if (d.received != d.total || sodium_memcmp(h1, h2, sizeof h1) != 0) {
		cli_error("demo: the data that arrived is not the data sent");
		goto out;
	}
	printf("   identical: every byte arrived, in order, intact\n");
	status = 0;
out:
	if (d.progress)
		event_free(d.progress);
	tryst_stream_free(d.tx);
	tryst_stream_free(d.rx);
	tryst_conn_free(d.bob_conn);
	tryst_conn_free(d.alice_conn);
	tryst_node_free(d.alice);
	tryst_node_free(d.bob);
	if (d.base)
		cli_event_base_free(d.base);
	tryst_identity_free(a);
	tryst_identity_free(b);
	free(d.buf);
	return status;
}

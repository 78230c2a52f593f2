/*
 * demo_transfer.c: the live half of tryst demo: two nodes in this process
 * on 127.0.0.1, fresh identities, a dial by key -- at a known address, by
 * the key alone through a private DHT of a few nodes, or through a
 * rendezvous server -- and a transfer through one encrypted stream, hashed
 * on both ends.
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

#define DEMO_DHT_NODES 5

struct demo {
	struct event_base *base;
	tryst_node *alice, *bob;
	tryst_node *dht[DEMO_DHT_NODES];
	tryst_server *server;
	struct sockaddr_storage boot_alice, boot_bob;
	struct tryst_server_ref sref;
	uint32_t network;
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

static void loopback(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	memset(ss, 0, sizeof *ss);
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* A private DHT on 127.0.0.1: a chain of bare nodes (each a tryst node
 * with a DHT and nothing published) under a random network id, so it never
 * meets any other. */
static int start_dht(struct demo *d)
{
	randombytes_buf(&d->network, sizeof d->network);
	d->network |= 1; /* never 0, the public network */
	for (int i = 0; i < DEMO_DHT_NODES; i++) {
		struct tryst_node_config cfg;
		tryst_identity *id = NULL;
		struct sockaddr_storage prev;
		if (tryst_identity_generate(&id) < 0)
			return -1;
		tryst_node_config_default(&cfg);
		cfg.identity = id;
		cfg.bind_address = "127.0.0.1";
		cfg.dht = 1;
		cfg.dht_network = d->network;
		if (i) {
			loopback(&prev, tryst_node_dht_port(d->dht[i - 1]));
			cfg.bootstrap = &prev;
			cfg.n_bootstrap = 1;
		}
		int rc = tryst_node_new(d->base, &cfg, &d->dht[i]);
		tryst_identity_free(id);
		if (rc < 0) {
			cli_error("demo: cannot start a DHT node: %s", tryst_strerror(rc));
			return -1;
		}
	}
	loopback(&d->boot_alice, tryst_node_dht_port(d->dht[0]));
	loopback(&d->boot_bob, tryst_node_dht_port(d->dht[DEMO_DHT_NODES - 1]));
	return 0;
}

static int start_server(struct demo *d)
{
	struct tryst_server_config cfg;
	tryst_identity *id = NULL;
	if (tryst_identity_generate(&id) < 0)
		return -1;
	tryst_server_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = "127.0.0.1";
	cfg.dht = 0;
	int rc = tryst_server_new(d->base, &cfg, &d->server);
	if (rc == 0) {
		tryst_identity_public_key(id, d->sref.key);
		d->sref.has_key = 1;
		loopback(&d->sref.addr, tryst_server_port(d->server));
	}
	tryst_identity_free(id);
	if (rc < 0)
		cli_error("demo: cannot start a server: %s", tryst_strerror(rc));
	return rc < 0 ? -1 : 0;
}

static tryst_node *make_node(struct demo *d, tryst_identity *id, int cc, int listening, int via)
{
	struct tryst_node_config cfg;
	tryst_node *n = NULL;
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = "127.0.0.1";
	cfg.congestion_control = cc;
	cfg.user_data = d;
	if (via == DEMO_VIA_DHT) {
		cfg.dht = 1;
		cfg.dht_network = d->network;
		cfg.bootstrap = listening ? &d->boot_alice : &d->boot_bob;
		cfg.n_bootstrap = 1;
		cfg.publish = listening;
	} else if (via == DEMO_VIA_SERVER) {
		cfg.servers = &d->sref;
		cfg.n_servers = 1;
		cfg.publish = listening;
	}
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

/* Let the loop run for `ms` (the listener binds, publishes). */
static void settle(struct demo *d, unsigned ms)
{
	struct timeval tv = {0, (suseconds_t)ms * 1000};
	event_base_loopexit(d->base, &tv);
	event_base_dispatch(d->base);
}

int demo_transfer(uint64_t bytes, int cc, int via, int step)
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
	if (via == DEMO_VIA_DHT && start_dht(&d) < 0)
		goto out;
	if (via == DEMO_VIA_SERVER && start_server(&d) < 0)
		goto out;
	if (!(d.alice = make_node(&d, a, cc, 1, via)) || !(d.bob = make_node(&d, b, cc, 0, via)))
		goto out;

	tryst_identity_public_key(a, akey);
	tryst_key_to_text(akey, atext);
	if (via == DEMO_VIA_ADDR) {
		printf("== %d. two nodes on 127.0.0.1 connect by key and address, move %.0f MiB\n",
		       step, (double)bytes / 1048576.0);
		printf("   alice listens on UDP port %u as %s\n", tryst_node_port(d.alice), atext);
		printf("   bob dials alice's key at 127.0.0.1:%u (Noise IK, 1 round trip)\n",
		       tryst_node_port(d.alice));
	} else if (via == DEMO_VIA_DHT) {
		printf("== %d. no server at all: bob finds alice by her key alone in a DHT, moves "
		       "%.0f MiB\n",
		       step, (double)bytes / 1048576.0);
		printf("   a private OpenDHT network of %d nodes on 127.0.0.1 (network id %u)\n",
		       DEMO_DHT_NODES, (unsigned)d.network);
		printf("   alice (UDP port %u, key %s) publishes her sealed record\n",
		       tryst_node_port(d.alice), atext);
		printf("   bob knows nothing but that key: he looks it up, knocks, and dials\n");
	} else {
		printf("== %d. through a rendezvous server: bob reaches alice by key, moves %.0f "
		       "MiB\n",
		       step, (double)bytes / 1048576.0);
		printf("   a tryst server on 127.0.0.1:%u; alice registers there, bob asks it to "
		       "broker\n",
		       tryst_server_port(d.server));
	}
	fflush(stdout);

	int rc;
	if (via == DEMO_VIA_ADDR) {
		struct sockaddr_storage addr;
		loopback(&addr, tryst_node_port(d.alice));
		d.t_dial = mono();
		rc = tryst_node_connect(d.bob, akey, &addr, 1, &d, &d.bob_conn);
	} else {
		settle(&d, 200); /* alice's record goes out; her binding forms */
		d.t_dial = mono();
		rc = tryst_node_connect_key(d.bob, akey, &d, &d.bob_conn);
	}
	if (rc < 0) {
		cli_error("demo: bob cannot dial: %s", tryst_strerror(rc));
		goto out;
	}
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
	printf("   %s: %.2f ms (dial to established), first byte after %.2f ms\n",
	       via == DEMO_VIA_ADDR ? "handshake" : "found, punched and connected",
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
	for (int i = 0; i < DEMO_DHT_NODES; i++)
		tryst_node_free(d.dht[i]);
	tryst_server_free(d.server);
	if (d.base)
		cli_event_base_free(d.base);
	tryst_identity_free(a);
	tryst_identity_free(b);
	free(d.buf);
	return status;
}

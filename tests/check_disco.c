/*
 * check_disco.c: dialing by key alone through a real local OpenDHT
 * network (five in-process runners on loopback, a private network id,
 * bootstrapped only to each other): publish -> lookup -> connect by key
 * with no server, and a dialer that follows a listener which moved to
 * another port while the dial was under way.  Through the public API,
 * except for the bare DHT nodes (src/dht.h).
 */
#include "testutil.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "dht.h"

#define N_DHT   5
#define NETWORK 0x7e57d15cu

static struct event_base *base;
static trst_dht *dht[N_DHT];
static tryst_identity *dht_ids[N_DHT];
static struct sockaddr_storage boot[N_DHT];

struct peer {
	tryst_identity *id;
	uint8_t key[TRYST_KEY_SIZE];
	tryst_node *node;
	tryst_conn *conn;
	tryst_stream *st;
	int established, closed, err;
	char got[64];
	size_t got_len;
};

static struct peer lis, dia;

static void wait_until(int (*done)(void), unsigned ms)
{
	uint64_t end = tryst_now_us() + (uint64_t)ms * 1000;
	while (!done() && tryst_now_us() < end) {
		struct timeval tv = {0, 20000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void rd(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t room = sizeof p->got - 1 - p->got_len;
	int n = evbuffer_remove(in, p->got + p->got_len, room);
	if (n > 0)
		p->got_len += (size_t)n;
	if (p == &lis) /* the listener echoes */
		bufferevent_write(bev, p->got + p->got_len - (size_t)(n > 0 ? n : 0),
		                  (size_t)(n > 0 ? n : 0));
}

static void on_stream(tryst_conn *c, tryst_stream *st, void *arg)
{
	struct peer *p = arg;
	(void)c;
	if (p->st) {
		tryst_stream_free(st);
		return;
	}
	p->st = st;
	bufferevent_setcb(tryst_stream_bufferevent(st), rd, NULL, NULL, p);
	bufferevent_enable(tryst_stream_bufferevent(st), EV_READ);
}

static void on_conn(tryst_conn *c, int event, int err, void *arg)
{
	struct peer *p = arg;
	if (event == TRYST_CONN_ESTABLISHED) {
		p->established = 1;
		if (!p->conn)
			p->conn = c;
	} else {
		p->closed = 1;
		p->err = err;
	}
}

static int accept_all(tryst_node *n, const uint8_t k[TRYST_KEY_SIZE], const struct sockaddr *from,
                      void *arg)
{
	(void)n;
	(void)k;
	(void)from;
	(void)arg;
	return 0;
}

static void start_peer(struct peer *p, uint8_t seed, int publish, size_t boot_index)
{
	struct tryst_node_config cfg;
	if (!p->id)
		p->id = tu_identity(seed);
	tryst_identity_public_key(p->id, p->key);
	tryst_node_config_default(&cfg);
	cfg.identity = p->id;
	cfg.bind_address = "127.0.0.1";
	cfg.dht = 1;
	cfg.bootstrap = &boot[boot_index];
	cfg.n_bootstrap = 1;
	cfg.dht_network = NETWORK;
	cfg.publish = publish;
	cfg.accept = accept_all;
	cfg.on_conn = on_conn;
	cfg.on_stream = on_stream;
	cfg.user_data = p;
	ck_assert_int_eq(tryst_node_new(base, &cfg, &p->node), 0);
	ck_assert_uint_gt(tryst_node_dht_port(p->node), 0);
}

static void stop_peer(struct peer *p)
{
	tryst_stream_free(p->st);
	tryst_conn_free(p->conn);
	tryst_node_free(p->node);
	p->st = NULL;
	p->conn = NULL;
	p->node = NULL;
	p->established = p->closed = 0;
	p->got_len = 0;
}

static void setup(void)
{
	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	ck_assert_ptr_nonnull(base);
	/* A chain: node i bootstraps from node i-1, all on 127.0.0.1. */
	for (int i = 0; i < N_DHT; i++) {
		struct trst_dht_config dc;
		memset(&dc, 0, sizeof dc);
		dht_ids[i] = tu_identity((uint8_t)(0x60 + i));
		dc.id = dht_ids[i];
		dc.network = NETWORK;
		if (i) {
			dc.bootstrap = &boot[i - 1];
			dc.n_bootstrap = 1;
		}
		ck_assert_int_eq(trst_dht_new(base, &dc, &dht[i]), 0);
		tu_addr(&boot[i], "127.0.0.1", trst_dht_port(dht[i]));
	}
	memset(&lis, 0, sizeof lis);
	memset(&dia, 0, sizeof dia);
}

static void teardown(void)
{
	stop_peer(&dia);
	stop_peer(&lis);
	tryst_identity_free(dia.id);
	tryst_identity_free(lis.id);
	for (int i = 0; i < N_DHT; i++) {
		trst_dht_free(dht[i]);
		tryst_identity_free(dht_ids[i]);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

static struct {
	int done, err;
	tryst_record rec;
} found;

static void lookup_cb(tryst_node *n, int err, const tryst_record *rec, void *arg)
{
	(void)n;
	(void)arg;
	found.done = 1;
	found.err = err;
	if (rec)
		found.rec = *rec;
}

static int found_done(void)
{
	return found.done;
}
static int dia_established(void)
{
	return dia.established || dia.closed;
}
static int echo_back(void)
{
	return dia.got_len >= 5;
}

/* Look up until the record is visible (OpenDHT now and then takes a
 * few seconds for one operation: retry rather than fail). */
static void lookup_until_found(struct peer *asker, const uint8_t key[TRYST_KEY_SIZE],
                               uint64_t min_seq)
{
	for (int tries = 0; tries < 10; tries++) {
		memset(&found, 0, sizeof found);
		ck_assert_int_eq(tryst_node_lookup(asker->node, key, lookup_cb, NULL), 0);
		wait_until(found_done, 12000);
		ck_assert(found.done);
		if (found.err == 0 && found.rec.seq >= min_seq)
			return;
		wait_until(found_done, 200); /* a pause */
	}
	ck_abort_msg("record never became visible");
}

static void talk(void)
{
	ck_assert_int_eq(tryst_stream_open(dia.conn, &dia.st), 0);
	bufferevent_setcb(tryst_stream_bufferevent(dia.st), rd, NULL, NULL, &dia);
	bufferevent_enable(tryst_stream_bufferevent(dia.st), EV_READ);
	bufferevent_write(tryst_stream_bufferevent(dia.st), "hello", 5);
	wait_until(echo_back, 5000);
	ck_assert_uint_eq(dia.got_len, 5);
	ck_assert_int_eq(memcmp(dia.got, "hello", 5), 0);
}

START_TEST(test_lookup_and_connect_by_key)
{
	tryst_record own;
	start_peer(&lis, 0x11, 1, 0);
	start_peer(&dia, 0x22, 0, N_DHT - 1);
	ck_assert_int_eq(tryst_node_record(lis.node, &own), 0);
	ck_assert_uint_ge(own.n_candidates, 1);

	/* The record is found through another DHT node, exactly as published. */
	lookup_until_found(&dia, lis.key, own.seq);
	ck_assert_int_eq(memcmp(found.rec.key, lis.key, TRYST_KEY_SIZE), 0);
	ck_assert_uint_eq(found.rec.seq, own.seq);
	ck_assert_uint_eq(found.rec.n_candidates, own.n_candidates);
	struct sockaddr_in *c0 = (struct sockaddr_in *)&found.rec.candidates[0].addr;
	ck_assert_int_eq(c0->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(c0->sin_port), tryst_node_port(lis.node));
	ck_assert_uint_eq(ntohl(c0->sin_addr.s_addr), INADDR_LOOPBACK);

	/* Dial by key alone. */
	ck_assert_int_eq(tryst_node_connect_key(dia.node, lis.key, &dia, &dia.conn), 0);
	wait_until(dia_established, 12000);
	ck_assert_msg(dia.established, "dial by key failed: %s", tryst_strerror(dia.err));
	ck_assert_int_eq(memcmp(tryst_conn_peer_key(dia.conn), lis.key, TRYST_KEY_SIZE), 0);
	talk();
}
END_TEST

START_TEST(test_unknown_key_times_out)
{
	struct tryst_node_config cfg;
	tryst_identity *nobody = tu_identity(0x33);
	uint8_t key[TRYST_KEY_SIZE];
	tryst_identity_public_key(nobody, key);
	tryst_identity_free(nobody);
	start_peer(&dia, 0x22, 0, 0);
	(void)cfg;
	uint64_t t0 = tryst_now_us();
	ck_assert_int_eq(tryst_node_connect_key(dia.node, key, &dia, &dia.conn), 0);
	wait_until(dia_established, 15000);
	ck_assert(dia.closed);
	ck_assert(!dia.established);
	ck_assert_int_eq(dia.err, TRYST_ERR_TIMEOUT);
	/* bounded by the handshake timeout (10 s), not by the DHT */
	ck_assert_uint_lt(tryst_now_us() - t0, 12000000);
}
END_TEST

/* The listener moves to another port (a restart, a new network) while
 * the dialer is already dialing, holding only the old, dead address: the
 * dialer's watch sees the new record and the dial lands there. */
START_TEST(test_dialer_follows_a_move)
{
	tryst_record old_rec, new_rec;
	start_peer(&lis, 0x11, 1, 0);
	ck_assert_int_eq(tryst_node_record(lis.node, &old_rec), 0);
	start_peer(&dia, 0x22, 0, N_DHT - 1);
	lookup_until_found(&dia, lis.key, old_rec.seq);
	uint16_t old_port = tryst_node_port(lis.node);
	stop_peer(&lis); /* gone: its record stays in the DHT for a while */

	ck_assert_int_eq(tryst_node_connect_key(dia.node, lis.key, &dia, &dia.conn), 0);
	wait_until(dia_established, 1500);
	ck_assert(!dia.established); /* nobody at the old address */

	start_peer(&lis, 0x11, 1, 2);
	ck_assert_int_eq(tryst_node_record(lis.node, &new_rec), 0);
	ck_assert_uint_gt(new_rec.seq, old_rec.seq);
	ck_assert_uint_ne(tryst_node_port(lis.node), old_port);
	wait_until(dia_established, 8000);
	ck_assert_msg(dia.established, "the dial did not follow: %s", tryst_strerror(dia.err));
	socklen_t alen;
	const struct sockaddr_in *pa =
	    (const struct sockaddr_in *)tryst_conn_peer_address(dia.conn, &alen);
	ck_assert_uint_eq(ntohs(pa->sin_port), tryst_node_port(lis.node));
	talk();
}
END_TEST

START_TEST(test_no_discovery)
{
	struct tryst_node_config cfg;
	tryst_node *n;
	tryst_conn *c;
	tryst_record r;
	tryst_identity *id = tu_identity(0x44);
	uint8_t key[TRYST_KEY_SIZE];
	tryst_identity_public_key(id, key);
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = "127.0.0.1";
	ck_assert_int_eq(tryst_node_new(base, &cfg, &n), 0);
	ck_assert_int_eq(tryst_node_connect_key(n, key, NULL, &c), TRYST_ERR_NO_DISCOVERY);
	ck_assert_int_eq(tryst_node_lookup(n, key, lookup_cb, NULL), TRYST_ERR_NO_DISCOVERY);
	ck_assert_int_eq(tryst_node_record(n, &r), TRYST_ERR_NO_DISCOVERY);
	ck_assert_uint_eq(tryst_node_dht_port(n), 0);
	tryst_node_free(n);
	tryst_identity_free(id);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("disco");
	TCase *tc = tcase_create("dht");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_no_discovery);
	tcase_add_test(tc, test_lookup_and_connect_by_key);
	tcase_add_test(tc, test_unknown_key_times_out);
	tcase_add_test(tc, test_dialer_follows_a_move);
	suite_add_tcase(s, tc);
	return tu_run(s);
}

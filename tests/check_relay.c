/*
 * check_relay.c: the relay of last resort (doc/PROTOCOL.md, "Relayed
 * connections").  The stand-in addresses and the wrapping of relay.c, then
 * on loopback, with a real tryst_server and two nodes in one process:
 *  - a dialer that may only use the relay (relay_only) reaches a listener
 *    through a circuit, bytes arrive intact both ways, both ends report the
 *    path as relayed through the server, and at the server's byte limit
 *    both connections end with TRYST_ERR_RELAY_BYTES;
 *  - at the circuit's time limit both end with TRYST_ERR_RELAY_TIME, and
 *    when the server goes away with TRYST_ERR_RELAY_LOST;
 *  - a listener that refuses every direct initiation is still reached: the
 *    dialer falls back to a circuit after relay_after_ms, and the
 *    connection then moves to the direct path and the circuit is closed.
 */
#include "testutil.h"
#include "vectors.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "rdv.h"
#include "relay.h"

/* ---- relay.c ---- */

START_TEST(stand_in_addresses)
{
	struct sockaddr_storage a, b;
	socklen_t len;
	uint64_t id = 0;
	trst_relay_addr(0x0123456789abcdefull, &a, &len);
	ck_assert_int_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(trst_relay_is_addr((struct sockaddr *)&a, &id), 1);
	ck_assert(id == 0x0123456789abcdefull);
	ck_assert_int_eq(tryst_address_is_relay((struct sockaddr *)&a), 1);
	/* The text form: 100::123:4567:89ab:cdef, port 0. */
	char text[64];
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a;
	inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
	ck_assert_str_eq(text, "100::123:4567:89ab:cdef");
	ck_assert_int_eq(s6->sin6_port, 0);
	/* Real addresses are not relays, 100:0:0:1::/64 neither. */
	tu_addr(&b, "127.0.0.1", 5);
	ck_assert_int_eq(tryst_address_is_relay((struct sockaddr *)&b), 0);
	tu_addr(&b, "::1", 5);
	ck_assert_int_eq(tryst_address_is_relay((struct sockaddr *)&b), 0);
	tu_addr(&b, "100:0:0:1::5", 5);
	ck_assert_int_eq(tryst_address_is_relay((struct sockaddr *)&b), 0);
	ck_assert_int_eq(tryst_address_is_relay(NULL), 0);
}
END_TEST

/* doc/PROTOCOL.md, "Relayed connections": the wrapping and the stand-in. */
START_TEST(protocol_vector)
{
	const struct tv_block *b = NULL;
	uint8_t cid[8], pkt[64], want[128], got[128], stand[16];
	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks && !b; i++)
		if (tv_is(&tv_blocks[i], "relay-datagram"))
			b = &tv_blocks[i];
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(tv_get_hex(b, "circuit", cid, sizeof cid), 8);
	size_t plen = tv_get_hex(b, "packet", pkt, sizeof pkt);
	size_t mlen = tv_get_hex(b, "message", want, sizeof want);
	ck_assert_uint_eq(mlen, plen + TRST_RDV_RELAY_HEAD);
	ck_assert_uint_eq(trst_relay_wrap(trst_get_u64(cid), pkt, plen, 0, got, sizeof got), mlen);
	ck_assert_mem_eq(got, want, mlen);
	ck_assert_uint_eq(tv_get_hex(b, "stand-in", stand, sizeof stand), 16);
	struct sockaddr_storage a;
	trst_relay_addr(trst_get_u64(cid), &a, NULL);
	ck_assert_mem_eq(((struct sockaddr_in6 *)&a)->sin6_addr.s6_addr, stand, 16);
}
END_TEST

START_TEST(wrap_and_match)
{
	static uint8_t in[2500], out[4000];
	struct trst_relay_paths t;
	struct sockaddr_storage srv, other;
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)i;
	/* Three segments of 1000 (the last one 500) keep their order and
	 * each gets 0x30 || id. */
	size_t w = trst_relay_wrap(0x1122334455667788ull, in, sizeof in, 1000, out, sizeof out);
	ck_assert_uint_eq(w, sizeof in + 3 * TRST_RDV_RELAY_HEAD);
	for (size_t s = 0; s < 3; s++) {
		const uint8_t *p = out + s * (1000 + TRST_RDV_RELAY_HEAD);
		ck_assert_int_eq(p[0], 0x30);
		ck_assert(trst_get_u64(p + 1) == 0x1122334455667788ull);
		size_t k = s < 2 ? 1000 : 500;
		ck_assert_mem_eq(p + TRST_RDV_RELAY_HEAD, in + s * 1000, k);
	}
	/* One datagram (seg 0); too small an output is refused. */
	ck_assert_uint_eq(trst_relay_wrap(7, in, 100, 0, out, sizeof out), 109);
	ck_assert_uint_eq(trst_relay_wrap(7, in, 100, 0, out, 108), 0);

	memset(&t, 0, sizeof t);
	tu_addr(&srv, "127.0.0.1", 4000);
	tu_addr(&other, "127.0.0.1", 4001);
	ck_assert_int_eq(trst_relay_add(&t, 7, (struct sockaddr *)&srv, sizeof(struct sockaddr_in),
	                                NULL, NULL, 1),
	                 0);
	ck_assert_ptr_nonnull(trst_relay_match(&t, out, 109, (struct sockaddr *)&srv));
	/* Another source, another circuit, or nothing after the head: no. */
	ck_assert_ptr_null(trst_relay_match(&t, out, 109, (struct sockaddr *)&other));
	ck_assert_ptr_null(trst_relay_match(&t, out, TRST_RDV_RELAY_HEAD, (struct sockaddr *)&srv));
	out[8] ^= 1;
	ck_assert_ptr_null(trst_relay_match(&t, out, 109, (struct sockaddr *)&srv));
	/* The table holds 16 paths. */
	for (uint64_t i = 100; i < 100 + TRST_RELAY_MAX_PATHS - 1; i++)
		ck_assert_int_eq(trst_relay_add(&t, i, (struct sockaddr *)&srv,
		                                sizeof(struct sockaddr_in), NULL, NULL, 0),
		                 0);
	ck_assert_int_eq(trst_relay_add(&t, 999, (struct sockaddr *)&srv,
	                                sizeof(struct sockaddr_in), NULL, NULL, 0),
	                 TRYST_ERR_NOMEM);
}
END_TEST

/* ---- loopback: a server and two nodes ---- */

static struct event_base *base;
static tryst_server *server;
static uint8_t server_key[TRYST_KEY_SIZE];

struct peer {
	tryst_identity *id;
	uint8_t key[TRYST_KEY_SIZE];
	tryst_node *node;
	tryst_conn *conn;
	tryst_stream *st;
	int established, closed, err, relayed_at_start;
	unsigned refused_direct, accepted_relay;
	uint8_t *got;
	size_t got_len, got_cap;
};

static struct peer lis, dia;
static int refuse_direct;
static uint32_t relay_seconds; /* 0: the server's default */

static void wait_until(int (*done)(void), unsigned ms)
{
	uint64_t end = tryst_now_us() + (uint64_t)ms * 1000;
	while (!done() && tryst_now_us() < end) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void rd(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	if (p->got_len + n > p->got_cap) {
		p->got_cap = (p->got_len + n) * 2;
		p->got = realloc(p->got, p->got_cap);
		ck_assert_ptr_nonnull(p->got);
	}
	evbuffer_remove(in, p->got + p->got_len, n);
	if (p == &lis) /* the listener echoes */
		bufferevent_write(bev, p->got + p->got_len, n);
	p->got_len += n;
}

static void ev(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	(void)arg;
}

static void on_conn(tryst_conn *c, int event, int err, void *ud)
{
	struct peer *p = ud;
	if (event == TRYST_CONN_ESTABLISHED) {
		struct tryst_conn_info info;
		p->established = 1;
		p->conn = c;
		tryst_conn_get_info(c, &info);
		p->relayed_at_start = (int)info.relayed;
		if (p == &dia) {
			ck_assert_int_eq(tryst_stream_open(c, &p->st), 0);
			struct bufferevent *bev = tryst_stream_bufferevent(p->st);
			bufferevent_setcb(bev, rd, NULL, ev, p);
			bufferevent_enable(bev, EV_READ | EV_WRITE);
		}
	} else {
		p->closed = 1;
		p->err = err;
	}
}

static void on_stream(tryst_conn *c, tryst_stream *st, void *ud)
{
	struct peer *p = ud;
	(void)c;
	p->st = st;
	struct bufferevent *bev = tryst_stream_bufferevent(st);
	bufferevent_setcb(bev, rd, NULL, ev, p);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int accept_cb(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE], const struct sockaddr *from,
                     void *ud)
{
	struct peer *p = ud;
	(void)n;
	(void)key;
	if (tryst_address_is_relay(from)) {
		p->accepted_relay++;
		return 0;
	}
	if (refuse_direct) {
		p->refused_direct++;
		return -1;
	}
	return 0;
}

static uint64_t server_stat(const char *name)
{
	char json[1024], pat[64];
	ck_assert_int_lt(tryst_server_stats_json(server, json, sizeof json), (int)sizeof json);
	snprintf(pat, sizeof pat, "\"%s\":", name);
	const char *at = strstr(json, pat);
	ck_assert_ptr_nonnull(at);
	return strtoull(at + strlen(pat), NULL, 10);
}

static void log_cb(int level, const char *msg, void *ud)
{
	(void)ud;
	fprintf(stderr, "[%d] %s\n", level, msg);
}

static void setup_all(uint64_t relay_max_bytes, int relay_only, uint32_t relay_after_ms)
{
	struct tryst_server_config sc;
	struct tryst_node_config cfg;
	struct tryst_server_ref ref;
	tryst_identity *sid = tu_identity(0x51);

	if (getenv("TRYST_TEST_LOG")) /* debugging aid */
		tryst_log_set(log_cb, atoi(getenv("TRYST_TEST_LOG")), NULL);
	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	ck_assert_ptr_nonnull(base);

	tryst_server_config_default(&sc);
	sc.identity = sid;
	sc.bind_address = "127.0.0.1";
	sc.dht = 0;
	sc.relay_max_bytes = relay_max_bytes;
	if (relay_seconds)
		sc.relay_max_seconds = relay_seconds;
	ck_assert_int_eq(tryst_server_new(base, &sc, &server), 0);
	tryst_identity_public_key(sid, server_key);
	tryst_identity_free(sid);

	memset(&ref, 0, sizeof ref);
	memcpy(ref.key, server_key, TRYST_KEY_SIZE);
	ref.has_key = 1;
	tu_addr(&ref.addr, "127.0.0.1", tryst_server_port(server));

	memset(&lis, 0, sizeof lis);
	memset(&dia, 0, sizeof dia);
	struct peer *ps[2] = {&lis, &dia};
	for (int i = 0; i < 2; i++) {
		struct peer *p = ps[i];
		p->id = tu_identity((uint8_t)(0x61 + i));
		tryst_identity_public_key(p->id, p->key);
		tryst_node_config_default(&cfg);
		cfg.identity = p->id;
		cfg.bind_address = "127.0.0.1";
		cfg.servers = &ref;
		cfg.n_servers = 1;
		cfg.publish = p == &lis;
		cfg.accept = accept_cb;
		cfg.on_conn = on_conn;
		cfg.on_stream = on_stream;
		cfg.user_data = p;
		cfg.keepalive_ms = 1000;
		if (p == &dia) {
			cfg.relay_only = relay_only;
			cfg.relay_after_ms = relay_after_ms;
		}
		ck_assert_int_eq(tryst_node_new(base, &cfg, &p->node), 0);
	}
}

static void teardown_all(void)
{
	struct peer *ps[2] = {&lis, &dia};
	for (int i = 0; i < 2; i++) {
		tryst_stream_free(ps[i]->st);
		tryst_conn_free(ps[i]->conn);
		tryst_node_free(ps[i]->node);
		tryst_identity_free(ps[i]->id);
		free(ps[i]->got);
	}
	tryst_server_free(server);
	/* Freed bufferevents are finalized by the loop: one turn. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

static int registered(void)
{
	return server_stat("registrations") == 1 && server_stat("sessions") == 2;
}
static int both_established(void)
{
	return lis.established && dia.established;
}
static size_t want_echo;
static int echoed(void)
{
	return dia.got_len >= want_echo || dia.closed || lis.closed;
}
static int both_closed(void)
{
	return lis.closed && dia.closed;
}
static int relayed(tryst_conn *c, struct tryst_conn_info *info)
{
	tryst_conn_get_info(c, info);
	return (int)info->relayed;
}
static int both_direct(void)
{
	struct tryst_conn_info i;
	return !relayed(lis.conn, &i) && !relayed(dia.conn, &i);
}
static int no_circuit(void)
{
	return server_stat("circuits") == 0;
}

static void dial(void)
{
	wait_until(registered, 5000);
	ck_assert_msg(registered(), "the listener did not register");
	ck_assert_int_eq(tryst_node_connect_key(dia.node, lis.key, &dia, &dia.conn), 0);
	wait_until(both_established, 8000);
	ck_assert_msg(both_established(), "no connection (dialer %d, listener %d)", dia.established,
	              lis.established);
}

/* Send `n` random bytes from the dialer, wait for the echo. */
static void exchange(size_t n, uint8_t **sent)
{
	size_t before = dia.got_len;
	*sent = malloc(n);
	ck_assert_ptr_nonnull(*sent);
	randombytes_buf(*sent, n);
	bufferevent_write(tryst_stream_bufferevent(dia.st), *sent, n);
	want_echo = before + n;
}

START_TEST(relay_only_carries_bytes_and_stops_at_its_limit)
{
	struct tryst_conn_info info;
	uint8_t *sent;
	const size_t n = 300 * 1024;
	setup_all(4u << 20, 1, 0);
	dial();
	ck_assert_int_eq(dia.relayed_at_start, 1);
	ck_assert_int_eq(lis.relayed_at_start, 1);
	ck_assert_uint_eq(lis.accepted_relay, 1);

	/* Both ways, intact (the listener echoes what it got). */
	exchange(n, &sent);
	wait_until(echoed, 10000);
	ck_assert_uint_eq(dia.got_len, n);
	ck_assert_uint_eq(lis.got_len, n);
	ck_assert_mem_eq(lis.got, sent, n);
	ck_assert_mem_eq(dia.got, sent, n);
	free(sent);

	/* Both ends say relayed, through the server; the peer address is
	 * the circuit's stand-in. */
	struct peer *ps[2] = {&lis, &dia};
	for (int i = 0; i < 2; i++) {
		socklen_t alen;
		ck_assert_int_eq(relayed(ps[i]->conn, &info), 1);
		ck_assert_int_eq(info.relay_server.ss_family, AF_INET);
		ck_assert_int_eq(ntohs(((struct sockaddr_in *)&info.relay_server)->sin_port),
		                 tryst_server_port(server));
		ck_assert_int_eq(
		    tryst_address_is_relay(tryst_conn_peer_address(ps[i]->conn, &alen)), 1);
		/* The path MTU leaves room for the relay head. */
		ck_assert_uint_le(info.mtu + TRST_RDV_RELAY_HEAD, 65507);
	}
	ck_assert_uint_eq(server_stat("circuits"), 1);
	ck_assert_uint_ge(server_stat("relayed_bytes"), 2 * n);

	/* 8 MiB more cannot pass a 4 MiB circuit: both ends close with the
	 * reason. */
	exchange(8u << 20, &sent);
	wait_until(both_closed, 15000);
	free(sent);
	ck_assert_msg(both_closed(), "listener closed %d, dialer closed %d", lis.closed,
	              dia.closed);
	ck_assert_int_eq(lis.err, TRYST_ERR_RELAY_BYTES);
	ck_assert_int_eq(dia.err, TRYST_ERR_RELAY_BYTES);
	ck_assert_str_eq(tryst_strerror(TRYST_ERR_RELAY_BYTES),
	                 "relay circuit closed: the server's byte limit is reached");
	ck_assert_uint_le(server_stat("relayed_bytes"), 4u << 20);
	ck_assert_uint_eq(server_stat("circuits"), 0);
	teardown_all();
}
END_TEST

/* The time limit, and a server that goes away: both ends hear why. */
START_TEST(relay_time_limit_and_server_loss)
{
	relay_seconds = 1;
	setup_all(64u << 20, 1, 0);
	dial();
	ck_assert_int_eq(dia.relayed_at_start, 1);
	wait_until(both_closed, 4000);
	ck_assert_msg(both_closed(), "listener closed %d, dialer closed %d", lis.closed, dia.closed);
	ck_assert_int_eq(lis.err, TRYST_ERR_RELAY_TIME);
	ck_assert_int_eq(dia.err, TRYST_ERR_RELAY_TIME);

	/* A new relayed connection, then the server is gone: the bindings
	 * notice within two keepalive periods (1 s here) and the connection
	 * ends with RELAY_LOST instead of idling out after a minute. */
	relay_seconds = 0;
	tryst_stream_free(dia.st);
	tryst_stream_free(lis.st);
	tryst_conn_free(dia.conn);
	tryst_conn_free(lis.conn);
	dia.st = lis.st = NULL;
	dia.conn = lis.conn = NULL;
	dia.established = lis.established = dia.closed = lis.closed = 0;
	ck_assert_int_eq(tryst_node_connect_key(dia.node, lis.key, &dia, &dia.conn), 0);
	wait_until(both_established, 8000);
	ck_assert(both_established());
	tryst_server_free(server);
	server = NULL;
	wait_until(both_closed, 6000);
	ck_assert_msg(both_closed(), "listener closed %d, dialer closed %d", lis.closed, dia.closed);
	ck_assert_int_eq(lis.err, TRYST_ERR_RELAY_LOST);
	ck_assert_int_eq(dia.err, TRYST_ERR_RELAY_LOST);
	teardown_all();
}
END_TEST

START_TEST(relay_first_then_direct)
{
	uint8_t *sent;
	const size_t n = 64 * 1024;
	refuse_direct = 1;
	setup_all(64u << 20, 0, 300);
	dial();
	/* Direct initiations were tried and refused; the circuit got through. */
	ck_assert_uint_ge(lis.refused_direct, 1);
	ck_assert_uint_eq(lis.accepted_relay, 1);
	ck_assert_int_eq(dia.relayed_at_start, 1);
	/* (The listener may already be direct when it hears of the
	 * connection: the first packet's direct copy can get there first.) */

	/* Traffic: the relayed connection copies packets to the direct
	 * address; the listener's connection follows the first authentic one
	 * there, and the dialer follows the answers. */
	for (int round = 0; round < 40 && !both_direct(); round++) {
		exchange(n, &sent);
		wait_until(echoed, 5000);
		ck_assert_msg(dia.got_len == want_echo,
		              "round %d: echo %zu of %zu (closed %d %d: %s)", round, dia.got_len,
		              want_echo, dia.closed, lis.closed,
		              tryst_strerror(dia.err ? dia.err : lis.err));
		ck_assert_mem_eq(dia.got + dia.got_len - n, sent, n);
		free(sent);
		struct timeval tv = {0, 50000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	ck_assert_msg(both_direct(), "the connection stayed on the relay");
	socklen_t alen;
	ck_assert_int_eq(tryst_address_is_relay(tryst_conn_peer_address(dia.conn, &alen)), 0);
	/* The circuit nobody uses is closed; the connection lives on. */
	wait_until(no_circuit, 5000);
	ck_assert_uint_eq(server_stat("circuits"), 0);
	exchange(n, &sent);
	wait_until(echoed, 5000);
	ck_assert_uint_eq(dia.got_len, want_echo);
	ck_assert_mem_eq(dia.got + dia.got_len - n, sent, n);
	free(sent);
	ck_assert_int_eq(dia.closed, 0);
	ck_assert_int_eq(lis.closed, 0);
	teardown_all();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("addresses");
	tcase_add_test(tc, stand_in_addresses);
	tcase_add_test(tc, protocol_vector);
	tcase_add_test(tc, wrap_and_match);
	suite_add_tcase(s, tc);
	tc = tcase_create("loopback");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, relay_only_carries_bytes_and_stops_at_its_limit);
	tcase_add_test(tc, relay_first_then_direct);
	tcase_add_test(tc, relay_time_limit_and_server_loss);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}

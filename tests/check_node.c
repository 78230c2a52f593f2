/*
 * check_node.c: two real nodes on loopback (127.0.0.1 and ::1, port 0),
 * each with its own UDP socket, on one libevent loop: handshakes, streams
 * through bufferevents, datagrams, refusal, wrong keys, close and idle
 * timeout, through the public API only.
 */
#include "testutil.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define MAX_STREAMS 16

struct side;

struct sstream {
	struct side *side;
	tryst_stream *st;
	uint64_t to_send, sent, received;
	crypto_generichash_state h_rx, h_tx;
	uint8_t digest_rx[32], digest_tx[32];
	int eof, acked, error;
	int zc; /* writes through tryst_stream_reserve/commit */
	uint32_t seed;
};

struct side {
	const char *name;
	tryst_node *node;
	tryst_identity *id;
	uint8_t key[TRYST_KEY_SIZE];
	tryst_conn *conn;
	int established, closed, close_err, refuse;
	struct sstream streams[MAX_STREAMS];
	int n_streams;
	uint64_t echo; /* echo what arrives back */
	int datagrams;
};

void trst_node_debug(const tryst_node *n, FILE *f);

static struct event_base *base;
static struct side alice, bob;
static int zc_mode; /* bob's streams write zero-copy */
static int (*done_fn)(void);

static void check_done(void)
{
	if (done_fn && done_fn())
		event_base_loopbreak(base);
}

/* Deterministic content: byte i of stream seed s. */
static void gen(uint32_t seed, uint64_t off, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)((off + i) * 2654435761u >> 7 ^ seed);
}

/* Zero-copy writing: a first part through the bufferevent, the rest
 * generated straight into the stream's send buffer, after it. */
static void feed_zc(struct sstream *s)
{
	if (s->sent == 0 && s->to_send > 100000) {
		uint8_t first[100000];
		size_t l = 100;
		gen(s->seed, 0, first, sizeof first);
		crypto_generichash_update(&s->h_tx, first, sizeof first);
		bufferevent_write(tryst_stream_bufferevent(s->st), first, sizeof first);
		s->sent = sizeof first;
		/* nothing lent while those bytes wait: they go first */
		ck_assert_ptr_null(tryst_stream_reserve(s->st, &l));
		ck_assert_uint_eq(l, 0);
		ck_assert_int_eq(tryst_stream_commit(s->st, 1), TRYST_ERR_INVALID);
		return; /* the write callback comes back */
	}
	while (s->sent < s->to_send) {
		size_t len =
		    s->to_send - s->sent < 300000 ? (size_t)(s->to_send - s->sent) : 300000;
		uint8_t *p = tryst_stream_reserve(s->st, &len);
		if (!p) {
			ck_assert_uint_eq(len, 0);
			return; /* full: the write callback comes back */
		}
		ck_assert_uint_gt(len, 0);
		ck_assert_uint_le(len, 300000);
		ck_assert_int_eq(tryst_stream_commit(s->st, len + 1), TRYST_ERR_INVALID);
		gen(s->seed, s->sent, p, len);
		crypto_generichash_update(&s->h_tx, p, len);
		ck_assert_int_eq(tryst_stream_commit(s->st, len), 0);
		s->sent += len;
	}
	crypto_generichash_final(&s->h_tx, s->digest_tx, 32);
	tryst_stream_shutdown(s->st);
	size_t l = 10;
	ck_assert_ptr_null(tryst_stream_reserve(s->st, &l)); /* finished */
}

static void feed(struct sstream *s)
{
	struct bufferevent *bev = tryst_stream_bufferevent(s->st);
	uint8_t buf[65536];
	if (s->zc) {
		if (s->sent < s->to_send)
			feed_zc(s);
		return;
	}
	while (s->sent < s->to_send &&
	       evbuffer_get_length(bufferevent_get_output(bev)) < (1 << 20)) {
		size_t n =
		    s->to_send - s->sent < sizeof buf ? (size_t)(s->to_send - s->sent) : sizeof buf;
		gen(s->seed, s->sent, buf, n);
		crypto_generichash_update(&s->h_tx, buf, n);
		bufferevent_write(bev, buf, n);
		s->sent += n;
		if (s->sent == s->to_send) {
			crypto_generichash_final(&s->h_tx, s->digest_tx, 32);
			tryst_stream_shutdown(s->st);
		}
	}
}

static void s_read(struct bufferevent *bev, void *arg)
{
	struct sstream *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t buf[65536];
	size_t n;
	while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0 && n != (size_t)-1) {
		crypto_generichash_update(&s->h_rx, buf, n);
		s->received += n;
		if (s->side->echo)
			bufferevent_write(bev, buf, n);
	}
}

static void s_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	feed(arg);
}

static void s_event(struct bufferevent *bev, short what, void *arg)
{
	struct sstream *s = arg;
	if (what & BEV_EVENT_ERROR) {
		s->error = tryst_stream_error(s->st, NULL);
	}
	/* Both may come in one call (libevent merges deferred events). */
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_WRITING))
		s->acked = 1;
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) && !s->eof) {
		s_read(bev, s);
		s->eof = 1;
		crypto_generichash_final(&s->h_rx, s->digest_rx, 32);
		if (s->side->echo)
			tryst_stream_shutdown(s->st);
	}
	check_done();
}

static struct sstream *attach(struct side *sd, tryst_stream *st, uint64_t to_send, uint32_t seed)
{
	ck_assert_int_lt(sd->n_streams, MAX_STREAMS);
	struct sstream *s = &sd->streams[sd->n_streams++];
	memset(s, 0, sizeof *s);
	s->side = sd;
	s->st = st;
	s->to_send = to_send;
	s->seed = seed;
	s->zc = zc_mode && to_send;
	crypto_generichash_init(&s->h_rx, NULL, 0, 32);
	crypto_generichash_init(&s->h_tx, NULL, 0, 32);
	struct bufferevent *bev = tryst_stream_bufferevent(st);
	bufferevent_setcb(bev, s_read, s_write, s_event, s);
	bufferevent_setwatermark(bev, EV_WRITE, 512 * 1024, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (to_send)
		feed(s);
	else if (!sd->echo)
		tryst_stream_shutdown(st); /* a receiver that sends nothing */
	return s;
}

static int on_accept(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE], const struct sockaddr *from,
                     void *arg)
{
	struct side *sd = arg;
	(void)n;
	(void)key;
	ck_assert_ptr_nonnull(from);
	return sd->refuse ? -1 : 0;
}

static void on_conn(tryst_conn *c, int event, int err, void *arg)
{
	struct side *sd = tryst_conn_user_data(c) ? tryst_conn_user_data(c) : arg;
	if (event == TRYST_CONN_ESTABLISHED) {
		sd->established = 1;
		sd->conn = c;
	} else {
		sd->closed = 1;
		sd->close_err = err;
		if (!sd->conn)
			sd->conn = c;
	}
	check_done();
}

static void on_stream(tryst_conn *c, tryst_stream *st, void *arg)
{
	struct side *sd = arg;
	(void)c;
	attach(sd, st, 0, 0);
}

static void on_dgram(tryst_conn *c, const uint8_t *d, size_t len, void *arg)
{
	struct side *sd = arg;
	(void)c;
	(void)d;
	(void)len;
	sd->datagrams++;
	check_done();
}

static void make_side(struct side *sd, const char *name, const char *bind, uint8_t seed)
{
	struct tryst_node_config cfg;
	memset(sd, 0, sizeof *sd);
	sd->name = name;
	sd->id = tu_identity(seed);
	tryst_identity_public_key(sd->id, sd->key);
	tryst_node_config_default(&cfg);
	cfg.identity = sd->id;
	cfg.bind_address = bind;
	cfg.accept = on_accept;
	cfg.on_conn = on_conn;
	cfg.on_stream = on_stream;
	cfg.on_datagram = on_dgram;
	cfg.user_data = sd;
	cfg.handshake_timeout_ms = 1500;
	cfg.idle_timeout_ms = 2000;
	cfg.keepalive_ms = 500;
	ck_assert_int_eq(tryst_node_new(base, &cfg, &sd->node), 0);
	ck_assert_uint_gt(tryst_node_port(sd->node), 0);
}

static void free_side(struct side *sd)
{
	for (int i = 0; i < sd->n_streams; i++)
		tryst_stream_free(sd->streams[i].st);
	if (sd->conn)
		tryst_conn_free(sd->conn);
	tryst_node_free(sd->node);
	tryst_identity_free(sd->id);
}

static void setup(void)
{
	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	ck_assert_ptr_nonnull(base);
	done_fn = NULL;
}

static void teardown(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK); /* run finalizers of freed bufferevents */
	event_base_free(base);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop until fn() says done or `seconds` pass.  (Not
 * event_base_loopexit: a pending loopexit would outlive this call and cut
 * a later run short.) */
static void run(int (*fn)(void), int seconds)
{
	struct timeval tv = {seconds, 0};
	done_fn = fn;
	if (fn && fn())
		return;
	struct event *stop = evtimer_new(base, stop_cb, base);
	evtimer_add(stop, &tv);
	event_base_dispatch(base);
	event_free(stop);
	done_fn = NULL;
}

static void addr_of(struct sockaddr_storage *ss, const char *ip, const struct side *sd)
{
	tu_addr(ss, ip, tryst_node_port(sd->node));
}

static int bob_established(void)
{
	return bob.established || bob.closed;
}

static int transfer_done(void)
{
	for (int i = 0; i < bob.n_streams; i++)
		if (!bob.streams[i].eof || !bob.streams[i].acked)
			return 0;
	return bob.n_streams > 0;
}

static void transfer(const char *ip, int n_streams, uint64_t each)
{
	struct sockaddr_storage a;
	make_side(&alice, "alice", ip, 1);
	make_side(&bob, "bob", ip, 2);
	alice.echo = 1;
	addr_of(&a, ip, &alice);
	ck_assert_int_eq(tryst_node_connect(bob.node, alice.key, &a, 1, &bob, &bob.conn), 0);
	run(bob_established, 5);
	ck_assert_msg(bob.established, "no connection over %s", ip);
	/* the peer key is authenticated both ways */
	ck_assert_mem_eq(tryst_conn_peer_key(bob.conn), alice.key, 32);
	for (int i = 0; i < n_streams; i++) {
		tryst_stream *st;
		ck_assert_int_eq(tryst_stream_open(bob.conn, &st), 0);
		attach(&bob, st, each, (uint32_t)i + 1);
	}
	run(transfer_done, 60);
	if (!transfer_done()) {
		fprintf(stderr, "== alice\n");
		trst_node_debug(alice.node, stderr);
		fprintf(stderr, "== bob\n");
		trst_node_debug(bob.node, stderr);
	}
	for (int i = 0; i < n_streams; i++) {
		struct sstream *s = &bob.streams[i];
		ck_assert_msg(s->eof && s->acked, "stream %d: eof %d acked %d err %d", i, s->eof,
		              s->acked, s->error);
		ck_assert(s->received == each);
		/* what came back (echoed) is what was sent */
		ck_assert_mem_eq(s->digest_rx, s->digest_tx, 32);
	}
	ck_assert(alice.established);
	ck_assert_mem_eq(tryst_conn_peer_key(alice.conn), bob.key, 32);
	free_side(&bob);
	free_side(&alice);
}

START_TEST(test_echo_ipv4)
{
	transfer("127.0.0.1", 1, 8u << 20);
}
END_TEST

/* Writing straight into the send buffer (tryst_stream_reserve), after
 * bytes written through the bufferevent: the echo is byte-exact. */
START_TEST(test_echo_zerocopy)
{
	zc_mode = 1;
	transfer("127.0.0.1", 3, 8u << 20);
	zc_mode = 0;
}
END_TEST

START_TEST(test_echo_ipv6)
{
	transfer("::1", 1, 4u << 20);
}
END_TEST

START_TEST(test_many_streams)
{
	transfer("127.0.0.1", 10, 1u << 20);
}
END_TEST

START_TEST(test_wrong_key_times_out)
{
	/* Bob dials a key that is not the one listening at that address:
	 * never a session, a timeout within the handshake timeout. */
	struct sockaddr_storage a;
	uint8_t other[32];
	make_side(&alice, "alice", "127.0.0.1", 1);
	make_side(&bob, "bob", "127.0.0.1", 2);
	tryst_identity *x = tu_identity(3);
	tryst_identity_public_key(x, other);
	tryst_identity_free(x);
	addr_of(&a, "127.0.0.1", &alice);
	ck_assert_int_eq(tryst_node_connect(bob.node, other, &a, 1, &bob, &bob.conn), 0);
	uint64_t t0 = tryst_now_us();
	run(bob_established, 5);
	ck_assert(!bob.established);
	ck_assert(bob.closed);
	ck_assert_int_eq(bob.close_err, TRYST_ERR_TIMEOUT);
	ck_assert_uint_lt(tryst_now_us() - t0, 3000000);
	ck_assert(!alice.established);
	free_side(&bob);
	free_side(&alice);
}
END_TEST

START_TEST(test_refused)
{
	struct sockaddr_storage a;
	make_side(&alice, "alice", "127.0.0.1", 1);
	make_side(&bob, "bob", "127.0.0.1", 2);
	alice.refuse = 1;
	addr_of(&a, "127.0.0.1", &alice);
	ck_assert_int_eq(tryst_node_connect(bob.node, alice.key, &a, 1, &bob, &bob.conn), 0);
	run(bob_established, 5);
	ck_assert(!bob.established);
	ck_assert_int_eq(bob.close_err, TRYST_ERR_TIMEOUT);
	free_side(&bob);
	free_side(&alice);
}
END_TEST

START_TEST(test_nobody_there)
{
	/* A closed port (ICMP port unreachable on loopback). */
	struct sockaddr_storage a;
	make_side(&bob, "bob", "127.0.0.1", 2);
	make_side(&alice, "alice", "127.0.0.1", 1);
	addr_of(&a, "127.0.0.1", &alice);
	tryst_node_free(alice.node); /* the port is free again */
	alice.node = NULL;
	ck_assert_int_eq(tryst_node_connect(bob.node, alice.key, &a, 1, &bob, &bob.conn), 0);
	run(bob_established, 5);
	ck_assert(!bob.established);
	ck_assert_int_eq(bob.close_err, TRYST_ERR_TIMEOUT);
	free_side(&bob);
	free_side(&alice);
}
END_TEST

static int alice_has_datagrams(void)
{
	return alice.datagrams >= 5;
}

START_TEST(test_datagrams)
{
	struct sockaddr_storage a;
	make_side(&alice, "alice", "127.0.0.1", 1);
	make_side(&bob, "bob", "127.0.0.1", 2);
	addr_of(&a, "127.0.0.1", &alice);
	ck_assert_int_eq(tryst_node_connect(bob.node, alice.key, &a, 1, &bob, &bob.conn), 0);
	run(bob_established, 5);
	ck_assert(bob.established);
	uint8_t d[500] = {1};
	ck_assert_uint_ge(tryst_conn_datagram_max(bob.conn), 1000);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(tryst_conn_send_datagram(bob.conn, d, sizeof d), 0);
	run(alice_has_datagrams, 5);
	ck_assert_int_ge(alice.datagrams, 5);
	free_side(&bob);
	free_side(&alice);
}
END_TEST

static int alice_closed(void)
{
	return alice.closed;
}

START_TEST(test_close_and_idle)
{
	struct sockaddr_storage a;
	make_side(&alice, "alice", "127.0.0.1", 1);
	make_side(&bob, "bob", "127.0.0.1", 2);
	addr_of(&a, "127.0.0.1", &alice);
	ck_assert_int_eq(tryst_node_connect(bob.node, alice.key, &a, 1, &bob, &bob.conn), 0);
	run(bob_established, 5);
	run(alice_closed, 1); /* let alice see the first packet */
	ck_assert(alice.established);
	/* keepalives hold a quiet connection well past the idle timeout */
	run(NULL, 3);
	ck_assert(!alice.closed && !bob.closed);
	/* bob closes: alice hears it */
	tryst_conn_close(bob.conn, 5, "bye");
	run(alice_closed, 5);
	ck_assert(alice.closed);
	ck_assert_int_eq(alice.close_err, TRYST_ERR_CLOSED_BY_PEER);
	free_side(&bob);
	free_side(&alice);

	/* a peer that vanishes: the idle timeout fires */
	make_side(&alice, "alice", "127.0.0.1", 1);
	make_side(&bob, "bob", "127.0.0.1", 2);
	addr_of(&a, "127.0.0.1", &alice);
	ck_assert_int_eq(tryst_node_connect(bob.node, alice.key, &a, 1, &bob, &bob.conn), 0);
	run(bob_established, 5);
	run(alice_closed, 1);
	ck_assert(alice.established);
	free_side(&bob);
	memset(&bob, 0, sizeof bob);
	uint64_t t0 = tryst_now_us();
	run(alice_closed, 10);
	ck_assert(alice.closed);
	ck_assert_int_eq(alice.close_err, TRYST_ERR_TIMEOUT);
	ck_assert_uint_lt(tryst_now_us() - t0, 4000000);
	free_side(&alice);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("node");
	TCase *tc = tcase_create("loopback");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_echo_ipv4);
	tcase_add_test(tc, test_echo_ipv6);
	tcase_add_test(tc, test_echo_zerocopy);
	tcase_add_test(tc, test_many_streams);
	tcase_add_test(tc, test_wrong_key_times_out);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_nobody_there);
	tcase_add_test(tc, test_datagrams);
	tcase_add_test(tc, test_close_and_idle);
	suite_add_tcase(s, tc);
	return tu_run(s);
}

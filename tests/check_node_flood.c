/*
 * check_node_flood.c: the cookie path of a real node under a real flood.
 *
 * A node on 127.0.0.1 (port 0) is flooded, from a real UDP socket, with
 * valid handshake initiations for its key: each passes mac1 and, without a
 * cookie, would cost the node a DH and a connection.  The suite shows what
 * doc/PROTOCOL.md ("mac1, mac2 and cookies", "Amplification") promises:
 * once the node counts enough unconfirmed handshakes (src/node.c,
 * UNDER_LOAD_PENDING) it answers with cookie replies and creates nothing;
 * no reply is larger than the initiation it answers; every initiation is
 * answered at most once; a replayed initiation creates nothing and gets no
 * answer; and a legitimate node still connects during the flood, through
 * the cookie exchange (a relay between it and the node sees the cookie
 * reply and the initiation sent again).
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "handshake.h"

/* src/node.c: more unconfirmed handshakes than this and the node is under
 * load.  The suite does not depend on the exact figure beyond using it as
 * the bound it asserts. */
#define UNDER_LOAD_PENDING 64
#define N_FLOOD_IDS        100 /* more distinct keys than the bound */
#define FLOOD_TOTAL        1000
#define BURST              16
#define MAX_INDEX          (FLOOD_TOTAL + 64)

void trst_node_debug(const tryst_node *n, FILE *f);

static struct event_base *base;
static tryst_node *victim;
static tryst_identity *victim_id;
static uint8_t victim_key[TRYST_KEY_SIZE];
static struct sockaddr_storage victim_addr;
static int accepts, victim_established;
static uint8_t legit_key[TRYST_KEY_SIZE];
static int legit_established, legit_closed;

/* The flooder: a plain UDP socket, its identities, and what came back. */
static int fl_fd = -1;
static tryst_identity *fl_ids[N_FLOOD_IDS];
static uint8_t fl_tparams[TRST_TPARAMS_MAX_SIZE];
static size_t fl_tparams_len;
static uint32_t fl_next_index = 1;
static uint8_t answered[MAX_INDEX];
static uint64_t bytes_in, bytes_out; /* to the node, from the node */
static int n_sent, n_responses, n_cookies, n_other;

/* ---- connections held by the node (src/node.c's debugging dump) ---- */

static int node_conns(tryst_node *n)
{
	char *buf = NULL;
	size_t len = 0;
	int count = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	trst_node_debug(n, f);
	fclose(f);
	for (char *p = buf; p && (p = strstr(p, "tryst_conn ")) != NULL; p++)
		count++;
	free(buf);
	return count;
}

/* ---- the victim node ---- */

static int v_accept(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE], const struct sockaddr *from,
                    void *arg)
{
	(void)n;
	(void)key;
	(void)from;
	(void)arg;
	accepts++;
	return 0;
}

static void v_conn(tryst_conn *c, int event, int err, void *arg)
{
	(void)err;
	(void)arg;
	if (event == TRYST_CONN_ESTABLISHED &&
	    memcmp(tryst_conn_peer_key(c), legit_key, TRYST_KEY_SIZE) == 0)
		victim_established = 1;
}

static int bound_socket(void)
{
	struct sockaddr_storage ss;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	tu_addr(&ss, "127.0.0.1", 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static uint16_t socket_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* (Re)create the node under test; 0 leaves a setting at its default. */
static void make_victim(uint32_t keepalive_ms, uint32_t handshake_timeout_ms)
{
	struct tryst_node_config cfg;
	tryst_node_free(victim);
	tryst_node_config_default(&cfg);
	cfg.identity = victim_id;
	cfg.bind_address = "127.0.0.1";
	cfg.accept = v_accept;
	cfg.on_conn = v_conn;
	if (keepalive_ms)
		cfg.keepalive_ms = keepalive_ms;
	if (handshake_timeout_ms)
		cfg.handshake_timeout_ms = handshake_timeout_ms;
	ck_assert_int_eq(tryst_node_new(base, &cfg, &victim), 0);
	tu_addr(&victim_addr, "127.0.0.1", tryst_node_port(victim));
}

static void setup(void)
{
	struct trst_conn_config cc;
	struct trst_tparams tp;

	/* Counters start afresh for each test, also without fork mode
	 * (CK_FORK=no, as under valgrind). */
	accepts = victim_established = legit_established = legit_closed = 0;
	fl_next_index = 1;
	memset(answered, 0, sizeof answered);
	bytes_in = bytes_out = 0;
	n_sent = n_responses = n_cookies = n_other = 0;

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	victim_id = tu_identity(0xa0);
	tryst_identity_public_key(victim_id, victim_key);
	victim = NULL;
	/* Unconfirmed handshakes live a minute here, so that the bound the
	 * flood test asserts holds however slowly it runs (valgrind). */
	make_victim(0, 60000);

	fl_fd = bound_socket();
	for (int i = 0; i < N_FLOOD_IDS; i++)
		fl_ids[i] = tu_identity((uint8_t)(i + 1));
	/* Real transport parameters, so that an initiation the node takes
	 * really becomes a connection. */
	trst_conn_config_default(&cc);
	trst_conn_config_tparams(&cc, &tp);
	fl_tparams_len = trst_tparams_encode(&tp, fl_tparams);
}

static void teardown(void)
{
	tryst_node_free(victim);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	tryst_identity_free(victim_id);
	for (int i = 0; i < N_FLOOD_IDS; i++)
		tryst_identity_free(fl_ids[i]);
	close(fl_fd);
}

/* A fresh, valid initiation from flood identity `who`; returns its index. */
static uint32_t make_initiation(int who, uint8_t out[TRST_HS_INITIATION_SIZE])
{
	trst_hs hs;
	size_t len;
	uint32_t idx = fl_next_index++;
	ck_assert_uint_lt(idx, MAX_INDEX);
	/* now + idx: strictly increasing timestamps per key, well inside
	 * the node's 120 s window */
	ck_assert_int_eq(trst_hs_initiate(&hs, fl_ids[who], victim_key, idx, fl_tparams,
	                                  fl_tparams_len, NULL, tryst_now_us() + idx, out,
	                                  TRST_HS_INITIATION_SIZE, &len),
	                 0);
	ck_assert_uint_eq(len, TRST_HS_INITIATION_SIZE);
	trst_hs_wipe(&hs);
	return idx;
}

static void fl_send(const uint8_t *msg, size_t len)
{
	ssize_t n =
	    sendto(fl_fd, msg, len, 0, (struct sockaddr *)&victim_addr, sizeof(struct sockaddr_in));
	ck_assert_int_eq(n, (ssize_t)len);
	bytes_in += len;
	n_sent++;
}

/* Read every reply the flooder has; each must answer one initiation we
 * sent, once, and be no larger than it. */
static int fl_drain(void)
{
	uint8_t buf[2048];
	int got = 0;
	for (;;) {
		ssize_t n = recv(fl_fd, buf, sizeof buf, 0);
		if (n < 0) {
			ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s",
			              strerror(errno));
			return got;
		}
		got++;
		bytes_out += (uint64_t)n;
		ck_assert_int_ge(n, 5);
		ck_assert_int_le(n, TRST_HS_INITIATION_SIZE);
		uint32_t idx;
		if (buf[0] == TRST_HS_TYPE_COOKIE) {
			ck_assert_int_eq(n, TRST_HS_COOKIE_REPLY_SIZE);
			idx = trst_get_u32(buf + 1);
			n_cookies++;
		} else if (buf[0] == TRST_HS_TYPE_RESPONSE) {
			ck_assert_int_ge(n, 9);
			idx = trst_get_u32(buf + 5); /* receiver index */
			n_responses++;
		} else {
			n_other++;
			continue;
		}
		ck_assert_msg(idx > 0 && idx < fl_next_index, "reply to index %u never sent",
		              (unsigned)idx);
		ck_assert_msg(!answered[idx], "initiation %u answered twice", (unsigned)idx);
		answered[idx] = 1;
	}
}

/* Let the loop run for `ms` milliseconds. */
static void run_ms(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* One burst of fresh initiations from the flood identities, in turn. */
static void flood_burst(void)
{
	uint8_t msg[TRST_HS_INITIATION_SIZE];
	for (int i = 0; i < BURST; i++) {
		make_initiation((int)(fl_next_index % N_FLOOD_IDS), msg);
		fl_send(msg, sizeof msg);
	}
	run_ms(1);
	fl_drain();
}

START_TEST(test_replayed_initiation_creates_nothing)
{
	uint8_t msg[TRST_HS_INITIATION_SIZE];
	uint32_t idx = make_initiation(0, msg);

	fl_send(msg, sizeof msg);
	for (int i = 0; i < 2000 && n_responses == 0; i++) {
		run_ms(1);
		fl_drain();
	}
	/* Not under load: the node answered with a response and holds one
	 * unconfirmed connection. */
	ck_assert_int_eq(n_responses, 1);
	ck_assert_int_eq(n_cookies, 0);
	ck_assert(answered[idx]);
	ck_assert_int_eq(accepts, 1);
	ck_assert_int_eq(node_conns(victim), 1);

	/* The same bytes again, three times: no answer, nothing new. */
	for (int k = 0; k < 3; k++)
		fl_send(msg, sizeof msg);
	run_ms(200);
	ck_assert_int_eq(fl_drain(), 0);
	ck_assert_int_eq(accepts, 1);
	ck_assert_int_eq(node_conns(victim), 1);
	ck_assert_uint_le(bytes_out, bytes_in);
}
END_TEST

/* A connection the node made for an initiation, whose initiator then never
 * sends a packet, sends nothing after its response (the source address
 * may be forged: a keepalive or probe would amplify) and is gone after the
 * handshake timeout, counted out of the load figure. */
START_TEST(test_unconfirmed_silent_then_expire)
{
	uint8_t msg[TRST_HS_INITIATION_SIZE];
	make_victim(100, 1000); /* a keepalive would show within 100 ms */
	for (int i = 0; i < 3; i++) {
		make_initiation(i, msg);
		fl_send(msg, sizeof msg);
	}
	for (int i = 0; i < 2000 && n_responses < 3; i++) {
		run_ms(1);
		fl_drain();
	}
	ck_assert_int_eq(n_responses, 3);
	ck_assert_int_eq(node_conns(victim), 3);
	for (int i = 0; i < 1500; i++) {
		run_ms(1);
		fl_drain();
	}
	ck_assert_int_eq(n_other, 0);
	ck_assert_int_eq(n_responses, 3);
	ck_assert_int_eq(node_conns(victim), 0);
	ck_assert_uint_le(bytes_out, bytes_in);
	/* Expired handshakes no longer count as load: as many new ones as
	 * the bound allows are answered with responses again. */
	for (int i = 0; i < UNDER_LOAD_PENDING; i++) {
		make_initiation(10 + i, msg);
		fl_send(msg, sizeof msg);
		if (i % BURST == BURST - 1) {
			run_ms(1);
			fl_drain();
		}
	}
	for (int i = 0; i < 500 && n_responses < 3 + UNDER_LOAD_PENDING; i++) {
		run_ms(1);
		fl_drain();
	}
	ck_assert_int_eq(n_responses, 3 + UNDER_LOAD_PENDING);
	ck_assert_int_eq(n_cookies, 0);
}
END_TEST

/* ---- a relay between the legitimate dialer and the node, which counts
 * the handshake messages passing through ---- */

struct relay {
	int front, back; /* the dialer talks to front; back talks to the node */
	struct event *ev_front, *ev_back;
	struct sockaddr_storage client;
	socklen_t client_len;
	int inits, cookies, responses;
};

static void relay_front_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	uint8_t buf[65536];
	ssize_t n;
	(void)what;
	r->client_len = sizeof r->client;
	while ((n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&r->client,
	                     &r->client_len)) > 0) {
		if (buf[0] == TRST_HS_TYPE_INITIATION)
			r->inits++;
		(void)sendto(r->back, buf, (size_t)n, 0, (struct sockaddr *)&victim_addr,
		             sizeof(struct sockaddr_in));
	}
}

static void relay_back_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	uint8_t buf[65536];
	ssize_t n;
	(void)what;
	while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
		if (buf[0] == TRST_HS_TYPE_COOKIE)
			r->cookies++;
		else if (buf[0] == TRST_HS_TYPE_RESPONSE)
			r->responses++;
		if (r->client_len)
			(void)sendto(r->front, buf, (size_t)n, 0, (struct sockaddr *)&r->client,
			             r->client_len);
	}
}

static void l_conn(tryst_conn *c, int event, int err, void *arg)
{
	(void)c;
	(void)err;
	(void)arg;
	if (event == TRYST_CONN_ESTABLISHED)
		legit_established = 1;
	else
		legit_closed = 1;
}

START_TEST(test_flood_gets_cookies_legit_dialer_connects)
{
	/* 1. Flood until well past the point of load. */
	while (n_sent < FLOOD_TOTAL / 2) {
		flood_burst();
		ck_assert_int_le(node_conns(victim), UNDER_LOAD_PENDING);
	}
	for (int i = 0; i < 200; i++) { /* late replies */
		run_ms(1);
		fl_drain();
	}
	int responses_before = n_responses;
	/* The node took initiations until it counted UNDER_LOAD_PENDING
	 * unconfirmed handshakes, then answered only with cookies. */
	ck_assert_int_le(n_responses, UNDER_LOAD_PENDING);
	ck_assert_int_ge(n_responses, UNDER_LOAD_PENDING / 2);
	ck_assert_int_eq(accepts, n_responses);
	ck_assert_int_ge(n_cookies, FLOOD_TOTAL / 2 - UNDER_LOAD_PENDING - 50);
	ck_assert_int_le(node_conns(victim), UNDER_LOAD_PENDING);
	ck_assert_int_eq(n_other, 0);

	/* 2. A legitimate node dials through a counting relay while the
	 * flood goes on. */
	struct relay r;
	memset(&r, 0, sizeof r);
	r.front = bound_socket();
	r.back = bound_socket();
	r.ev_front = event_new(base, r.front, EV_READ | EV_PERSIST, relay_front_cb, &r);
	r.ev_back = event_new(base, r.back, EV_READ | EV_PERSIST, relay_back_cb, &r);
	event_add(r.ev_front, NULL);
	event_add(r.ev_back, NULL);

	tryst_identity *lid = tu_identity(0xb0);
	tryst_identity_public_key(lid, legit_key);
	struct tryst_node_config cfg;
	tryst_node_config_default(&cfg);
	cfg.identity = lid;
	cfg.bind_address = "127.0.0.1";
	cfg.on_conn = l_conn;
	cfg.handshake_timeout_ms = 10000;
	tryst_node *legit;
	ck_assert_int_eq(tryst_node_new(base, &cfg, &legit), 0);
	struct sockaddr_storage via;
	tu_addr(&via, "127.0.0.1", socket_port(r.front));
	tryst_conn *lc;
	ck_assert_int_eq(tryst_node_connect(legit, victim_key, &via, 1, NULL, &lc), 0);

	uint64_t t0 = tryst_now_us();
	while (!(legit_established && victim_established) && !legit_closed &&
	       tryst_now_us() - t0 < 20000000) {
		if (n_sent < FLOOD_TOTAL)
			flood_burst();
		else
			run_ms(1);
		/* the flood still creates nothing */
		ck_assert_int_eq(n_responses, responses_before);
		ck_assert_int_le(node_conns(victim), UNDER_LOAD_PENDING + 1);
	}
	ck_assert_msg(legit_established, "the legitimate dialer did not connect (closed %d)",
	              legit_closed);
	ck_assert_msg(victim_established, "the node never confirmed the legitimate dialer");
	/* It went through the cookie exchange: a cookie reply came back and
	 * the dialer sent its initiation again, with mac2, which the node
	 * took although it was under load. */
	ck_assert_int_ge(r.cookies, 1);
	ck_assert_int_ge(r.inits, 2);
	/* One response, or more if the machine is slow enough (valgrind) for
	 * the dialer's resend timer to start new initiations, each with mac2
	 * from the cookie, each answered and accepted. */
	ck_assert_int_ge(r.responses, 1);
	ck_assert_int_eq(accepts, responses_before + r.responses);

	/* 3. The rest of the flood: still only cookies. */
	while (n_sent < FLOOD_TOTAL)
		flood_burst();
	for (int i = 0; i < 200; i++) {
		run_ms(1);
		fl_drain();
	}
	ck_assert_int_eq(n_responses, responses_before);
	ck_assert_int_le(node_conns(victim), UNDER_LOAD_PENDING + 1);
	ck_assert_int_eq(n_other, 0);
	/* No amplification: per reply (checked in fl_drain) and in total. */
	ck_assert_uint_le(bytes_out, bytes_in);
	printf("flood: %d initiations (%llu bytes) -> %d responses, %d cookie replies "
	       "(%llu bytes, %.3f of the input); node holds %d connections\n",
	       n_sent, (unsigned long long)bytes_in, n_responses, n_cookies,
	       (unsigned long long)bytes_out, (double)bytes_out / (double)bytes_in,
	       node_conns(victim));

	tryst_conn_free(lc);
	tryst_node_free(legit);
	tryst_identity_free(lid);
	event_free(r.ev_front);
	event_free(r.ev_back);
	close(r.front);
	close(r.back);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("node_flood");
	TCase *tc = tcase_create("cookies under load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_replayed_initiation_creates_nothing);
	tcase_add_test(tc, test_unconfirmed_silent_then_expire);
	tcase_add_test(tc, test_flood_gets_cookies_legit_dialer_connects);
	suite_add_tcase(s, tc);
	return tu_run(s);
}

/*
 * check_server.c: a real tryst_server (src/server.c) on 127.0.0.1, port 0,
 * in the test process, driven over the wire: real clients (tests/rdvwire.h:
 * a node each, Noise handshake, control stream) and raw UDP sockets.
 *
 *  - No amplification, measured: for every first byte 0x00..0xff, random
 *    datagrams of many lengths (truncated to 1 byte, up to 2000 bytes),
 *    valid-shaped ones (handshake initiations, key queries, relay and
 *    PUNCH datagrams) and all of them replayed, from an unauthenticated
 *    source: no answer is larger than the datagram it answers, per first
 *    byte the bytes the server sends back never exceed the bytes it
 *    received (the ratios are printed), and nothing comes late or unasked.
 *    A real client is served during and after.
 *  - A flood from one source (a client session far above the rate limit,
 *    and a raw datagram flood from the same address) while a second client
 *    on 127.0.0.2 registers, looks up and discovers normally: every one of
 *    its requests is answered with success, the accounted memory stays
 *    within memory_max, and the statistics count the drops by reason.
 *  - The memory budget: one key registering far more than fits is refused
 *    with TRYST_ERR_RDV_MEMORY, the accounted memory never passes the
 *    budget, and the server still answers.
 *  - Refusals through a real session: a record signed by another key, a
 *    TTL under the minimum and over the maximum, an empty and a too long
 *    namespace, each with its own error; the statistics JSON carries
 *    namespaces, registrations, relayed bytes and drops by reason.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "handshake.h"
#include "punch.h"
#include "rdvwire.h"

static struct event_base *base;
static tryst_server *server;
static tryst_identity *server_id;
static uint8_t server_key[TRYST_KEY_SIZE];
static struct sockaddr_storage server_addr;

/* Responses of one client, by request id. */
#define MAX_IDS 65536
struct answers {
	uint8_t got[MAX_IDS];
	int status[MAX_IDS];
	uint8_t type[MAX_IDS];
	uint16_t count[MAX_IDS];
	uint64_t n, n_ok, n_rate, n_other;
};

static void on_answer(struct rw_client *c, const struct trst_rdv_msg *m, void *ud)
{
	struct answers *a = ud;
	(void)c;
	if (!(m->type & TRST_RDV_RESPONSE) || m->type >= TRST_RDV_PUNCH || m->id >= MAX_IDS)
		return;
	a->got[m->id] = 1;
	a->status[m->id] = m->status;
	a->type[m->id] = m->type;
	a->count[m->id] = m->count;
	a->n++;
	if (m->status == 0)
		a->n_ok++;
	else if (m->status == TRYST_ERR_RDV_RATE)
		a->n_rate++;
	else
		a->n_other++;
}

static void start_server(uint32_t rate, uint32_t burst, size_t memory_max, uint32_t max_per_key)
{
	struct tryst_server_config cfg;
	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	ck_assert_ptr_nonnull(base);
	server_id = tu_identity(0x5e);
	tryst_identity_public_key(server_id, server_key);
	tryst_server_config_default(&cfg);
	cfg.identity = server_id;
	cfg.bind_address = "127.0.0.1";
	cfg.port = 0;
	cfg.dht = 0;
	cfg.rate = rate;
	cfg.burst = burst;
	if (memory_max)
		cfg.memory_max = memory_max;
	if (max_per_key)
		cfg.max_per_key = max_per_key;
	ck_assert_int_eq(tryst_server_new(base, &cfg, &server), 0);
	tu_addr(&server_addr, "127.0.0.1", tryst_server_port(server));
}

static void stop_server(void)
{
	tryst_server_free(server);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	tryst_identity_free(server_id);
}

/* Let the loop run `ms` milliseconds. */
static void pump(int ms)
{
	int never = 0;
	rw_run_until(base, &never, ms / 1000.0);
}

static void connect_client(struct rw_client *c, uint8_t seed, const char *ip, struct answers *a)
{
	tryst_identity *id = tu_identity(seed);
	ck_assert_int_eq(rw_client_start(c, base, id, ip, server_key, &server_addr, on_answer, a),
	                 0);
	tryst_identity_free(id);
	ck_assert_msg(rw_run_until(base, &c->established, 10), "client %02x not connected", seed);
}

/* A signed record of identity `seed` (one host candidate). */
static size_t make_record(uint8_t seed, uint8_t *out)
{
	tryst_identity *id = tu_identity(seed);
	tryst_record r;
	size_t len;
	memset(&r, 0, sizeof r);
	r.seq = tryst_now_us();
	r.ttl = 3600;
	r.n_candidates = 1;
	r.candidates[0].kind = TRYST_CAND_HOST;
	tu_addr(&r.candidates[0].addr, "127.0.0.1", 4242);
	ck_assert_int_eq(tryst_record_encode(&r, id, out, TRYST_RECORD_MAX_SIZE, &len), 0);
	tryst_identity_free(id);
	return len;
}

static void key_of(uint8_t seed, uint8_t key[TRYST_KEY_SIZE])
{
	tryst_identity *id = tu_identity(seed);
	tryst_identity_public_key(id, key);
	tryst_identity_free(id);
}

static long req_register(struct rw_client *c, const char *ns, size_t ns_len, uint32_t ttl,
                         const uint8_t *rec, size_t rec_len)
{
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_REGISTER;
	m.ns = (const uint8_t *)ns;
	m.ns_len = ns_len;
	m.ttl = ttl;
	m.record = rec;
	m.record_len = rec_len;
	long id = rw_send(c, &m);
	ck_assert_int_gt(id, 0);
	return id;
}

static long req_lookup(struct rw_client *c, const uint8_t key[TRYST_KEY_SIZE])
{
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_LOOKUP;
	m.key = key;
	long id = rw_send(c, &m);
	ck_assert_int_gt(id, 0);
	return id;
}

static long req_discover(struct rw_client *c, const char *ns)
{
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_DISCOVER;
	m.ns = (const uint8_t *)ns;
	m.ns_len = strlen(ns);
	long id = rw_send(c, &m);
	ck_assert_int_gt(id, 0);
	return id;
}

/* Wait for the answer to `id` and return its status. */
static int answer(struct answers *a, long id)
{
	double end = rw_now() + 10;
	while (!a->got[id] && rw_now() < end)
		pump(2);
	ck_assert_msg(a->got[id], "request %ld not answered", id);
	return a->status[id];
}

static void get_stats(char *buf, size_t cap)
{
	int n = tryst_server_stats_json(server, buf, cap);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_lt((size_t)n, cap);
}

/* The number after "\"name\":" in a stats line (the first occurrence). */
static unsigned long long stat_of(const char *json, const char *name)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", name);
	const char *p = strstr(json, pat);
	ck_assert_msg(p != NULL, "no %s in %s", name, json);
	return strtoull(p + strlen(pat), NULL, 10);
}

static unsigned long long dropped_of(const char *json, const char *reason)
{
	const char *d = strstr(json, "\"dropped\":{");
	ck_assert_ptr_nonnull(d);
	return stat_of(d, reason);
}

/* ---- raw UDP sources ---- */

static int raw_socket(const char *ip)
{
	struct sockaddr_storage ss;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	tu_addr(&ss, ip, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static void raw_send(int fd, const uint8_t *p, size_t len)
{
	ssize_t n =
	    sendto(fd, p, len, 0, (struct sockaddr *)&server_addr, sizeof(struct sockaddr_in));
	ck_assert_msg(n == (ssize_t)len || (n < 0 && (errno == EAGAIN || errno == ENOBUFS)),
	              "sendto: %s", strerror(errno));
}

/* Bytes waiting on fd (all of them read and dropped). */
static uint64_t raw_drain(int fd, uint64_t *datagrams)
{
	uint8_t buf[65536];
	uint64_t total = 0;
	ssize_t n;
	while ((n = recv(fd, buf, sizeof buf, 0)) >= 0) {
		total += (uint64_t)n;
		if (datagrams)
			(*datagrams)++;
	}
	return total;
}

/* ---- no amplification ---- */

#define AMP_REPLAY 512 /* datagrams kept for the replay round */

static uint64_t amp_in[256], amp_out[256], amp_answers[256];
static uint8_t *replay[AMP_REPLAY];
static size_t replay_len[AMP_REPLAY], n_replay;

static void keep_for_replay(const uint8_t *p, size_t len)
{
	if (n_replay < AMP_REPLAY) {
		replay[n_replay] = malloc(len);
		ck_assert_ptr_nonnull(replay[n_replay]);
		memcpy(replay[n_replay], p, len);
		replay_len[n_replay++] = len;
	}
}

/* Send one datagram and charge what comes back to its first byte; what
 * comes back for one datagram is never more than its own size.  The
 * server runs in this process: once the loop has had its turn, its answer
 * (if any) is already in our socket. */
static void amp_one(int fd, const uint8_t *p, size_t len)
{
	uint8_t first = p[0]; /* p may be freed by the caller right after */
	raw_send(fd, p, len);
	amp_in[first] += len;
	for (int i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	uint64_t out = raw_drain(fd, &amp_answers[first]);
	/* no answer is larger than the datagram it answers */
	ck_assert_msg(out <= len, "%zu bytes starting %02x: %llu bytes back", len, first,
	              (unsigned long long)out);
	amp_out[first] += out;
}

START_TEST(test_no_amplification)
{
	static const size_t lens[] = {1,    2,    5,    9,    13,   18,   29,   34,  63,
	                              64,   65,   128,  344,  345,  434,  435,  436, 600,
	                              1200, 1232, 1400, 1472, 1500, 1501, 1600, 2000};
	struct rw_client good;
	struct answers *ga = calloc(1, sizeof *ga);
	uint8_t rec[TRYST_RECORD_MAX_SIZE], good_key[TRYST_KEY_SIZE], buf[2048];
	size_t rec_len;
	int fd;

	start_server(1000000, 1000000, 0, 0);
	memset(amp_in, 0, sizeof amp_in);
	memset(amp_out, 0, sizeof amp_out);
	memset(amp_answers, 0, sizeof amp_answers);
	n_replay = 0;
	connect_client(&good, 0x71, "127.0.0.2", ga);
	key_of(0x71, good_key);
	rec_len = make_record(0x71, rec);
	ck_assert_int_eq(answer(ga, req_register(&good, "amp", 3, 0, rec, rec_len)), 0);
	fd = raw_socket("127.0.0.1");

	/* 1. every first byte, random bodies of every length */
	for (int b = 0; b < 256; b++) {
		for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
			randombytes_buf(buf, lens[i]);
			buf[0] = (uint8_t)b;
			amp_one(fd, buf, lens[i]);
			if (i % 8 == 0)
				keep_for_replay(buf, lens[i]);
		}
		if (b % 32 == 31) /* the real client is served meanwhile */
			ck_assert_int_eq(answer(ga, req_lookup(&good, good_key)), 0);
	}

	/* 2. valid-shaped messages of the types the server answers or
	 * forwards, and their truncations and extensions */
	{
		tryst_identity *fid = tu_identity(0x72);
		struct trst_conn_config cc;
		struct trst_tparams tp;
		uint8_t tparams[TRST_TPARAMS_MAX_SIZE], init[TRST_HS_INITIATION_SIZE + 64];
		size_t tplen, len;
		trst_hs hs;

		trst_conn_config_default(&cc);
		trst_conn_config_tparams(&cc, &tp);
		tplen = trst_tparams_encode(&tp, tparams);
		for (uint32_t k = 0; k < 8; k++) {
			ck_assert_int_eq(trst_hs_initiate(&hs, fid, server_key, 100 + k, tparams,
			                                  tplen, NULL, tryst_now_us() + k, init,
			                                  TRST_HS_INITIATION_SIZE, &len),
			                 0);
			trst_hs_wipe(&hs);
			amp_one(fd, init, len);          /* answered: response or cookie */
			amp_one(fd, init, len);          /* replayed: nothing */
			amp_one(fd, init, len - 1);      /* truncated */
			randombytes_buf(init + len, 64); /* extended */
			amp_one(fd, init, len + 64);
			keep_for_replay(init, len);
		}
		tryst_identity_free(fid);

		uint8_t q[TRST_KEY_QUERY_SIZE + 1500];
		trst_key_query_encode(q);
		for (int k = 0; k < 8; k++)
			amp_one(fd, q, TRST_KEY_QUERY_SIZE); /* answered with the key */
		keep_for_replay(q, TRST_KEY_QUERY_SIZE);
		amp_one(fd, q, TRST_KEY_QUERY_SIZE - 1);
		randombytes_buf(q + TRST_KEY_QUERY_SIZE, 1500);
		amp_one(fd, q, TRST_KEY_QUERY_SIZE + 1500);

		uint8_t r[TRST_RDV_RELAY_HEAD + 1200];
		randombytes_buf(r, sizeof r);
		r[0] = TRST_RDV_RELAY_BYTE; /* a circuit nobody opened */
		amp_one(fd, r, sizeof r);
		amp_one(fd, r, TRST_RDV_RELAY_HEAD);
		keep_for_replay(r, sizeof r);

		uint8_t p[TRST_PUNCH_SIZE];
		randombytes_buf(p, sizeof p);
		p[0] = TRST_PUNCH_TYPE;
		p[1] = TRST_PUNCH_VERSION;
		amp_one(fd, p, sizeof p);
		keep_for_replay(p, sizeof p);
	}
	ck_assert_int_eq(answer(ga, req_lookup(&good, good_key)), 0);

	/* 3. everything kept, replayed */
	for (size_t i = 0; i < n_replay; i++) {
		amp_one(fd, replay[i], replay_len[i]);
		free(replay[i]);
	}

	/* Nothing arrives late (every answer was charged to the datagram
	 * that caused it), and nothing comes unasked: the connections the
	 * valid initiations opened never get their response sent again. */
	pump(1500);
	ck_assert_uint_eq(raw_drain(fd, NULL), 0);

	/* the per-type ratios, and the bound */
	uint64_t tin = 0, tout = 0;
	printf("no amplification: bytes out / bytes in per first byte (answers):\n");
	for (int b = 0; b < 256; b++) {
		printf("  %02x %.3f(%llu)%s", b, (double)amp_out[b] / (double)amp_in[b],
		       (unsigned long long)amp_answers[b], b % 8 == 7 ? "\n" : "");
		tin += amp_in[b];
		tout += amp_out[b];
		ck_assert_msg(amp_out[b] <= amp_in[b],
		              "first byte %02x: %llu bytes out for %llu in", b,
		              (unsigned long long)amp_out[b], (unsigned long long)amp_in[b]);
	}
	printf("  all: %llu bytes in, %llu out (%.4f)\n", (unsigned long long)tin,
	       (unsigned long long)tout, (double)tout / (double)tin);
	/* the answers the server does give were really measured */
	ck_assert_uint_ge(amp_answers[TRST_KEY_QUERY_TYPE], 8);
	ck_assert_uint_ge(amp_answers[TRST_HS_TYPE_INITIATION], 8);

	/* after: the real client registers and discovers */
	ck_assert_int_eq(answer(ga, req_register(&good, "amp-after", 9, 0, rec, rec_len)), 0);
	long id = req_discover(&good, "amp");
	ck_assert_int_eq(answer(ga, id), 0);
	ck_assert_uint_eq(ga->count[id], 1);

	close(fd);
	rw_client_free(&good);
	free(ga);
	stop_server();
}
END_TEST

/* ---- a flood from one source ---- */

#define FLOOD_REQUESTS 4000
#define FLOOD_RAW      40000
#define FLOOD_MEMORY   (4u << 20)

START_TEST(test_flood_one_source)
{
	struct rw_client flooder, victim;
	struct answers *fa = calloc(1, sizeof *fa), *va = calloc(1, sizeof *va);
	uint8_t frec[TRYST_RECORD_MAX_SIZE], vrec[TRYST_RECORD_MAX_SIZE], vkey[TRYST_KEY_SIZE];
	uint8_t buf[1500];
	size_t frec_len, vrec_len;
	char json[2048];
	int fd, raw_sent = 0, sent = 0, rounds = 0;
	long vids[3 * 40];
	int n_vids = 0;

	/* 100 requests a second, 200 at once: the defaults */
	start_server(100, 200, FLOOD_MEMORY, 0);
	connect_client(&flooder, 0x81, "127.0.0.1", fa);
	connect_client(&victim, 0x82, "127.0.0.2", va);
	key_of(0x82, vkey);
	frec_len = make_record(0x81, frec);
	vrec_len = make_record(0x82, vrec);
	fd = raw_socket("127.0.0.1");

	/* The flood: 100 requests and 1000 raw datagrams per round of about
	 * 10 ms (10 000 requests a second, 100 times the rate), the victim's
	 * three requests every round. */
	while (sent < FLOOD_REQUESTS || raw_sent < FLOOD_RAW) {
		for (int i = 0; i < 100 && sent < FLOOD_REQUESTS; i++, sent++) {
			char ns[32];
			snprintf(ns, sizeof ns, "flood-%d", sent % 500);
			if (sent % 2)
				req_lookup(&flooder, vkey);
			else
				req_register(&flooder, ns, strlen(ns), 0, frec, frec_len);
		}
		for (int i = 0; i < 1000 && raw_sent < FLOOD_RAW; i++, raw_sent++) {
			size_t len = 1 + (size_t)randombytes_uniform(sizeof buf);
			randombytes_buf(buf, len);
			raw_send(fd, buf, len);
		}
		raw_drain(fd, NULL);
		if (n_vids + 3 <= (int)(sizeof vids / sizeof vids[0])) {
			vids[n_vids++] = req_register(&victim, "victim", 6, 0, vrec, vrec_len);
			vids[n_vids++] = req_lookup(&victim, vkey);
			vids[n_vids++] = req_discover(&victim, "victim");
		}
		pump(10);
		rounds++;
		get_stats(json, sizeof json);
		ck_assert_uint_le(stat_of(json, "memory"), FLOOD_MEMORY);
	}
	/* every request of the victim is answered, with success */
	for (int i = 0; i < n_vids; i++)
		ck_assert_msg(answer(va, vids[i]) == 0, "victim request %d: %s", i,
		              tryst_strerror(va->status[vids[i]]));
	ck_assert_uint_eq(va->n_ok, (uint64_t)n_vids);
	ck_assert_int_ge(n_vids, 3 * 30);
	/* the flooder got an answer for every request: mostly refusals */
	double end = rw_now() + 10;
	while (fa->n < (uint64_t)FLOOD_REQUESTS && rw_now() < end)
		pump(5);
	ck_assert_uint_eq(fa->n, FLOOD_REQUESTS);
	ck_assert_uint_gt(fa->n_rate, FLOOD_REQUESTS / 2);
	get_stats(json, sizeof json);
	printf("flood: %d requests from one session (%llu refused for rate, %llu served), "
	       "%d raw datagrams, in %d rounds; the other client: %d requests, all served\n"
	       "  stats: %s\n",
	       FLOOD_REQUESTS, (unsigned long long)fa->n_rate, (unsigned long long)fa->n_ok,
	       raw_sent, rounds, n_vids, json);
	ck_assert_uint_eq(dropped_of(json, "rate"), fa->n_rate);
	/* the raw datagrams that looked relayed (first byte 0x30) */
	ck_assert_uint_gt(dropped_of(json, "relay_unknown"), 0);
	ck_assert_uint_le(stat_of(json, "memory"), FLOOD_MEMORY);

	close(fd);
	rw_client_free(&flooder);
	rw_client_free(&victim);
	free(fa);
	free(va);
	stop_server();
}
END_TEST

/* ---- the memory budget ---- */

#define BUDGET (1u << 20)

START_TEST(test_memory_budget)
{
	struct rw_client hog, other;
	struct answers *ha = calloc(1, sizeof *ha), *oa = calloc(1, sizeof *oa);
	uint8_t rec[TRYST_RECORD_MAX_SIZE], okey[TRYST_KEY_SIZE];
	size_t rec_len;
	char json[2048];

	start_server(1000000, 1000000, BUDGET, 100000);
	connect_client(&other, 0x92, "127.0.0.2", oa);
	connect_client(&hog, 0x91, "127.0.0.1", ha);
	key_of(0x92, okey);
	rec_len = make_record(0x92, rec);
	ck_assert_int_eq(answer(oa, req_register(&other, "other", 5, 0, rec, rec_len)), 0);
	rec_len = make_record(0x91, rec);
	/* Namespaces of 200 bytes each until the budget refuses. */
	int n = 0, refused = 0;
	for (int round = 0; round < 50 && !refused; round++) {
		for (int i = 0; i < 500; i++, n++) {
			char ns[256];
			memset(ns, 'm', 200);
			snprintf(ns, sizeof ns - 200, "%08d", n);
			ns[8] = 'm';
			req_register(&hog, ns, 200, 0, rec, rec_len);
		}
		double end = rw_now() + 10;
		while (ha->n < (uint64_t)n && rw_now() < end)
			pump(2);
		for (int id = 1; id <= n; id++)
			if (ha->got[id] && ha->status[id] == TRYST_ERR_RDV_MEMORY)
				refused = 1;
		get_stats(json, sizeof json);
		ck_assert_uint_le(stat_of(json, "memory"), BUDGET);
	}
	ck_assert_msg(refused, "%d registrations and no memory refusal", n);
	get_stats(json, sizeof json);
	printf("memory budget %u: %llu registrations held, %llu bytes accounted, %llu refused\n",
	       BUDGET, stat_of(json, "registrations"), stat_of(json, "memory"),
	       dropped_of(json, "memory"));
	ck_assert_uint_gt(dropped_of(json, "memory"), 0);
	/* still serving: lookups allocate nothing */
	ck_assert_int_eq(answer(oa, req_lookup(&other, okey)), 0);
	ck_assert_int_eq(answer(ha, req_lookup(&hog, okey)), 0);

	rw_client_free(&hog);
	rw_client_free(&other);
	free(ha);
	free(oa);
	stop_server();
}
END_TEST

/* ---- refusals through a real session, and the statistics ---- */

START_TEST(test_refusals)
{
	struct rw_client c;
	struct answers *a = calloc(1, sizeof *a);
	uint8_t rec[TRYST_RECORD_MAX_SIZE], other[TRYST_RECORD_MAX_SIZE];
	size_t rec_len, other_len;
	uint8_t nobody[TRYST_KEY_SIZE];
	char ns[300], json[2048];

	key_of(0xa3, nobody);
	start_server(1000, 1000, 0, 0);
	connect_client(&c, 0xa1, "127.0.0.1", a);
	rec_len = make_record(0xa1, rec);
	other_len = make_record(0xa2, other);

	ck_assert_int_eq(answer(a, req_register(&c, "r", 1, 0, other, other_len)),
	                 TRYST_ERR_RECORD_WRONG_KEY);
	ck_assert_int_eq(answer(a, req_register(&c, "r", 1, 29, rec, rec_len)), TRYST_ERR_RDV_TTL);
	ck_assert_int_eq(answer(a, req_register(&c, "r", 1, 259201, rec, rec_len)),
	                 TRYST_ERR_RDV_TTL);
	memset(ns, 'n', sizeof ns);
	ck_assert_int_eq(answer(a, req_register(&c, ns, 256, 0, rec, rec_len)),
	                 TRYST_ERR_RDV_NAMESPACE);
	ck_assert_int_eq(answer(a, req_register(&c, ns, 0, 0, rec, rec_len)),
	                 TRYST_ERR_RDV_NAMESPACE);
	/* the limits themselves are accepted */
	ck_assert_int_eq(answer(a, req_register(&c, ns, 255, 30, rec, rec_len)), 0);
	ck_assert_int_eq(answer(a, req_register(&c, "r", 1, 259200, rec, rec_len)), 0);
	/* undecodable bytes on the stream: answered, and the stream goes on */
	{
		/* a REGISTER (id 1000) that ends inside its namespace length */
		uint8_t junk[TRST_RDV_HEADER + 1] = {0, 0, 0, 6, 0x01, 0, 0, 0x03, 0xe8, 1};
		rw_send_bytes(&c, junk, sizeof junk);
	}
	ck_assert_int_eq(answer(a, req_lookup(&c, nobody)), TRYST_ERR_RDV_NOT_FOUND);
	ck_assert_int_eq(answer(a, 1000), TRYST_ERR_RDV_TRUNCATED);

	get_stats(json, sizeof json);
	printf("refusals: %s\n", json);
	ck_assert_uint_eq(stat_of(json, "namespaces"), 2);
	ck_assert_uint_eq(stat_of(json, "registrations"), 2);
	ck_assert_uint_eq(stat_of(json, "relayed_bytes"), 0);
	ck_assert_uint_eq(dropped_of(json, "record"), 1);
	ck_assert_uint_eq(dropped_of(json, "limit"), 4);
	ck_assert_uint_eq(dropped_of(json, "malformed"), 1);
	ck_assert_uint_eq(dropped_of(json, "rate"), 0);
	ck_assert_uint_eq(dropped_of(json, "memory"), 0);
	(void)stat_of(json, "relay_limit");
	ck_assert_int_eq(c.broken, 0);

	rw_client_free(&c);
	free(a);
	stop_server();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("wire");
	if (tryst_init() < 0)
		return EXIT_FAILURE;
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_no_amplification);
	tcase_add_test(tc, test_flood_one_source);
	tcase_add_test(tc, test_memory_budget);
	suite_add_tcase(s, tc);
	return tu_run(s);
}

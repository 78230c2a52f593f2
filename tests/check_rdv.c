/*
 * check_rdv.c: the rendezvous server core (src/rdv_server.c) and its
 * message codec (src/rdv_msg.c), driven with a fake clock and fake
 * sessions: every message round-trips, the vectors of doc/PROTOCOL.md
 * ("Rendezvous server") are checked byte for byte, and every rule -- expiry,
 * cookies, paging, each limit, authentication, bad input, flooding, the
 * memory budget, brokered punching, relay, app commands, statistics -- is
 * shown to hold.
 */
#include "testutil.h"
#include "vectors.h"

#include "rdv.h"

/* The punch token of CONNECT (and the PUNCH pushes it causes). */
static const uint8_t tok16[16] = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
                                  0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};

#define S_US 1000000ull

/* ---- a fake binding: captures what the core sends ---- */

struct client;

struct sent {
	struct client *to;
	uint8_t *buf;
	size_t len;
};

static struct sent sent[4096];
static int n_sent;

static struct {
	struct sockaddr_storage to;
	uint8_t data[2048];
	size_t len;
	int n;
} dgram;

struct client {
	tryst_identity *id;
	uint8_t key[32];
	struct sockaddr_storage addr;
	trst_rdv_session *s;
	uint8_t rec[TRYST_RECORD_MAX_SIZE];
	size_t rec_len;
	uint64_t rec_seq;
};

static void cb_send(void *ud, void *handle, const uint8_t *msg, size_t len)
{
	(void)ud;
	ck_assert_int_lt(n_sent, (int)TRST_ARRAY_LEN(sent));
	sent[n_sent].to = handle;
	sent[n_sent].buf = malloc(len);
	memcpy(sent[n_sent].buf, msg, len);
	sent[n_sent].len = len;
	n_sent++;
}

static void cb_dgram(void *ud, const struct sockaddr *to, socklen_t tolen, const uint8_t *head,
                     size_t hlen, const uint8_t *payload, size_t plen)
{
	(void)ud;
	ck_assert_uint_le(hlen + plen, sizeof dgram.data);
	memset(&dgram.to, 0, sizeof dgram.to);
	memcpy(&dgram.to, to, tolen);
	memcpy(dgram.data, head, hlen);
	memcpy(dgram.data + hlen, payload, plen);
	dgram.len = hlen + plen;
	dgram.n++;
}

static void sent_clear(void)
{
	for (int i = 0; i < n_sent; i++)
		free(sent[i].buf);
	n_sent = 0;
}

static const struct trst_rdv_callbacks cbs = {cb_send, cb_dgram};
static uint64_t now = T0_US;

static trst_rdv_server *mk_server(const struct trst_rdv_config *cfg)
{
	struct trst_rdv_config def;
	trst_rdv_server *srv = NULL;
	if (!cfg) {
		trst_rdv_config_default(&def);
		def.rate = 100000; /* most tests are not about the rate limit */
		def.burst = 100000;
		cfg = &def;
	}
	now = T0_US;
	sent_clear();
	memset(&dgram, 0, sizeof dgram);
	ck_assert_int_eq(trst_rdv_server_new(cfg, &cbs, NULL, now, &srv), 0);
	return srv;
}

/* A signed record for c made at `seq` living `ttl` s, one host candidate. */
static void make_record(struct client *c, uint64_t seq, uint32_t ttl)
{
	tryst_record r;
	memset(&r, 0, sizeof r);
	r.seq = seq;
	r.ttl = ttl;
	r.n_candidates = 1;
	r.candidates[0].kind = TRYST_CAND_HOST;
	tu_addr(&r.candidates[0].addr, "192.168.1.20", 41641);
	ck_assert_int_eq(tryst_record_encode(&r, c->id, c->rec, sizeof c->rec, &c->rec_len), 0);
	c->rec_seq = seq;
}

static void open_client(trst_rdv_server *srv, struct client *c, uint8_t seed, const char *ip,
                        uint16_t port)
{
	memset(c, 0, sizeof *c);
	c->id = tu_identity(seed);
	tryst_identity_public_key(c->id, c->key);
	tu_addr(&c->addr, ip, port);
	make_record(c, now, 24 * 3600);
	ck_assert_int_eq(trst_rdv_server_open(srv, c, c->key, (struct sockaddr *)&c->addr,
	                                      sizeof c->addr, now, &c->s),
	                 0);
}

static void close_client(trst_rdv_server *srv, struct client *c)
{
	trst_rdv_server_close(srv, c->s, now);
	tryst_identity_free(c->id);
	c->s = NULL;
}

static uint32_t next_id = 1;

/* Send request m from c; return the status of its response (which must be
 * the only response with its id) and decode it into *resp if not NULL.
 * The raw message stays valid until the next request. */
static uint8_t resp_buf[TRST_RDV_MESSAGE_MAX];
static int request(trst_rdv_server *srv, struct client *c, struct trst_rdv_msg *m,
                   struct trst_rdv_msg *resp)
{
	uint8_t buf[TRST_RDV_REQUEST_MAX];
	size_t len;
	struct trst_rdv_msg r;
	int found = 0, first = n_sent;

	m->id = next_id++;
	ck_assert_int_eq(trst_rdv_encode(m, buf, sizeof buf, &len), 0);
	trst_rdv_server_message(srv, c->s, buf, len, now);
	for (int i = first; i < n_sent; i++) {
		if (sent[i].to != c)
			continue;
		ck_assert_int_eq(trst_rdv_decode(sent[i].buf, sent[i].len, &r), 0);
		if (r.id != m->id)
			continue;
		ck_assert(!found);
		found = 1;
		ck_assert_int_eq(r.type, TRST_RDV_RESPONSE | m->type);
		memcpy(resp_buf, sent[i].buf, sent[i].len);
		ck_assert_int_eq(trst_rdv_decode(resp_buf, sent[i].len, &r), 0);
		if (resp)
			*resp = r;
	}
	ck_assert_msg(found, "no response to request type %d", m->type);
	return r.status;
}

static int do_register(trst_rdv_server *srv, struct client *c, const char *ns, uint32_t ttl,
                       uint32_t *granted)
{
	struct trst_rdv_msg m = {0}, r;
	int rc;
	m.type = TRST_RDV_REGISTER;
	m.ns = (const uint8_t *)ns;
	m.ns_len = strlen(ns);
	m.ttl = ttl;
	m.record = c->rec;
	m.record_len = c->rec_len;
	rc = request(srv, c, &m, &r);
	if (granted)
		*granted = r.ttl;
	return rc;
}

/* DISCOVER: returns the status; *count, *cookie, *more from the answer. */
static int do_discover(trst_rdv_server *srv, struct client *c, const char *ns, uint16_t limit,
                       uint64_t *cookie, int *count, int *more)
{
	struct trst_rdv_msg m = {0}, r;
	int rc;
	m.type = TRST_RDV_DISCOVER;
	m.ns = (const uint8_t *)ns;
	m.ns_len = strlen(ns);
	m.limit = limit;
	m.cookie = *cookie;
	if ((rc = request(srv, c, &m, &r)) < 0)
		return rc;
	*cookie = r.cookie;
	*count = r.count;
	if (more)
		*more = r.more;
	/* every entry is a record that verifies at the reader */
	struct trst_rdv_entries it = {r.entries, r.entries + r.entries_len};
	const uint8_t *rec;
	size_t rec_len;
	uint32_t ttl;
	int n = 0;
	while (trst_rdv_entries_next(&it, &rec, &rec_len, &ttl) == 1) {
		tryst_record dec;
		ck_assert_int_eq(tryst_record_decode(rec, rec_len, NULL, 0, now, &dec), 0);
		ck_assert_uint_gt(ttl, 0);
		n++;
	}
	ck_assert_int_eq(n, r.count);
	return 0;
}

/* The last message sent to c (NULL if none since index `from`). */
static int last_push(struct client *c, int from, uint8_t type, struct trst_rdv_msg *out)
{
	int n = 0;
	for (int i = from; i < n_sent; i++) {
		struct trst_rdv_msg m;
		if (sent[i].to != c)
			continue;
		ck_assert_int_eq(trst_rdv_decode(sent[i].buf, sent[i].len, &m), 0);
		if (m.type == type) {
			*out = m;
			n++;
		}
	}
	return n;
}

static void advance(trst_rdv_server *srv, uint64_t us)
{
	now += us;
	trst_rdv_server_expire(srv, now);
}

static struct trst_rdv_stats stats(const trst_rdv_server *srv)
{
	struct trst_rdv_stats st;
	trst_rdv_server_get_stats(srv, &st);
	return st;
}

/* ---- codec ---- */

static const uint8_t key_a[32] = {0xaa, 1, 2, 3};

/* One example of every message type, the fields filled. */
static int example(int i, struct trst_rdv_msg *m, uint8_t *scratch)
{
	static const uint8_t rec[3] = {1, 2, 3};
	static const uint8_t entries[] = {0, 0, 0, 9, 0, 2, 7, 7, 0, 0, 0, 1, 0, 0};
	memset(m, 0, sizeof *m);
	m->id = 77;
	(void)scratch;
	switch (i) {
	case 0:
		m->type = TRST_RDV_REGISTER;
		m->ns = (const uint8_t *)"chat";
		m->ns_len = 4;
		m->ttl = 3600;
		m->record = rec;
		m->record_len = sizeof rec;
		return 1;
	case 1:
		m->type = TRST_RDV_UNREGISTER;
		m->ns = (const uint8_t *)"x";
		m->ns_len = 1;
		return 1;
	case 2:
		m->type = TRST_RDV_DISCOVER;
		m->ns = (const uint8_t *)"chat";
		m->ns_len = 4;
		m->limit = 100;
		m->cookie = 0x0102030405060708ull;
		return 1;
	case 3:
		m->type = TRST_RDV_LOOKUP;
		m->key = key_a;
		return 1;
	case 4:
		m->type = TRST_RDV_CONNECT;
		m->key = key_a;
		m->token = tok16;
		return 1;
	case 5: m->type = TRST_RDV_REFLECT; return 1;
	case 6:
		m->type = TRST_RDV_RELAY_OPEN;
		m->key = key_a;
		return 1;
	case 7:
		m->type = TRST_RDV_RELAY_CLOSE;
		m->circuit = 0xfedcba9876543210ull;
		return 1;
	case 8:
		m->type = TRST_RDV_APP;
		m->name = (const uint8_t *)"echo";
		m->name_len = 4;
		m->payload = rec;
		m->payload_len = 3;
		return 1;
	case 9:
		m->type = TRST_RDV_RESPONSE;
		m->status = TRYST_ERR_RDV_TYPE;
		return 1;
	case 10:
		m->type = 0x81;
		m->ttl = 3000;
		return 1;
	case 11:
		m->type = 0x81;
		m->status = TRYST_ERR_RDV_TTL;
		return 1;
	case 12: m->type = 0x82; return 1;
	case 13:
		m->type = 0x83;
		m->cookie = 5;
		m->more = 1;
		m->count = 2;
		m->entries = entries;
		m->entries_len = sizeof entries;
		return 1;
	case 14:
		m->type = 0x84;
		m->ttl = 60;
		m->record = rec;
		m->record_len = 3;
		return 1;
	case 15: m->type = 0x85; return 1;
	case 16:
		m->type = 0x86;
		tu_addr(&m->addr, "2001:db8::7", 9);
		return 1;
	case 17:
		m->type = 0x87;
		m->circuit = 3;
		m->max_bytes = 1 << 20;
		m->max_seconds = 60;
		return 1;
	case 18: m->type = 0x88; return 1;
	case 19:
		m->type = 0x89;
		m->payload = rec;
		m->payload_len = 2;
		return 1;
	case 20:
		m->type = TRST_RDV_PUNCH;
		m->id = 0;
		m->key = key_a;
		m->token = tok16;
		tu_addr(&m->addr, "198.51.100.1", 4000);
		m->record = rec;
		m->record_len = 3;
		return 1;
	case 21:
		m->type = TRST_RDV_RELAY_OPENED;
		m->id = 0;
		m->circuit = 9;
		m->key = key_a;
		m->max_bytes = 5;
		m->max_seconds = 6;
		return 1;
	case 22:
		m->type = TRST_RDV_RELAY_CLOSED;
		m->id = 0;
		m->circuit = 9;
		m->reason = TRYST_ERR_RDV_RELAY_BYTES;
		return 1;
	}
	return 0;
}

START_TEST(test_roundtrip)
{
	struct trst_rdv_msg m, d;
	uint8_t buf[512], again[512], scratch[64];
	size_t len, len2;
	int i;
	for (i = 0; example(i, &m, scratch); i++) {
		ck_assert_int_eq(trst_rdv_encode(&m, buf, sizeof buf, &len), 0);
		ck_assert_uint_eq(len, trst_rdv_encoded_size(&m));
		ck_assert_int_eq(trst_rdv_frame_size(buf, len), (long)len);
		ck_assert_int_eq(trst_rdv_decode(buf, len, &d), 0);
		ck_assert_int_eq(d.type, m.type);
		ck_assert_uint_eq(d.id, m.id);
		ck_assert_int_eq(d.status, m.status);
		ck_assert_uint_eq(d.ttl, m.ttl);
		ck_assert(d.cookie == m.cookie && d.circuit == m.circuit);
		ck_assert(d.max_bytes == m.max_bytes && d.max_seconds == m.max_seconds);
		ck_assert_int_eq(d.reason, m.reason);
		ck_assert_uint_eq(d.limit, m.limit);
		ck_assert_uint_eq(d.more, m.more);
		ck_assert_uint_eq(d.count, m.count);
		ck_assert_uint_eq(d.ns_len, m.ns_len);
		ck_assert_uint_eq(d.record_len, m.record_len);
		ck_assert_uint_eq(d.payload_len, m.payload_len);
		ck_assert_uint_eq(d.name_len, m.name_len);
		ck_assert_uint_eq(d.entries_len, m.entries_len);
		if (m.key)
			ck_assert_mem_eq(d.key, m.key, 32);
		if (m.ns_len)
			ck_assert_mem_eq(d.ns, m.ns, m.ns_len);
		if (m.record_len)
			ck_assert_mem_eq(d.record, m.record, m.record_len);
		if (m.addr.ss_family)
			ck_assert_int_eq(d.addr.ss_family, m.addr.ss_family);
		/* one canonical form: decoding and encoding again gives the bytes */
		ck_assert_int_eq(trst_rdv_encode(&d, again, sizeof again, &len2), 0);
		ck_assert_uint_eq(len2, len);
		ck_assert_mem_eq(again, buf, len);
		/* every proper prefix is truncated, a longer frame is oversize */
		for (size_t cut = 0; cut < len; cut++) {
			int rc = trst_rdv_decode(buf, cut, &d);
			ck_assert_int_eq(rc, TRYST_ERR_RDV_TRUNCATED);
		}
		ck_assert_int_eq(trst_rdv_decode(buf, len + 1, &d), TRYST_ERR_RDV_OVERSIZE);
		/* a too-small buffer is said so, with the size needed */
		ck_assert_int_eq(trst_rdv_encode(&m, buf, len - 1, &len2), TRYST_ERR_BUFFER);
		ck_assert_uint_eq(len2, len);
	}
	ck_assert_int_eq(i, 23);
}
END_TEST

START_TEST(test_decode_refusals)
{
	static const struct {
		const char *why, *bytes;
		size_t len;
		int err;
	} bad[] = {
	    {"length below a header", "\x00\x00\x00\x04\x06\x00\x00\x00\x01", 9,
	     TRYST_ERR_RDV_TRUNCATED},
	    {"unknown type 0x0a", "\x00\x00\x00\x05\x0a\x00\x00\x00\x01", 9, TRYST_ERR_RDV_TYPE},
	    {"unknown type 0x00", "\x00\x00\x00\x05\x00\x00\x00\x00\x01", 9, TRYST_ERR_RDV_TYPE},
	    {"unknown type 0xc4", "\x00\x00\x00\x05\xc4\x00\x00\x00\x00", 9, TRYST_ERR_RDV_TYPE},
	    {"request with id 0", "\x00\x00\x00\x05\x06\x00\x00\x00\x00", 9,
	     TRYST_ERR_RDV_MALFORMED},
	    {"push with an id",
	     "\x00\x00\x00\x0f\xc3\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
	     "\x01\x00\x01",
	     19, TRYST_ERR_RDV_MALFORMED},
	    {"REFLECT with a byte too many", "\x00\x00\x00\x06\x06\x00\x00\x00\x01\x00", 10,
	     TRYST_ERR_RDV_OVERSIZE},
	    {"generic error with status 0", "\x00\x00\x00\x07\x80\x00\x00\x00\x01\x00\x00", 11,
	     TRYST_ERR_RDV_MALFORMED},
	    {"APP with an empty name", "\x00\x00\x00\x06\x09\x00\x00\x00\x01\x00", 10,
	     TRYST_ERR_RDV_MALFORMED},
	    {"APP with a 33-byte name", "\x00\x00\x00\x06\x09\x00\x00\x00\x01\x21", 10,
	     TRYST_ERR_RDV_MALFORMED},
	    {"REFLECT response, family 5",
	     "\x00\x00\x00\x0e\x86\x00\x00\x00\x01\x00\x00\x05\x01\x02\x03\x04\x00\x01", 18,
	     TRYST_ERR_RDV_MALFORMED},
	    {"record of 606 bytes",
	     "\x00\x00\x00\x0e\x01\x00\x00\x00\x01\x00\x01x\x00\x00\x00\x00\x02\x5e", 18,
	     TRYST_ERR_RDV_MALFORMED},
	    {"RELAY_CLOSED with reason 0",
	     "\x00\x00\x00\x0f\xc3\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00", 19,
	     TRYST_ERR_RDV_MALFORMED},
	};
	struct trst_rdv_msg m;
	uint8_t b[64];
	for (size_t i = 0; i < TRST_ARRAY_LEN(bad); i++) {
		memcpy(b, bad[i].bytes, bad[i].len);
		ck_assert_msg(trst_rdv_decode(b, bad[i].len, &m) == bad[i].err, "%s", bad[i].why);
	}
	/* frame size needs the whole length field */
	ck_assert_int_eq(trst_rdv_frame_size(b, 3), 0);
	/* too big for any message */
	ck_assert_int_eq(trst_rdv_decode(b, TRST_RDV_MESSAGE_MAX + 1, &m), TRYST_ERR_RDV_OVERSIZE);
}
END_TEST

/* ---- vectors of doc/PROTOCOL.md, "Rendezvous server" ---- */

/* The inputs each named vector is made of (the document says the same in
 * words); the record is the document's own record vector. */
static int vector_msg(const char *name, struct trst_rdv_msg *m, const uint8_t *rec, size_t rec_len,
                      const uint8_t *pk)
{
	static uint8_t entries[700];
	memset(m, 0, sizeof *m);
	if (!strcmp(name, "register")) {
		m->type = TRST_RDV_REGISTER;
		m->id = 1;
		m->ns = (const uint8_t *)"chat";
		m->ns_len = 4;
		m->ttl = 3600;
		m->record = rec;
		m->record_len = rec_len;
	} else if (!strcmp(name, "register-ok")) {
		m->type = 0x81;
		m->id = 1;
		m->ttl = 600;
	} else if (!strcmp(name, "discover")) {
		m->type = TRST_RDV_DISCOVER;
		m->id = 2;
		m->ns = (const uint8_t *)"chat";
		m->ns_len = 4;
		m->limit = 100;
		m->cookie = 0;
	} else if (!strcmp(name, "discover-ok")) {
		m->type = 0x83;
		m->id = 2;
		m->cookie = T0_US + 1;
		m->more = 0;
		m->count = 1;
		m->entries = entries;
		m->entries_len = (size_t)(trst_rdv_entry_put(entries, 600, rec, rec_len) - entries);
	} else if (!strcmp(name, "lookup")) {
		m->type = TRST_RDV_LOOKUP;
		m->id = 3;
		m->key = pk;
	} else if (!strcmp(name, "connect")) {
		m->type = TRST_RDV_CONNECT;
		m->id = 4;
		m->key = pk;
		m->token = tok16;
	} else if (!strcmp(name, "reflect")) {
		m->type = TRST_RDV_REFLECT;
		m->id = 5;
	} else if (!strcmp(name, "reflect-ok")) {
		m->type = 0x86;
		m->id = 5;
		tu_addr(&m->addr, "203.0.113.9", 50000);
	} else if (!strcmp(name, "punch")) {
		m->type = TRST_RDV_PUNCH;
		m->key = pk;
		m->token = tok16;
		tu_addr(&m->addr, "203.0.113.9", 50000);
	} else if (!strcmp(name, "relay-open-ok")) {
		m->type = 0x87;
		m->id = 6;
		m->circuit = 0x0102030405060708ull;
		m->max_bytes = 64ull << 20;
		m->max_seconds = 600;
	} else if (!strcmp(name, "relay-closed")) {
		m->type = TRST_RDV_RELAY_CLOSED;
		m->circuit = 0x1112131415161718ull;
		m->reason = TRYST_ERR_RDV_RELAY_BYTES;
	} else if (!strcmp(name, "app")) {
		m->type = TRST_RDV_APP;
		m->id = 7;
		m->name = (const uint8_t *)"echo";
		m->name_len = 4;
		m->payload = (const uint8_t *)"hi";
		m->payload_len = 2;
	} else if (!strcmp(name, "error")) {
		m->type = 0x81;
		m->id = 1;
		m->status = TRYST_ERR_RDV_TTL;
	} else {
		return 0;
	}
	return 1;
}

START_TEST(test_vectors)
{
	uint8_t rec[TRYST_RECORD_MAX_SIZE], pk[32], want[2048], got[2048];
	size_t rec_len = 0;
	int checked = 0;

	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++)
		if (tv_is(&tv_blocks[i], "record")) {
			rec_len = tv_get_hex(&tv_blocks[i], "record", rec, sizeof rec);
			ck_assert_uint_eq(
			    trst_hex_decode("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50"
			                    "d5f1ddc8664125531b8",
			                    64, pk, 32),
			    32);
		}
	ck_assert_uint_gt(rec_len, 0);
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		struct trst_rdv_msg m, d;
		size_t want_len, got_len;
		if (!tv_is(b, "rdv"))
			continue;
		ck_assert_msg(vector_msg(tv_get(b, "name"), &m, rec, rec_len, pk),
		              "unknown rdv vector %s", tv_get(b, "name"));
		want_len = tv_get_hex(b, "message", want, sizeof want);
		ck_assert_int_eq(trst_rdv_encode(&m, got, sizeof got, &got_len), 0);
		ck_assert_msg(got_len == want_len && memcmp(got, want, want_len) == 0,
		              "vector %s differs", tv_get(b, "name"));
		ck_assert_int_eq(trst_rdv_decode(want, want_len, &d), 0);
		ck_assert_int_eq(d.type, m.type);
		ck_assert_uint_eq(d.id, m.id);
		checked++;
	}
	ck_assert_int_ge(checked, 12);
}
END_TEST

/* The discover-ok vector is what the server itself answers. */
START_TEST(test_vector_server_answer)
{
	struct trst_rdv_config cfg;
	trst_rdv_server *srv;
	struct client c;
	uint8_t want[2048];
	size_t want_len = 0;
	uint32_t granted;
	uint64_t cookie = 0;
	int count;

	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++)
		if (tv_is(&tv_blocks[i], "rdv") &&
		    !strcmp(tv_get(&tv_blocks[i], "name"), "discover-ok"))
			want_len = tv_get_hex(&tv_blocks[i], "message", want, sizeof want);
	ck_assert_uint_gt(want_len, 0);
	trst_rdv_config_default(&cfg);
	srv = mk_server(&cfg);
	/* the identity of the vectors: seed 00 01 .. 1f */
	uint8_t seed[32];
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	open_client(srv, &c, 1, "203.0.113.9", 50000);
	tryst_identity_free(c.id);
	trst_rdv_server_close(srv, c.s, now);
	ck_assert_int_eq(tryst_identity_from_seed(seed, &c.id), 0);
	tryst_identity_public_key(c.id, c.key);
	ck_assert_int_eq(trst_rdv_server_open(srv, &c, c.key, (struct sockaddr *)&c.addr,
	                                      sizeof c.addr, now, &c.s),
	                 0);
	for (int i = 0; i < tv_n_blocks; i++)
		if (tv_is(&tv_blocks[i], "record"))
			c.rec_len = tv_get_hex(&tv_blocks[i], "record", c.rec, sizeof c.rec);
	/* the record lives 600 s: the registration asked 3600 gets 600 */
	ck_assert_int_eq(do_register(srv, &c, "chat", 3600, &granted), 0);
	ck_assert_uint_eq(granted, 600);
	next_id = 2;
	ck_assert_int_eq(do_discover(srv, &c, "chat", 100, &cookie, &count, NULL), 0);
	ck_assert_int_eq(count, 1);
	ck_assert_uint_eq(sent[n_sent - 1].len, want_len);
	ck_assert_mem_eq(sent[n_sent - 1].buf, want, want_len);
	close_client(srv, &c);
	trst_rdv_server_free(srv);
}
END_TEST

/* ---- the server ---- */

START_TEST(test_register_lookup_unregister)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a, b;
	struct trst_rdv_msg m = {0}, r;
	uint32_t granted;

	open_client(srv, &a, 1, "198.51.100.1", 1000);
	open_client(srv, &b, 2, "198.51.100.2", 2000);
	ck_assert_int_eq(do_register(srv, &a, "chat", 0, &granted), 0);
	ck_assert_uint_eq(granted, 7200);                                  /* the default */
	ck_assert_int_eq(do_register(srv, &a, "chat", 3600, &granted), 0); /* refresh */
	ck_assert_uint_eq(granted, 3600);
	ck_assert_uint_eq(stats(srv).registrations, 1);
	/* LOOKUP by another key returns a's record */
	m.type = TRST_RDV_LOOKUP;
	m.key = a.key;
	ck_assert_int_eq(request(srv, &b, &m, &r), 0);
	ck_assert_uint_eq(r.record_len, a.rec_len);
	ck_assert_mem_eq(r.record, a.rec, a.rec_len);
	ck_assert_uint_eq(r.ttl, 3600);
	m.key = b.key; /* b registered nothing */
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_NOT_FOUND);
	/* UNREGISTER, twice */
	memset(&m, 0, sizeof m);
	m.type = TRST_RDV_UNREGISTER;
	m.ns = (const uint8_t *)"chat";
	m.ns_len = 4;
	ck_assert_int_eq(request(srv, &b, &m, NULL), TRYST_ERR_RDV_NOT_FOUND); /* not b's */
	ck_assert_uint_eq(stats(srv).registrations, 1);
	ck_assert_int_eq(request(srv, &a, &m, NULL), 0);
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_NOT_FOUND);
	ck_assert_uint_eq(stats(srv).registrations, 0);
	ck_assert_uint_eq(stats(srv).namespaces, 0);
	/* the same record may be registered again after unregistering */
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), 0);
	close_client(srv, &a);
	close_client(srv, &b);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_expiry_without_requests)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a, b;
	uint64_t cookie = 0, base_mem;
	int count;

	open_client(srv, &a, 1, "198.51.100.1", 1000);
	open_client(srv, &b, 2, "198.51.100.2", 2000);
	/* one cycle first, so the tables exist (they keep their size) */
	ck_assert_int_eq(do_register(srv, &a, "warm", 60, NULL), 0);
	advance(srv, 80 * S_US);
	ck_assert(trst_rdv_server_next_deadline(srv) == UINT64_MAX);
	base_mem = stats(srv).memory;
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), 0);
	ck_assert_int_eq(do_register(srv, &a, "other", 120, NULL), 0);
	ck_assert(trst_rdv_server_next_deadline(srv) <= now + 60 * S_US);
	ck_assert_uint_gt(stats(srv).memory, base_mem);
	/* nothing happens before the deadline... */
	advance(srv, 60 * S_US - 1);
	ck_assert_uint_eq(stats(srv).registrations, 2);
	/* ...and at it the registration is gone, with nobody asking */
	advance(srv, 1);
	ck_assert_uint_eq(stats(srv).registrations, 1);
	ck_assert_uint_eq(stats(srv).expired, 2);
	ck_assert_int_eq(do_discover(srv, &b, "chat", 0, &cookie, &count, NULL), 0);
	ck_assert_int_eq(count, 0);
	advance(srv, 60 * S_US);
	ck_assert_uint_eq(stats(srv).registrations, 0);
	ck_assert_uint_eq(stats(srv).namespaces, 0);
	/* everything the registrations held is given back (the sweep of the
	 * rate limiter's state follows on its own deadline) */
	ck_assert_uint_eq(stats(srv).expired, 3);
	advance(srv, 20 * S_US);
	ck_assert_uint_eq(stats(srv).memory, base_mem);
	ck_assert(trst_rdv_server_next_deadline(srv) == UINT64_MAX);
	/* a registration never outlives its record */
	make_record(&a, now, 100);
	uint32_t granted;
	ck_assert_int_eq(do_register(srv, &a, "chat", 3600, &granted), 0);
	ck_assert_uint_eq(granted, 100);
	close_client(srv, &a);
	close_client(srv, &b);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_discover_cookies_paging)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client c[26], *reader = &c[25];
	uint64_t cookie = 0, page2;
	int count, more;

	for (int i = 0; i < 26; i++)
		open_client(srv, &c[i], (uint8_t)(i + 1), "198.51.100.1", (uint16_t)(1000 + i));
	for (int i = 0; i < 25; i++)
		ck_assert_int_eq(do_register(srv, &c[i], "chat", 600, NULL), 0);
	/* paging: 10, 10, 5 */
	ck_assert_int_eq(do_discover(srv, reader, "chat", 10, &cookie, &count, &more), 0);
	ck_assert_int_eq(count, 10);
	ck_assert_int_eq(more, 1);
	ck_assert_int_eq(do_discover(srv, reader, "chat", 10, &cookie, &count, &more), 0);
	ck_assert_int_eq(count, 10);
	ck_assert_int_eq(more, 1);
	page2 = cookie;
	ck_assert_int_eq(do_discover(srv, reader, "chat", 10, &cookie, &count, &more), 0);
	ck_assert_int_eq(count, 5);
	ck_assert_int_eq(more, 0);
	/* nothing new: nothing, and the cookie stays */
	uint64_t before = cookie;
	ck_assert_int_eq(do_discover(srv, reader, "chat", 10, &cookie, &count, &more), 0);
	ck_assert_int_eq(count, 0);
	ck_assert(cookie == before);
	/* a refresh with the same record is not news... */
	ck_assert_int_eq(do_register(srv, &c[3], "chat", 900, NULL), 0);
	ck_assert_int_eq(do_discover(srv, reader, "chat", 10, &cookie, &count, &more), 0);
	ck_assert_int_eq(count, 0);
	/* ...a newcomer is, and so is a new record of an old member */
	ck_assert_int_eq(do_register(srv, reader, "chat", 600, NULL), 0);
	make_record(&c[7], now + 1, 3600);
	ck_assert_int_eq(do_register(srv, &c[7], "chat", 600, NULL), 0);
	ck_assert_int_eq(do_discover(srv, reader, "chat", 10, &cookie, &count, &more), 0);
	ck_assert_int_eq(count, 2);
	/* replaying an older page cookie sees the rest from there */
	ck_assert_int_eq(do_discover(srv, reader, "chat", 100, &page2, &count, &more), 0);
	ck_assert_int_eq(count, 5 + 2); /* the last page, the newcomer, c[7] again */
	/* a namespace nobody is in answers empty */
	cookie = 0;
	ck_assert_int_eq(do_discover(srv, reader, "nobody", 10, &cookie, &count, &more), 0);
	ck_assert_int_eq(count, 0);
	ck_assert_int_eq(more, 0);
	for (int i = 0; i < 26; i++)
		close_client(srv, &c[i]);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_limits)
{
	struct trst_rdv_config cfg;
	trst_rdv_server *srv;
	struct client c[5];
	char longns[300];
	uint64_t cookie = 0;
	int count, more;

	trst_rdv_config_default(&cfg);
	cfg.max_per_namespace = 3;
	cfg.max_per_key = 2;
	cfg.discover_max = 2;
	srv = mk_server(&cfg);
	for (int i = 0; i < 5; i++)
		open_client(srv, &c[i], (uint8_t)(i + 1), "198.51.100.1", (uint16_t)(1000 + i));
	/* TTL below the minimum, above the maximum */
	ck_assert_int_eq(do_register(srv, &c[0], "a", 29, NULL), TRYST_ERR_RDV_TTL);
	ck_assert_int_eq(do_register(srv, &c[0], "a", 72 * 3600 + 1, NULL), TRYST_ERR_RDV_TTL);
	ck_assert_int_eq(do_register(srv, &c[0], "a", 30, NULL), 0);
	/* namespace empty and too long */
	ck_assert_int_eq(do_register(srv, &c[0], "", 60, NULL), TRYST_ERR_RDV_NAMESPACE);
	memset(longns, 'n', 256);
	longns[256] = '\0';
	ck_assert_int_eq(do_register(srv, &c[0], longns, 60, NULL), TRYST_ERR_RDV_NAMESPACE);
	ck_assert_int_eq(do_discover(srv, &c[0], longns, 1, &cookie, &count, NULL),
	                 TRYST_ERR_RDV_NAMESPACE);
	longns[255] = '\0';
	ck_assert_int_eq(do_register(srv, &c[0], longns, 60, NULL), 0);
	/* per key */
	ck_assert_int_eq(do_register(srv, &c[0], "b", 60, NULL), TRYST_ERR_RDV_KEY_FULL);
	/* per namespace */
	ck_assert_int_eq(do_register(srv, &c[1], "a", 60, NULL), 0);
	ck_assert_int_eq(do_register(srv, &c[2], "a", 60, NULL), 0);
	ck_assert_int_eq(do_register(srv, &c[3], "a", 60, NULL), TRYST_ERR_RDV_NAMESPACE_FULL);
	/* results per DISCOVER: a larger limit is held to the maximum */
	ck_assert_int_eq(do_discover(srv, &c[4], "a", 1000, &cookie, &count, &more), 0);
	ck_assert_int_eq(count, 2);
	ck_assert_int_eq(more, 1);
	ck_assert_uint_eq(stats(srv).registrations, 4);
	ck_assert_uint_eq(stats(srv).dropped[TRST_RDV_DROP_LIMIT], 7);
	for (int i = 0; i < 5; i++)
		close_client(srv, &c[i]);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_records_refused)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a, b;
	struct trst_rdv_stats before;

	open_client(srv, &a, 1, "198.51.100.1", 1000);
	open_client(srv, &b, 2, "198.51.100.2", 2000);
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_REFLECT; /* the sources' rate state exists from here */
	ck_assert_int_eq(request(srv, &a, &m, NULL), 0);
	ck_assert_int_eq(request(srv, &b, &m, NULL), 0);
	before = stats(srv);
	/* b presents a's (validly signed) record: not b's key */
	memcpy(b.rec, a.rec, a.rec_len);
	b.rec_len = a.rec_len;
	ck_assert_int_eq(do_register(srv, &b, "chat", 60, NULL), TRYST_ERR_RECORD_WRONG_KEY);
	/* a's record with a flipped signature bit */
	a.rec[a.rec_len - 1] ^= 1;
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), TRYST_ERR_RECORD_SIGNATURE);
	a.rec[a.rec_len - 1] ^= 1;
	/* expired and future records */
	make_record(&a, now - 3600 * S_US, 60);
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), TRYST_ERR_RECORD_EXPIRED);
	make_record(&a, now + 3600 * S_US, 7200);
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), TRYST_ERR_RECORD_FUTURE);
	/* garbage as a record */
	memset(a.rec, 0xee, 40);
	a.rec_len = 40;
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), TRYST_ERR_RECORD_VERSION);
	ck_assert_uint_eq(stats(srv).registrations, before.registrations);
	ck_assert_uint_eq(stats(srv).memory, before.memory);
	ck_assert_uint_eq(stats(srv).keys, before.keys);
	/* replay: after a newer record, the older one is stale */
	make_record(&a, now, 3600);
	uint8_t old[TRYST_RECORD_MAX_SIZE];
	size_t old_len = a.rec_len;
	memcpy(old, a.rec, old_len);
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), 0);
	make_record(&a, now + 1, 3600);
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), 0);
	memcpy(a.rec, old, old_len);
	a.rec_len = old_len;
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), TRYST_ERR_RECORD_STALE);
	/* the same sequence number with other bytes is refused too */
	{
		tryst_record r;
		memset(&r, 0, sizeof r);
		r.seq = now + 1;
		r.ttl = 3600;
		r.app_len = 1;
		ck_assert_int_eq(tryst_record_encode(&r, a.id, a.rec, sizeof a.rec, &a.rec_len), 0);
		ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), TRYST_ERR_RECORD_STALE);
	}
	ck_assert_uint_eq(stats(srv).dropped[TRST_RDV_DROP_RECORD], 7);
	close_client(srv, &a);
	close_client(srv, &b);
	trst_rdv_server_free(srv);
}
END_TEST

/* Each kind of bad input gets its own code, and the state is unchanged. */
START_TEST(test_bad_input)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a;
	struct trst_rdv_msg m = {0}, d;
	struct trst_rdv_stats before;
	uint8_t buf[TRST_RDV_REQUEST_MAX * 3], good[64];
	size_t len, glen, consumed;

	open_client(srv, &a, 1, "198.51.100.1", 1000);
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), 0);
	before = stats(srv);

	/* a REGISTER cut short, with its length field saying so */
	m.type = TRST_RDV_REGISTER;
	m.id = 9;
	m.ns = (const uint8_t *)"chat";
	m.ns_len = 4;
	m.ttl = 60;
	m.record = a.rec;
	m.record_len = a.rec_len;
	ck_assert_int_eq(trst_rdv_encode(&m, buf, sizeof buf, &len), 0);
	trst_put_u32(buf, (uint32_t)(len - 4 - 10));
	sent_clear();
	ck_assert_int_eq(trst_rdv_server_message(srv, a.s, buf, len - 10, now),
	                 TRYST_ERR_RDV_TRUNCATED);
	ck_assert_int_eq(trst_rdv_decode(sent[0].buf, sent[0].len, &d), 0);
	ck_assert_int_eq(d.type, 0x81);
	ck_assert_uint_eq(d.id, 9);
	ck_assert_int_eq(d.status, TRYST_ERR_RDV_TRUNCATED);
	/* unknown type: answered with the generic response type */
	memcpy(buf, "\x00\x00\x00\x05\x42\x00\x00\x00\x07", 9);
	ck_assert_int_eq(trst_rdv_server_message(srv, a.s, buf, 9, now), TRYST_ERR_RDV_TYPE);
	ck_assert_int_eq(trst_rdv_decode(sent[1].buf, sent[1].len, &d), 0);
	ck_assert_int_eq(d.type, TRST_RDV_RESPONSE);
	ck_assert_uint_eq(d.id, 7);
	ck_assert_int_eq(d.status, TRYST_ERR_RDV_TYPE);
	/* a push sent to the server */
	memcpy(buf, "\x00\x00\x00\x0f\xc3\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01",
	       19);
	ck_assert_int_eq(trst_rdv_server_message(srv, a.s, buf, 19, now), TRYST_ERR_RDV_TYPE);
	/* trailing bytes */
	memcpy(buf, "\x00\x00\x00\x07\x06\x00\x00\x00\x08\xff\xff", 11);
	ck_assert_int_eq(trst_rdv_server_message(srv, a.s, buf, 11, now), TRYST_ERR_RDV_OVERSIZE);
	/* an invalid field: APP with a 40-byte name */
	memcpy(buf, "\x00\x00\x00\x06\x09\x00\x00\x00\x08\x28", 10);
	ck_assert_int_eq(trst_rdv_server_message(srv, a.s, buf, 10, now), TRYST_ERR_RDV_MALFORMED);
	/* garbage (a fixed pseudo-random sequence, each request type in
	 * turn) of every length up to 64 never changes the state */
	uint32_t x = 1;
	for (size_t n = 0; n < 64 * 10; n++) {
		size_t size = n % 64;
		for (size_t i = 0; i < size; i++)
			buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
		if (size >= 5) {
			trst_put_u32(buf, (uint32_t)(size - 4));
			buf[4] = (uint8_t)(1 + n / 64 % 9);
		}
		trst_rdv_server_message(srv, a.s, buf, size, now);
	}
	/* an oversized request through the stream: refused once, skipped, and
	 * the request after it in the same bytes is answered */
	memset(buf, 0, sizeof buf);
	trst_put_u32(buf, TRST_RDV_REQUEST_MAX * 2);
	buf[4] = TRST_RDV_REGISTER;
	trst_put_u32(buf + 5, 11);
	m = (struct trst_rdv_msg){0};
	m.type = TRST_RDV_REFLECT;
	m.id = 12;
	ck_assert_int_eq(trst_rdv_encode(&m, good, sizeof good, &glen), 0);
	memcpy(buf + 4 + TRST_RDV_REQUEST_MAX * 2, good, glen);
	sent_clear();
	/* in three pieces, the first ending inside the header; like a
	 * binding, keep what was not consumed and offer it again */
	size_t total = 4 + TRST_RDV_REQUEST_MAX * 2 + glen, fed = 0;
	size_t arrive[3] = {6, 5006, total};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(
		    trst_rdv_server_input(srv, a.s, buf + fed, arrive[i] - fed, now, &consumed), 0);
		if (i == 0)
			ck_assert_uint_eq(consumed, 0); /* header incomplete: waits */
		fed += consumed;
	}
	ck_assert_uint_eq(fed, total);
	ck_assert_int_eq(n_sent, 2);
	ck_assert_int_eq(trst_rdv_decode(sent[0].buf, sent[0].len, &d), 0);
	ck_assert_int_eq(d.type, 0x81);
	ck_assert_uint_eq(d.id, 11);
	ck_assert_int_eq(d.status, TRYST_ERR_RDV_OVERSIZE);
	ck_assert_int_eq(trst_rdv_decode(sent[1].buf, sent[1].len, &d), 0);
	ck_assert_int_eq(d.type, 0x86);
	ck_assert_uint_eq(d.id, 12);
	ck_assert_int_eq(d.status, 0);

	struct trst_rdv_stats after = stats(srv);
	ck_assert_uint_eq(after.registrations, before.registrations);
	ck_assert_uint_eq(after.namespaces, before.namespaces);
	ck_assert_uint_eq(after.keys, before.keys);
	ck_assert_uint_eq(after.memory, before.memory);
	ck_assert_uint_ge(after.dropped[TRST_RDV_DROP_MALFORMED], 6);
	close_client(srv, &a);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_stream_byte_by_byte)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a;
	uint8_t buf[2048], keep[2048];
	size_t len = 0, n, kept = 0, consumed;
	struct trst_rdv_msg m = {0};

	open_client(srv, &a, 1, "198.51.100.1", 1000);
	for (uint32_t id = 1; id <= 3; id++) {
		m.type = TRST_RDV_REFLECT;
		m.id = id;
		ck_assert_int_eq(trst_rdv_encode(&m, buf + len, sizeof buf - len, &n), 0);
		len += n;
	}
	sent_clear();
	for (size_t i = 0; i < len; i++) {
		keep[kept++] = buf[i];
		ck_assert_int_eq(trst_rdv_server_input(srv, a.s, keep, kept, now, &consumed), 0);
		memmove(keep, keep + consumed, kept - consumed);
		kept -= consumed;
	}
	ck_assert_uint_eq(kept, 0);
	ck_assert_int_eq(n_sent, 3);
	close_client(srv, &a);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_reflect)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a;
	struct trst_rdv_msg m = {0}, r;
	struct sockaddr_storage moved;

	open_client(srv, &a, 1, "2001:db8::5", 7000);
	m.type = TRST_RDV_REFLECT;
	ck_assert_int_eq(request(srv, &a, &m, &r), 0);
	ck_assert_int_eq(r.addr.ss_family, AF_INET6);
	ck_assert_mem_eq(&((struct sockaddr_in6 *)&r.addr)->sin6_addr,
	                 &((struct sockaddr_in6 *)&a.addr)->sin6_addr, 16);
	ck_assert_uint_eq(((struct sockaddr_in6 *)&r.addr)->sin6_port, htons(7000));
	/* after a NAT rebinding the binding tells the core */
	tu_addr(&moved, "203.0.113.4", 999);
	trst_rdv_server_set_address(srv, a.s, (struct sockaddr *)&moved,
	                            sizeof(struct sockaddr_in));
	ck_assert_int_eq(request(srv, &a, &m, &r), 0);
	ck_assert_int_eq(r.addr.ss_family, AF_INET);
	ck_assert_uint_eq(((struct sockaddr_in *)&r.addr)->sin_port, htons(999));
	close_client(srv, &a);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_rate_limit_flood)
{
	struct trst_rdv_config cfg;
	trst_rdv_server *srv;
	struct client a1, a2, b;
	struct trst_rdv_msg m = {0};
	int ok = 0, limited = 0;

	trst_rdv_config_default(&cfg);
	cfg.rate = 10;
	cfg.burst = 20;
	srv = mk_server(&cfg);
	/* two sessions from one address share its bucket */
	open_client(srv, &a1, 1, "198.51.100.1", 1000);
	open_client(srv, &a2, 2, "::ffff:198.51.100.1", 1001);
	open_client(srv, &b, 3, "198.51.100.2", 1000);
	m.type = TRST_RDV_REFLECT;
	for (int i = 0; i < 500; i++) {
		int rc = request(srv, i % 2 ? &a1 : &a2, &m, NULL);
		ok += rc == 0;
		limited += rc == TRYST_ERR_RDV_RATE;
	}
	ck_assert_int_eq(ok, 20);
	ck_assert_int_eq(limited, 480);
	/* meanwhile another source is served */
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(request(srv, &b, &m, NULL), 0);
	ck_assert_uint_eq(stats(srv).dropped[TRST_RDV_DROP_RATE], 480);
	/* tokens come back at the configured rate */
	now += S_US / 2;
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(request(srv, &a1, &m, NULL), 0);
	ck_assert_int_eq(request(srv, &a1, &m, NULL), TRYST_ERR_RDV_RATE);
	/* idle sources are forgotten: the sweep frees their state */
	uint64_t mem = stats(srv).memory;
	advance(srv, 60 * S_US);
	ck_assert_uint_lt(stats(srv).memory, mem);
	ck_assert(trst_rdv_server_next_deadline(srv) == UINT64_MAX);
	close_client(srv, &a1);
	close_client(srv, &a2);
	close_client(srv, &b);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_memory_budget)
{
	struct trst_rdv_config cfg;
	trst_rdv_server *srv;
	struct client a;
	char ns[16];
	int ok = 0, rc;
	uint64_t after_open;

	trst_rdv_config_default(&cfg);
	cfg.discover_max = 10; /* small response buffer */
	cfg.max_per_key = 100000;
	cfg.rate = cfg.burst = 1000000;
	/* room for the server, one session and some registrations */
	cfg.memory_max = 16 * 1024;
	srv = mk_server(&cfg);
	open_client(srv, &a, 1, "198.51.100.1", 1000);
	after_open = stats(srv).memory;
	for (int i = 0; i < 1000; i++) {
		snprintf(ns, sizeof ns, "ns%d", i);
		rc = do_register(srv, &a, ns, 60, NULL);
		if (rc == TRYST_ERR_RDV_MEMORY)
			break;
		ck_assert_int_eq(rc, 0);
		ok++;
		ck_assert_uint_le(stats(srv).memory, cfg.memory_max);
	}
	ck_assert_int_gt(ok, 10);
	ck_assert_int_lt(ok, 1000);
	ck_assert_uint_le(stats(srv).memory, cfg.memory_max);
	ck_assert_uint_eq(stats(srv).registrations, (uint64_t)ok);
	ck_assert_uint_ge(stats(srv).dropped[TRST_RDV_DROP_MEMORY], 1);
	/* other requests still work, and expiry gives the memory back */
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_REFLECT;
	ck_assert_int_eq(request(srv, &a, &m, NULL), 0);
	advance(srv, 61 * S_US);
	ck_assert_uint_eq(stats(srv).registrations, 0);
	ck_assert_uint_le(stats(srv).memory, after_open + 2048); /* tables keep their size */
	ck_assert_int_eq(do_register(srv, &a, "again", 60, NULL), 0);
	close_client(srv, &a);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_connect_pushes_both)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a, b, c;
	struct trst_rdv_msg m = {0}, p;
	int first;

	open_client(srv, &a, 1, "198.51.100.1", 1000);
	open_client(srv, &b, 2, "203.0.113.2", 2000);
	open_client(srv, &c, 3, "203.0.113.3", 3000);
	ck_assert_int_eq(do_register(srv, &a, "chat", 60, NULL), 0);
	ck_assert_int_eq(do_register(srv, &b, "chat", 60, NULL), 0);
	first = n_sent;
	m.type = TRST_RDV_CONNECT;
	m.key = b.key;
	m.token = tok16;
	ck_assert_int_eq(request(srv, &a, &m, NULL), 0);
	/* in that one call: b learns about a, a learns about b */
	ck_assert_int_eq(last_push(&b, first, TRST_RDV_PUNCH, &p), 1);
	ck_assert_mem_eq(p.key, a.key, 32);
	ck_assert_mem_eq(p.token, tok16, 16); /* b punches with a's token */
	ck_assert_uint_eq(((struct sockaddr_in *)&p.addr)->sin_port, htons(1000));
	ck_assert_uint_eq(p.record_len, a.rec_len);
	ck_assert_mem_eq(p.record, a.rec, a.rec_len);
	ck_assert_int_eq(last_push(&a, first, TRST_RDV_PUNCH, &p), 1);
	ck_assert_mem_eq(p.key, b.key, 32);
	ck_assert_uint_eq(((struct sockaddr_in *)&p.addr)->sin_port, htons(2000));
	ck_assert_mem_eq(p.record, b.rec, b.rec_len);
	ck_assert_int_eq(n_sent - first, 3); /* two pushes and the response */
	/* c has a session but no record: a gets its observed address only */
	first = n_sent;
	m.key = c.key;
	ck_assert_int_eq(request(srv, &a, &m, NULL), 0);
	ck_assert_int_eq(last_push(&a, first, TRST_RDV_PUNCH, &p), 1);
	ck_assert_uint_eq(p.record_len, 0);
	/* self, and a key that is not connected */
	m.key = a.key;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_SELF);
	close_client(srv, &c);
	m.key = c.key;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_OFFLINE);
	/* b's registration outlives its session, but a punch needs a session */
	close_client(srv, &b);
	m.key = b.key;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_OFFLINE);
	ck_assert_uint_eq(stats(srv).registrations, 2);
	close_client(srv, &a);
	trst_rdv_server_free(srv);
}
END_TEST

/* Open a circuit from a to b; *ida, *idb the two ends' ids. */
static void relay_open(trst_rdv_server *srv, struct client *a, struct client *b, uint64_t *ida,
                       uint64_t *idb)
{
	struct trst_rdv_msg m = {0}, r, p;
	int first = n_sent;
	m.type = TRST_RDV_RELAY_OPEN;
	m.key = b->key;
	ck_assert_int_eq(request(srv, a, &m, &r), 0);
	*ida = r.circuit;
	ck_assert_int_eq(last_push(b, first, TRST_RDV_RELAY_OPENED, &p), 1);
	ck_assert_mem_eq(p.key, a->key, 32);
	*idb = p.circuit;
	ck_assert(*ida != *idb);
}

static int relay_send(trst_rdv_server *srv, const struct sockaddr_storage *from, uint64_t id,
                      size_t payload)
{
	uint8_t d[1500];
	d[0] = TRST_RDV_RELAY_BYTE;
	trst_put_u64(d + 1, id);
	memset(d + 9, 0x5a, payload);
	return trst_rdv_server_datagram(srv, (const struct sockaddr *)from, sizeof *from, d,
	                                9 + payload, now);
}

START_TEST(test_relay_forwarding)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a, b;
	struct sockaddr_storage spoof;
	uint64_t ida, idb;
	struct trst_rdv_msg p;

	open_client(srv, &a, 1, "198.51.100.1", 1000);
	open_client(srv, &b, 2, "203.0.113.2", 2000);
	relay_open(srv, &a, &b, &ida, &idb);
	/* a -> b: forwarded to b's address under b's id, payload untouched */
	ck_assert_int_eq(relay_send(srv, &a.addr, ida, 100), 0);
	ck_assert_int_eq(dgram.n, 1);
	ck_assert_uint_eq(dgram.len, 109);
	ck_assert_int_eq(dgram.data[0], 0x30);
	ck_assert(trst_get_u64(dgram.data + 1) == idb);
	ck_assert_uint_eq(((struct sockaddr_in *)&dgram.to)->sin_port, htons(2000));
	ck_assert_int_eq(dgram.data[108], 0x5a);
	/* b -> a */
	ck_assert_int_eq(relay_send(srv, &b.addr, idb, 10), 0);
	ck_assert_int_eq(dgram.n, 2);
	ck_assert(trst_get_u64(dgram.data + 1) == ida);
	ck_assert_uint_eq(((struct sockaddr_in *)&dgram.to)->sin_port, htons(1000));
	/* the right id from the wrong source, another port, the other end's
	 * id from my address, an unknown id, junk: nothing is sent */
	tu_addr(&spoof, "198.51.100.66", 1000);
	ck_assert_int_eq(relay_send(srv, &spoof, ida, 10), TRYST_ERR_RDV_NOT_FOUND);
	tu_addr(&spoof, "198.51.100.1", 1001);
	ck_assert_int_eq(relay_send(srv, &spoof, ida, 10), TRYST_ERR_RDV_NOT_FOUND);
	ck_assert_int_eq(relay_send(srv, &a.addr, idb, 10), TRYST_ERR_RDV_NOT_FOUND);
	ck_assert_int_eq(relay_send(srv, &a.addr, ida ^ 1, 10), TRYST_ERR_RDV_NOT_FOUND);
	ck_assert_int_eq(trst_rdv_server_datagram(srv, (struct sockaddr *)&a.addr, sizeof a.addr,
	                                          (const uint8_t *)"\x30\x01", 2, now),
	                 TRYST_ERR_RDV_MALFORMED);
	ck_assert_int_eq(dgram.n, 2);
	ck_assert_uint_eq(stats(srv).dropped[TRST_RDV_DROP_RELAY_UNKNOWN], 5);
	ck_assert_uint_eq(stats(srv).relayed_bytes, 110);
	ck_assert_uint_eq(stats(srv).relayed_datagrams, 2);
	/* after a's NAT rebinds, only the new address may use the circuit */
	tu_addr(&spoof, "198.51.100.1", 1002);
	trst_rdv_server_set_address(srv, a.s, (struct sockaddr *)&spoof,
	                            sizeof(struct sockaddr_in));
	ck_assert_int_eq(relay_send(srv, &a.addr, ida, 10), TRYST_ERR_RDV_NOT_FOUND);
	ck_assert_int_eq(relay_send(srv, &spoof, ida, 10), 0);
	/* closing by one end tells the other, and only ends may close */
	struct trst_rdv_msg m = {0};
	int first = n_sent;
	m.type = TRST_RDV_RELAY_CLOSE;
	m.circuit = idb;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_NOT_FOUND); /* b's end */
	m.circuit = ida;
	ck_assert_int_eq(request(srv, &a, &m, NULL), 0);
	ck_assert_int_eq(last_push(&b, first, TRST_RDV_RELAY_CLOSED, &p), 1);
	ck_assert(p.circuit == idb);
	ck_assert_int_eq(p.reason, TRYST_ERR_RDV_RELAY_CLOSED);
	ck_assert_int_eq(relay_send(srv, &b.addr, idb, 10), TRYST_ERR_RDV_NOT_FOUND);
	ck_assert_uint_eq(stats(srv).circuits, 0);
	/* self and offline */
	m = (struct trst_rdv_msg){0};
	m.type = TRST_RDV_RELAY_OPEN;
	m.key = a.key;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_SELF);
	m.key = key_a;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_OFFLINE);
	/* a session that leaves takes its circuits along, telling the other */
	relay_open(srv, &a, &b, &ida, &idb);
	first = n_sent;
	close_client(srv, &a);
	ck_assert_int_eq(last_push(&b, first, TRST_RDV_RELAY_CLOSED, &p), 1);
	ck_assert_int_eq(p.reason, TRYST_ERR_RDV_PEER_GONE);
	ck_assert_uint_eq(stats(srv).circuits, 0);
	close_client(srv, &b);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_relay_limits)
{
	struct trst_rdv_config cfg;
	trst_rdv_server *srv;
	struct client a, b;
	uint64_t ida, idb;
	struct trst_rdv_msg p;
	int first;

	trst_rdv_config_default(&cfg);
	cfg.relay_max_bytes = 1000;
	cfg.relay_max_seconds = 30;
	cfg.max_circuits_per_key = 2;
	srv = mk_server(&cfg);
	open_client(srv, &a, 1, "198.51.100.1", 1000);
	open_client(srv, &b, 2, "203.0.113.2", 2000);
	/* bytes: both directions count; the datagram that would pass the
	 * limit is not sent and both ends hear why */
	relay_open(srv, &a, &b, &ida, &idb);
	ck_assert_int_eq(relay_send(srv, &a.addr, ida, 600), 0);
	ck_assert_int_eq(relay_send(srv, &b.addr, idb, 400), 0);
	first = n_sent;
	ck_assert_int_eq(relay_send(srv, &a.addr, ida, 1), TRYST_ERR_RDV_RELAY_BYTES);
	ck_assert_int_eq(dgram.n, 2);
	ck_assert_int_eq(last_push(&a, first, TRST_RDV_RELAY_CLOSED, &p), 1);
	ck_assert(p.circuit == ida);
	ck_assert_int_eq(p.reason, TRYST_ERR_RDV_RELAY_BYTES);
	ck_assert_int_eq(last_push(&b, first, TRST_RDV_RELAY_CLOSED, &p), 1);
	ck_assert(p.circuit == idb);
	ck_assert_int_eq(p.reason, TRYST_ERR_RDV_RELAY_BYTES);
	ck_assert_int_eq(relay_send(srv, &b.addr, idb, 1), TRYST_ERR_RDV_NOT_FOUND);
	/* time: the circuit ends at its deadline without any traffic */
	relay_open(srv, &a, &b, &ida, &idb);
	ck_assert(trst_rdv_server_next_deadline(srv) <= now + 30 * S_US);
	first = n_sent;
	advance(srv, 30 * S_US - 1);
	ck_assert_int_eq(relay_send(srv, &a.addr, ida, 1), 0);
	advance(srv, 1);
	ck_assert_int_eq(last_push(&a, first, TRST_RDV_RELAY_CLOSED, &p), 1);
	ck_assert_int_eq(p.reason, TRYST_ERR_RDV_RELAY_TIME);
	ck_assert_int_eq(last_push(&b, first, TRST_RDV_RELAY_CLOSED, &p), 1);
	ck_assert_int_eq(p.reason, TRYST_ERR_RDV_RELAY_TIME);
	ck_assert_int_eq(relay_send(srv, &a.addr, ida, 1), TRYST_ERR_RDV_NOT_FOUND);
	/* circuits per key */
	relay_open(srv, &a, &b, &ida, &idb);
	relay_open(srv, &b, &a, &ida, &idb);
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_RELAY_OPEN;
	m.key = b.key;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_CIRCUITS_FULL);
	ck_assert_uint_eq(stats(srv).circuits, 2);
	ck_assert_uint_eq(stats(srv).dropped[TRST_RDV_DROP_RELAY_LIMIT], 2);
	close_client(srv, &a);
	close_client(srv, &b);
	trst_rdv_server_free(srv);
}
END_TEST

static int echo_reverse(void *ud, const uint8_t key[32], const uint8_t *req, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len)
{
	int *calls = ud;
	(*calls)++;
	if (len > cap)
		return TRYST_ERR_BUFFER;
	for (size_t i = 0; i < len; i++)
		out[i] = req[len - 1 - i];
	/* the handler learns who asks: the session's key */
	out[len] = key[0];
	*out_len = len + 1;
	return 0;
}

static int refuse(void *ud, const uint8_t key[32], const uint8_t *req, size_t len, uint8_t *out,
                  size_t cap, size_t *out_len)
{
	(void)ud, (void)key, (void)req, (void)len, (void)out, (void)cap, (void)out_len;
	return TRYST_ERR_INVALID;
}

START_TEST(test_app_commands)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a;
	struct trst_rdv_msg m = {0}, r;
	int calls = 0;

	ck_assert_int_eq(trst_rdv_server_add_command(srv, "echo", echo_reverse, &calls), 0);
	ck_assert_int_eq(trst_rdv_server_add_command(srv, "no", refuse, NULL), 0);
	ck_assert_int_eq(trst_rdv_server_add_command(srv, "echo", refuse, NULL), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_rdv_server_add_command(srv, "", refuse, NULL), TRYST_ERR_INVALID);
	open_client(srv, &a, 1, "198.51.100.1", 1000);
	m.type = TRST_RDV_APP;
	m.name = (const uint8_t *)"echo";
	m.name_len = 4;
	m.payload = (const uint8_t *)"abc";
	m.payload_len = 3;
	ck_assert_int_eq(request(srv, &a, &m, &r), 0);
	ck_assert_uint_eq(r.payload_len, 4);
	ck_assert_mem_eq(r.payload, "cba", 3);
	ck_assert_int_eq(r.payload[3], a.key[0]);
	ck_assert_int_eq(calls, 1);
	m.name = (const uint8_t *)"no";
	m.name_len = 2;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_INVALID);
	m.name = (const uint8_t *)"ech";
	m.name_len = 3;
	ck_assert_int_eq(request(srv, &a, &m, NULL), TRYST_ERR_RDV_COMMAND);
	ck_assert_int_eq(calls, 1);
	close_client(srv, &a);
	trst_rdv_server_free(srv);
}
END_TEST

START_TEST(test_stats)
{
	trst_rdv_server *srv = mk_server(NULL);
	struct client a, b;
	struct trst_rdv_stats st;
	char json[1024];
	uint64_t ida, idb;

	open_client(srv, &a, 1, "198.51.100.1", 1000);
	open_client(srv, &b, 2, "203.0.113.2", 2000);
	ck_assert_int_eq(do_register(srv, &a, "x", 60, NULL), 0);
	ck_assert_int_eq(do_register(srv, &a, "y", 60, NULL), 0);
	ck_assert_int_eq(do_register(srv, &b, "y", 60, NULL), 0);
	ck_assert_int_eq(do_register(srv, &b, "", 60, NULL), TRYST_ERR_RDV_NAMESPACE);
	relay_open(srv, &a, &b, &ida, &idb);
	ck_assert_int_eq(relay_send(srv, &a.addr, ida, 123), 0);
	st = stats(srv);
	ck_assert_uint_eq(st.sessions, 2);
	ck_assert_uint_eq(st.keys, 2);
	ck_assert_uint_eq(st.namespaces, 2);
	ck_assert_uint_eq(st.registrations, 3);
	ck_assert_uint_eq(st.circuits, 1);
	ck_assert_uint_eq(st.requests, 5);
	ck_assert_uint_eq(st.relayed_bytes, 123);
	ck_assert_uint_eq(st.dropped[TRST_RDV_DROP_LIMIT], 1);
	int n = trst_rdv_stats_json(&st, json, sizeof json);
	ck_assert_int_lt(n, (int)sizeof json);
	ck_assert_ptr_nonnull(strstr(json, "\"registrations\":3,"));
	ck_assert_ptr_nonnull(strstr(json, "\"namespaces\":2,"));
	ck_assert_ptr_nonnull(strstr(json, "\"relayed_bytes\":123,"));
	ck_assert_ptr_nonnull(strstr(json, "\"limit\":1,"));
	ck_assert_int_eq(json[0], '{');
	ck_assert_int_eq(json[n - 1], '}');
	ck_assert_ptr_null(strchr(json, '\n'));
	/* freeing with live state makes no callback and leaks nothing (ASan) */
	int before = n_sent;
	trst_rdv_server_free(srv);
	ck_assert_int_eq(n_sent, before);
	tryst_identity_free(a.id);
	tryst_identity_free(b.id);
}
END_TEST

START_TEST(test_config_checked)
{
	struct trst_rdv_config cfg;
	trst_rdv_server *srv;
	trst_rdv_config_default(&cfg);
	cfg.discover_max = 1001;
	ck_assert_int_eq(trst_rdv_server_new(&cfg, &cbs, NULL, now, &srv), TRYST_ERR_INVALID);
	trst_rdv_config_default(&cfg);
	cfg.ttl_min = cfg.ttl_max + 1;
	ck_assert_int_eq(trst_rdv_server_new(&cfg, &cbs, NULL, now, &srv), TRYST_ERR_INVALID);
	trst_rdv_config_default(&cfg);
	cfg.namespace_max = 256;
	ck_assert_int_eq(trst_rdv_server_new(&cfg, &cbs, NULL, now, &srv), TRYST_ERR_INVALID);
	trst_rdv_config_default(&cfg);
	cfg.memory_max = 1000; /* not even the response buffer */
	ck_assert_int_eq(trst_rdv_server_new(&cfg, &cbs, NULL, now, &srv), TRYST_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rdv");
	TCase *codec = tcase_create("codec");
	TCase *server = tcase_create("server");
	tcase_add_test(codec, test_roundtrip);
	tcase_add_test(codec, test_decode_refusals);
	tcase_add_test(codec, test_vectors);
	tcase_add_test(codec, test_vector_server_answer);
	tcase_add_test(server, test_register_lookup_unregister);
	tcase_add_test(server, test_expiry_without_requests);
	tcase_add_test(server, test_discover_cookies_paging);
	tcase_add_test(server, test_limits);
	tcase_add_test(server, test_records_refused);
	tcase_add_test(server, test_bad_input);
	tcase_add_test(server, test_stream_byte_by_byte);
	tcase_add_test(server, test_reflect);
	tcase_add_test(server, test_rate_limit_flood);
	tcase_add_test(server, test_memory_budget);
	tcase_add_test(server, test_connect_pushes_both);
	tcase_add_test(server, test_relay_forwarding);
	tcase_add_test(server, test_relay_limits);
	tcase_add_test(server, test_app_commands);
	tcase_add_test(server, test_stats);
	tcase_add_test(server, test_config_checked);
	tcase_set_timeout(server, 60);
	suite_add_tcase(s, codec);
	suite_add_tcase(s, server);
	return tu_run(s);
}

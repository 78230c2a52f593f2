/*
 * disco.c: a node's discovery glue.  It binds the DHT backend (dht.c) to
 * the node: it builds and keeps publishing the node's own record (its
 * candidate addresses), dials by key (look the key up, knock on its inbox,
 * watch its pointer and hand every candidate to the dialing connection),
 * and on the listening side answers knocks with PUNCH probes
 * (doc/PROTOCOL.md, "Punching").
 */
#include "config.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "client.h"
#include "dht.h"
#include "node.h"

/* The record we publish lives this long; it is signed anew well before. */
#define RECORD_TTL_S      7200u
#define RECORD_RESIGN_US  (1800ull * 1000000ull)
#define CANDIDATE_POLL_S  10 /* how often interfaces are looked at again */
#define MAX_PUNCHES       64 /* listener side: dialers punched at once */
#define PUNCH_DURATION_US (10ull * 1000000ull)
/* A dial by key asks the DHT again after 250 ms, 500 ms, 1 s, 2 s, ...
 * (at most every 2 s) while nothing answers: a DHT node that has just
 * started knows few others, so its first get may find nothing and its
 * first knock may go nowhere. */
#define DIAL_RETRY_FIRST_MS 250
#define DIAL_RETRY_MAX_MS   2000
#define DIAL_MAX_KNOCKS     5
/* Probe rounds: quick at first (both sides start at nearly the same
 * moment, and a NAT mapping must exist before the other's packet lands),
 * then backing off. */
static const uint32_t punch_gaps_ms[] = {0, 20, 30, 50, 100, 200, 400, 800, 1000};

struct dial_job {
	struct trst_disco *d;
	tryst_conn *conn;
	uint8_t key[TRYST_KEY_SIZE];
	uint8_t token[TRST_TOKEN_SIZE];
	trst_dht_op *lookup, *watch;
	struct event *retry;  /* lookup and knock again */
	unsigned tries;
	int found;            /* a record arrived (lookup or watch) */
	struct dial_job *next;
};

struct lookup_job {
	struct trst_disco *d;
	tryst_lookup_fn cb;
	void *user_data;
	trst_dht_op *op;
	struct lookup_job *next;
};

struct punch {
	uint8_t key[TRYST_KEY_SIZE];
	uint8_t token[TRST_TOKEN_SIZE];
	struct sockaddr_storage addrs[TRYST_RECORD_MAX_CANDIDATES];
	size_t n_addrs;
	uint64_t until_us, next_us;
	unsigned round;
	int live;
};

struct trst_disco {
	tryst_node *node;
	trst_dht *dht;               /* NULL: no DHT */
	struct trst_client *client;  /* NULL: no rendezvous server */
	int publish;
	uint32_t timeout_ms;
	tryst_record own;
	uint8_t own_raw[TRYST_RECORD_MAX_SIZE];
	size_t own_len;
	uint64_t own_signed_us;
	struct event *refresh_ev, *punch_ev;
	struct dial_job *dials;
	struct lookup_job *lookups;
	struct punch punches[MAX_PUNCHES];
};

static uint64_t now_us(void)
{
	return tryst_now_us();
}

/* ---- our own candidates and record ---- */

static int usable_v6(const struct in6_addr *a)
{
	/* Link-local addresses need a scope the record cannot carry. */
	return !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_MULTICAST(a) &&
	       !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_V4MAPPED(a);
}

static void add_cand(tryst_record *r, const struct sockaddr *sa, uint16_t port)
{
	if (r->n_candidates >= TRYST_RECORD_MAX_CANDIDATES)
		return;
	tryst_candidate *c = &r->candidates[r->n_candidates];
	memset(c, 0, sizeof *c);
	c->kind = TRYST_CAND_HOST;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&c->addr;
		*s4 = *(const struct sockaddr_in *)sa;
		s4->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->addr;
		*s6 = *(const struct sockaddr_in6 *)sa;
		s6->sin6_port = htons(port);
		s6->sin6_scope_id = 0;
		s6->sin6_flowinfo = 0;
	}
	for (uint8_t i = 0; i < r->n_candidates; i++)
		if (trst_sockaddr_equal((struct sockaddr *)&r->candidates[i].addr,
		                        (struct sockaddr *)&c->addr))
			return;
	r->n_candidates++;
}

/* Host candidates: the bound address if the socket is bound to one, else
 * every address of every interface that is up; loopback ones only when
 * there is nothing else (tests and the demo run on loopback). */
static void gather_candidates(struct trst_disco *d, tryst_record *r)
{
	struct sockaddr_storage bound;
	uint16_t port = tryst_node_port(d->node);
	struct ifaddrs *ifs = NULL;

	r->n_candidates = 0;
	trst_node_bound_address(d->node, &bound);
	if (bound.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&bound)->sin_addr.s_addr != htonl(INADDR_ANY)) {
		add_cand(r, (struct sockaddr *)&bound, port);
		return;
	}
	if (bound.ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&bound)->sin6_addr)) {
		add_cand(r, (struct sockaddr *)&bound, port);
		return;
	}
	int v4_only = bound.ss_family == AF_INET;
	if (getifaddrs(&ifs) < 0)
		ifs = NULL;
	for (int loop = 0; loop < 2 && !r->n_candidates; loop++)
		for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
			if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
			    !!(i->ifa_flags & IFF_LOOPBACK) != loop)
				continue;
			if (i->ifa_addr->sa_family == AF_INET)
				add_cand(r, i->ifa_addr, port);
			else if (!v4_only && i->ifa_addr->sa_family == AF_INET6 &&
			         usable_v6(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
				add_cand(r, i->ifa_addr, port);
		}
	if (ifs)
		freeifaddrs(ifs);
	if (!r->n_candidates) {
		struct sockaddr_in lo = {.sin_family = AF_INET};
		lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		add_cand(r, (struct sockaddr *)&lo, port);
	}
}

static int same_candidates(const tryst_record *a, const tryst_record *b)
{
	if (a->n_candidates != b->n_candidates || a->n_servers != b->n_servers)
		return 0;
	for (uint8_t i = 0; i < a->n_servers; i++)
		if (memcmp(a->servers[i].key, b->servers[i].key, TRYST_KEY_SIZE) != 0)
			return 0;
	for (uint8_t i = 0; i < a->n_candidates; i++)
		if (a->candidates[i].kind != b->candidates[i].kind ||
		    !trst_sockaddr_equal((const struct sockaddr *)&a->candidates[i].addr,
		                         (const struct sockaddr *)&b->candidates[i].addr))
			return 0;
	return 1;
}

/* Sign a new record when the candidates changed or the old one ages;
 * publish it at once (the DHT module cancels the old puts). */
static int refresh_record(struct trst_disco *d, int force)
{
	tryst_record r;
	uint64_t now = now_us();
	int rc;

	memset(&r, 0, sizeof r);
	gather_candidates(d, &r);
	if (d->client) {
		/* What servers saw: the NAT's mapping of our socket. */
		struct sockaddr_storage sr[TRYST_RECORD_MAX_SERVERS];
		size_t n = trst_client_srflx(d->client, sr, TRYST_RECORD_MAX_SERVERS);
		for (size_t i = 0; i < n && r.n_candidates < TRYST_RECORD_MAX_CANDIDATES; i++) {
			int dup = 0;
			for (uint8_t k = 0; k < r.n_candidates; k++)
				dup |= trst_sockaddr_equal((struct sockaddr *)&r.candidates[k].addr,
				                           (struct sockaddr *)&sr[i]);
			if (dup)
				continue;
			r.candidates[r.n_candidates].kind = TRYST_CAND_SRFLX;
			r.candidates[r.n_candidates].addr = sr[i];
			r.n_candidates++;
		}
		r.n_servers = (uint8_t)trst_client_servers(d->client, r.servers,
		                                           TRYST_RECORD_MAX_SERVERS);
	}
	if (!force && d->own_len && same_candidates(&r, &d->own) &&
	    now - d->own_signed_us < RECORD_RESIGN_US)
		return 0;
	r.seq = now;
	r.ttl = RECORD_TTL_S;
	r.nat = TRYST_NAT_UNKNOWN;
	if ((rc = tryst_record_encode(&r, trst_node_identity(d->node), d->own_raw,
	                              sizeof d->own_raw, &d->own_len)) < 0) {
		d->own_len = 0;
		return rc;
	}
	tryst_identity_public_key(trst_node_identity(d->node), r.key);
	d->own = r;
	d->own_signed_us = now;
	TRST_LOG(TRYST_LOG_DEBUG, "disco: new record, %u candidates", (unsigned)r.n_candidates);
	if (d->client)
		trst_client_set_record(d->client, d->own_raw, d->own_len);
	if (d->publish && d->dht)
		return trst_dht_publish(d->dht, d->own_raw, d->own_len);
	return 0;
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	refresh_record(arg, 0);
}

/* ---- dialing by key ---- */

static void dial_record(struct dial_job *j, const tryst_record *rec)
{
	struct sockaddr_storage addrs[TRYST_RECORD_MAX_CANDIDATES];
	size_t added = trst_node_dial_add(j->conn, addrs, trst_record_addrs(rec, addrs));
	TRST_LOG(TRYST_LOG_DEBUG, "disco: record seq %llu gave %zu new candidates",
	         (unsigned long long)rec->seq, added);
}

static void dial_lookup_cb(void *ud, int err, const tryst_record *rec, const uint8_t *raw,
                           size_t rawlen)
{
	struct dial_job *j = ud;
	(void)raw;
	(void)rawlen;
	j->lookup = NULL; /* a lookup ends with its one answer */
	if (err < 0 || !rec) {
		/* Not found (yet): the watch goes on, and the retry timer
		 * asks again, until the handshake timeout. */
		TRST_LOG(TRYST_LOG_DEBUG, "disco: lookup: %s", tryst_strerror(err));
		return;
	}
	j->found = 1;
	dial_record(j, rec);
}

static void dial_knock(struct dial_job *j)
{
	struct trst_disco *d = j->d;
	if (d->own_len && j->tries < DIAL_MAX_KNOCKS)
		trst_dht_knock(d->dht, j->key, d->own_raw, d->own_len, j->token);
}

static void dial_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial_job *j = arg;
	(void)fd;
	(void)what;
	j->tries++;
	if (!j->found && !j->lookup)
		trst_dht_lookup(j->d->dht, j->key, j->d->timeout_ms, dial_lookup_cb, j, &j->lookup);
	/* Knock again: the first may have gone out before our DHT node knew
	 * where the inbox lives, or before the listener listened. */
	dial_knock(j);
	unsigned ms = DIAL_RETRY_FIRST_MS << (j->tries < 4 ? j->tries : 4);
	if (ms > DIAL_RETRY_MAX_MS)
		ms = DIAL_RETRY_MAX_MS;
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(j->retry, &tv);
}

static void dial_watch_cb(void *ud, int err, const tryst_record *rec, const uint8_t *raw,
                          size_t rawlen)
{
	(void)raw;
	(void)rawlen;
	if (err == 0 && rec) {
		((struct dial_job *)ud)->found = 1;
		dial_record(ud, rec);
	}
}

static void dial_job_free(struct dial_job *j)
{
	trst_dht_cancel(j->lookup);
	trst_dht_cancel(j->watch);
	if (j->retry)
		event_free(j->retry);
	trst_free(j);
}

void trst_disco_dial_done(struct trst_disco *d, tryst_conn *c)
{
	if (d->client)
		trst_client_dial_done(d->client, c);
	for (struct dial_job **pp = &d->dials; *pp; pp = &(*pp)->next)
		if ((*pp)->conn == c) {
			struct dial_job *j = *pp;
			*pp = j->next;
			dial_job_free(j);
			return;
		}
}

TRYST_EXPORT int tryst_node_connect_key(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                                        void *conn_user_data, tryst_conn **out)
{
	struct trst_disco *d;
	struct dial_job *j;
	uint8_t token[TRST_TOKEN_SIZE];
	int rc;

	if (!n || !key || !out)
		return TRYST_ERR_INVALID;
	if (!(d = trst_node_disco(n)))
		return TRYST_ERR_NO_DISCOVERY;
	if (!(j = trst_calloc(1, sizeof *j)))
		return TRYST_ERR_NOMEM;
	randombytes_buf(token, sizeof token);
	if ((rc = trst_node_dial_start(n, key, token, conn_user_data, &j->conn)) < 0) {
		trst_free(j);
		return rc;
	}
	j->d = d;
	memcpy(j->key, key, TRYST_KEY_SIZE);
	memcpy(j->token, token, TRST_TOKEN_SIZE);
	j->next = d->dials;
	d->dials = j;
	/* Everything at once, whichever answers first wins.  In the DHT: the
	 * lookup finds where the key is; the knock makes the key's node punch
	 * towards us (it may be behind a NAT that drops our initiations until
	 * it has sent to us); the watch follows a record that appears or
	 * changes while we dial.  At the servers: LOOKUP and CONNECT, which
	 * has both sides punch at the same moment. */
	refresh_record(d, 0);
	if (d->dht &&
	    ((rc = trst_dht_lookup(d->dht, key, d->timeout_ms, dial_lookup_cb, j, &j->lookup)) < 0 ||
	     (rc = trst_dht_watch(d->dht, key, dial_watch_cb, j, &j->watch)) < 0)) {
		tryst_conn_free(j->conn); /* dial_done frees the job */
		return rc;
	}
	if (d->dht) {
		struct timeval tv = {0, DIAL_RETRY_FIRST_MS * 1000};
		dial_knock(j);
		if (!(j->retry = evtimer_new(trst_node_base(n), dial_retry_cb, j))) {
			tryst_conn_free(j->conn);
			return TRYST_ERR_NOMEM;
		}
		evtimer_add(j->retry, &tv);
	}
	if (d->client && (rc = trst_client_dial(d->client, j->conn, key, token)) < 0) {
		tryst_conn_free(j->conn);
		return rc;
	}
	*out = j->conn;
	return 0;
}

/* ---- looking a key up ---- */

static void lookup_cb(void *ud, int err, const tryst_record *rec, const uint8_t *raw,
                      size_t rawlen)
{
	struct lookup_job *j = ud;
	struct trst_disco *d = j->d;
	(void)raw;
	(void)rawlen;
	for (struct lookup_job **pp = &d->lookups; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	j->cb(d->node, err < 0 ? err : 0, err < 0 ? NULL : rec, j->user_data);
	trst_free(j);
}

TRYST_EXPORT int tryst_node_lookup(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                                   tryst_lookup_fn cb, void *user_data)
{
	struct trst_disco *d;
	struct lookup_job *j;
	int rc;

	if (!n || !key || !cb)
		return TRYST_ERR_INVALID;
	if (!(d = trst_node_disco(n)) || !d->dht)
		return TRYST_ERR_NO_DISCOVERY;
	if (!crypto_core_ed25519_is_valid_point(key))
		return TRYST_ERR_KEY_INVALID;
	if (!(j = trst_calloc(1, sizeof *j)))
		return TRYST_ERR_NOMEM;
	j->d = d;
	j->cb = cb;
	j->user_data = user_data;
	if ((rc = trst_dht_lookup(d->dht, key, d->timeout_ms, lookup_cb, j, &j->op)) < 0) {
		trst_free(j);
		return rc;
	}
	j->next = d->lookups;
	d->lookups = j;
	return 0;
}

TRYST_EXPORT int tryst_node_record(const tryst_node *n, tryst_record *out)
{
	struct trst_disco *d;
	if (!n || !out)
		return TRYST_ERR_INVALID;
	if (!(d = trst_node_disco(n)) || !d->own_len)
		return TRYST_ERR_NO_DISCOVERY;
	*out = d->own;
	return 0;
}

TRYST_EXPORT uint16_t tryst_node_dht_port(const tryst_node *n)
{
	struct trst_disco *d = n ? trst_node_disco(n) : NULL;
	return d && d->dht ? trst_dht_port(d->dht) : 0;
}

/* ---- the listening side: knocks and punching ---- */

static void punch_arm(struct trst_disco *d)
{
	uint64_t next = UINT64_MAX, now = now_us();
	for (size_t i = 0; i < MAX_PUNCHES; i++)
		if (d->punches[i].live && d->punches[i].next_us < next)
			next = d->punches[i].next_us;
	if (next == UINT64_MAX) {
		evtimer_del(d->punch_ev);
		return;
	}
	uint64_t wait = next > now ? next - now : 0;
	struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
	evtimer_add(d->punch_ev, &tv);
}

static void punch_send(struct trst_disco *d, struct punch *p)
{
	uint8_t probe[TRST_PUNCH_SIZE];
	trst_punch_encode(p->token, probe);
	for (size_t i = 0; i < p->n_addrs; i++) {
		socklen_t l = p->addrs[i].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                                : sizeof(struct sockaddr_in);
		trst_node_send_raw(d->node, (struct sockaddr *)&p->addrs[i], l, probe, sizeof probe);
	}
}

static void punch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trst_disco *d = arg;
	uint64_t now = now_us();
	(void)fd;
	(void)what;
	for (size_t i = 0; i < MAX_PUNCHES; i++) {
		struct punch *p = &d->punches[i];
		if (!p->live || p->next_us > now)
			continue;
		if (now >= p->until_us) {
			p->live = 0;
			continue;
		}
		punch_send(d, p);
		p->round++;
		unsigned k = p->round < TRST_ARRAY_LEN(punch_gaps_ms)
		                 ? p->round
		                 : (unsigned)TRST_ARRAY_LEN(punch_gaps_ms) - 1;
		p->next_us = now + (uint64_t)punch_gaps_ms[k] * 1000;
	}
	punch_arm(d);
}

/* Punch towards a dialer: `key` dials us and may sit behind a NAT that
 * lets our packets in only once we sent to it. */
static void punch_start(struct trst_disco *d, const uint8_t key[TRYST_KEY_SIZE],
                        const struct sockaddr_storage *addrs, size_t n,
                        const uint8_t token[TRST_TOKEN_SIZE])
{
	struct punch *p = NULL;
	uint64_t now = now_us();

	/* A knock that comes after the dialer got through (a repeat, or one
	 * slower than the direct path) needs no punching. */
	if (trst_node_connected_to(d->node, key))
		return;

	/* One session per dialer key: a new knock restarts it with the new
	 * token and candidates. */
	for (size_t i = 0; i < MAX_PUNCHES && !p; i++)
		if (d->punches[i].live && memcmp(d->punches[i].key, key, TRYST_KEY_SIZE) == 0)
			p = &d->punches[i];
	for (size_t i = 0; i < MAX_PUNCHES && !p; i++)
		if (!d->punches[i].live)
			p = &d->punches[i];
	if (!p) {
		TRST_LOG(TRYST_LOG_INFO, "disco: knock dropped: %d punches already running",
		         MAX_PUNCHES);
		return;
	}
	memset(p, 0, sizeof *p);
	memcpy(p->key, key, TRYST_KEY_SIZE);
	memcpy(p->token, token, TRST_TOKEN_SIZE);
	for (size_t i = 0; i < n && p->n_addrs < TRST_ARRAY_LEN(p->addrs); i++)
		p->addrs[p->n_addrs++] = addrs[i];
	p->live = 1;
	p->until_us = now + PUNCH_DURATION_US;
	p->next_us = now;
	TRST_LOG(TRYST_LOG_DEBUG, "disco: punching towards %zu addresses", p->n_addrs);
	punch_arm(d);
}

static void knock_cb(void *ud, const tryst_record *dialer, const uint8_t token[16])
{
	struct sockaddr_storage a[TRYST_RECORD_MAX_CANDIDATES];
	punch_start(ud, dialer->key, a, trst_record_addrs(dialer, a), token);
}

static void client_punch_cb(void *ud, const uint8_t key[TRYST_KEY_SIZE],
                            const struct sockaddr_storage *addrs, size_t n,
                            const uint8_t token[TRST_TOKEN_SIZE])
{
	punch_start(ud, key, addrs, n, token);
}

static void client_srflx_cb(void *ud)
{
	refresh_record(ud, 0);
}

void trst_disco_peer_arrived(struct trst_disco *d, const uint8_t key[TRYST_KEY_SIZE])
{
	for (size_t i = 0; i < MAX_PUNCHES; i++)
		if (d->punches[i].live && memcmp(d->punches[i].key, key, TRYST_KEY_SIZE) == 0)
			d->punches[i].live = 0;
}

/* ---- lifetime ---- */

int trst_disco_new(tryst_node *n, const struct tryst_node_config *cfg, struct trst_disco **out)
{
	struct trst_disco *d;
	struct trst_dht_config dc;
	int rc;

	if (!(d = trst_calloc(1, sizeof *d)))
		return TRYST_ERR_NOMEM;
	d->node = n;
	d->publish = cfg->publish;
	d->timeout_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : 10000;
	memset(&dc, 0, sizeof dc);
	dc.id = trst_node_identity(n);
	dc.bootstrap = cfg->bootstrap;
	dc.n_bootstrap = cfg->n_bootstrap;
	dc.port = cfg->dht_port;
	dc.network = cfg->dht_network;
	dc.op_timeout_ms = d->timeout_ms;
	struct event_base *base = trst_node_base(n);
	struct timeval poll = {CANDIDATE_POLL_S, 0};
	rc = TRYST_ERR_NOMEM;
	if (!(d->refresh_ev = event_new(base, -1, EV_PERSIST, refresh_cb, d)) ||
	    !(d->punch_ev = evtimer_new(base, punch_cb, d)))
		goto fail;
	if (cfg->dht && (rc = trst_dht_new(base, &dc, &d->dht)) < 0)
		goto fail;
	if (cfg->n_servers) {
		static const struct trst_client_callbacks ccb = {.punch = client_punch_cb,
		                                                 .srflx = client_srflx_cb};
		if ((rc = trst_client_new(n, cfg, &ccb, d, &d->client)) < 0)
			goto fail;
	}
	if ((rc = refresh_record(d, 1)) < 0)
		goto fail;
	if (d->publish && d->dht && (rc = trst_dht_listen_inbox(d->dht, knock_cb, d)) < 0)
		goto fail;
	event_add(d->refresh_ev, &poll);
	*out = d;
	return 0;
fail:
	trst_disco_free(d);
	return rc;
}

void trst_disco_free(struct trst_disco *d)
{
	if (!d)
		return;
	while (d->dials) {
		struct dial_job *j = d->dials;
		d->dials = j->next;
		dial_job_free(j);
	}
	while (d->lookups) {
		struct lookup_job *j = d->lookups;
		d->lookups = j->next;
		trst_dht_cancel(j->op);
		trst_free(j);
	}
	trst_client_free(d->client);
	trst_dht_free(d->dht);
	if (d->refresh_ev)
		event_free(d->refresh_ev);
	if (d->punch_ev)
		event_free(d->punch_ev);
	sodium_memzero(d, sizeof *d);
	trst_free(d);
}

struct trst_client *trst_node_client(const tryst_node *n)
{
	struct trst_disco *d = trst_node_disco(n);
	return d ? d->client : NULL;
}

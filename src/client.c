/*
 * client.c: a node's bindings with its rendezvous servers (DESIGN.md
 * section 4, backend 2).  For each configured server it keeps a
 * connection and a control stream (doc/PROTOCOL.md, "Rendezvous server"):
 * it learns its reflexive address (REFLECT), registers its record in its
 * namespaces and renews at ~80 % of the granted TTL, checks the server is
 * still there every keepalive period and, when it is not (a restart, a
 * lost path), dials again and registers anew within seconds.  A dial by
 * key asks every ready server at once: LOOKUP for the record and CONNECT,
 * which makes the server tell both peers about each other in the same
 * instant so both punch together.  A dial that has not succeeded after
 * relay_after_ms opens a relay circuit to the key through a server and
 * tries it too (relay.h); the dialed side learns of the circuit from the
 * server's RELAY_OPENED push and answers there.
 */
#include "config.h"

#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "client.h"
#include "node.h"
#include "rdv.h"

#define MAX_PENDING         64
#define RECONNECT_FIRST_US  500000ull
#define RECONNECT_MAX_US    8000000ull
#define KEY_QUERY_GAP_US    500000ull
/* A REFLECT unanswered for one keepalive period (at most this): the
 * server is gone, so a restart is noticed within two periods. */
#define HEALTH_ANSWER_MAX_US 5000000ull
#define DEFAULT_NAMESPACE   "tryst"
#define RELAY_AFTER_US       2500000ull /* relay_after_ms 0 */
#define RELAY_RETRY_US       250000ull  /* no server ready yet to open a circuit */

enum srv_state { S_KEYQUERY, S_DIALING, S_READY, S_WAIT };

struct pending {
	uint32_t id;
	uint8_t type;
	tryst_conn *dial; /* LOOKUP/CONNECT for this dial */
	size_t ns;        /* REGISTER: which namespace */
	trst_client_reply_fn reply; /* trst_client_request: who gets the answer */
	void *reply_ud;
};

struct srv {
	struct trst_client *cl;
	int state;
	uint8_t key[TRYST_KEY_SIZE];
	int has_key;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	tryst_conn *conn;
	tryst_stream *st;
	struct event *timer;
	uint64_t next_action_us, reconnect_gap, health_sent_us, health_due_us;
	uint64_t renew_us; /* when to register again */
	uint32_t next_id;
	struct pending pending[MAX_PENDING];
	size_t n_pending;
	uint32_t generation; /* counts the bindings made (trst_client_request) */
	int have_srflx;
	struct sockaddr_storage srflx;
};

struct dial {
	struct trst_client *cl;
	struct event *relay_ev; /* when to open a relay circuit (NULL: never) */
	tryst_conn *conn;
	uint8_t key[TRYST_KEY_SIZE];
	uint8_t token[TRST_TOKEN_SIZE];
	struct event *retry; /* ask the servers again */
	unsigned tries;
	int brokered; /* a server said yes to CONNECT: both sides were told */
	struct dial *next;
};

struct trst_client {
	tryst_node *node;
	struct srv *srv;
	size_t n_srv;
	char **ns;
	size_t n_ns;
	uint8_t *ns_left; /* trst_client_unregistered: no longer registered there */
	int publish;
	uint32_t ttl;
	uint64_t keepalive_us;
	uint64_t relay_after_us; /* UINT64_MAX: never */
	int relay_only;
	const uint8_t *record; /* our current record (owned by disco) */
	size_t record_len;
	struct dial *dials;
	struct trst_client_callbacks cb;
	void *ud;
};

static const struct trst_conn_hooks hooks;

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void srv_arm(struct srv *s, uint64_t at)
{
	uint64_t now = mono();
	uint64_t wait = at > now ? at - now : 0;
	struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
	s->next_action_us = at;
	evtimer_add(s->timer, &tv);
}

/* ---- requests ---- */

static int send_msg(struct srv *s, struct trst_rdv_msg *m, tryst_conn *dial, size_t ns)
{
	uint8_t buf[TRST_RDV_REQUEST_MAX];
	size_t len;
	if (s->state != S_READY || !s->st || s->n_pending == MAX_PENDING)
		return TRYST_ERR_AGAIN;
	if (++s->next_id == 0)
		s->next_id = 1;
	m->id = s->next_id;
	int rc = trst_rdv_encode(m, buf, sizeof buf, &len);
	if (rc < 0)
		return rc;
	struct pending *p = &s->pending[s->n_pending++];
	p->id = m->id;
	p->type = m->type;
	p->dial = dial;
	p->ns = ns;
	p->reply = NULL;
	p->reply_ud = NULL;
	bufferevent_write(tryst_stream_bufferevent(s->st), buf, len);
	return 0;
}

static void send_register(struct srv *s)
{
	struct trst_client *cl = s->cl;
	if (!cl->publish || !cl->record_len)
		return;
	for (size_t i = 0; i < cl->n_ns; i++) {
		struct trst_rdv_msg m;
		if (cl->ns_left[i])
			continue;
		memset(&m, 0, sizeof m);
		m.type = TRST_RDV_REGISTER;
		m.ns = (const uint8_t *)cl->ns[i];
		m.ns_len = strlen(cl->ns[i]);
		m.ttl = cl->ttl;
		m.record = cl->record;
		m.record_len = cl->record_len;
		send_msg(s, &m, NULL, i);
	}
}

static void send_reflect(struct srv *s)
{
	struct trst_rdv_msg m;
	memset(&m, 0, sizeof m);
	m.type = TRST_RDV_REFLECT;
	if (send_msg(s, &m, NULL, 0) == 0)
		s->health_sent_us = mono();
}

static void dial_ask(struct srv *s, struct dial *d)
{
	struct trst_rdv_msg m;
	memset(&m, 0, sizeof m);
	m.type = TRST_RDV_LOOKUP;
	m.key = d->key;
	send_msg(s, &m, d->conn, 0);
	memset(&m, 0, sizeof m);
	m.type = TRST_RDV_CONNECT;
	m.key = d->key;
	m.token = d->token;
	send_msg(s, &m, d->conn, 0);
}

/* ---- connection to the server ---- */

/* Tell the owners of requests still waiting for an answer (the answer
 * will never come: it would arrive on a binding that is gone).  The
 * pending list is emptied first, so the callbacks may make new requests. */
static void fail_replies(struct srv *s, int err)
{
	struct pending p[MAX_PENDING];
	size_t n = 0;
	for (size_t i = 0; i < s->n_pending; i++)
		if (s->pending[i].reply)
			p[n++] = s->pending[i];
	s->n_pending = 0;
	for (size_t i = 0; i < n; i++)
		p[i].reply(p[i].reply_ud, err, NULL);
}

static void srv_reset(struct srv *s, const char *why)
{
	TRST_LOG(TRYST_LOG_INFO, "client: server binding lost (%s); dialing again", why);
	/* The server drops our circuits with the session. */
	trst_node_relay_drop_owner(s->cl->node, s, TRYST_ERR_RELAY_LOST);
	tryst_stream_free(s->st);
	s->st = NULL;
	if (s->conn) {
		tryst_conn_set_user_data(s->conn, NULL);
		tryst_conn_free(s->conn);
		s->conn = NULL;
	}
	s->state = S_WAIT;
	s->reconnect_gap = s->reconnect_gap ? s->reconnect_gap * 2 : RECONNECT_FIRST_US;
	if (s->reconnect_gap > RECONNECT_MAX_US)
		s->reconnect_gap = RECONNECT_MAX_US;
	srv_arm(s, mono() + s->reconnect_gap);
	fail_replies(s, TRYST_ERR_CLOSED);
}

static void srv_dial(struct srv *s)
{
	struct sockaddr_storage a = s->addr;
	int rc = trst_node_connect_hooked(s->cl->node, s->key, &a, 1, &hooks, s, &s->conn);
	if (rc < 0) {
		s->conn = NULL;
		srv_reset(s, tryst_strerror(rc));
		return;
	}
	s->state = S_DIALING;
}

static void send_key_query(struct srv *s)
{
	uint8_t q[TRST_KEY_QUERY_SIZE];
	trst_key_query_encode(q);
	trst_node_send_raw(s->cl->node, (struct sockaddr *)&s->addr, s->addrlen, q, sizeof q);
	srv_arm(s, mono() + KEY_QUERY_GAP_US);
}

static struct dial *dial_find(struct trst_client *cl, const tryst_conn *conn)
{
	for (struct dial *d = cl->dials; d; d = d->next)
		if (d->conn == conn)
			return d;
	return NULL;
}

/* A server refused LOOKUP or CONNECT for a dial (the key is not there yet,
 * or we asked too fast): ask again after 250 ms, 500 ms, 1 s, then every
 * 2 s, until a server brokers it or the dial ends.  A listener that
 * registers after the dial started is found that way. */
static void dial_answered(struct trst_client *cl, tryst_conn *conn, int status)
{
	struct dial *d = dial_find(cl, conn);
	if (!d)
		return;
	if (status == 0) {
		d->brokered = 1;
		return;
	}
	if (d->brokered || evtimer_pending(d->retry, NULL))
		return;
	TRST_LOG(TRYST_LOG_DEBUG, "client: dial refused (%s); asking again", tryst_strerror(status));
	unsigned ms = 250u << (d->tries < 3 ? d->tries : 3);
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(d->retry, &tv);
}

static void dial_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	(void)fd;
	(void)what;
	d->tries++;
	for (size_t i = 0; i < d->cl->n_srv; i++)
		if (d->cl->srv[i].state == S_READY)
			dial_ask(&d->cl->srv[i], d);
}

/* ---- relay circuits ---- */

static void send_relay_close(struct srv *s, uint64_t circuit)
{
	struct trst_rdv_msg m;
	memset(&m, 0, sizeof m);
	m.type = TRST_RDV_RELAY_CLOSE;
	m.circuit = circuit;
	send_msg(s, &m, NULL, 0);
}

/* No connection of the node wants the circuit any more. */
static void relay_release_cb(void *owner, uint64_t circuit)
{
	TRST_LOG(TRYST_LOG_DEBUG, "client: closing relay circuit %016llx",
	         (unsigned long long)circuit);
	send_relay_close(owner, circuit);
}

/* Our end of a circuit exists (the answer to our RELAY_OPEN, with `dial`
 * the connection that asked, or the RELAY_OPENED push when a peer opened
 * one to us, dial NULL): make it a path of the node; a dial tries it at
 * once. */
static void relay_opened(struct srv *s, uint64_t circuit, tryst_conn *dial, uint64_t max_bytes,
                         uint32_t max_seconds)
{
	struct sockaddr_storage a;
	if (trst_node_relay_add(s->cl->node, circuit, (struct sockaddr *)&s->addr, s->addrlen,
	                        relay_release_cb, s, dial != NULL, &a) < 0) {
		send_relay_close(s, circuit);
		return;
	}
	TRST_LOG(TRYST_LOG_INFO, "client: relay circuit %016llx open (%llu bytes, %u s at most)%s",
	         (unsigned long long)circuit, (unsigned long long)max_bytes, max_seconds,
	         dial ? "; dialing through it" : "");
	if (dial)
		trst_node_dial_add(dial, &a, 1);
}

/* The server closed the circuit; a connection on it ends with why. */
static void relay_closed(struct srv *s, const struct trst_rdv_msg *m)
{
	int err = m->reason == TRYST_ERR_RDV_RELAY_BYTES  ? TRYST_ERR_RELAY_BYTES
	          : m->reason == TRYST_ERR_RDV_RELAY_TIME ? TRYST_ERR_RELAY_TIME
	                                                  : TRYST_ERR_RELAY_LOST;
	TRST_LOG(TRYST_LOG_INFO, "client: relay circuit %016llx closed: %s",
	         (unsigned long long)m->circuit, tryst_strerror(m->reason));
	trst_node_relay_closed(s->cl->node, m->circuit, err);
}

/* A dial has not succeeded directly in time: open a circuit to its key
 * through the first bound server (one circuit per dial). */
static void dial_relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	(void)fd;
	(void)what;
	if (!trst_node_conn_dialing(d->conn))
		return;
	if (!d->cl->relay_only && !trst_node_dial_direct(d->conn)) {
		/* No direct candidate yet (the key registered after we
		 * asked?): punching has not even begun.  Ask again and give
		 * it its time before falling back. */
		for (size_t i = 0; i < d->cl->n_srv; i++)
			if (d->cl->srv[i].state == S_READY)
				dial_ask(&d->cl->srv[i], d);
		struct timeval tv = {(time_t)(d->cl->relay_after_us / 1000000),
		                     (suseconds_t)(d->cl->relay_after_us % 1000000)};
		evtimer_add(d->relay_ev, &tv);
		return;
	}
	for (size_t i = 0; i < d->cl->n_srv; i++) {
		struct srv *s = &d->cl->srv[i];
		struct trst_rdv_msg m;
		memset(&m, 0, sizeof m);
		m.type = TRST_RDV_RELAY_OPEN;
		m.key = d->key;
		if (send_msg(s, &m, d->conn, 0) == 0) {
			TRST_LOG(TRYST_LOG_INFO, "client: no direct path yet; asking for a relay");
			return;
		}
	}
	struct timeval tv = {0, (suseconds_t)RELAY_RETRY_US};
	evtimer_add(d->relay_ev, &tv);
}

/* A relayed datagram on the node's socket. */
static void relay_in_cb(void *ud, uint8_t *buf, size_t len, const struct sockaddr *from,
                        socklen_t fromlen)
{
	struct trst_client *cl = ud;
	trst_node_relay_input(cl->node, buf, len, from, fromlen);
}

/* ---- responses and pushes ---- */

static void handle_response(struct srv *s, const struct trst_rdv_msg *m)
{
	struct trst_client *cl = s->cl;
	struct pending p;
	size_t i;
	for (i = 0; i < s->n_pending; i++)
		if (s->pending[i].id == m->id)
			break;
	if (i == s->n_pending)
		return; /* not ours (or from before a reconnect) */
	p = s->pending[i];
	s->pending[i] = s->pending[--s->n_pending];
	if (p.reply) {
		p.reply(p.reply_ud, 0, m);
		return;
	}

	switch (p.type) {
	case TRST_RDV_REFLECT:
		s->health_sent_us = 0;
		if (m->status == 0 &&
		    (!s->have_srflx ||
		     !trst_sockaddr_equal((struct sockaddr *)&s->srflx, (struct sockaddr *)&m->addr))) {
			s->srflx = m->addr;
			s->have_srflx = 1;
			if (cl->cb.srflx)
				cl->cb.srflx(cl->ud);
		}
		break;
	case TRST_RDV_REGISTER:
		if (m->status < 0) {
			TRST_LOG(TRYST_LOG_WARN, "client: registration in '%s' refused: %s",
			         cl->ns[p.ns], tryst_strerror(m->status));
			break;
		}
		/* Renew at ~80 % of what was granted. */
		if (m->ttl) {
			uint64_t at = mono() + (uint64_t)m->ttl * 800000u;
			if (!s->renew_us || at < s->renew_us)
				s->renew_us = at;
		}
		break;
	case TRST_RDV_CONNECT:
		if (p.dial)
			dial_answered(cl, p.dial, m->status);
		break;
	case TRST_RDV_LOOKUP:
		if (m->status < 0 && p.dial)
			dial_answered(cl, p.dial, m->status);
		if (m->status == 0 && p.dial) {
			tryst_record rec;
			if (tryst_record_decode(m->record, m->record_len, NULL, 0, tryst_now_us(),
			                        &rec) == 0 &&
			    memcmp(rec.key, tryst_conn_peer_key(p.dial), TRYST_KEY_SIZE) == 0) {
				struct sockaddr_storage a[TRYST_RECORD_MAX_CANDIDATES];
				trst_node_dial_add(p.dial, a, trst_record_addrs(&rec, a));
			}
		}
		break;
	case TRST_RDV_RELAY_OPEN:
		if (m->status < 0) {
			TRST_LOG(TRYST_LOG_INFO, "client: relay circuit refused: %s",
			         tryst_strerror(m->status));
			break;
		}
		if (!p.dial) { /* the dial ended meanwhile */
			send_relay_close(s, m->circuit);
			break;
		}
		relay_opened(s, m->circuit, p.dial, m->max_bytes, m->max_seconds);
		break;
	default: break;
	}
}

static void handle_punch(struct srv *s, const struct trst_rdv_msg *m)
{
	struct trst_client *cl = s->cl;
	struct sockaddr_storage a[1 + TRYST_RECORD_MAX_CANDIDATES];
	size_t n = 0;
	tryst_record rec;

	a[n++] = m->addr; /* what the server sees: the NAT's mapping */
	if (m->record_len && tryst_record_decode(m->record, m->record_len, m->key, 0,
	                                         tryst_now_us(), &rec) == 0)
		n += trst_record_addrs(&rec, a + n);
	/* Dialing that key: these are where to send initiations. */
	for (struct dial *d = cl->dials; d; d = d->next)
		if (memcmp(d->key, m->key, TRYST_KEY_SIZE) == 0) {
			trst_node_dial_add(d->conn, a, n);
			return;
		}
	/* Else it dials us: punch towards it. */
	if (cl->cb.punch && m->token)
		cl->cb.punch(cl->ud, m->key, a, n, m->token);
}

static void ctl_read(struct bufferevent *bev, void *arg)
{
	struct srv *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		uint8_t head[4];
		if (avail < 4)
			return;
		evbuffer_copyout(in, head, 4);
		long frame = trst_rdv_frame_size(head, 4);
		if (frame <= 0 || (size_t)frame > TRST_RDV_MESSAGE_MAX) {
			srv_reset(s, "malformed message");
			return;
		}
		if (avail < (size_t)frame)
			return;
		const uint8_t *p = evbuffer_pullup(in, frame);
		struct trst_rdv_msg m;
		if (!p || trst_rdv_decode(p, (size_t)frame, &m) < 0) {
			srv_reset(s, "undecodable message");
			return;
		}
		if (m.type == TRST_RDV_PUNCH)
			handle_punch(s, &m);
		else if (m.type == TRST_RDV_RELAY_OPENED)
			relay_opened(s, m.circuit, NULL, m.max_bytes, m.max_seconds);
		else if (m.type == TRST_RDV_RELAY_CLOSED)
			relay_closed(s, &m);
		else if (m.type & TRST_RDV_RESPONSE)
			handle_response(s, &m);
		evbuffer_drain(in, (size_t)frame);
		if (s->state != S_READY)
			return;
	}
}

static void ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if ((what & BEV_EVENT_ERROR) || ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING)))
		srv_reset(arg, "control stream ended");
}

static void srv_conn_cb(tryst_conn *conn, int event, int err, void *arg)
{
	struct srv *s = arg;
	(void)conn;
	if (!s)
		return;
	if (event != TRYST_CONN_ESTABLISHED) {
		srv_reset(s, tryst_strerror(err ? err : TRYST_ERR_CLOSED));
		return;
	}
	if (tryst_stream_open(conn, &s->st) < 0) {
		srv_reset(s, "cannot open the control stream");
		return;
	}
	struct bufferevent *bev = tryst_stream_bufferevent(s->st);
	bufferevent_setcb(bev, ctl_read, NULL, ctl_event, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	s->state = S_READY;
	s->generation++;
	s->reconnect_gap = 0;
	s->renew_us = 0;
	TRST_LOG(TRYST_LOG_INFO, "client: bound to a server");
	send_reflect(s);
	send_register(s);
	for (struct dial *d = s->cl->dials; d; d = d->next)
		dial_ask(s, d);
	srv_arm(s, mono() + s->cl->keepalive_us);
}

static void srv_stream_cb(tryst_conn *conn, tryst_stream *st, void *arg)
{
	(void)conn;
	(void)arg;
	tryst_stream_reset(st, 1); /* servers open no streams */
	tryst_stream_free(st);
}

static const struct trst_conn_hooks hooks = {
    .on_conn = srv_conn_cb,
    .on_stream = srv_stream_cb,
    .on_datagram = NULL,
};

static void srv_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv *s = arg;
	uint64_t now = mono();
	(void)fd;
	(void)what;
	switch (s->state) {
	case S_KEYQUERY: send_key_query(s); return;
	case S_WAIT: srv_dial(s); return;
	case S_DIALING: return; /* the connection's own timeout decides */
	case S_READY:; /* (a declaration follows: C17 wants a statement after a label) */
		/* A check every keepalive period, independent of any TTL: a
		 * restarted server answers nothing on the old session. */
		uint64_t answer_us = s->cl->keepalive_us < HEALTH_ANSWER_MAX_US
		                         ? s->cl->keepalive_us
		                         : HEALTH_ANSWER_MAX_US;
		if (s->health_sent_us && now - s->health_sent_us >= answer_us) {
			srv_reset(s, "no answer");
			return;
		}
		if (s->renew_us && now >= s->renew_us) {
			s->renew_us = 0;
			send_register(s);
		}
		if (!s->health_sent_us)
			send_reflect(s);
		uint64_t next = now + (s->health_sent_us ? answer_us : s->cl->keepalive_us);
		if (s->renew_us && s->renew_us < next)
			next = s->renew_us;
		srv_arm(s, next);
		return;
	}
}

/* KEY_REPLY from a server we asked. */
static void key_reply_cb(void *ud, uint8_t *buf, size_t len, const struct sockaddr *from,
                         socklen_t fromlen)
{
	struct trst_client *cl = ud;
	const uint8_t *key;
	(void)fromlen;
	if (trst_key_reply_decode(buf, len, &key) < 0)
		return;
	for (size_t i = 0; i < cl->n_srv; i++) {
		struct srv *s = &cl->srv[i];
		if (s->state != S_KEYQUERY || !trst_sockaddr_equal(from, (struct sockaddr *)&s->addr))
			continue;
		memcpy(s->key, key, TRYST_KEY_SIZE);
		s->has_key = 1;
		evtimer_del(s->timer);
		srv_dial(s);
	}
}

/* ---- what disco.c uses ---- */

static void dial_free(struct dial *d)
{
	if (d->relay_ev)
		event_free(d->relay_ev);
	if (d->retry)
		event_free(d->retry);
	trst_free(d);
}

int trst_client_new(tryst_node *n, const struct tryst_node_config *cfg,
                    const struct trst_client_callbacks *cb, void *ud, struct trst_client **out)
{
	struct trst_client *cl;
	int rc = TRYST_ERR_NOMEM;

	if (!(cl = trst_calloc(1, sizeof *cl)))
		return TRYST_ERR_NOMEM;
	cl->node = n;
	cl->publish = cfg->publish;
	cl->ttl = cfg->register_ttl;
	cl->keepalive_us = (uint64_t)(cfg->keepalive_ms ? cfg->keepalive_ms : 15000) * 1000;
	cl->relay_only = cfg->relay_only;
	cl->relay_after_us = cfg->relay_only                     ? 0
	                     : cfg->relay_after_ms == UINT32_MAX ? UINT64_MAX
	                     : cfg->relay_after_ms ? (uint64_t)cfg->relay_after_ms * 1000
	                                           : RELAY_AFTER_US;
	cl->cb = *cb;
	cl->ud = ud;
	cl->n_ns = cfg->n_namespaces ? cfg->n_namespaces : 1;
	if (!(cl->ns = trst_calloc(cl->n_ns, sizeof *cl->ns)) ||
	    !(cl->ns_left = trst_calloc(cl->n_ns, 1)))
		goto fail;
	for (size_t i = 0; i < cl->n_ns; i++) {
		const char *src = cfg->n_namespaces ? cfg->namespaces[i] : DEFAULT_NAMESPACE;
		size_t l = strlen(src);
		if (!l || l > TRST_RDV_NAMESPACE_MAX) {
			rc = TRYST_ERR_INVALID;
			goto fail;
		}
		if (!(cl->ns[i] = trst_calloc(1, l + 1)))
			goto fail;
		memcpy(cl->ns[i], src, l);
	}
	if (!(cl->srv = trst_calloc(cfg->n_servers, sizeof *cl->srv)))
		goto fail;
	cl->n_srv = cfg->n_servers;
	if ((rc = trst_node_set_raw(n, TRST_KEY_REPLY_TYPE, key_reply_cb, cl)) < 0 ||
	    (rc = trst_node_set_raw(n, TRST_RDV_RELAY_BYTE, relay_in_cb, cl)) < 0)
		goto fail;
	rc = TRYST_ERR_NOMEM;
	for (size_t i = 0; i < cl->n_srv; i++) {
		struct srv *s = &cl->srv[i];
		s->cl = cl;
		s->addr = cfg->servers[i].addr;
		s->addrlen = s->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                          : sizeof(struct sockaddr_in);
		s->has_key = cfg->servers[i].has_key;
		memcpy(s->key, cfg->servers[i].key, TRYST_KEY_SIZE);
		if (!(s->timer = evtimer_new(trst_node_base(n), srv_timer_cb, s)))
			goto fail;
	}
	for (size_t i = 0; i < cl->n_srv; i++) {
		struct srv *s = &cl->srv[i];
		if (s->has_key) {
			srv_dial(s);
		} else {
			s->state = S_KEYQUERY;
			send_key_query(s);
		}
	}
	*out = cl;
	return 0;
fail:
	trst_client_free(cl);
	return rc;
}

void trst_client_free(struct trst_client *cl)
{
	if (!cl)
		return;
	for (size_t i = 0; i < cl->n_srv; i++) {
		struct srv *s = &cl->srv[i];
		/* Owners release what they gave, without telling anyone. */
		for (size_t k = 0; k < s->n_pending; k++)
			if (s->pending[k].reply)
				s->pending[k].reply(s->pending[k].reply_ud, TRST_CLIENT_CANCELLED,
				                    NULL);
		s->n_pending = 0;
		trst_node_relay_drop_owner(cl->node, s, 0);
		tryst_stream_free(s->st);
		if (s->conn) {
			tryst_conn_set_user_data(s->conn, NULL);
			tryst_conn_free(s->conn);
		}
		if (s->timer)
			event_free(s->timer);
	}
	while (cl->dials) {
		struct dial *d = cl->dials;
		cl->dials = d->next;
		dial_free(d);
	}
	for (size_t i = 0; cl->ns && i < cl->n_ns; i++)
		trst_free(cl->ns[i]);
	trst_free(cl->ns);
	trst_free(cl->ns_left);
	trst_free(cl->srv);
	trst_free(cl);
}

void trst_client_set_record(struct trst_client *cl, const uint8_t *record, size_t len)
{
	cl->record = record;
	cl->record_len = len;
	for (size_t i = 0; i < cl->n_srv; i++)
		if (cl->srv[i].state == S_READY)
			send_register(&cl->srv[i]);
}

size_t trst_client_srflx(const struct trst_client *cl, struct sockaddr_storage *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < cl->n_srv && n < max; i++)
		if (cl->srv[i].have_srflx)
			out[n++] = cl->srv[i].srflx;
	return n;
}

size_t trst_client_servers(const struct trst_client *cl, tryst_record_server *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < cl->n_srv && n < max; i++)
		if (cl->srv[i].has_key) {
			memcpy(out[n].key, cl->srv[i].key, TRYST_KEY_SIZE);
			out[n].addr = cl->srv[i].addr;
			n++;
		}
	return n;
}

int trst_client_dial(struct trst_client *cl, tryst_conn *conn, const uint8_t key[TRYST_KEY_SIZE],
                     const uint8_t token[TRST_TOKEN_SIZE])
{
	struct dial *d = trst_calloc(1, sizeof *d);
	if (!d)
		return TRYST_ERR_NOMEM;
	d->cl = cl;
	if (!(d->retry = evtimer_new(trst_node_base(cl->node), dial_retry_cb, d))) {
		trst_free(d);
		return TRYST_ERR_NOMEM;
	}
	if (cl->relay_after_us != UINT64_MAX) {
		struct timeval tv = {(time_t)(cl->relay_after_us / 1000000),
		                     (suseconds_t)(cl->relay_after_us % 1000000)};
		if (!(d->relay_ev = evtimer_new(trst_node_base(cl->node), dial_relay_cb, d))) {
			dial_free(d);
			return TRYST_ERR_NOMEM;
		}
		evtimer_add(d->relay_ev, &tv);
	}
	d->conn = conn;
	memcpy(d->key, key, TRYST_KEY_SIZE);
	memcpy(d->token, token, TRST_TOKEN_SIZE);
	d->next = cl->dials;
	cl->dials = d;
	for (size_t i = 0; i < cl->n_srv; i++)
		if (cl->srv[i].state == S_READY)
			dial_ask(&cl->srv[i], d);
	return 0;
}

void trst_client_dial_done(struct trst_client *cl, tryst_conn *conn)
{
	for (struct dial **pp = &cl->dials; *pp; pp = &(*pp)->next)
		if ((*pp)->conn == conn) {
			struct dial *d = *pp;
			*pp = d->next;
			dial_free(d);
			break;
		}
	/* Answers still on their way for it must not touch it. */
	for (size_t i = 0; i < cl->n_srv; i++)
		for (size_t k = 0; k < cl->srv[i].n_pending; k++)
			if (cl->srv[i].pending[k].dial == conn)
				cl->srv[i].pending[k].dial = NULL;
}

int trst_client_ready(const struct trst_client *cl)
{
	for (size_t i = 0; i < cl->n_srv; i++)
		if (cl->srv[i].state == S_READY)
			return 1;
	return 0;
}

/* ---- requests on behalf of the application (client_api.c) ---- */

int trst_client_request(struct trst_client *cl, size_t server, struct trst_rdv_msg *m,
                        trst_client_reply_fn reply, void *ud)
{
	if (server == TRST_CLIENT_ANY)
		trst_client_binding(cl, &server);
	if (server >= cl->n_srv || cl->srv[server].state != S_READY)
		return TRYST_ERR_NO_SERVER;
	struct srv *s = &cl->srv[server];
	int rc = send_msg(s, m, NULL, 0);
	if (rc < 0)
		return rc;
	s->pending[s->n_pending - 1].reply = reply;
	s->pending[s->n_pending - 1].reply_ud = ud;
	return 0;
}

uint64_t trst_client_binding(const struct trst_client *cl, size_t *server)
{
	for (size_t i = 0; i < cl->n_srv; i++)
		if (cl->srv[i].state == S_READY) {
			*server = i;
			return (uint64_t)(i + 1) << 32 | cl->srv[i].generation;
		}
	*server = TRST_CLIENT_ANY;
	return 0;
}

size_t trst_client_n_servers(const struct trst_client *cl)
{
	return cl->n_srv;
}

void trst_client_unregistered(struct trst_client *cl, const char *ns)
{
	for (size_t i = 0; i < cl->n_ns; i++)
		if (strcmp(cl->ns[i], ns) == 0)
			cl->ns_left[i] = 1;
}

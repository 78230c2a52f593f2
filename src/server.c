/*
 * server.c: the rendezvous server (tryst_server_*): binds the sans-I/O
 * core (rdv_server.c) to a node of its own on the caller's event_base.
 *
 * Each client dials the server's key; the first stream it opens is its
 * control stream, whose bytes go to the core and whose answers come back
 * through the core's send callback.  Relayed packets (first byte 0x30) and
 * key queries (0x14) arrive as raw datagrams on the node's socket.  One
 * timer follows the core's next deadline, so registrations expire by
 * themselves.  The node also runs the DHT node clients bootstrap from.
 */
#include "config.h"

#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "node.h"
#include "rdv.h"

/* A connection's user data is the server until the connection is
 * established, then its session: both start with `is_sess`. */
struct srv_sess {
	int is_sess; /* 1 */
	tryst_server *srv;
	tryst_conn *conn;
	tryst_stream *st;
	trst_rdv_session *sess;
	struct sockaddr_storage addr; /* the peer address the core knows */
	struct srv_sess *next, *prev;
};

struct tryst_server {
	int is_sess; /* 0 */
	struct event_base *base;
	tryst_node *node;
	trst_rdv_server *core;
	struct event *timer;
	struct srv_sess *sessions;
	uint8_t key[TRYST_KEY_SIZE];
	uint8_t dgram[65536 + TRST_RDV_RELAY_HEAD];
	uint8_t *rx; /* the relay datagram being handled (relay_cb) */
	size_t rx_len;
	struct {
		tryst_server_command_fn fn;
		void *user_data;
		tryst_server *srv;
	} commands[TRST_RDV_MAX_COMMANDS];
	size_t n_commands;
};

/* ---- the core's timer ---- */

static void arm(tryst_server *s)
{
	uint64_t now = tryst_now_us();
	trst_rdv_server_expire(s->core, now);
	uint64_t d = trst_rdv_server_next_deadline(s->core);
	if (d == UINT64_MAX) {
		evtimer_del(s->timer);
		return;
	}
	uint64_t wait = d > now ? d - now : 0;
	struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
	evtimer_add(s->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	arm(arg);
}

/* ---- the core's output ---- */

static void core_send(void *ud, void *handle, const uint8_t *msg, size_t len)
{
	struct srv_sess *ss = handle;
	(void)ud;
	if (ss->st)
		bufferevent_write(tryst_stream_bufferevent(ss->st), msg, len);
}

static void core_send_datagram(void *ud, const struct sockaddr *to, socklen_t tolen,
                               const uint8_t *head, size_t head_len, const uint8_t *payload,
                               size_t payload_len)
{
	tryst_server *s = ud;
	/* The core forwards what relay_cb handed it, with a new head of the
	 * same size: write the head over the old one and send the datagram
	 * where it lies, with no copy of the payload. */
	if (s->rx && payload == s->rx + head_len && head_len + payload_len <= s->rx_len) {
		memcpy(s->rx, head, head_len);
		trst_node_send_raw(s->node, to, tolen, s->rx, head_len + payload_len);
		return;
	}
	if (head_len + payload_len > sizeof s->dgram)
		return;
	memcpy(s->dgram, head, head_len);
	memcpy(s->dgram + head_len, payload, payload_len);
	trst_node_send_raw(s->node, to, tolen, s->dgram, head_len + payload_len);
}

/* ---- sessions ---- */

static void sess_free(struct srv_sess *ss)
{
	tryst_server *s = ss->srv;
	if (ss->sess)
		trst_rdv_server_close(s->core, ss->sess, tryst_now_us());
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		s->sessions = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	tryst_stream_free(ss->st);
	tryst_conn_free(ss->conn);
	trst_free(ss);
}

/* End a session now; its connection closes, and the CLOSED event frees
 * the rest.  Never called from inside a core callback. */
static void sess_drop(struct srv_sess *ss)
{
	if (ss->sess) {
		trst_rdv_server_close(ss->srv->core, ss->sess, tryst_now_us());
		ss->sess = NULL;
	}
	tryst_conn_close(ss->conn, 1, "rendezvous session ended");
}

static void follow_address(struct srv_sess *ss)
{
	socklen_t alen;
	const struct sockaddr *a = tryst_conn_peer_address(ss->conn, &alen);
	if (!trst_sockaddr_equal(a, (struct sockaddr *)&ss->addr)) {
		memcpy(&ss->addr, a, alen);
		trst_rdv_server_set_address(ss->srv->core, ss->sess, a, alen);
	}
}

static void ctl_read(struct bufferevent *bev, void *arg)
{
	struct srv_sess *ss = arg;
	tryst_server *s = ss->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;

	if (!ss->sess)
		return;
	follow_address(ss);
	while ((len = evbuffer_get_length(in)) > 0) {
		/* Messages are small (TRST_RDV_REQUEST_MAX); a bounded pullup
		 * keeps the copy cheap when many wait. */
		size_t take = len < 65536 ? len : 65536;
		const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)take);
		size_t used = 0;
		if (!p)
			break;
		int rc = trst_rdv_server_input(s->core, ss->sess, p, take, tryst_now_us(), &used);
		evbuffer_drain(in, used);
		if (rc < 0) {
			sess_drop(ss);
			break;
		}
		if (!used)
			break; /* a partial message: wait for the rest */
	}
	arm(s);
}

static void ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct srv_sess *ss = arg;
	/* The client finished or reset its control stream: the session is
	 * over (the connection closing says the same). */
	if ((what & BEV_EVENT_ERROR) || ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING))) {
		sess_drop(ss);
		arm(ss->srv);
	}
}

static int accept_cb(tryst_node *node, const uint8_t key[TRYST_KEY_SIZE],
                     const struct sockaddr *from, void *arg)
{
	(void)node;
	(void)key;
	(void)from;
	(void)arg;
	return 0; /* anyone may talk to a public server; the core sets limits */
}

static void conn_cb(tryst_conn *conn, int event, int err, void *arg)
{
	(void)err;
	if (event == TRYST_CONN_ESTABLISHED && !*(int *)arg) {
		tryst_server *s = arg;
		struct srv_sess *ss = trst_calloc(1, sizeof *ss);
		if (!ss) {
			tryst_conn_free(conn);
			return;
		}
		ss->is_sess = 1;
		ss->srv = s;
		ss->conn = conn;
		ss->next = s->sessions;
		if (s->sessions)
			s->sessions->prev = ss;
		s->sessions = ss;
		tryst_conn_set_user_data(conn, ss);
		return;
	}
	if (event == TRYST_CONN_CLOSED && *(int *)arg) {
		struct srv_sess *ss = arg;
		tryst_server *s = ss->srv;
		sess_free(ss);
		arm(s);
	}
}

static void stream_cb(tryst_conn *conn, tryst_stream *st, void *arg)
{
	struct srv_sess *ss = arg;
	socklen_t alen;
	const struct sockaddr *a;

	if (!*(int *)arg || ss->st) {
		/* one control stream per client; nothing else is served */
		tryst_stream_reset(st, 1);
		tryst_stream_free(st);
		return;
	}
	tryst_server *s = ss->srv;
	ss->st = st;
	a = tryst_conn_peer_address(conn, &alen);
	memcpy(&ss->addr, a, alen);
	if (trst_rdv_server_open(s->core, ss, tryst_conn_peer_key(conn), a, alen, tryst_now_us(),
	                         &ss->sess) < 0) {
		ss->sess = NULL;
		sess_drop(ss);
		return;
	}
	struct bufferevent *bev = tryst_stream_bufferevent(st);
	bufferevent_setcb(bev, ctl_read, NULL, ctl_event, ss);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	arm(s);
}

/* ---- raw datagrams on the node's socket ---- */

static void relay_cb(void *ud, uint8_t *buf, size_t len, const struct sockaddr *from,
                     socklen_t fromlen)
{
	tryst_server *s = ud;
	s->rx = buf; /* ours during the call: core_send_datagram may reuse it */
	s->rx_len = len;
	trst_rdv_server_datagram(s->core, from, fromlen, buf, len, tryst_now_us());
	s->rx = NULL;
}

/* KEY_QUERY (doc/PROTOCOL.md, "Server key query"): anyone may ask a public
 * server for its key.  The answer is smaller than the question. */
static void key_query_cb(void *ud, uint8_t *buf, size_t len, const struct sockaddr *from,
                         socklen_t fromlen)
{
	tryst_server *s = ud;
	uint8_t reply[TRST_KEY_REPLY_SIZE];
	if (trst_key_query_decode(buf, len) < 0)
		return;
	trst_key_reply_encode(s->key, reply);
	trst_node_send_raw(s->node, from, fromlen, reply, sizeof reply);
}

/* ---- application commands ---- */

static int command_tramp(void *ud, const uint8_t key[TRYST_KEY_SIZE], const uint8_t *req,
                         size_t req_len, uint8_t *out, size_t cap, size_t *out_len)
{
	/* ud points into srv->commands[] */
	const struct {
		tryst_server_command_fn fn;
		void *user_data;
		tryst_server *srv;
	} *c = ud;
	return c->fn(c->srv, key, req, req_len, out, cap, out_len, c->user_data);
}

TRYST_EXPORT int tryst_server_add_command(tryst_server *s, const char *name,
                                          tryst_server_command_fn fn, void *user_data)
{
	if (!s || !name || !fn)
		return TRYST_ERR_INVALID;
	if (s->n_commands == TRST_RDV_MAX_COMMANDS)
		return TRYST_ERR_NOMEM;
	size_t i = s->n_commands;
	s->commands[i].fn = fn;
	s->commands[i].user_data = user_data;
	s->commands[i].srv = s;
	int rc = trst_rdv_server_add_command(s->core, name, command_tramp, &s->commands[i]);
	if (rc == 0)
		s->n_commands++;
	return rc;
}

/* ---- lifetime ---- */

TRYST_EXPORT void tryst_server_config_default(struct tryst_server_config *cfg)
{
	struct trst_rdv_config rc;
	trst_rdv_config_default(&rc);
	memset(cfg, 0, sizeof *cfg);
	cfg->ttl_default = rc.ttl_default;
	cfg->ttl_min = rc.ttl_min;
	cfg->ttl_max = rc.ttl_max;
	cfg->max_per_namespace = rc.max_per_namespace;
	cfg->max_per_key = rc.max_per_key;
	cfg->discover_max = rc.discover_max;
	cfg->rate = rc.rate;
	cfg->burst = rc.burst;
	cfg->relay_max_bytes = rc.relay_max_bytes;
	cfg->relay_max_seconds = rc.relay_max_seconds;
	cfg->max_circuits_per_key = rc.max_circuits_per_key;
	cfg->memory_max = rc.memory_max;
	cfg->dht = 1;
}

TRYST_EXPORT int tryst_server_new(struct event_base *base, const struct tryst_server_config *cfg,
                                  tryst_server **out)
{
	tryst_server *s;
	struct trst_rdv_config rc;
	struct tryst_node_config nc;
	struct trst_rdv_callbacks cb = {.send = core_send, .send_datagram = core_send_datagram};
	int err;

	if (!base || !cfg || !cfg->identity || !out)
		return TRYST_ERR_INVALID;
	if (!(s = trst_calloc(1, sizeof *s)))
		return TRYST_ERR_NOMEM;
	s->base = base;
	tryst_identity_public_key(cfg->identity, s->key);
	trst_rdv_config_default(&rc);
	rc.ttl_default = cfg->ttl_default;
	rc.ttl_min = cfg->ttl_min;
	rc.ttl_max = cfg->ttl_max;
	rc.max_per_namespace = cfg->max_per_namespace;
	rc.max_per_key = cfg->max_per_key;
	rc.discover_max = cfg->discover_max;
	rc.rate = cfg->rate;
	rc.burst = cfg->burst;
	rc.relay_max_bytes = cfg->relay_max_bytes;
	rc.relay_max_seconds = cfg->relay_max_seconds;
	rc.max_circuits_per_key = cfg->max_circuits_per_key;
	rc.memory_max = cfg->memory_max;
	if ((err = trst_rdv_server_new(&rc, &cb, s, tryst_now_us(), &s->core)) < 0)
		goto fail;
	err = TRYST_ERR_NOMEM;
	if (!(s->timer = evtimer_new(base, timer_cb, s)))
		goto fail;

	tryst_node_config_default(&nc);
	nc.identity = cfg->identity;
	nc.bind_address = cfg->bind_address;
	nc.port = cfg->port;
	nc.accept = accept_cb;
	nc.on_conn = conn_cb;
	nc.on_stream = stream_cb;
	nc.user_data = s;
	/* The DHT node clients bootstrap from: it publishes nothing. */
	nc.dht = cfg->dht;
	nc.dht_port = cfg->dht_port;
	nc.dht_network = cfg->dht_network;
	nc.bootstrap = cfg->bootstrap;
	nc.n_bootstrap = cfg->n_bootstrap;
	if ((err = tryst_node_new(base, &nc, &s->node)) < 0)
		goto fail;
	if ((err = trst_node_set_raw(s->node, TRST_RDV_RELAY_BYTE, relay_cb, s)) < 0 ||
	    (err = trst_node_set_raw(s->node, TRST_KEY_QUERY_TYPE, key_query_cb, s)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	tryst_server_free(s);
	return err;
}

TRYST_EXPORT void tryst_server_free(tryst_server *s)
{
	if (!s)
		return;
	while (s->sessions)
		sess_free(s->sessions);
	tryst_node_free(s->node);
	trst_rdv_server_free(s->core);
	if (s->timer)
		event_free(s->timer);
	trst_free(s);
}

TRYST_EXPORT uint16_t tryst_server_port(const tryst_server *s)
{
	return tryst_node_port(s->node);
}

TRYST_EXPORT uint16_t tryst_server_dht_port(const tryst_server *s)
{
	return tryst_node_dht_port(s->node);
}

TRYST_EXPORT int tryst_server_stats_json(const tryst_server *s, char *out, size_t cap)
{
	struct trst_rdv_stats st;
	if (!s || !out)
		return TRYST_ERR_INVALID;
	trst_rdv_server_get_stats(s->core, &st);
	return trst_rdv_stats_json(&st, out, cap);
}

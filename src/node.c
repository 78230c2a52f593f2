/*
 * node.c: binds the sans-I/O cores to libevent: one UDP socket (udp.c),
 * handshakes (handshake.c), connections (conn.c) and their timers; the
 * bufferevent face of streams is in node_stream.c.  These are the only
 * modules of the transport that read a clock or touch the event loop.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "cc.h"
#include "conn.h"
#include "handshake.h"
#include "node.h"
#include "node_impl.h"
#include "packet.h"
#include "rxpool.h"
#include "udp.h"


static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- configuration ---- */

TRYST_EXPORT void tryst_node_config_default(struct tryst_node_config *cfg)
{
	struct trst_conn_config c;
	trst_conn_config_default(&c);
	memset(cfg, 0, sizeof *cfg);
	cfg->congestion_control = TRYST_CC_CUBIC;
	cfg->handshake_timeout_ms = 10000;
	cfg->idle_timeout_ms = (uint32_t)(c.idle_timeout_us / 1000);
	cfg->keepalive_ms = (uint32_t)(c.keepalive_us / 1000);
	cfg->stream_window = c.stream_window;
	cfg->conn_window = c.conn_window;
	cfg->stream_send_buffer = c.stream_send_buffer;
	cfg->max_streams = (uint32_t)c.max_streams;
	cfg->max_udp_payload = NODE_MAX_UDP_PAYLOAD;
	cfg->relay_after_ms = 2500;
}

/* ---- index table (receiver index -> connection) ---- */

static size_t idx_hash(uint32_t idx, size_t cap)
{
	return (size_t)((idx * 2654435761u) & (cap - 1));
}

static struct tryst_conn *idx_find(tryst_node *n, uint32_t idx)
{
	if (!n->hcap)
		return NULL;
	for (struct tryst_conn *c = n->htab[idx_hash(idx, n->hcap)]; c; c = c->hnext)
		if (c->local_index == idx)
			return c;
	return NULL;
}

static int idx_insert(tryst_node *n, struct tryst_conn *c)
{
	if (n->hcount + 1 > n->hcap) {
		size_t cap = n->hcap ? n->hcap * 2 : 64;
		struct tryst_conn **t = trst_calloc(cap, sizeof *t);
		if (!t)
			return TRYST_ERR_NOMEM;
		for (size_t i = 0; i < n->hcap; i++)
			for (struct tryst_conn *x = n->htab[i], *nx; x; x = nx) {
				nx = x->hnext;
				size_t h = idx_hash(x->local_index, cap);
				x->hnext = t[h];
				t[h] = x;
			}
		trst_free(n->htab);
		n->htab = t;
		n->hcap = cap;
	}
	/* A random index nobody else uses (WireGuard section 5.4.2). */
	do
		c->local_index = randombytes_random();
	while (idx_find(n, c->local_index));
	size_t h = idx_hash(c->local_index, n->hcap);
	c->hnext = n->htab[h];
	n->htab[h] = c;
	n->hcount++;
	c->in_table = 1;
	return 0;
}

static void idx_remove(tryst_node *n, struct tryst_conn *c)
{
	if (!c->in_table)
		return;
	struct tryst_conn **pp = &n->htab[idx_hash(c->local_index, n->hcap)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	n->hcount--;
	c->in_table = 0;
}

/* ---- connection lifetime ---- */

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);

static struct tryst_conn *conn_alloc(tryst_node *n)
{
	struct tryst_conn *c = trst_calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->node = n;
	c->user_data = n->cfg.user_data;
	c->refs = 1; /* the node's */
	if (!(c->timer = evtimer_new(n->base, conn_timer_cb, c)) || idx_insert(n, c) < 0) {
		if (c->timer)
			event_free(c->timer);
		trst_free(c);
		return NULL;
	}
	c->next = n->conns;
	if (n->conns)
		n->conns->prev = c;
	n->conns = c;
	return c;
}

static void dial_over(struct tryst_conn *c);
static void relay_leave(struct tryst_conn *c);
static void relay_release_unused(struct tryst_conn *c);
static void relay_release(tryst_node *n, uint64_t circuit, const struct tryst_conn *c);

static void conn_destroy(struct tryst_conn *c)
{
	tryst_node *n = c->node;
	dial_over(c);
	relay_leave(c);
	idx_remove(n, c);
	if (c->prev)
		c->prev->next = c->next;
	else if (n->conns == c)
		n->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	/* unlink from the dirty list */
	for (struct tryst_conn **pp = &n->dirty; *pp; pp = &(*pp)->dnext)
		if (*pp == c) {
			*pp = c->dnext;
			break;
		}
	trst_nstream_detach_all(c, TRYST_ERR_CLOSED);
	/* Handles of streams the application did not free die with it. */
	while (c->streams)
		tryst_stream_free(c->streams);
	if (c->state == TC_OPEN && !c->confirmed && n->unconfirmed)
		n->unconfirmed--;
	trst_conn_free(c->core);
	trst_hs_wipe(&c->hs);
	event_free(c->timer);
	free(c->pending);
	trst_free(c);
}

static void conn_unref(struct tryst_conn *c)
{
	if (--c->refs == 0)
		conn_destroy(c);
}

/* A dial by key is over (answered, failed or freed): discovery lets go. */
static void dial_over(struct tryst_conn *c)
{
	if (c->in_disco) {
		c->in_disco = 0;
		if (c->node->disco)
			trst_disco_dial_done(c->node->disco, c);
	}
	relay_release_unused(c);
}

/* Tell the application once that the connection is over. */
static void conn_closed(struct tryst_conn *c, int err)
{
	if (c->state == TC_CLOSED)
		return;
	dial_over(c);
	c->state = TC_CLOSED;
	c->err = err;
	trst_nstream_detach_all(c, err);
	tryst_conn_fn on_conn = c->hooks ? c->hooks->on_conn : c->node->cfg.on_conn;
	if (!c->closed_told && !c->user_released && on_conn) {
		c->closed_told = 1;
		on_conn(c, TRYST_CONN_CLOSED, err, c->user_data);
	}
}

void trst_node_mark_dirty(struct tryst_conn *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	c->dnext = c->node->dirty;
	c->node->dirty = c;
	if (!c->node->in_flush)
		event_active(c->node->flush_ev, EV_WRITE, 0);
}

/* ---- sending ---- */

/* Every datagram the node sends goes out here.  A relay circuit's
 * stand-in address (relay.h) means: to the circuit's server, each
 * datagram behind the relay head.  *sent as trst_udp_send's. */
static int node_send(tryst_node *n, const struct sockaddr *to, socklen_t tolen, const uint8_t *buf,
                     size_t len, size_t seg, size_t *sent)
{
	uint64_t circuit;
	struct trst_relay_path *p;
	size_t count = seg ? (len + seg - 1) / seg : 1, done = 0;

	if (!trst_relay_is_addr(to, &circuit))
		return trst_udp_send(n->udp, to, tolen, buf, len, seg, sent);
	if (sent)
		*sent = count; /* unless the socket is full: then what went */
	if (!(p = trst_relay_find(n->relay, circuit)))
		return 0; /* the circuit is gone: the packets are lost */
	if (!n->relay_tx && !(n->relay_tx = malloc(RELAY_TX_BUF)))
		return 0;
	size_t step = seg ? seg : len;
	size_t per = RELAY_TX_BUF / (step + TRST_RDV_RELAY_HEAD);
	if (!per)
		return 0; /* cannot happen: the relay path MTU leaves room */
	while (done < count) {
		size_t k = count - done < per ? count - done : per;
		size_t off = done * step, blen = k * step < len - off ? k * step : len - off;
		size_t w = trst_relay_wrap(circuit, buf + off, blen, seg ? seg : 0, n->relay_tx,
		                           RELAY_TX_BUF);
		size_t went = 0;
		int rc =
		    trst_udp_send(n->udp, (struct sockaddr *)&p->server, p->server_len, n->relay_tx,
		                  w, k > 1 ? step + TRST_RDV_RELAY_HEAD : 0, &went);
		if (rc == TRYST_ERR_AGAIN) {
			if (sent)
				*sent = done + went;
			return rc;
		}
		done += k;
	}
	return 0;
}

/* A connection on a relay circuit copies, now and then, one of its
 * packets to the direct addresses it dialed: if a copy gets through ahead
 * of the relayed one, the peer moves to that path (an authentic packet
 * from a new address, doc/PROTOCOL.md "Peer address") and answers there,
 * and we follow the same way; the circuit is then closed. */
static void direct_probe(struct tryst_conn *c, const uint8_t *pkt, size_t len)
{
	uint64_t now = mono_us();
	if (now < c->direct_probe_us)
		return;
	c->direct_probe_us = now + DIRECT_PROBE_GAP_US;
	for (size_t i = 0; i < c->n_addrs; i++)
		if (!trst_relay_is_addr((struct sockaddr *)&c->addrs[i], NULL))
			trst_udp_send(c->node->udp, (struct sockaddr *)&c->addrs[i], c->addrlens[i],
			              pkt, len, 0, NULL);
}

/* Send `len` bytes of `seg`-sized datagrams; keep them on EAGAIN. */
static int conn_send(struct tryst_conn *c, const uint8_t *buf, size_t len, size_t seg)
{
	socklen_t alen;
	const struct sockaddr *to = trst_conn_peer_addr(c->core, &alen);
	size_t sent = 0;
	if (c->n_addrs && trst_relay_is_addr(to, NULL))
		direct_probe(c, buf, seg && seg < len ? seg : len); /* first: it should win */
	int rc = node_send(c->node, to, alen, buf, len, seg, &sent);
	if (rc == TRYST_ERR_AGAIN) {
		/* Whole datagrams the kernel took are gone; keep the rest. */
		size_t done = seg ? sent * seg : 0;
		if (done > len)
			done = len;
		if (!c->pending && !(c->pending = malloc(TX_BUF)))
			return 0; /* drop: recovery will resend */
		/* memmove: a resend of the pending bytes sends from there. */
		memmove(c->pending, buf + done, len - done);
		c->pending_len = len - done;
		c->pending_seg = seg;
		return TRYST_ERR_AGAIN;
	}
	/* Other errors (unreachable, no route) are the path's: the packets
	 * count as lost and recovery deals with it. */
	return 0;
}

/* A responder-side connection whose initiator has not sent one authentic
 * packet yet lives this long.  Until then it sends nothing beyond its
 * response: no keepalive, no probe, no PTO to an address nobody has
 * vouched for, since the initiation may have come with a forged source
 * (DESIGN.md section 6: no reply larger than the packet that caused it). */
static uint64_t unconfirmed_deadline(const struct tryst_conn *c)
{
	return c->dial_start + (uint64_t)c->node->cfg.handshake_timeout_ms * 1000;
}

static void conn_arm_timer(struct tryst_conn *c, uint64_t now)
{
	uint64_t d = UINT64_MAX;
	if (c->state == TC_DIALING)
		d = c->next_resend < c->dial_deadline ? c->next_resend : c->dial_deadline;
	else if (c->state == TC_OPEN && !c->confirmed)
		d = unconfirmed_deadline(c);
	else if (c->core)
		d = trst_conn_deadline(c->core);
	if (d == UINT64_MAX) {
		evtimer_del(c->timer);
		return;
	}
	uint64_t wait = d > now ? d - now : 0;
	struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
	evtimer_add(c->timer, &tv);
}

/* Write and send everything the connection may send now, batching
 * full-size datagrams for GSO. */
static void conn_flush(struct tryst_conn *c)
{
	tryst_node *n = c->node;
	uint64_t now = mono_us();

	/* The core decides what may still be sent: after a close it sends
	 * its CLOSE frame, whatever the wrapper's state. */
	if (c->core && !trst_conn_is_closed(c->core)) {
		if (c->pending_len) {
			/* The buffer is kept for the next time the socket is
			 * full: no allocation per EAGAIN. */
			size_t len = c->pending_len;
			c->pending_len = 0;
			int rc = conn_send(c, c->pending, len, c->pending_seg);
			if (rc == TRYST_ERR_AGAIN)
				goto out;
		}
		for (;;) {
			size_t mtu = trst_conn_mtu(c->core), total = 0, seg = 0;
			unsigned count = 0;
			while (count < TRST_UDP_MAX_SEGMENTS && total + mtu <= GSO_MAX_BYTES) {
				size_t k =
				    trst_conn_write(c->core, n->tx + total, TX_BUF - total, now);
				if (!k)
					break;
				if (count == 0) {
					seg = k;
				} else if (k > seg) {
					/* bigger (a path MTU probe): cannot join this
					 * batch; send the batch, then it alone */
					if (conn_send(c, n->tx, total, seg) == TRYST_ERR_AGAIN) {
						/* keep the probe too: append after the batch */
						goto out;
					}
					memmove(n->tx, n->tx + total, k);
					total = 0;
					count = 0;
					seg = k;
				}
				total += k;
				count++;
				if (k < seg || k < mtu)
					break; /* a short one ends a GSO batch */
			}
			if (!count)
				break;
			if (conn_send(c, n->tx, total, count > 1 ? seg : 0) == TRYST_ERR_AGAIN)
				break;
		}
	}
out:
	if (c->core && trst_conn_is_closed(c->core)) {
		conn_closed(c, c->err);
		relay_leave(c); /* after the closing period: the CLOSE went through */
		idx_remove(n, c);
		evtimer_del(c->timer);
		return;
	}
	conn_arm_timer(c, now);
}

static void flush_dirty(tryst_node *n)
{
	n->in_flush = 1;
	while (n->dirty) {
		struct tryst_conn *c = n->dirty;
		n->dirty = c->dnext;
		c->dirty = 0;
		c->refs++;
		conn_flush(c);
		conn_unref(c);
	}
	n->in_flush = 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_dirty(arg);
}

static void udp_writable_cb(struct trst_udp *u, void *arg)
{
	tryst_node *n = arg;
	(void)u;
	for (struct tryst_conn *c = n->conns; c; c = c->next)
		if (c->pending_len)
			trst_node_mark_dirty(c);
	flush_dirty(n);
}

/* ---- dialing ---- */

static size_t make_tparams(tryst_node *n, uint8_t *out)
{
	struct trst_tparams tp;
	trst_conn_config_tparams(&n->ccfg, &tp);
	return trst_tparams_encode(&tp, out);
}

/* A fresh initiation to every address (the first try, and after a lost
 * response: the responder refuses a timestamp it has seen), or to `only`. */
static void dial_send_to(struct tryst_conn *c, uint64_t now_real, const struct sockaddr *only,
                         socklen_t onlylen)
{
	uint8_t msg[TRST_HS_INITIATION_SIZE], tp[TRST_TPARAMS_MAX_SIZE];
	size_t len, tplen = make_tparams(c->node, tp);
	if (!c->n_addrs)
		return; /* discovery has found nothing yet */
	if (trst_hs_initiate(&c->hs, c->node->id, c->peer_key, c->local_index, tp, tplen,
	                     &c->cookie, now_real, msg, sizeof msg, &len) < 0)
		return;
	c->initiated = 1;
	if (only) {
		node_send(c->node, only, onlylen, msg, len, 0, NULL);
		return;
	}
	for (size_t i = 0; i < c->n_addrs; i++)
		node_send(c->node, (struct sockaddr *)&c->addrs[i], c->addrlens[i], msg, len, 0,
		          NULL);
}

static void dial_send(struct tryst_conn *c, uint64_t now_real)
{
	dial_send_to(c, now_real, NULL, 0);
}

/* The initiation in flight, again, to one address: a newly learned
 * candidate, or where a PUNCH probe came from.  If a copy already reached
 * the responder it refuses this one as a replay; if none did, this one
 * may be the first to get through. */
static void dial_send_one(struct tryst_conn *c, const struct sockaddr *to, socklen_t tolen)
{
	uint8_t msg[TRST_HS_INITIATION_SIZE];
	size_t len;
	if (!c->initiated) {
		dial_send(c, tryst_now_us());
		return;
	}
	if (trst_hs_resend(&c->hs, &c->cookie, tryst_now_us(), msg, sizeof msg, &len) == 0)
		node_send(c->node, to, tolen, msg, len, 0, NULL);
}

static int dial_has_addr(const struct tryst_conn *c, const struct sockaddr_storage *a)
{
	for (size_t i = 0; i < c->n_addrs; i++)
		if (trst_sockaddr_equal((const struct sockaddr *)&c->addrs[i],
		                        (const struct sockaddr *)a))
			return 1;
	return 0;
}

size_t trst_node_dial_add(tryst_conn *c, const struct sockaddr_storage *addrs, size_t count)
{
	size_t added = 0;
	if (c->state != TC_DIALING)
		return 0;
	for (size_t i = 0; i < count; i++) {
		int relay = trst_relay_is_addr((const struct sockaddr *)&addrs[i], NULL);
		if (addrs[i].ss_family != AF_INET && addrs[i].ss_family != AF_INET6)
			continue;
		if (c->n_addrs >= MAX_DIAL_ADDRS + (relay ? MAX_DIAL_RELAYS : 0))
			continue;
		if (dial_has_addr(c, &addrs[i]))
			continue;
		if (c->node->cfg.relay_only && !relay)
			continue;
		socklen_t l = addrs[i].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                             : sizeof(struct sockaddr_in);
		memcpy(&c->addrs[c->n_addrs], &addrs[i], l);
		c->addrlens[c->n_addrs] = l;
		c->n_addrs++; /* first: the first initiation goes to every address */
		if (relay && c->initiated)
			/* A fresh initiation through the circuit alone: a copy
			 * of the one in flight would be refused as a replay if
			 * the direct one reached the peer (and was refused,
			 * or answered on a path that does not come back). */
			dial_send_to(c, tryst_now_us(),
			             (struct sockaddr *)&c->addrs[c->n_addrs - 1], l);
		else
			dial_send_one(c, (struct sockaddr *)&c->addrs[c->n_addrs - 1], l);
		added++;
	}
	return added;
}

int trst_node_conn_dialing(const tryst_conn *c)
{
	return c->state == TC_DIALING;
}

size_t trst_node_dial_direct(const tryst_conn *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_addrs; i++)
		n += !trst_relay_is_addr((const struct sockaddr *)&c->addrs[i], NULL);
	return n;
}

static struct tryst_conn *dial_new(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                                   void *conn_user_data)
{
	struct tryst_conn *c = conn_alloc(n);
	if (!c)
		return NULL;
	c->refs++; /* the application's */
	c->state = TC_DIALING;
	c->user_data = conn_user_data;
	memcpy(c->peer_key, key, TRYST_KEY_SIZE);
	uint64_t now = mono_us();
	c->dial_start = now;
	c->dial_deadline = now + (uint64_t)n->cfg.handshake_timeout_ms * 1000;
	c->resend_gap = DIAL_FIRST_RESEND_US;
	c->next_resend = now + c->resend_gap;
	return c;
}

int trst_node_dial_start(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                         const uint8_t token[TRST_TOKEN_SIZE], void *conn_user_data,
                         tryst_conn **out)
{
	struct tryst_conn *c;
	if (!crypto_core_ed25519_is_valid_point(key))
		return TRYST_ERR_KEY_INVALID;
	if (!(c = dial_new(n, key, conn_user_data)))
		return TRYST_ERR_NOMEM;
	memcpy(c->token, token, TRST_TOKEN_SIZE);
	c->has_token = 1;
	c->in_disco = 1;
	conn_arm_timer(c, mono_us());
	*out = c;
	return 0;
}

TRYST_EXPORT int tryst_node_connect(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                                    const struct sockaddr_storage *addrs, size_t n_addrs,
                                    void *conn_user_data, tryst_conn **out)
{
	return trst_node_connect_hooked(n, key, addrs, n_addrs, NULL, conn_user_data, out);
}

int trst_node_connect_hooked(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                             const struct sockaddr_storage *addrs, size_t n_addrs,
                             const struct trst_conn_hooks *hooks, void *conn_user_data,
                             tryst_conn **out)
{
	struct tryst_conn *c;

	if (!n || !key || !addrs || !n_addrs || !out)
		return TRYST_ERR_INVALID;
	if (!crypto_core_ed25519_is_valid_point(key))
		return TRYST_ERR_KEY_INVALID;
	if (!(c = dial_new(n, key, conn_user_data)))
		return TRYST_ERR_NOMEM;
	c->hooks = hooks;
	for (size_t i = 0; i < n_addrs && c->n_addrs < MAX_DIAL_ADDRS; i++) {
		if (addrs[i].ss_family != AF_INET && addrs[i].ss_family != AF_INET6)
			continue;
		socklen_t l = addrs[i].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                             : sizeof(struct sockaddr_in);
		memcpy(&c->addrs[c->n_addrs], &addrs[i], l);
		c->addrlens[c->n_addrs++] = l;
	}
	if (!c->n_addrs) {
		c->refs = 1;
		conn_unref(c);
		return TRYST_ERR_INVALID;
	}
	dial_send(c, tryst_now_us());
	conn_arm_timer(c, mono_us());
	*out = c;
	return 0;
}

/* A PUNCH probe: the listener we dial by key read our knock and is
 * opening its NAT towards us.  Answer with the initiation, to where the
 * probe came from (it may be a mapping no record named). */
static void on_punch(tryst_node *n, const uint8_t *msg, size_t len, const struct sockaddr *from,
                     socklen_t fromlen)
{
	const uint8_t *token;
	if (n->cfg.relay_only || trst_punch_decode(msg, len, &token) < 0)
		return;
	for (struct tryst_conn *c = n->conns; c; c = c->next) {
		if (c->state != TC_DIALING || !c->has_token ||
		    sodium_memcmp(c->token, token, TRST_TOKEN_SIZE) != 0)
			continue;
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof ss);
		memcpy(&ss, from, fromlen < sizeof ss ? fromlen : sizeof ss);
		TRST_LOG(TRYST_LOG_DEBUG, "punch: probe for a dial in progress: initiation answers it");
		if (!trst_node_dial_add(c, &ss, 1))
			dial_send_one(c, from, fromlen);
		return;
	}
	TRST_LOG(TRYST_LOG_TRACE, "punch: probe for no dial of ours: dropped");
}

void trst_node_send_raw(tryst_node *n, const struct sockaddr *to, socklen_t tolen,
                        const uint8_t *buf, size_t len)
{
	trst_udp_send(n->udp, to, tolen, buf, len, 0, NULL);
}

struct event_base *trst_node_base(const tryst_node *n)
{
	return n->base;
}

const tryst_identity *trst_node_identity(const tryst_node *n)
{
	return n->id;
}

int trst_node_set_raw(tryst_node *n, uint8_t type, trst_raw_fn fn, void *ud)
{
	if (n->n_raw == TRST_ARRAY_LEN(n->raw))
		return TRYST_ERR_NOMEM;
	n->raw[n->n_raw].type = type;
	n->raw[n->n_raw].fn = fn;
	n->raw[n->n_raw].ud = ud;
	n->n_raw++;
	return 0;
}

int trst_node_connected_to(const tryst_node *n, const uint8_t key[TRYST_KEY_SIZE])
{
	for (const struct tryst_conn *c = n->conns; c; c = c->next)
		if (c->state == TC_OPEN && memcmp(c->peer_key, key, TRYST_KEY_SIZE) == 0)
			return 1;
	return 0;
}

struct trst_disco *trst_node_disco(const tryst_node *n)
{
	return n->disco;
}

void trst_node_bound_address(const tryst_node *n, struct sockaddr_storage *out)
{
	*out = n->bound;
}

/* ---- connection callbacks from the core ---- */



static void core_datagram(void *ud, const uint8_t *data, size_t len)
{
	struct tryst_conn *c = ud;
	trst_node_conn_confirm(c);
	tryst_datagram_fn fn = c->hooks ? c->hooks->on_datagram : c->node->cfg.on_datagram;
	if (fn && !c->user_released)
		fn(c, data, len, c->user_data);
}

static void core_closed(void *ud, int err, uint64_t code, const uint8_t *reason, size_t rlen)
{
	struct tryst_conn *c = ud;
	(void)code;
	if (err)
		TRST_LOG(TRYST_LOG_INFO, "connection closed: %s (%.*s)", tryst_strerror(err),
		         (int)rlen, reason ? (const char *)reason : "");
	conn_closed(c, err);
}

static const struct trst_conn_callbacks core_cbs = {
    .stream_opened = trst_nstream_opened,
    .stream_data = trst_nstream_data,
    .stream_fin = trst_nstream_fin,
    .stream_reset = trst_nstream_reset,
    .stream_stop = trst_nstream_stop,
    .stream_writable = trst_nstream_writable,
    .stream_sent = trst_nstream_sent,
    .stream_closed = trst_nstream_closed,
    .datagram = core_datagram,
    .closed = core_closed,
};

static int negotiate_aead(uint64_t theirs)
{
	struct trst_tparams mine;
	uint64_t aes = 1u << (TRST_AEAD_AES256_GCM - 1);
	trst_conn_config_tparams(&(struct trst_conn_config){0}, &mine);
	return (mine.aeads & theirs & aes) ? TRST_AEAD_AES256_GCM : TRST_AEAD_CHACHA20_POLY1305;
}

static int open_core(struct tryst_conn *c, const struct trst_hs_result *res,
                     const struct sockaddr *from, socklen_t fromlen, int role, uint64_t now)
{
	struct trst_tparams tp;
	struct trst_conn_keys keys;
	int rc;

	if ((rc = trst_tparams_decode(res->payload, res->payload_len, &tp)) < 0)
		return rc;
	keys.aead = negotiate_aead(tp.aeads);
	memcpy(keys.send_secret, res->send_key, 32);
	memcpy(keys.recv_secret, res->recv_key, 32);
	keys.local_index = res->local_index;
	keys.remote_index = res->remote_index;
	/* The path MTU search reaches up to what the route allows: the local
	 * interface's MTU (64 KiB on loopback, 1500 on Ethernet) or the
	 * configured ceiling, whichever is lower (RFC 8899 section 5.1.2). */
	struct trst_conn_config ccfg = c->node->ccfg;
	unsigned route_mtu;
	uint64_t circuit;
	size_t head = 0;
	struct trst_relay_path *rp;
	const struct sockaddr *route = from;
	socklen_t routelen = fromlen;
	if (trst_relay_is_addr(from, &circuit) && (rp = trst_relay_find(c->node->relay, circuit))) {
		/* Relayed: the route is the server's, and each datagram
		 * carries the relay head. */
		route = (const struct sockaddr *)&rp->server;
		routelen = rp->server_len;
		head = TRST_RDV_RELAY_HEAD;
	}
	if (trst_udp_route_mtu(route, routelen, &route_mtu) == 0 &&
	    route_mtu > trst_udp_overhead(route) + head) {
		size_t limit = route_mtu - trst_udp_overhead(route) - head;
		if (ccfg.max_udp_payload > limit)
			ccfg.max_udp_payload = limit;
	}
	rc = trst_conn_new(&ccfg, role, &keys, res->peer, &tp, from, fromlen, &core_cbs, c, now,
	                   &c->core);
	sodium_memzero(&keys, sizeof keys);
	if (rc < 0)
		return rc;
	memcpy(c->peer_key, res->peer, TRYST_KEY_SIZE);
	c->state = TC_OPEN;
	return 0;
}

/* ---- receiving ---- */

static void on_response(tryst_node *n, const uint8_t *msg, size_t len, const struct sockaddr *from,
                        socklen_t fromlen)
{
	struct trst_hs_result res;
	if (len < 9)
		return;
	/* The receiver index follows the type and sender index. */
	uint32_t idx = trst_get_u32(msg + 5);
	struct tryst_conn *c = idx_find(n, idx);
	if (!c || c->state != TC_DIALING)
		return;
	if (trst_hs_consume_response(&c->hs, msg, len, &res) < 0)
		return;
	uint64_t now = mono_us();
	int rc = open_core(c, &res, from, fromlen, TRST_ROLE_INITIATOR, now);
	sodium_memzero(&res, sizeof res);
	if (rc < 0) {
		conn_closed(c, rc);
		return;
	}
	c->handshake_us = now - c->dial_start;
	c->confirmed = 1;
	dial_over(c);
	trst_node_mark_dirty(c); /* the first packet confirms the handshake to the peer */
	tryst_conn_fn on_conn = c->hooks ? c->hooks->on_conn : n->cfg.on_conn;
	if (on_conn)
		on_conn(c, TRYST_CONN_ESTABLISHED, 0, c->user_data);
}

static void on_cookie(tryst_node *n, const uint8_t *msg, size_t len)
{
	if (len < 5)
		return;
	uint32_t idx = trst_get_u32(msg + 1);
	struct tryst_conn *c = idx_find(n, idx);
	uint8_t out[TRST_HS_INITIATION_SIZE];
	size_t outlen;
	if (!c || c->state != TC_DIALING ||
	    trst_hs_consume_cookie(&c->hs, msg, len, tryst_now_us(), &c->cookie) < 0)
		return;
	if (trst_hs_resend(&c->hs, &c->cookie, tryst_now_us(), out, sizeof out, &outlen) < 0)
		return;
	for (size_t i = 0; i < c->n_addrs; i++)
		node_send(n, (struct sockaddr *)&c->addrs[i], c->addrlens[i], out, outlen, 0, NULL);
}

static void on_initiation(tryst_node *n, const uint8_t *msg, size_t len,
                          const struct sockaddr *from, socklen_t fromlen)
{
	trst_hs hs;
	uint8_t reply[TRST_HS_RESPONSE_MAX], tp[TRST_TPARAMS_MAX_SIZE];
	size_t rlen;
	struct trst_hs_result res;

	int rc = trst_hs_responder_consume(n->responder, &hs, msg, len, (const uint8_t *)from,
	                                   fromlen, n->unconfirmed >= UNDER_LOAD_PENDING,
	                                   tryst_now_us(), reply, sizeof reply, &rlen);
	if (rc == TRYST_ERR_HS_COOKIE) {
		node_send(n, from, fromlen, reply, rlen, 0, NULL);
		return;
	}
	if (rc < 0)
		return;
	if (!n->cfg.accept || n->cfg.accept(n, hs.peer, from, n->cfg.user_data) != 0) {
		trst_hs_wipe(&hs);
		return;
	}
	if (n->disco)
		trst_disco_peer_arrived(n->disco, hs.peer);
	/* A new initiation replaces an earlier one from the same key that
	 * never got confirmed (our response was lost). */
	for (struct tryst_conn *o = n->conns; o; o = o->next)
		if (o->state == TC_OPEN && !o->confirmed &&
		    memcmp(o->peer_key, hs.peer, TRYST_KEY_SIZE) == 0) {
			o->state = TC_CLOSED;
			n->unconfirmed--;
			o->confirmed = 1; /* so destroy does not count it again */
			conn_unref(o);
			break;
		}
	struct tryst_conn *c = conn_alloc(n);
	if (!c) {
		trst_hs_wipe(&hs);
		return;
	}
	uint64_t now = mono_us();
	size_t tplen = make_tparams(n, tp);
	if (trst_hs_respond(&hs, c->local_index, tp, tplen, reply, sizeof reply, &rlen, &res) < 0 ||
	    open_core(c, &res, from, fromlen, TRST_ROLE_RESPONDER, now) < 0) {
		sodium_memzero(&res, sizeof res);
		trst_hs_wipe(&hs);
		conn_unref(c);
		return;
	}
	sodium_memzero(&res, sizeof res);
	c->dial_start = now;
	n->unconfirmed++;
	node_send(n, from, fromlen, reply, rlen, 0, NULL);
	conn_arm_timer(c, now);
}

/* The first authentic packet from the initiator proves it completed the
 * handshake: now the application hears of the connection -- before any
 * stream or datagram that packet carries. */
void trst_node_conn_confirm(struct tryst_conn *c)
{
	tryst_node *n = c->node;
	if (c->confirmed || c->state != TC_OPEN)
		return;
	c->confirmed = 1;
	n->unconfirmed--;
	c->handshake_us = mono_us() - c->dial_start;
	c->refs++; /* the application's */
	if (n->cfg.on_conn)
		n->cfg.on_conn(c, TRYST_CONN_ESTABLISHED, 0, c->user_data);
}

static void on_data(tryst_node *n, uint8_t *pkt, size_t len, const struct sockaddr *from,
                    socklen_t fromlen, uint64_t now)
{
	uint32_t idx;
	if (trst_pkt_peek_index(pkt, len, &idx) < 0)
		return;
	struct tryst_conn *c = idx_find(n, idx);
	if (!c || !c->core)
		return;
	uint64_t was, circuit;
	int relayed = trst_relay_is_addr(trst_conn_peer_addr(c->core, NULL), &was);
	/* Once on a direct path, a connection stays there: relayed packets
	 * still in flight are taken but do not move it back. */
	if (!relayed && trst_relay_is_addr(from, NULL))
		from = NULL;
	/* Opened into the pool that carries stream data to the application:
	 * in-order data is then lent where it lies (rxpool.h). */
	uint8_t *plain = trst_rxpool_scratch(n->rxpool, len);
	int rc = trst_conn_recv_into(c->core, pkt, len, plain, from, fromlen, now);
	trst_rxpool_scratch_done(n->rxpool);
	if (rc < 0)
		return; /* not authentic: as if it never came */
	if (relayed &&
	    (!trst_relay_is_addr(trst_conn_peer_addr(c->core, NULL), &circuit) || circuit != was)) {
		struct trst_relay_path *p = trst_relay_find(n->relay, was);
		TRST_LOG(TRYST_LOG_INFO, "connection moved off its relay circuit to a direct path");
		/* The dialing end closes the circuit: it moves last (it
		 * follows the answers to its copies), and the other end
		 * must not pull the circuit from under it. */
		if (p && p->opened)
			relay_release(n, was, c);
	}
	trst_node_conn_confirm(c);
	trst_node_mark_dirty(c);
}

/* One datagram, from the socket or out of a relay circuit (then `from`
 * is the circuit's stand-in address). */
static void node_dispatch(tryst_node *n, uint8_t *data, size_t len, const struct sockaddr *from,
                          socklen_t fromlen, uint64_t now)
{
	switch (data[0]) {
	case TRST_HS_TYPE_INITIATION: on_initiation(n, data, len, from, fromlen); break;
	case TRST_HS_TYPE_RESPONSE: on_response(n, data, len, from, fromlen); break;
	case TRST_HS_TYPE_COOKIE: on_cookie(n, data, len); break;
	case TRST_PUNCH_TYPE: on_punch(n, data, len, from, fromlen); break;
	case TRST_PKT_TYPE_DATA:
	case TRST_PKT_TYPE_DATA | TRST_PKT_KEY_PHASE:
		/* Packets are opened in place: the batch buffers are ours
		 * until the callback returns. */
		on_data(n, data, len, from, fromlen, now);
		break;
	default:
		for (size_t k = 0; k < n->n_raw; k++)
			if (n->raw[k].type == data[0])
				n->raw[k].fn(n->raw[k].ud, data, len, from, fromlen);
		break;
	}
}

static void udp_recv_cb(struct trst_udp *u, const struct trst_udp_rx *msgs, size_t count, void *arg)
{
	tryst_node *n = arg;
	uint64_t now = mono_us();
	(void)u;
	n->in_flush = 1; /* flush once after the whole batch */
	for (size_t i = 0; i < count; i++) {
		const struct trst_udp_rx *m = &msgs[i];
		/* The relay's stand-in prefix is ours alone (relay.h). */
		if (!m->len || trst_relay_is_addr(m->from, NULL))
			continue;
		node_dispatch(n, (uint8_t *)m->data, m->len, m->from, m->fromlen, now);
	}
	n->in_flush = 0;
	flush_dirty(n);
}

/* ---- relay paths (relay.h) ---- */

static int relay_in_use(tryst_node *n, uint64_t circuit, const struct tryst_conn *except)
{
	struct sockaddr_storage a;
	uint64_t k;
	trst_relay_addr(circuit, &a, NULL);
	for (struct tryst_conn *c = n->conns; c; c = c->next) {
		if (c == except)
			continue;
		if (c->state == TC_DIALING && dial_has_addr(c, &a))
			return 1;
		if (c->state == TC_OPEN && c->core &&
		    trst_relay_is_addr(trst_conn_peer_addr(c->core, NULL), &k) && k == circuit)
			return 1;
	}
	return 0;
}

/* Connection `c` is done with the circuit: if nothing else uses it, its
 * owner closes it. */
static void relay_release(tryst_node *n, uint64_t circuit, const struct tryst_conn *c)
{
	struct trst_relay_path *p = trst_relay_find(n->relay, circuit);
	if (!p || relay_in_use(n, circuit, c))
		return;
	p->live = 0;
	if (p->release)
		p->release(p->owner, circuit);
}

/* A dial is over: circuits it tried but did not end up on. */
static void relay_release_unused(struct tryst_conn *c)
{
	uint64_t circuit, on = 0;
	int relayed = c->core && trst_relay_is_addr(trst_conn_peer_addr(c->core, NULL), &on);
	for (size_t i = 0; i < c->n_addrs; i++)
		if (trst_relay_is_addr((struct sockaddr *)&c->addrs[i], &circuit) &&
		    !(relayed && circuit == on))
			relay_release(c->node, circuit, c);
}

/* The connection is gone: every circuit it had. */
static void relay_leave(struct tryst_conn *c)
{
	uint64_t circuit;
	if (!c->node->relay)
		return;
	relay_release_unused(c);
	if (c->core && trst_relay_is_addr(trst_conn_peer_addr(c->core, NULL), &circuit))
		relay_release(c->node, circuit, c);
}

int trst_node_relay_add(tryst_node *n, uint64_t circuit, const struct sockaddr *server,
                        socklen_t server_len, trst_relay_release_fn release, void *owner,
                        int opened, struct sockaddr_storage *addr)
{
	if (!n->relay && !(n->relay = trst_calloc(1, sizeof *n->relay)))
		return TRYST_ERR_NOMEM;
	int rc = trst_relay_add(n->relay, circuit, server, server_len, release, owner, opened);
	if (rc == 0 && addr)
		trst_relay_addr(circuit, addr, NULL);
	return rc;
}

void trst_node_relay_closed(tryst_node *n, uint64_t circuit, int err)
{
	struct trst_relay_path *p = trst_relay_find(n->relay, circuit);
	uint64_t k;
	if (!p)
		return;
	p->live = 0; /* the server dropped it: nothing to release */
	if (!err)
		return;
	for (struct tryst_conn *c = n->conns, *nx; c; c = nx) {
		nx = c->next;
		if (c->state != TC_OPEN || !c->core || !c->confirmed ||
		    !trst_relay_is_addr(trst_conn_peer_addr(c->core, NULL), &k) || k != circuit)
			continue;
		/* Its only path is gone: it ends now, with the reason.  The
		 * CLOSE it still writes goes nowhere (node_send drops it). */
		TRST_LOG(TRYST_LOG_INFO, "connection lost its relay circuit: %s",
		         tryst_strerror(err));
		conn_closed(c, err);
		trst_conn_close(c->core, 0, "relay closed", mono_us());
		trst_node_mark_dirty(c);
	}
}

void trst_node_relay_drop_owner(tryst_node *n, void *owner, int err)
{
	for (size_t i = 0; n->relay && i < TRST_RELAY_MAX_PATHS; i++)
		if (n->relay->p[i].live && n->relay->p[i].owner == owner)
			trst_node_relay_closed(n, n->relay->p[i].circuit, err);
}

void trst_node_relay_input(tryst_node *n, uint8_t *buf, size_t len, const struct sockaddr *from,
                           socklen_t fromlen)
{
	struct trst_relay_path *p = trst_relay_match(n->relay, buf, len, from);
	struct sockaddr_storage a;
	socklen_t alen;
	(void)fromlen;
	if (!p)
		return;
	/* Only handshake messages and packets travel inside a circuit:
	 * nothing nested, no probes or other protocols. */
	switch (buf[TRST_RDV_RELAY_HEAD]) {
	case TRST_HS_TYPE_INITIATION:
	case TRST_HS_TYPE_RESPONSE:
	case TRST_HS_TYPE_COOKIE:
	case TRST_PKT_TYPE_DATA:
	case TRST_PKT_TYPE_DATA | TRST_PKT_KEY_PHASE: break;
	default: return;
	}
	trst_relay_addr(p->circuit, &a, &alen);
	node_dispatch(n, buf + TRST_RDV_RELAY_HEAD, len - TRST_RDV_RELAY_HEAD,
	              (struct sockaddr *)&a, alen, mono_us());
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tryst_conn *c = arg;
	uint64_t now = mono_us();
	(void)fd;
	(void)what;
	c->refs++;
	if (c->state == TC_DIALING) {
		if (now >= c->dial_deadline) {
			trst_hs_wipe(&c->hs);
			conn_closed(c, TRYST_ERR_TIMEOUT);
			idx_remove(c->node, c);
		} else if (now >= c->next_resend) {
			c->resend_gap = c->resend_gap * 2 > DIAL_MAX_RESEND_US ? DIAL_MAX_RESEND_US
			                                                       : c->resend_gap * 2;
			c->next_resend = now + c->resend_gap;
			dial_send(c, tryst_now_us());
			conn_arm_timer(c, now);
		} else {
			conn_arm_timer(c, now);
		}
	} else if (c->state == TC_OPEN && !c->confirmed) {
		if (now >= unconfirmed_deadline(c)) {
			c->state = TC_CLOSED;
			c->confirmed = 1; /* so destroy does not count it again */
			c->node->unconfirmed--;
			conn_unref(c);
		} else {
			conn_arm_timer(c, now);
		}
	} else if (c->core) {
		trst_conn_timeout(c->core, now);
		conn_flush(c);
		/* An unconfirmed responder-side connection that died is freed
		 * at once: the application never saw it. */
		if (c->state == TC_CLOSED && !c->confirmed) {
			c->confirmed = 1;
			c->node->unconfirmed--;
			conn_unref(c);
		}
	}
	conn_unref(c);
}

/* ---- node ---- */

TRYST_EXPORT int tryst_node_new(struct event_base *base, const struct tryst_node_config *cfg,
                                tryst_node **out)
{
	tryst_node *n;
	int rc;
	uint8_t pk[TRYST_KEY_SIZE];

	if (!base || !cfg || !cfg->identity || !out)
		return TRYST_ERR_INVALID;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	if (!(n = trst_calloc(1, sizeof *n)))
		return TRYST_ERR_NOMEM;
	n->base = base;
	n->cfg = *cfg;
	n->cfg.identity = NULL;
	n->cfg.bind_address = NULL;
	if ((rc = trst_identity_dup(cfg->identity, &n->id)) < 0)
		goto fail;
	tryst_identity_public_key(n->id, pk);
	memcpy(n->key, pk, sizeof pk);

	trst_conn_config_default(&n->ccfg);
	n->ccfg.cc = cfg->congestion_control == TRYST_CC_BBR ? TRST_CC_BBR : TRST_CC_CUBIC;
	if (cfg->idle_timeout_ms)
		n->ccfg.idle_timeout_us = (uint64_t)cfg->idle_timeout_ms * 1000;
	n->ccfg.keepalive_us = (uint64_t)cfg->keepalive_ms * 1000;
	if (cfg->stream_window)
		n->ccfg.stream_window = cfg->stream_window;
	if (cfg->conn_window)
		n->ccfg.conn_window = cfg->conn_window;
	if (cfg->stream_send_buffer)
		n->ccfg.stream_send_buffer = cfg->stream_send_buffer;
	if (cfg->max_streams)
		n->ccfg.max_streams = cfg->max_streams;
	if (cfg->max_udp_payload)
		n->ccfg.max_udp_payload = cfg->max_udp_payload;
	if (!n->cfg.handshake_timeout_ms)
		n->cfg.handshake_timeout_ms = 10000;

	rc = TRYST_ERR_NOMEM;
	if (!(n->tx = malloc(TX_BUF)) || !(n->flush_ev = event_new(base, -1, 0, flush_cb, n)))
		goto fail;
	if ((rc = trst_rxpool_new(RX_POOL_BLOCK, RX_POOL_FREE, &n->rxpool)) < 0)
		goto fail;
	if ((rc = trst_hs_responder_new(&n->responder, n->id, tryst_now_us())) < 0)
		goto fail;

	struct sockaddr_storage bind;
	const struct sockaddr *bind_addr = NULL;
	if (cfg->bind_address) {
		memset(&bind, 0, sizeof bind);
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&bind;
		struct sockaddr_in *s4 = (struct sockaddr_in *)&bind;
		if (evutil_inet_pton(AF_INET6, cfg->bind_address, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(cfg->port);
		} else if (evutil_inet_pton(AF_INET, cfg->bind_address, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons(cfg->port);
		} else {
			rc = TRYST_ERR_INVALID;
			goto fail;
		}
		bind_addr = (struct sockaddr *)&bind;
	}
	struct trst_udp_callbacks ucb = {
	    .recv = udp_recv_cb,
	    .writable = udp_writable_cb,
	};
	if ((rc = trst_udp_new(base, bind_addr, cfg->port, &ucb, n, &n->udp)) < 0)
		goto fail;
	if (bind_addr) {
		n->bound = bind;
	} else {
		n->bound.ss_family = AF_INET6; /* in6addr_any: every address */
	}
	/* Discovery comes last: it publishes the port just bound. */
	if ((cfg->dht || cfg->n_servers) && (rc = trst_disco_new(n, cfg, &n->disco)) < 0)
		goto fail;
	*out = n;
	return 0;
fail:
	tryst_node_free(n);
	return rc;
}

TRYST_EXPORT void tryst_node_free(tryst_node *n)
{
	if (!n)
		return;
	trst_disco_free(n->disco); /* cancels its dials' lookups first */
	n->disco = NULL;
	while (n->conns) {
		struct tryst_conn *c = n->conns;
		c->refs = 1;
		conn_unref(c);
	}
	trst_free(n->htab);
	trst_free(n->relay);
	free(n->relay_tx);
	trst_udp_free(n->udp);
	trst_hs_responder_free(n->responder);
	if (n->flush_ev)
		event_free(n->flush_ev);
	free(n->tx);
	trst_rxpool_release(n->rxpool);
	tryst_identity_free(n->id);
	trst_free(n);
}

TRYST_EXPORT uint16_t tryst_node_port(const tryst_node *n)
{
	return trst_udp_local_port(n->udp);
}

/* ---- connection API ---- */

TRYST_EXPORT void tryst_conn_set_user_data(tryst_conn *c, void *user_data)
{
	c->user_data = user_data;
}

TRYST_EXPORT void *tryst_conn_user_data(const tryst_conn *c)
{
	return c->user_data;
}

TRYST_EXPORT tryst_node *tryst_conn_node(const tryst_conn *c)
{
	return c->node;
}

TRYST_EXPORT const uint8_t *tryst_conn_peer_key(const tryst_conn *c)
{
	return c->peer_key;
}

TRYST_EXPORT const struct sockaddr *tryst_conn_peer_address(const tryst_conn *c, socklen_t *len)
{
	if (c->core)
		return trst_conn_peer_addr(c->core, len);
	if (len)
		*len = c->addrlens[0];
	return (const struct sockaddr *)&c->addrs[0];
}

TRYST_EXPORT void tryst_conn_close(tryst_conn *c, uint64_t code, const char *reason)
{
	if (!c)
		return;
	if (c->state == TC_DIALING) {
		trst_hs_wipe(&c->hs);
		conn_closed(c, 0);
		idx_remove(c->node, c);
		evtimer_del(c->timer);
		return;
	}
	if (c->state == TC_OPEN && c->core) {
		trst_conn_close(c->core, code, reason, mono_us());
		trst_node_mark_dirty(c);
	}
}

TRYST_EXPORT void tryst_conn_free(tryst_conn *c)
{
	if (!c || c->user_released)
		return;
	c->user_released = 1;
	if (c->state != TC_CLOSED)
		tryst_conn_close(c, 0, "");
	/* The node keeps it until the closing period is over. */
	conn_unref(c);
}

TRYST_EXPORT void tryst_conn_get_info(const tryst_conn *c, struct tryst_conn_info *info)
{
	struct trst_conn_stats st;
	memset(info, 0, sizeof *info);
	info->handshake_us = c->handshake_us;
	if (!c->core)
		return;
	trst_conn_get_stats(c->core, &st);
	info->rtt_us = st.srtt_us;
	info->min_rtt_us = st.min_rtt_us;
	info->cwnd = st.cwnd;
	info->bytes_in_flight = st.bytes_in_flight;
	info->mtu = st.mtu;
	info->packets_sent = st.packets_sent;
	info->packets_received = st.packets_received;
	info->packets_lost = st.packets_lost;
	info->bytes_sent = st.bytes_sent;
	info->bytes_received = st.bytes_received;
	info->stream_bytes_sent = st.stream_bytes_sent;
	info->stream_bytes_received = st.stream_bytes_received;
	info->key_updates = st.key_updates;
	uint64_t circuit;
	struct trst_relay_path *p;
	if (trst_relay_is_addr(trst_conn_peer_addr(c->core, NULL), &circuit)) {
		info->relayed = 1;
		if ((p = trst_relay_find(c->node->relay, circuit)))
			memcpy(&info->relay_server, &p->server, p->server_len);
	}
}

TRYST_EXPORT int tryst_conn_send_datagram(tryst_conn *c, const uint8_t *data, size_t len)
{
	if (c->state != TC_OPEN || !c->core)
		return TRYST_ERR_CLOSED;
	int rc = trst_conn_send_datagram(c->core, data, len);
	if (rc == 0)
		trst_node_mark_dirty(c);
	return rc;
}

TRYST_EXPORT size_t tryst_conn_datagram_max(const tryst_conn *c)
{
	return c->core ? trst_conn_datagram_max(c->core) : 0;
}

/* Debugging aid (tests): dump every connection of a node. */
void trst_node_debug(const tryst_node *n, FILE *f);
void trst_node_debug(const tryst_node *n, FILE *f)
{
	for (const struct tryst_conn *c = n->conns; c; c = c->next) {
		fprintf(f, "tryst_conn %p state %d pending %zu dirty %d timer %d\n",
		        (const void *)c, c->state, c->pending_len, c->dirty,
		        evtimer_pending(c->timer, NULL) ? 1 : 0);
		for (const struct tryst_stream *st = c->streams; st; st = st->next)
			fprintf(
			    f,
			    "  stream wrapper: cs %p app_fin %d peer_fin %d ours in %zu out %zu "
			    "theirs in %zu out %zu\n",
			    (void *)st->cs, st->app_fin, st->peer_fin,
			    evbuffer_get_length(bufferevent_get_input(st->ours)),
			    evbuffer_get_length(bufferevent_get_output(st->ours)),
			    evbuffer_get_length(bufferevent_get_input(st->theirs)),
			    evbuffer_get_length(bufferevent_get_output(st->theirs)));
		if (c->core)
			trst_conn_debug(c->core, f);
	}
}

/*
 * rdvwire.h: a rendezvous-server client over the real wire, for the tests
 * and the load benchmark: one node (its own identity and UDP socket) dials
 * the server's key, opens the control stream and pipelines requests on it;
 * every decoded response or push goes to one callback.  Nothing here is
 * the library's client (src/client.c keeps one binding per server with its
 * own policy); this one sends exactly the requests it is given, which is
 * what a load generator and a misbehaving client need.
 *
 * Header-only (static functions), like bench.h, so that a Check suite and
 * a benchmark program share it without a library of their own.
 */
#ifndef TRYST_RDVWIRE_H
#define TRYST_RDVWIRE_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "node.h"
#include "rdv.h"

struct rw_client;
/* A response or push arrived on the control stream; `m` points into a
 * buffer valid during the call. */
typedef void (*rw_msg_fn)(struct rw_client *c, const struct trst_rdv_msg *m, void *ud);

struct rw_client {
	struct event_base *base;
	tryst_node *node;
	tryst_conn *conn;
	tryst_stream *st;
	int established, closed, broken; /* broken: undecodable bytes arrived */
	uint32_t next_id;
	uint64_t sent, received; /* messages */
	rw_msg_fn on_msg;
	void *ud;
};

static inline void rw_read(struct bufferevent *bev, void *arg)
{
	struct rw_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		uint8_t head[4];
		struct trst_rdv_msg m;
		if (avail < 4)
			return;
		evbuffer_copyout(in, head, 4);
		long frame = trst_rdv_frame_size(head, 4);
		if (frame <= 0 || (size_t)frame > TRST_RDV_MESSAGE_MAX) {
			c->broken = 1;
			return;
		}
		if (avail < (size_t)frame)
			return;
		const uint8_t *p = evbuffer_pullup(in, frame);
		if (!p || trst_rdv_decode(p, (size_t)frame, &m) < 0) {
			c->broken = 1;
			return;
		}
		c->received++;
		if (c->on_msg)
			c->on_msg(c, &m, c->ud);
		evbuffer_drain(in, (size_t)frame);
	}
}

static inline void rw_event(struct bufferevent *bev, short what, void *arg)
{
	struct rw_client *c = arg;
	(void)bev;
	if ((what & BEV_EVENT_ERROR) || ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING)))
		c->closed = 1;
}

static inline void rw_conn(tryst_conn *conn, int event, int err, void *arg)
{
	struct rw_client *c = arg;
	(void)err;
	if (!c || c->conn != conn)
		return;
	if (event != TRYST_CONN_ESTABLISHED) {
		c->closed = 1;
		return;
	}
	if (tryst_stream_open(conn, &c->st) < 0) {
		c->closed = 1;
		return;
	}
	struct bufferevent *bev = tryst_stream_bufferevent(c->st);
	bufferevent_setcb(bev, rw_read, NULL, rw_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	c->established = 1;
}

/* Make the client's node (bound to bind_ip, port 0) and dial the server;
 * c->established (or c->closed) tells when it is done.  Returns 0 or the
 * error of tryst_node_new / tryst_node_connect. */
static inline int rw_client_start(struct rw_client *c, struct event_base *base,
                                  const tryst_identity *id, const char *bind_ip,
                                  const uint8_t server_key[TRYST_KEY_SIZE],
                                  const struct sockaddr_storage *server_addr, rw_msg_fn on_msg,
                                  void *ud)
{
	struct tryst_node_config nc;
	int rc;
	memset(c, 0, sizeof *c);
	c->base = base;
	c->on_msg = on_msg;
	c->ud = ud;
	c->next_id = 1;
	tryst_node_config_default(&nc);
	nc.identity = id;
	nc.bind_address = bind_ip;
	nc.on_conn = rw_conn;
	nc.user_data = c;
	if ((rc = tryst_node_new(base, &nc, &c->node)) < 0)
		return rc;
	return tryst_node_connect(c->node, server_key, server_addr, 1, c, &c->conn);
}

static inline void rw_client_free(struct rw_client *c)
{
	tryst_stream_free(c->st);
	tryst_conn_free(c->conn);
	tryst_node_free(c->node);
	memset(c, 0, sizeof *c);
}

/* Encode m (its id is set to the next one and returned) onto the control
 * stream.  Returns the id, or a negative TRYST_ERR_*. */
static inline long rw_send(struct rw_client *c, struct trst_rdv_msg *m)
{
	uint8_t buf[TRST_RDV_REQUEST_MAX + 64];
	size_t len;
	int rc;
	if (!c->st)
		return TRYST_ERR_CLOSED;
	m->id = c->next_id++;
	if ((rc = trst_rdv_encode(m, buf, sizeof buf, &len)) < 0)
		return rc;
	bufferevent_write(tryst_stream_bufferevent(c->st), buf, len);
	c->sent++;
	return (long)m->id;
}

/* Raw bytes onto the control stream (a message the codec would refuse to
 * write). */
static inline void rw_send_bytes(struct rw_client *c, const uint8_t *p, size_t len)
{
	if (c->st)
		bufferevent_write(tryst_stream_bufferevent(c->st), p, len);
}

static inline double rw_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run the loop until *flag is non-zero or `seconds` pass; returns *flag. */
static inline int rw_run_until(struct event_base *base, const int *flag, double seconds)
{
	double end = rw_now() + seconds;
	while (!*flag && rw_now() < end) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	return *flag;
}

/* The record the load benchmarks (bench_rdv, bench_server) give key
 * number k: a host and a server-reflexive candidate, a day's TTL, sequence
 * `seq` (135 bytes once signed). */
static inline void rw_sample_record(tryst_record *r, uint32_t k, uint64_t seq)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&r->candidates[0].addr;
	memset(r, 0, sizeof *r);
	r->seq = seq;
	r->ttl = 24 * 3600;
	r->n_candidates = 2;
	r->candidates[0].kind = TRYST_CAND_HOST;
	r->candidates[1].kind = TRYST_CAND_SRFLX;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(0xc0a80000u | k);
	a->sin_port = htons(41641);
	a = (struct sockaddr_in *)&r->candidates[1].addr;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(0xcb007100u | (k & 0xff));
	a->sin_port = htons((uint16_t)(10000 + k));
}

#endif

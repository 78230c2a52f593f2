/*
 * node_stream.c: streams as libevent bufferevents.  Each stream is one end
 * of a bufferevent_pair: what the application writes into its end is
 * pulled into the core stream's send buffer (bounded, so a slow peer holds
 * the writer back); what arrives is lent to the application's end in
 * pooled blocks; FIN, reset and errors become bufferevent events.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "node_impl.h"
#include "rxpool.h"

/* ---- streams ---- */

static void stream_pull(struct tryst_stream *st);

static void ours_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	stream_pull(arg);
}

static void ours_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tryst_stream *st = arg;
	(void)bev;
	if (what & BEV_EVENT_EOF) { /* the application finished writing */
		st->app_fin = 1;
		stream_pull(st);
	}
}

/* The application drained bytes from its end: flow-control credit. */
static void theirs_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct tryst_stream *st = arg;
	(void)buf;
	if (info->n_deleted && st->cs) {
		trst_conn_stream_consumed(st->cs, info->n_deleted);
		trst_node_mark_dirty(st->conn);
	}
}

/* Move what the application wrote into the stream's send buffer, as far
 * as it has room; finish the stream once everything is in.
 *
 * Backpressure without copies: `ours` reads only while it holds less than
 * STREAM_PULL_LIMIT bytes (ours_input_cb stops it as soon as a hand-over
 * crosses the mark), so the bytes wait in the application's output, where
 * its write watermark sees them.  Each hand-over of the pair then moves
 * whole evbuffer chains.  (A read high-watermark on `ours` would bound the
 * same thing, but the pair then splits chains at the mark and copies every
 * byte once more.) */
static void stream_pull(struct tryst_stream *st)
{
	if (!st->cs)
		return;
	struct evbuffer *in = bufferevent_get_input(st->ours);
	int moved = 0;
	for (int round = 0; round < 2; round++) {
		while (evbuffer_get_length(in)) {
			size_t room = trst_conn_stream_room(st->cs);
			if (!room)
				break;
			struct evbuffer_iovec v;
			if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
				break;
			size_t n = v.iov_len < room ? v.iov_len : room;
			long k = trst_conn_stream_write(st->cs, v.iov_base, n);
			if (k <= 0)
				break;
			evbuffer_drain(in, (size_t)k);
			moved = 1;
		}
		if (evbuffer_get_length(in) >= STREAM_PULL_LIMIT ||
		    (bufferevent_get_enabled(st->ours) & EV_READ))
			break;
		/* Enabling hands over what the application wrote meanwhile
		 * at once: take it in the same call. */
		bufferevent_enable(st->ours, EV_READ);
		if (!st->cs)
			return;
	}
	if (st->app_fin && !evbuffer_get_length(in)) {
		trst_conn_stream_finish(st->cs);
		moved = 1;
	}
	if (moved)
		trst_node_mark_dirty(st->conn);
	/* A zero-copy writer waits for room: deferred, so that it finds the
	 * room of every ACK of this batch of datagrams, not one packet's. */
	if (st->want_room && st->cs && !st->app_fin && !evbuffer_get_length(in) &&
	    trst_conn_stream_room(st->cs)) {
		st->want_room = 0;
		bufferevent_trigger(st->theirs, EV_WRITE,
		                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	}
}

/* A hand-over from the application crossed the mark: stop reading until
 * stream_pull has taken most of it. */
static void ours_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct tryst_stream *st = arg;
	if (info->n_added && evbuffer_get_length(buf) >= STREAM_PULL_LIMIT)
		bufferevent_disable(st->ours, EV_READ);
}

static struct tryst_stream *stream_wrap(struct tryst_conn *c, struct trst_cstream *cs)
{
	struct tryst_stream *st = trst_calloc(1, sizeof *st);
	struct bufferevent *pair[2];
	if (!st)
		return NULL;
	if (bufferevent_pair_new(c->node->base, BEV_OPT_DEFER_CALLBACKS, pair) < 0) {
		trst_free(st);
		return NULL;
	}
	st->conn = c;
	st->cs = cs;
	st->ours = pair[0];
	st->theirs = pair[1];
	trst_cstream_set_user(cs, st);
	bufferevent_setcb(st->ours, ours_read_cb, NULL, ours_event_cb, st);
	bufferevent_enable(st->ours, EV_READ | EV_WRITE);
	evbuffer_add_cb(bufferevent_get_input(st->ours), ours_input_cb, st);
	bufferevent_enable(st->theirs, EV_READ | EV_WRITE);
	evbuffer_add_cb(bufferevent_get_input(st->theirs), theirs_input_cb, st);
	st->next = c->streams;
	if (c->streams)
		c->streams->prev = st;
	c->streams = st;
	return st;
}

static void stream_fail(struct tryst_stream *st, int err, uint64_t code)
{
	if (st->err)
		return;
	/* A stream that ended cleanly both ways is not failed by the
	 * connection closing afterwards. */
	if (err != TRYST_ERR_STREAM_RESET && st->peer_fin && st->fin_acked_told)
		return;
	st->err = err;
	st->code = code;
	bufferevent_trigger_event(st->theirs, BEV_EVENT_ERROR | BEV_EVENT_READING,
	                          BEV_TRIG_DEFER_CALLBACKS);
}

/* The connection is over (err 0: closed cleanly by either side).  Streams
 * whose peer side had ended are not failed by a clean close: the peer
 * closing cleanly says it is done with them. */
void trst_nstream_detach_all(struct tryst_conn *c, int err)
{
	for (struct tryst_stream *st = c->streams; st; st = st->next) {
		if (st->cs) {
			trst_cstream_set_user(st->cs, NULL);
			st->cs = NULL;
		}
		if (!err && st->peer_fin)
			continue;
		stream_fail(st, err ? err : TRYST_ERR_CLOSED, 0);
	}
}

void trst_nstream_opened(void *ud, struct trst_cstream *cs)
{
	struct tryst_conn *c = ud;
	struct tryst_stream *st;
	trst_node_conn_confirm(c);
	tryst_stream_fn on_stream = c->hooks ? c->hooks->on_stream : c->node->cfg.on_stream;
	if (!on_stream || c->user_released || !(st = stream_wrap(c, cs))) {
		trst_conn_stream_reset(cs, 0);
		trst_conn_stream_release(cs);
		return;
	}
	on_stream(c, st, c->user_data);
}

void trst_nstream_data(void *ud, struct trst_cstream *cs, const uint8_t *d, size_t len)
{
	struct tryst_stream *st = trst_cstream_user(cs);
	(void)ud;
	if (!st) {
		trst_conn_stream_consumed(cs, len);
		return;
	}
	/* Into our end's output: the pair moves it to the application's
	 * input; credit comes back as the application drains it. */
	if (trst_rxpool_add(st->conn->node->rxpool, bufferevent_get_output(st->ours), d, len) < 0)
		stream_fail(st, TRYST_ERR_NOMEM, 0);
}

void trst_nstream_fin(void *ud, struct trst_cstream *cs)
{
	struct tryst_stream *st = trst_cstream_user(cs);
	(void)ud;
	if (st) {
		st->peer_fin = 1;
		bufferevent_flush(st->ours, EV_WRITE, BEV_FINISHED);
	}
}

void trst_nstream_reset(void *ud, struct trst_cstream *cs, uint64_t code)
{
	struct tryst_stream *st = trst_cstream_user(cs);
	(void)ud;
	if (st)
		stream_fail(st, TRYST_ERR_STREAM_RESET, code);
}

void trst_nstream_stop(void *ud, struct trst_cstream *cs, uint64_t code)
{
	struct tryst_stream *st = trst_cstream_user(cs);
	(void)ud;
	if (st)
		stream_fail(st, TRYST_ERR_STREAM_RESET, code);
}

void trst_nstream_writable(void *ud, struct trst_cstream *cs)
{
	struct tryst_stream *st = trst_cstream_user(cs);
	(void)ud;
	if (st)
		stream_pull(st);
}

/* Our FIN and everything before it is acknowledged: the application
 * hears BEV_EVENT_EOF | BEV_EVENT_WRITING (see tryst.h). */
void trst_nstream_sent(void *ud, struct trst_cstream *cs)
{
	struct tryst_stream *st = trst_cstream_user(cs);
	(void)ud;
	if (st && !st->fin_acked_told) {
		st->fin_acked_told = 1;
		bufferevent_trigger_event(st->theirs, BEV_EVENT_EOF | BEV_EVENT_WRITING,
		                          BEV_TRIG_DEFER_CALLBACKS);
	}
}

void trst_nstream_closed(void *ud, struct trst_cstream *cs)
{
	struct tryst_stream *st = trst_cstream_user(cs);
	(void)ud;
	if (st)
		st->cs = NULL;
}

TRYST_EXPORT int tryst_stream_open(tryst_conn *c, tryst_stream **out)
{
	struct trst_cstream *cs;
	struct tryst_stream *st;
	int rc;

	if (!c || !out)
		return TRYST_ERR_INVALID;
	if (c->state != TC_OPEN || !c->core)
		return TRYST_ERR_CLOSED;
	if ((rc = trst_conn_stream_open(c->core, &cs)) < 0) {
		if (rc == TRYST_ERR_STREAM_LIMIT)
			trst_node_mark_dirty(c); /* tell the peer we are blocked */
		return rc;
	}
	if (!(st = stream_wrap(c, cs))) {
		trst_conn_stream_release(cs);
		return TRYST_ERR_NOMEM;
	}
	*out = st;
	return 0;
}

TRYST_EXPORT struct bufferevent *tryst_stream_bufferevent(tryst_stream *st)
{
	return st->theirs;
}

TRYST_EXPORT uint64_t tryst_stream_id(const tryst_stream *st)
{
	return st->cs ? trst_cstream_id(st->cs) : UINT64_MAX;
}

TRYST_EXPORT tryst_conn *tryst_stream_conn(const tryst_stream *st)
{
	return st->conn;
}

TRYST_EXPORT int tryst_stream_shutdown(tryst_stream *st)
{
	if (!st)
		return TRYST_ERR_INVALID;
	bufferevent_flush(st->theirs, EV_WRITE, BEV_FINISHED);
	st->app_fin = 1;
	stream_pull(st);
	return 0;
}

TRYST_EXPORT void *tryst_stream_reserve(tryst_stream *st, size_t *len)
{
	size_t want;
	uint8_t *p;

	if (!st || !len)
		return NULL;
	want = *len;
	*len = 0;
	st->reserved = 0;
	if (!st->cs || st->app_fin || st->err)
		return NULL;
	/* What went through the bufferevent goes first: nothing until it is
	 * in the send buffer (stream_pull wakes us then). */
	if (evbuffer_get_length(bufferevent_get_output(st->theirs)) ||
	    evbuffer_get_length(bufferevent_get_input(st->ours))) {
		st->want_room = 1;
		return NULL;
	}
	if (!(p = trst_conn_stream_reserve(st->cs, want, len))) {
		st->want_room = trst_conn_stream_room(st->cs) == 0;
		return NULL;
	}
	st->reserved = *len;
	return p;
}

TRYST_EXPORT int tryst_stream_commit(tryst_stream *st, size_t n)
{
	if (!st || n > st->reserved || (n && !st->cs))
		return TRYST_ERR_INVALID;
	st->reserved = 0;
	if (!n)
		return 0;
	trst_conn_stream_commit(st->cs, n);
	trst_node_mark_dirty(st->conn);
	return 0;
}

TRYST_EXPORT int tryst_stream_reset(tryst_stream *st, uint64_t code)
{
	if (!st)
		return TRYST_ERR_INVALID;
	if (st->cs) {
		trst_conn_stream_reset(st->cs, code);
		trst_conn_stream_stop(st->cs, code);
		trst_node_mark_dirty(st->conn);
	}
	return 0;
}

TRYST_EXPORT int tryst_stream_error(const tryst_stream *st, uint64_t *code)
{
	if (code)
		*code = st->code;
	return st->err;
}

TRYST_EXPORT void tryst_stream_free(tryst_stream *st)
{
	if (!st)
		return;
	struct tryst_conn *c = st->conn;
	if (st->cs) {
		stream_pull(st);
		trst_cstream_set_user(st->cs, NULL);
		trst_conn_stream_release(st->cs);
		trst_node_mark_dirty(c);
	}
	if (st->prev)
		st->prev->next = st->next;
	else
		c->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	evbuffer_remove_cb(bufferevent_get_input(st->theirs), theirs_input_cb, st);
	bufferevent_free(st->theirs);
	bufferevent_free(st->ours);
	trst_free(st);
}


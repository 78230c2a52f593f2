/*
 * pipe.c: stdin -> stream -> peer, peer -> stream -> stdout.
 *
 * Backpressure: stdin is read only while the stream's send buffer has
 * room (it is read straight into it); bytes for stdout are taken from the stream
 * only while fewer than OUT_HIGH wait for a slow stdout, so a slow
 * consumer holds the peer back through flow control instead of filling
 * memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cli.h"
#include "pipe.h"

#define OUT_HIGH   (1u << 20)
#define READ_CHUNK (256u * 1024)
#define PIPE_SIZE  (256 * 1024)

struct cli_pipe {
	struct event_base *base;
	tryst_stream *st;
	struct bufferevent *bev;
	int in, out;
	int in_regular, out_regular;
	struct event *in_ev, *out_ev, *kick;
	struct evbuffer *outq; /* bytes waiting for a non-blocking stdout */
	uint8_t in_eof, peer_eof, sent_acked, finished, in_flush;
	uint8_t closed_clean; /* the connection closed cleanly before our EOF */
	uint64_t bytes_in, bytes_out;
	cli_pipe_done_fn done;
	void *arg;
};

static int is_regular(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* A pipe holds 64 KiB by default: at transport speed the writer and the
 * reader then wake each other for every 64 KiB.  PIPE_SIZE cuts that 4x
 * and still fits the L2 cache, so the reader finds the bytes warm
 * (fcntl(2) F_SETPIPE_SZ; not a pipe or not allowed: it stays as it is). */
static void grow_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	int cur = fcntl(fd, F_GETPIPE_SZ);
	if (cur >= 0 && cur < PIPE_SIZE)
		(void)fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
#else
	(void)fd;
#endif
}

static void finish(struct cli_pipe *p, int status)
{
	if (p->finished)
		return;
	p->finished = 1;
	if (p->in_ev)
		event_del(p->in_ev);
	if (p->out_ev)
		event_del(p->out_ev);
	p->done(p, status, p->arg);
}

static void check_done(struct cli_pipe *p)
{
	if (p->peer_eof && p->sent_acked && !evbuffer_get_length(p->outq) &&
	    !evbuffer_get_length(bufferevent_get_input(p->bev)))
		finish(p, 0);
}

static void bev_read_cb(struct bufferevent *bev, void *arg);

/* Read what stdin has, as far as the stream takes it: straight into the
 * stream's send buffer (tryst_stream_reserve), so no byte is copied on the
 * way from the kernel to the packet sealer.  When the buffer is full the
 * stream calls bev_write_cb once it has room again. */
static void pump_in(struct cli_pipe *p)
{
	int full = 0;
	while (!p->in_eof) {
		size_t len = READ_CHUNK;
		uint8_t *at = tryst_stream_reserve(p->st, &len);
		if (!at) {
			full = 1;
			break;
		}
		ssize_t n = read(p->in, at, len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			tryst_stream_commit(p->st, 0);
			break;
		}
		if (n <= 0) {
			if (n < 0)
				cli_error("reading input: %s", strerror(errno));
			tryst_stream_commit(p->st, 0);
			p->in_eof = 1;
			tryst_stream_shutdown(p->st);
			break;
		}
		tryst_stream_commit(p->st, (size_t)n);
		p->bytes_in += (uint64_t)n;
		if (!p->in_regular && (size_t)n < len)
			break; /* a pipe, drained: come back when it has more */
	}
	if (p->in_eof || !p->in_ev)
		return;
	/* Wait for input only while the stream has room for it. */
	if (full)
		event_del(p->in_ev);
	else
		event_add(p->in_ev, NULL);
}

static void in_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump_in(arg);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump_in(arg);
}

/* Write queued bytes to a non-blocking stdout. */
static void flush_out(struct cli_pipe *p)
{
	while (evbuffer_get_length(p->outq)) {
		int n = evbuffer_write(p->outq, p->out);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			cli_error("writing output: %s", strerror(errno));
			finish(p, 1);
			return;
		}
	}
	if (evbuffer_get_length(p->outq))
		event_add(p->out_ev, NULL);
	/* Below the mark again: take more from the stream, starting with
	 * what already waits in its input (enabling reads alone would not
	 * call us for bytes that are there already). */
	if (evbuffer_get_length(p->outq) < OUT_HIGH) {
		bufferevent_enable(p->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(p->bev)) && !p->in_flush) {
			p->in_flush = 1;
			bev_read_cb(p->bev, p);
			p->in_flush = 0;
		}
	}
	check_done(p);
}

static void out_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_out(arg);
}

static void bev_read_cb(struct bufferevent *bev, void *arg)
{
	struct cli_pipe *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	p->bytes_out += len;
	if (p->out_regular) {
		/* A file: plain blocking writes are fine. */
		while (evbuffer_get_length(in)) {
			int n = evbuffer_write(in, p->out);
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				cli_error("writing output: %s", strerror(errno));
				finish(p, 1);
				return;
			}
		}
		return;
	}
	evbuffer_add_buffer(p->outq, in);
	if (evbuffer_get_length(p->outq) >= OUT_HIGH)
		bufferevent_disable(bev, EV_READ); /* the peer waits for stdout */
	flush_out(p);
}

static void bev_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pump_in(arg);
}

static void bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct cli_pipe *p = arg;
	(void)bev;
	if (what & BEV_EVENT_ERROR) {
		uint64_t code;
		int err = tryst_stream_error(p->st, &code);
		if (err == TRYST_ERR_STREAM_RESET)
			cli_error("the peer reset the stream (code %llu)",
			          (unsigned long long)code);
		else
			cli_error("stream failed: %s",
			          tryst_strerror(err ? err : TRYST_ERR_CLOSED));
		finish(p, 1);
		return;
	}
	/* Both may come in one call (libevent merges deferred events). */
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_WRITING))
		p->sent_acked = 1;
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING)) {
		p->peer_eof = 1;
		if (p->closed_clean && p->in_eof)
			p->sent_acked = 1; /* as in cli_pipe_conn_closed */
		if (evbuffer_get_length(bufferevent_get_input(p->bev)) &&
		    evbuffer_get_length(p->outq) < OUT_HIGH)
			bev_read_cb(p->bev, p);
	}
	check_done(p);
}

struct cli_pipe *cli_pipe_start(struct event_base *base, tryst_stream *st, int in, int out,
                                cli_pipe_done_fn done, void *arg)
{
	struct cli_pipe *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->base = base;
	p->st = st;
	p->bev = tryst_stream_bufferevent(st);
	p->in = in;
	p->out = out;
	p->done = done;
	p->arg = arg;
	p->in_regular = is_regular(in);
	p->out_regular = is_regular(out);
	p->outq = evbuffer_new();
	if (!p->in_regular) {
		evutil_make_socket_nonblocking(in);
		p->in_ev = event_new(base, in, EV_READ, in_cb, p);
	}
	if (!p->in_regular)
		grow_pipe(in);
	if (!p->out_regular) {
		grow_pipe(out);
		evutil_make_socket_nonblocking(out);
		p->out_ev = event_new(base, out, EV_WRITE, out_cb, p);
	}
	p->kick = event_new(base, -1, 0, kick_cb, p);
	bufferevent_setcb(p->bev, bev_read_cb, bev_write_cb, bev_event_cb, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	event_active(p->kick, 0, 0);
	return p;
}

void cli_pipe_conn_closed(struct cli_pipe *p, int err)
{
	if (!err && p->peer_eof && p->in_eof) {
		/* The peer closed cleanly after its end arrived: done once what
		 * it sent has reached stdout. */
		p->sent_acked = 1;
		check_done(p);
		return;
	}
	if (!err && !p->finished && p->in_eof) {
		/* A clean close may overtake the stream's own (deferred) end:
		 * the stream still says how it ended -- EOF if the peer's end
		 * had arrived, else an error. */
		p->closed_clean = 1;
		return;
	}
	if (!p->finished) {
		cli_error("connection closed before the transfer finished: %s",
		          tryst_strerror(err ? err : TRYST_ERR_CLOSED));
		finish(p, 1);
	}
}

uint64_t cli_pipe_bytes_in(const struct cli_pipe *p)
{
	return p->bytes_in;
}

uint64_t cli_pipe_bytes_out(const struct cli_pipe *p)
{
	return p->bytes_out;
}

void cli_pipe_free(struct cli_pipe *p)
{
	if (!p)
		return;
	if (p->in_ev)
		event_free(p->in_ev);
	if (p->out_ev)
		event_free(p->out_ev);
	event_free(p->kick);
	evbuffer_free(p->outq);
	free(p);
}

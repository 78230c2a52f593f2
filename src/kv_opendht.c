/*
 * kv_opendht.c: the key-value store (src/kv.h) on an OpenDHT runner
 * through its C wrapper (libopendht-c 2.4).
 *
 * The runner has threads of its own and calls back on them.  Those
 * callbacks do nothing but copy what they were given into a queue under a
 * mutex and write to an eventfd; the eventfd is an event on the caller's
 * event_base, whose callback takes the queue and delivers it there.  So
 * nothing of tryst runs on OpenDHT's threads, and the base need not be
 * made thread-safe (no evthread_use_pthreads).  The runner is never called
 * from one of its own callbacks (dht_runner_delete and
 * dht_runner_get_bound_port deadlock there).
 *
 * Every callback of the runner gets a ticket that stays allocated until
 * the runner's last callback for it has been delivered (get and put: done;
 * listen: its shutdown callback) or the runner is deleted, so a late
 * callback never touches freed memory; a cancelled ticket only stops
 * delivering.  Each get and put also has an app-side timeout: an
 * unreachable bootstrap node stalls OpenDHT operations for 8-9 s.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <opendht/opendht_c.h>

#include "internal.h"
#include "kv.h"

/* Longer than OpenDHT's own stall on an unreachable node (8-9 s). */
#define OP_TIMEOUT_MS 10000
/* OpenDHT's graceful shutdown hands the values this node stores on to
 * others and waits for their answers: seconds, on a node that has been
 * storing.  A process that is exiting waits this long at most, then stops
 * the runner anyway (its stored values live on at the other nodes that
 * hold them; nothing of ours depends on it). */
#define SHUTDOWN_WAIT_MS 1000

enum { T_PUT, T_GET, T_LISTEN };
enum { M_VALUE, M_DONE, M_END };

struct ticket {
	struct ticket *next;
	struct od *od;
	trst_kv_token tok;
	int kind, permanent;
	int cancelled; /* deliver nothing more */
	int dying;     /* being freed after its last callback */
	int finished;  /* done delivered (timeout or runner) */
	dht_infohash hash;
	trst_kv_value_fn value;
	trst_kv_done_fn done;
	void *ud;
	dht_value *val;      /* put: kept to learn the id OpenDHT gives it */
	dht_value_id val_id; /* put: known once done */
	int have_id;
	dht_op_token *ltok; /* listen */
	struct event *timeout;
};

struct msg {
	struct msg *next;
	struct ticket *t;
	int kind, ok;
	dht_value_id id;
	size_t len;
	uint8_t data[];
};

struct od {
	struct trst_kv kv;
	struct event_base *base;
	dht_runner *runner;
	uint16_t port;
	int efd;
	struct event *efd_ev;
	trst_kv_token next_tok;
	struct ticket *tickets;
	/* Shared with the runner's threads, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct msg *q, **q_tail;
	int shut_down, oom;
};

static struct od *OD(trst_kv *kv)
{
	return (struct od *)kv;
}

/* ---- the runner's threads: copy, queue, wake ---- */

static void enqueue(struct ticket *t, int kind, int ok, dht_value_id id, const uint8_t *data,
                    size_t len)
{
	struct od *od = t->od;
	struct msg *m = malloc(sizeof *m + len);
	uint64_t one = 1;

	pthread_mutex_lock(&od->mu);
	if (!m) {
		od->oom = 1; /* reported on the base's thread */
	} else {
		m->next = NULL;
		m->t = t;
		m->kind = kind;
		m->ok = ok;
		m->id = id;
		m->len = len;
		if (len)
			memcpy(m->data, data, len);
		*od->q_tail = m;
		od->q_tail = &m->next;
	}
	pthread_mutex_unlock(&od->mu);
	/* The counter cannot overflow in practice; EAGAIN would still leave
	 * it readable, which is all that matters. */
	ssize_t w = write(od->efd, &one, sizeof one);
	(void)w;
}

static bool on_get_value(const dht_value *v, void *arg)
{
	dht_data_view dv = dht_value_get_data(v);
	enqueue(arg, M_VALUE, 1, 0, dv.data, dv.size);
	return true;
}

static bool on_listen_value(const dht_value *v, bool expired, void *arg)
{
	if (!expired) {
		dht_data_view dv = dht_value_get_data(v);
		enqueue(arg, M_VALUE, 1, 0, dv.data, dv.size);
	}
	return true;
}

static void on_get_done(bool ok, void *arg)
{
	enqueue(arg, M_DONE, ok, 0, NULL, 0);
}

static void on_put_done(bool ok, void *arg)
{
	struct ticket *t = arg;
	/* OpenDHT gave the value its id on its thread before calling this;
	 * cancel_put needs it. */
	enqueue(t, M_DONE, ok, dht_value_get_id(t->val), NULL, 0);
}

static void on_listen_end(void *arg)
{
	enqueue(arg, M_END, 1, 0, NULL, 0);
}

static void on_shutdown(void *arg)
{
	struct od *od = arg;
	pthread_mutex_lock(&od->mu);
	od->shut_down = 1;
	pthread_cond_signal(&od->cv);
	pthread_mutex_unlock(&od->mu);
}

/* ---- the base's thread ---- */

static void ticket_free(struct ticket *t)
{
	struct od *od = t->od;

	for (struct ticket **p = &od->tickets; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	if (t->val)
		dht_value_unref(t->val);
	if (t->ltok)
		dht_op_token_delete(t->ltok);
	if (t->timeout)
		event_free(t->timeout);
	trst_free(t);
}

static void put_cancel_now(struct ticket *t)
{
	/* Stops the runner refreshing it; the stored value expires. */
	if (t->permanent && t->have_id)
		dht_runner_cancel_put(t->od->runner, &t->hash, t->val_id);
}

/* Deliver done once: from the runner or from the app-side timeout. */
static void finish(struct ticket *t, int ok)
{
	if (t->finished)
		return;
	t->finished = 1;
	if (t->timeout)
		event_del(t->timeout);
	if (!t->cancelled && t->done)
		t->done(t->ud, ok);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ticket *t = arg;
	(void)fd;
	(void)what;
	TRST_LOG(TRYST_LOG_DEBUG, "opendht: %s timed out", t->kind == T_GET ? "get" : "put");
	finish(t, 0);
}

static void handle(struct msg *m)
{
	struct ticket *t = m->t;

	switch (m->kind) {
	case M_VALUE:
		if (!t->cancelled && !(t->kind == T_GET && t->finished))
			t->value(t->ud, m->data, m->len);
		return;
	case M_DONE:
		if (t->kind == T_PUT) {
			t->val_id = m->id;
			t->have_id = 1;
			if (t->cancelled)
				put_cancel_now(t);
		}
		/* The ticket may be freed by the callback's cancel; keep what
		 * decides its fate first. */
		int keep = t->kind == T_PUT && t->permanent && !t->cancelled;
		t->dying = !keep;
		finish(t, m->ok);
		if (!keep)
			ticket_free(t);
		return;
	case M_END: ticket_free(t); return;
	}
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct od *od = arg;
	struct msg *q;
	uint64_t n;
	int oom;
	(void)what;

	ssize_t r = read(fd, &n, sizeof n);
	(void)r;
	pthread_mutex_lock(&od->mu);
	q = od->q;
	od->q = NULL;
	od->q_tail = &od->q;
	oom = od->oom;
	od->oom = 0;
	pthread_mutex_unlock(&od->mu);
	if (oom)
		TRST_LOG(TRYST_LOG_WARN, "opendht: out of memory, a value was dropped");
	while (q) {
		struct msg *m = q;
		q = m->next;
		handle(m);
		free(m);
	}
}

static struct ticket *ticket_new(struct od *od, int kind, const uint8_t *hash,
                                 trst_kv_value_fn value, trst_kv_done_fn done, void *ud)
{
	struct ticket *t = trst_calloc(1, sizeof *t);

	if (!t)
		return NULL;
	if (kind != T_LISTEN) {
		struct timeval tv = {OP_TIMEOUT_MS / 1000, (OP_TIMEOUT_MS % 1000) * 1000};
		if (!(t->timeout = evtimer_new(od->base, timeout_cb, t))) {
			trst_free(t);
			return NULL;
		}
		evtimer_add(t->timeout, &tv);
	}
	t->od = od;
	t->tok = ++od->next_tok;
	t->kind = kind;
	memcpy(t->hash.d, hash, TRST_KV_HASH_SIZE);
	t->value = value;
	t->done = done;
	t->ud = ud;
	t->next = od->tickets;
	od->tickets = t;
	return t;
}

static int od_put(trst_kv *kv, const uint8_t *hash, const uint8_t *val, size_t len, int permanent,
                  trst_kv_done_fn done, void *ud, trst_kv_token *tok)
{
	struct od *od = OD(kv);
	struct ticket *t;

	if (!(t = ticket_new(od, T_PUT, hash, NULL, done, ud)))
		return TRYST_ERR_NOMEM;
	t->permanent = permanent;
	if (!(t->val = dht_value_new(val, len))) { /* copies */
		ticket_free(t);
		return TRYST_ERR_NOMEM;
	}
	dht_runner_put(od->runner, &t->hash, t->val, on_put_done, t, permanent);
	if (tok)
		*tok = t->tok;
	return 0;
}

static int od_get(trst_kv *kv, const uint8_t *hash, trst_kv_value_fn value, trst_kv_done_fn done,
                  void *ud, trst_kv_token *tok)
{
	struct od *od = OD(kv);
	struct ticket *t;

	if (!(t = ticket_new(od, T_GET, hash, value, done, ud)))
		return TRYST_ERR_NOMEM;
	/* The value callback must not be NULL (LAB facts), and is always set. */
	dht_runner_get(od->runner, &t->hash, on_get_value, on_get_done, t);
	if (tok)
		*tok = t->tok;
	return 0;
}

static int od_listen(trst_kv *kv, const uint8_t *hash, trst_kv_value_fn value, void *ud,
                     trst_kv_token *tok)
{
	struct od *od = OD(kv);
	struct ticket *t;

	if (!(t = ticket_new(od, T_LISTEN, hash, value, NULL, ud)))
		return TRYST_ERR_NOMEM;
	if (!(t->ltok =
	          dht_runner_listen(od->runner, &t->hash, on_listen_value, on_listen_end, t))) {
		ticket_free(t);
		return TRYST_ERR_DHT;
	}
	*tok = t->tok;
	return 0;
}

static void od_cancel(trst_kv *kv, trst_kv_token tok)
{
	struct od *od = OD(kv);
	struct ticket *t = od->tickets;

	while (t && t->tok != tok)
		t = t->next;
	if (!t || t->cancelled)
		return;
	t->cancelled = 1;
	if (t->dying)
		return; /* inside its own last callback: handle() frees it */
	if (t->timeout)
		event_del(t->timeout);
	if (t->kind == T_LISTEN) {
		/* Freed when the runner says the listen is over (M_END). */
		dht_runner_cancel_listen(od->runner, &t->hash, t->ltok);
	} else if (t->kind == T_PUT && t->have_id) {
		/* done already arrived: nothing more will come for it. */
		put_cancel_now(t);
		ticket_free(t);
	}
	/* A get, or a put still waiting for done: freed when done arrives. */
}

static uint64_t od_now(trst_kv *kv)
{
	(void)kv;
	return tryst_now_us();
}

static uint16_t od_port(const trst_kv *kv)
{
	return ((const struct od *)kv)->port;
}

static void od_free(trst_kv *kv)
{
	struct od *od = OD(kv);

	if (od->runner && dht_runner_is_running(od->runner)) {
		struct timespec until;
		dht_runner_shutdown(od->runner, on_shutdown, od);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(SHUTDOWN_WAIT_MS % 1000) * 1000000L;
		until.tv_sec += SHUTDOWN_WAIT_MS / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&od->mu);
		while (!od->shut_down)
			if (pthread_cond_timedwait(&od->cv, &od->mu, &until) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&od->mu);
		if (!od->shut_down)
			TRST_LOG(TRYST_LOG_DEBUG, "opendht: shutdown did not finish in %d ms",
			         SHUTDOWN_WAIT_MS);
	}
	if (od->runner)
		dht_runner_delete(od->runner); /* joins its threads: no callback after */
	while (od->q) {
		struct msg *m = od->q;
		od->q = m->next;
		free(m);
	}
	while (od->tickets)
		ticket_free(od->tickets);
	if (od->efd_ev)
		event_free(od->efd_ev);
	if (od->efd >= 0)
		close(od->efd);
	pthread_cond_destroy(&od->cv);
	pthread_mutex_destroy(&od->mu);
	trst_free(od);
}

/* OpenDHT waits on its sockets with select(): a descriptor at or above
 * FD_SETSIZE makes glibc abort the process.  Its sockets take the lowest
 * free descriptors, so refuse to start unless a few below the limit are
 * free (the caller then has to start the DHT before opening many sockets). */
static int fds_left_for_select(void)
{
	int fds[16], n = 0, ok = 1;

	for (; n < (int)TRST_ARRAY_LEN(fds); n++) {
		if ((fds[n] = fcntl(0, F_DUPFD_CLOEXEC, 0)) < 0 && (fds[n] = eventfd(0, 0)) < 0)
			break;
		if (fds[n] >= FD_SETSIZE)
			ok = 0;
	}
	if (n < (int)TRST_ARRAY_LEN(fds))
		ok = 0;
	while (n-- > 0)
		close(fds[n]);
	return ok;
}

static const struct trst_kv_ops od_ops = {
    od_put, od_get, od_listen, od_cancel, od_now, od_port, od_free,
};

int trst_kv_opendht_new(struct event_base *base, const struct trst_kv_opendht_config *cfg,
                        trst_kv **out)
{
	struct od *od;
	dht_runner_config rc;
	int err;

	if (!base || !cfg || !out || (cfg->n_bootstrap && !cfg->bootstrap))
		return TRYST_ERR_INVALID;
	if (!(od = trst_calloc(1, sizeof *od)))
		return TRYST_ERR_NOMEM;
	od->kv.ops = &od_ops;
	od->base = base;
	od->q_tail = &od->q;
	od->efd = -1;
	pthread_mutex_init(&od->mu, NULL);
	pthread_cond_init(&od->cv, NULL);
	if ((od->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		err = TRYST_ERR_SYSTEM;
		goto fail;
	}
	if (!(od->efd_ev = event_new(base, od->efd, EV_READ | EV_PERSIST, wake_cb, od)) ||
	    event_add(od->efd_ev, NULL) < 0) {
		err = TRYST_ERR_NOMEM;
		goto fail;
	}
	if (!fds_left_for_select()) {
		TRST_LOG(TRYST_LOG_ERROR,
		         "opendht: descriptors near FD_SETSIZE (%d) are taken; "
		         "start the DHT before opening many sockets",
		         FD_SETSIZE);
		err = TRYST_ERR_DHT;
		goto fail;
	}
	if (!(od->runner = dht_runner_new())) {
		err = TRYST_ERR_DHT;
		goto fail;
	}
	dht_runner_config_default(&rc);
	rc.dht_config.node_config.network = cfg->network;
	rc.threaded = true;
	/* No multicast peer discovery: nothing may leave for a LAN. */
	rc.peer_discovery = false;
	rc.peer_publish = false;
	rc.log = false;
	if ((err = dht_runner_run_config(od->runner, cfg->port, &rc)) != 0) {
		TRST_LOG(TRYST_LOG_ERROR, "opendht: cannot start on port %u (%d)", cfg->port, err);
		err = TRYST_ERR_DHT;
		goto fail;
	}
	od->port = dht_runner_get_bound_port(od->runner, AF_INET);
	if (!od->port)
		od->port = dht_runner_get_bound_port(od->runner, AF_INET6);
	for (size_t i = 0; i < cfg->n_bootstrap; i++) {
		const struct sockaddr_storage *ss = &cfg->bootstrap[i];
		char host[INET6_ADDRSTRLEN], port[8];
		const void *a;
		uint16_t p;
		if (ss->ss_family == AF_INET) {
			a = &((const struct sockaddr_in *)ss)->sin_addr;
			p = ntohs(((const struct sockaddr_in *)ss)->sin_port);
		} else if (ss->ss_family == AF_INET6) {
			a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
			p = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
		} else {
			continue;
		}
		if (!inet_ntop(ss->ss_family, a, host, sizeof host))
			continue;
		snprintf(port, sizeof port, "%u", p);
		dht_runner_bootstrap(od->runner, host, port);
	}
	*out = &od->kv;
	return 0;
fail:
	od_free(&od->kv);
	return err;
}

struct dht_runner *trst_kv_opendht_runner(trst_kv *kv)
{
	return OD(kv)->runner;
}

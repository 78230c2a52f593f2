/*
 * dhtnet.h: a local OpenDHT network of in-process runners on loopback, for
 * tests/check_dht_net.c and tests/bench/bench_dht.c.  The network id is a
 * random private one (0x7e57xxxx), so these runners never join or answer
 * the public network; every bootstrap is 127.0.0.1 and a port read back
 * from a runner started here; LAN peer discovery is off.  Also: a libevent
 * base with a tick that keeps a bounded wait responsive, and raw get/put
 * through a runner, waited for on the calling thread.
 */
#ifndef TRYST_DHTNET_H
#define TRYST_DHTNET_H

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <opendht/opendht_c.h>
#include <sodium.h>

#define DN_S_US 1000000ull

struct dhtnet {
	uint32_t network;
	int n;
	dht_runner **r;
	struct event_base *base;
	struct event *tick; /* keeps EVLOOP_ONCE from sleeping for long */
};

static inline uint64_t dn_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * DN_S_US + (uint64_t)ts.tv_nsec / 1000;
}

static inline void dn_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static inline uint16_t dn_port(const struct dhtnet *n, int i)
{
	return dht_runner_get_bound_port(n->r[i], AF_INET);
}

/* Start `count` runners, each bootstrapped to the first, and a base (with
 * precise timers).  Returns 0 or -1. */
static inline int dn_start(struct dhtnet *n, int count)
{
	struct timeval tv = {0, 10000};
	struct event_config *ec;
	char port0[8] = "";

	memset(n, 0, sizeof *n);
	n->network = 0x7e570000u | (randombytes_uniform(0xffff) + 1);
	if (!(n->r = calloc((size_t)count, sizeof *n->r)))
		return -1;
	for (int i = 0; i < count; i++) {
		dht_runner_config c;
		dht_runner_config_default(&c);
		c.dht_config.node_config.network = n->network;
		c.threaded = true;
		c.peer_discovery = false; /* no multicast to the LAN */
		c.peer_publish = false;
		c.log = false;
		if (!(n->r[i] = dht_runner_new()))
			return -1;
		n->n = i + 1;
		if (dht_runner_run_config(n->r[i], 0, &c) != 0)
			return -1;
		if (i == 0)
			snprintf(port0, sizeof port0, "%u", dn_port(n, 0));
		else
			dht_runner_bootstrap(n->r[i], "127.0.0.1", port0);
	}
	if (!(ec = event_config_new()))
		return -1;
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	n->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!n->base || !(n->tick = event_new(n->base, -1, EV_PERSIST, dn_tick_cb, NULL)))
		return -1;
	event_add(n->tick, &tv);
	return 0;
}

/* The addresses tryst nodes bootstrap through: runners 0 and 1. */
static inline void dn_bootstrap(const struct dhtnet *n, struct sockaddr_storage bs[2])
{
	memset(bs, 0, 2 * sizeof *bs);
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&bs[i];
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons(dn_port(n, i < n->n ? i : 0));
	}
}

static inline void dn_flag_cb(void *arg)
{
	__atomic_store_n((int *)arg, 1, __ATOMIC_SEQ_CST);
}

/* Clean stop: shutdown, wait for its callback, delete. */
static inline void dn_stop(struct dhtnet *n)
{
	for (int i = 0; i < n->n; i++) {
		int done = 0;
		dht_runner_shutdown(n->r[i], dn_flag_cb, &done);
		for (int w = 0; w < 10000 && !__atomic_load_n(&done, __ATOMIC_SEQ_CST); w++)
			usleep(1000);
		dht_runner_delete(n->r[i]);
	}
	free(n->r);
	if (n->tick)
		event_free(n->tick);
	if (n->base)
		event_base_free(n->base);
	memset(n, 0, sizeof *n);
}

/* Run the base until *flag or `ms` pass; returns *flag. */
static inline int dn_run_until(struct dhtnet *n, const int *flag, unsigned ms)
{
	uint64_t end = dn_mono_us() + ms * 1000ull;
	while (!*flag && dn_mono_us() < end)
		event_base_loop(n->base, EVLOOP_ONCE);
	return *flag;
}

/* ---- raw operations through one runner, waited for here ---- */

typedef void (*dn_value_fn)(void *ud, const uint8_t *v, size_t len);

struct dn_op {
	pthread_mutex_t mu;
	int done, ok;
	dn_value_fn fn;
	void *ud;
};

static inline bool dn_value_cb(const dht_value *v, void *arg)
{
	struct dn_op *op = arg;
	dht_data_view dv = dht_value_get_data(v);
	pthread_mutex_lock(&op->mu);
	if (op->fn)
		op->fn(op->ud, dv.data, dv.size);
	pthread_mutex_unlock(&op->mu);
	return true;
}

static inline void dn_done_cb(bool ok, void *arg)
{
	struct dn_op *op = arg;
	pthread_mutex_lock(&op->mu);
	op->done = 1;
	op->ok = ok;
	pthread_mutex_unlock(&op->mu);
}

/* Wait for done; returns 1 if the operation said ok, 0 if not, -1 if it
 * did not finish in 10 s (then the op must stay allocated: it is leaked). */
static inline int dn_wait(struct dn_op *op)
{
	for (int w = 0; w < 200000; w++) {
		pthread_mutex_lock(&op->mu);
		int d = op->done, ok = op->ok;
		pthread_mutex_unlock(&op->mu);
		if (d)
			return ok;
		usleep(50);
	}
	return -1;
}

/* Every value at `ptr` to fn (on the runner's thread, serialised). */
static inline int dn_get(dht_runner *r, const uint8_t ptr[20], dn_value_fn fn, void *ud)
{
	struct dn_op *op = calloc(1, sizeof *op);
	dht_infohash h;
	int rc;
	if (!op)
		return -1;
	pthread_mutex_init(&op->mu, NULL);
	op->fn = fn;
	op->ud = ud;
	memcpy(h.d, ptr, 20);
	dht_runner_get(r, &h, dn_value_cb, dn_done_cb, op);
	if ((rc = dn_wait(op)) >= 0)
		free(op);
	return rc;
}

/* Put (not permanent) `len` bytes at `ptr`. */
static inline int dn_put(dht_runner *r, const uint8_t ptr[20], const uint8_t *v, size_t len)
{
	struct dn_op *op = calloc(1, sizeof *op);
	dht_value *val = dht_value_new(v, len);
	dht_infohash h;
	int rc;
	if (!op || !val) {
		free(op);
		return -1;
	}
	pthread_mutex_init(&op->mu, NULL);
	memcpy(h.d, ptr, 20);
	dht_runner_put(r, &h, val, dn_done_cb, op, false);
	dht_value_unref(val);
	if ((rc = dn_wait(op)) >= 0)
		free(op);
	return rc;
}

#endif

/* check_udp.c: the UDP socket layer on loopback (127.0.0.1 and ::1, ports
 * picked by the kernel): sizes, dual-stack source addresses, GSO/GRO and
 * their fallbacks, batches, back-pressure, ICMP errors. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "udp.h"

/* ---- what a socket received ------------------------------------------------ */

struct rec {
	size_t off, len; /* in the collector's arena */
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint64_t time_us;
};

struct coll {
	struct trst_udp *u;
	int copy;         /* keep the bytes (else only count) */
	int free_in_cb;   /* free the socket from the receive callback */
	size_t n, bytes;  /* datagrams and bytes received */
	size_t callbacks; /* receive callbacks */
	size_t max_per_event;
	size_t this_event;
	uint8_t *arena;
	size_t arena_len, arena_cap;
	struct rec *recs;
	size_t recs_cap;
	size_t writable;
	size_t errors;
	int last_err;
	uint32_t last_info;
	struct sockaddr_storage err_to;
	socklen_t err_tolen;
};

static size_t rx_all; /* datagrams received by all sockets */

static void on_recv(struct trst_udp *u, const struct trst_udp_rx *m, size_t n, void *user)
{
	struct coll *c = user;
	rx_all += n;
	ck_assert_ptr_eq(u, c->u);
	ck_assert_uint_ge(n, 1);
	c->callbacks++;
	c->this_event += n;
	if (c->this_event > c->max_per_event)
		c->max_per_event = c->this_event;
	for (size_t i = 0; i < n; i++) {
		c->bytes += m[i].len;
		if (c->copy) {
			struct rec *r;
			if (c->n == c->recs_cap) {
				c->recs_cap = c->recs_cap ? 2 * c->recs_cap : 256;
				c->recs = realloc(c->recs, c->recs_cap * sizeof *c->recs);
				ck_assert_ptr_nonnull(c->recs);
			}
			while (c->arena_len + m[i].len > c->arena_cap) {
				c->arena_cap = c->arena_cap ? 2 * c->arena_cap : 1 << 16;
				c->arena = realloc(c->arena, c->arena_cap);
				ck_assert_ptr_nonnull(c->arena);
			}
			r = &c->recs[c->n];
			r->off = c->arena_len;
			r->len = m[i].len;
			memcpy(c->arena + c->arena_len, m[i].data, m[i].len);
			c->arena_len += m[i].len;
			ck_assert_uint_le(m[i].fromlen, sizeof r->from);
			memcpy(&r->from, m[i].from, m[i].fromlen);
			r->fromlen = m[i].fromlen;
			r->time_us = m[i].time_us;
		}
		c->n++;
	}
	if (c->free_in_cb) {
		trst_udp_free(u);
		c->u = NULL;
	}
}

static void on_writable(struct trst_udp *u, void *user)
{
	struct coll *c = user;
	ck_assert_ptr_eq(u, c->u);
	c->writable++;
}

static void on_error(struct trst_udp *u, const struct trst_udp_err *e, void *user)
{
	struct coll *c = user;
	ck_assert_ptr_eq(u, c->u);
	c->errors++;
	c->last_err = e->err;
	c->last_info = e->info;
	if (e->to) {
		memcpy(&c->err_to, e->to, e->tolen);
		c->err_tolen = e->tolen;
	}
}

static const struct trst_udp_callbacks cbs = {on_recv, on_writable, on_error};

/* ---- fixture ------------------------------------------------------------------ */

static struct event_base *base;
static struct coll ca, cb, cc;

static struct trst_udp *mk(struct coll *c, const char *ip)
{
	struct sockaddr_storage ss;
	memset(c, 0, sizeof *c);
	c->copy = 1;
	if (ip)
		tu_addr(&ss, ip, 0);
	ck_assert_int_eq(trst_udp_new(base, ip ? (struct sockaddr *)&ss : NULL, 0, &cbs, c, &c->u),
	                 0);
	ck_assert_uint_ne(trst_udp_local_port(c->u), 0);
	return c->u;
}

static void setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	rx_all = 0;
	mk(&ca, NULL);
	mk(&cb, NULL);
	memset(&cc, 0, sizeof cc);
}

static void teardown(void)
{
	struct coll *all[] = {&ca, &cb, &cc};
	for (size_t i = 0; i < TRST_ARRAY_LEN(all); i++) {
		trst_udp_free(all[i]->u);
		free(all[i]->arena);
		free(all[i]->recs);
		memset(all[i], 0, sizeof *all[i]);
	}
	event_base_free(base);
}

/* The address of socket c as seen through `ip` (its port). */
static socklen_t addr_of(struct sockaddr_storage *ss, const struct coll *c, const char *ip)
{
	tu_addr(ss, ip, trst_udp_local_port(c->u));
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static int timed_out;
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	timed_out = 1;
	event_base_loopbreak(arg);
}

/* Run the loop until *counter reaches want or ms pass; returns 1 if reached. */
static int run_until(size_t *counter, size_t want, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *dl = evtimer_new(base, on_deadline, base);
	timed_out = 0;
	evtimer_add(dl, &tv);
	while (*counter < want && !timed_out) {
		ca.this_event = cb.this_event = cc.this_event = 0;
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(dl);
	return *counter >= want;
}

static void run_for(int ms)
{
	size_t never = 0;
	run_until(&never, 1, ms);
}

static uint8_t pat(size_t seed, size_t i)
{
	return (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static void fill(uint8_t *p, size_t len, size_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(seed, i);
}

static int check_pat(const uint8_t *p, size_t len, size_t seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(seed, i))
			return 0;
	return 1;
}

static void assert_from(const struct rec *r, const char *ip, uint16_t port)
{
	char text[INET6_ADDRSTRLEN];
	if (strchr(ip, ':')) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&r->from;
		ck_assert_int_eq(r->from.ss_family, AF_INET6);
		ck_assert_uint_eq(r->fromlen, sizeof *s6);
		inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
		ck_assert_uint_eq(ntohs(s6->sin6_port), port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&r->from;
		/* plain IPv4, never ::ffff:127.0.0.1 */
		ck_assert_int_eq(r->from.ss_family, AF_INET);
		ck_assert_uint_eq(r->fromlen, sizeof *s4);
		inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
		ck_assert_uint_eq(ntohs(s4->sin_port), port);
	}
	ck_assert_str_eq(text, ip);
}

/* ---- tests -------------------------------------------------------------------- */

START_TEST(test_socket_options)
{
	int fd = trst_udp_fd(ca.u), v = 0, fl;
	socklen_t l = sizeof v;
	unsigned f = trst_udp_features(ca.u);
	/* the default socket is [::] dual-stack (this host has IPv6) */
	ck_assert(f & TRST_UDP_F_IPV6);
	ck_assert(f & TRST_UDP_F_DUALSTACK);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l), 0);
	ck_assert_int_eq(v, 0);
	fl = fcntl(fd, F_GETFL);
	ck_assert(fl & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	l = sizeof v;
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, &l), 0);
	ck_assert_int_eq(v, IP_PMTUDISC_PROBE);
	l = sizeof v;
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, &l), 0);
	ck_assert_int_eq(v, IPV6_PMTUDISC_PROBE);
	l = sizeof v;
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &v, &l), 0);
	ck_assert_int_eq(v, 1);
	l = sizeof v;
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IP, IP_RECVERR, &v, &l), 0);
	ck_assert_int_eq(v, 1);
	/* generous buffers: at least 256 KiB (the kernel reports double what
	 * was granted; rmem_max may cap it without CAP_NET_ADMIN) */
	l = sizeof v;
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l), 0);
	ck_assert_int_ge(v, 256 * 1024);
	l = sizeof v;
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l), 0);
	ck_assert_int_ge(v, 256 * 1024);
	fprintf(stderr, "udp features: GSO %s, GRO %s\n", f & TRST_UDP_F_GSO ? "yes" : "no",
	        f & TRST_UDP_F_GRO ? "yes" : "no");
}
END_TEST

START_TEST(test_bind_choices)
{
	struct sockaddr_storage ss;
	struct trst_udp *u = NULL;
	/* explicit IPv4 and IPv6 addresses */
	mk(&cc, "127.0.0.1");
	ck_assert_uint_eq(trst_udp_features(cc.u) & (TRST_UDP_F_IPV6 | TRST_UDP_F_DUALSTACK), 0);
	/* the same port again: taken */
	tu_addr(&ss, "127.0.0.1", 0);
	ck_assert_int_eq(
	    trst_udp_new(base, (struct sockaddr *)&ss, trst_udp_local_port(cc.u), &cbs, &cc, &u),
	    TRYST_ERR_ADDRINUSE);
	ck_assert_ptr_null(u);
	trst_udp_free(cc.u);
	mk(&cc, "::1");
	ck_assert_uint_eq(trst_udp_features(cc.u) & (TRST_UDP_F_IPV6 | TRST_UDP_F_DUALSTACK),
	                  TRST_UDP_F_IPV6);
	trst_udp_free(cc.u);
	/* [::] given explicitly is dual-stack too */
	mk(&cc, "::");
	ck_assert(trst_udp_features(cc.u) & TRST_UDP_F_DUALSTACK);
	/* a chosen port is kept: reuse the one just picked after freeing */
	uint16_t port = trst_udp_local_port(cc.u);
	trst_udp_free(cc.u);
	cc.u = NULL;
	ck_assert_int_eq(trst_udp_new(base, NULL, port, &cbs, &cc, &cc.u), 0);
	ck_assert_uint_eq(trst_udp_local_port(cc.u), port);
}
END_TEST

START_TEST(test_invalid_args)
{
	struct trst_udp *u = (struct trst_udp *)&u;
	struct sockaddr_storage ss;
	struct trst_udp_callbacks none = {NULL, NULL, NULL};
	uint8_t buf[16] = {0};
	size_t sent = 99;
	ck_assert_int_eq(trst_udp_new(NULL, NULL, 0, &cbs, NULL, &u), TRYST_ERR_INVALID);
	ck_assert_ptr_null(u);
	ck_assert_int_eq(trst_udp_new(base, NULL, 0, NULL, NULL, &u), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_udp_new(base, NULL, 0, &none, NULL, &u), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_udp_new(base, NULL, 0, &cbs, NULL, NULL), TRYST_ERR_INVALID);
	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_UNIX;
	ck_assert_int_eq(trst_udp_new(base, (struct sockaddr *)&ss, 0, &cbs, NULL, &u),
	                 TRYST_ERR_INVALID);
	trst_udp_free(NULL);

	addr_of(&ss, &cb, "127.0.0.1");
	ck_assert_int_eq(trst_udp_send(ca.u, NULL, 0, buf, 1, 0, &sent), TRYST_ERR_INVALID);
	ck_assert_uint_eq(sent, 0);
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&ss, 4, buf, 1, 0, NULL),
	                 TRYST_ERR_INVALID); /* address too short */
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&ss, sizeof(struct sockaddr_in),
	                               NULL, 1, 0, NULL),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_udp_send_batch(ca.u, NULL, 1, NULL), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_udp_send_batch(ca.u, NULL, 0, &sent), 0);
	ck_assert_uint_eq(sent, 0);
	/* too large for UDP, before anything is sent */
	uint8_t *big = calloc(1, TRST_UDP_MAX_PAYLOAD + 1);
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&ss, sizeof(struct sockaddr_in),
	                               big, TRST_UDP_MAX_PAYLOAD + 1, 0, &sent),
	                 TRYST_ERR_MSGSIZE);
	ck_assert_uint_eq(sent, 0);
	free(big);
	/* families: IPv6 to an IPv4 socket, IPv4 to an IPv6-only socket */
	mk(&cc, "127.0.0.1");
	addr_of(&ss, &cb, "::1");
	ck_assert_int_eq(trst_udp_send(cc.u, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6),
	                               buf, 1, 0, NULL),
	                 TRYST_ERR_FAMILY);
	trst_udp_free(cc.u);
	mk(&cc, "::1");
	addr_of(&ss, &cb, "127.0.0.1");
	ck_assert_int_eq(trst_udp_send(cc.u, (struct sockaddr *)&ss, sizeof(struct sockaddr_in),
	                               buf, 1, 0, NULL),
	                 TRYST_ERR_FAMILY);
	addr_of(&ss, &cb, "::ffff:127.0.0.1");
	ck_assert_int_eq(trst_udp_send(cc.u, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6),
	                               buf, 1, 0, NULL),
	                 TRYST_ERR_FAMILY);
}
END_TEST

/* Every size from 1 to 1500, then doubling to the largest datagram, from
 * `src` to b through `ip`; contents and source checked. */
static void sizes_through(struct coll *src, const char *ip, const char *src_ip)
{
	static uint8_t buf[TRST_UDP_MAX_PAYLOAD];
	size_t sizes[1600], ns = 0, sent;
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, ip);
	unsigned mtu;
	size_t max;
	/* The largest datagram: 65507 over IPv4; over IPv6 lo's MTU (65536)
	 * minus 48 header bytes, since DF is set and nothing is fragmented. */
	ck_assert_int_eq(trst_udp_route_mtu((struct sockaddr *)&to, tolen, &mtu), 0);
	max = mtu - trst_udp_overhead((struct sockaddr *)&to);
	if (max > TRST_UDP_MAX_PAYLOAD)
		max = TRST_UDP_MAX_PAYLOAD;
	for (size_t s = 1; s <= 1500; s++)
		sizes[ns++] = s;
	for (size_t s = 2048; s < max; s *= 2)
		sizes[ns++] = s;
	sizes[ns++] = 65000;
	sizes[ns++] = max - 1;
	sizes[ns++] = max;
	sizes[ns++] = 0; /* an empty datagram is a datagram */
	if (max < TRST_UDP_MAX_PAYLOAD) {
		/* one byte more does not fit the interface: refused, not
		 * fragmented (IPV6_DONTFRAG) */
		ck_assert_int_eq(
		    trst_udp_send(src->u, (struct sockaddr *)&to, tolen, buf, max + 1, 0, &sent),
		    TRYST_ERR_MSGSIZE);
		ck_assert_uint_eq(sent, 0);
	}
	for (size_t i = 0; i < ns; i++) {
		fill(buf, sizes[i], sizes[i]);
		ck_assert_int_eq(
		    trst_udp_send(src->u, (struct sockaddr *)&to, tolen, buf, sizes[i], 0, &sent),
		    0);
		ck_assert_uint_eq(sent, 1);
		/* flow control: never more than 64 in flight */
		if (i % 64 == 63)
			ck_assert(run_until(&cb.n, i + 1, 5000));
	}
	ck_assert(run_until(&cb.n, ns, 5000));
	ck_assert_uint_eq(cb.n, ns);
	for (size_t i = 0; i < ns; i++) {
		/* loopback keeps one flow's order */
		const struct rec *r = &cb.recs[i];
		ck_assert_uint_eq(r->len, sizes[i]);
		ck_assert(check_pat(cb.arena + r->off, r->len, r->len));
		assert_from(r, src_ip, trst_udp_local_port(src->u));
	}
}

START_TEST(test_sizes_v4)
{
	sizes_through(&ca, "127.0.0.1", "127.0.0.1");
}
END_TEST

START_TEST(test_sizes_v6)
{
	sizes_through(&ca, "::1", "::1");
}
END_TEST

START_TEST(test_sizes_v4_socket)
{
	/* from an IPv4-only socket to the dual-stack one */
	mk(&cc, "127.0.0.1");
	sizes_through(&cc, "127.0.0.1", "127.0.0.1");
}
END_TEST

START_TEST(test_dualstack_sources)
{
	struct coll c4, c6;
	struct sockaddr_storage to;
	socklen_t tolen;
	const uint8_t m4[] = "from v4", m6[] = "from v6";
	struct trst_udp *u4, *u6;
	memset(&c4, 0, sizeof c4);
	memset(&c6, 0, sizeof c6);
	u4 = mk(&c4, "127.0.0.1");
	u6 = mk(&c6, "::1");
	/* both families arrive at the one dual-stack socket b */
	tolen = addr_of(&to, &cb, "127.0.0.1");
	ck_assert_int_eq(trst_udp_send(u4, (struct sockaddr *)&to, tolen, m4, sizeof m4, 0, NULL),
	                 0);
	ck_assert(run_until(&cb.n, 1, 2000));
	tolen = addr_of(&to, &cb, "::1");
	ck_assert_int_eq(trst_udp_send(u6, (struct sockaddr *)&to, tolen, m6, sizeof m6, 0, NULL),
	                 0);
	ck_assert(run_until(&cb.n, 2, 2000));
	assert_from(&cb.recs[0], "127.0.0.1", trst_udp_local_port(u4));
	assert_from(&cb.recs[1], "::1", trst_udp_local_port(u6));
	ck_assert_mem_eq(cb.arena + cb.recs[0].off, m4, sizeof m4);
	ck_assert_mem_eq(cb.arena + cb.recs[1].off, m6, sizeof m6);
	/* answering the reported sources reaches each sender (the AF_INET
	 * one through the mapped form) */
	ck_assert_int_eq(trst_udp_send(cb.u, (struct sockaddr *)&cb.recs[0].from,
	                               cb.recs[0].fromlen, m6, 3, 0, NULL),
	                 0);
	ck_assert_int_eq(trst_udp_send(cb.u, (struct sockaddr *)&cb.recs[1].from,
	                               cb.recs[1].fromlen, m4, 3, 0, NULL),
	                 0);
	ck_assert(run_until(&c4.n, 1, 2000));
	ck_assert(run_until(&c6.n, 1, 2000));
	assert_from(&c4.recs[0], "127.0.0.1", trst_udp_local_port(cb.u));
	assert_from(&c6.recs[0], "::1", trst_udp_local_port(cb.u));
	/* a mapped destination on an IPv4 socket is unmapped */
	tolen = addr_of(&to, &cb, "::ffff:127.0.0.1");
	ck_assert_int_eq(trst_udp_send(u4, (struct sockaddr *)&to, tolen, m4, 2, 0, NULL), 0);
	ck_assert(run_until(&cb.n, 3, 2000));
	assert_from(&cb.recs[2], "127.0.0.1", trst_udp_local_port(u4));
	trst_udp_free(u4);
	trst_udp_free(u6);
	free(c4.arena);
	free(c4.recs);
	free(c6.arena);
	free(c6.recs);
}
END_TEST

#define GSO_SEG   1200
#define GSO_COUNT 40
#define GSO_LAST  777 /* the last segment is shorter */

/* a sends GSO_COUNT segments to b in one call; b must see them as
 * separate datagrams of the right sizes and contents, in order. */
static void gso_40(const char *ip)
{
	static uint8_t buf[GSO_SEG * GSO_COUNT];
	const size_t len = GSO_SEG * (GSO_COUNT - 1) + GSO_LAST;
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, ip);
	size_t sent = 0;
	fill(buf, sizeof buf, 5);
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, len, GSO_SEG, &sent), 0);
	ck_assert_uint_eq(sent, GSO_COUNT);
	ck_assert(run_until(&cb.n, GSO_COUNT, 3000));
	ck_assert_uint_eq(cb.n, GSO_COUNT);
	for (size_t i = 0; i < GSO_COUNT; i++) {
		const struct rec *r = &cb.recs[i];
		ck_assert_uint_eq(r->len, i == GSO_COUNT - 1 ? GSO_LAST : GSO_SEG);
		ck_assert_mem_eq(cb.arena + r->off, buf + i * GSO_SEG, r->len);
		assert_from(r, ip, trst_udp_local_port(ca.u));
	}
}

START_TEST(test_gso_gro)
{
	struct trst_udp_stats sa, sb;
	const unsigned f = trst_udp_features(ca.u);
	gso_40("127.0.0.1");
	trst_udp_get_stats(ca.u, &sa);
	trst_udp_get_stats(cb.u, &sb);
	ck_assert_uint_eq(sa.tx_datagrams, GSO_COUNT);
	if (f & TRST_UDP_F_GSO) {
		ck_assert_uint_eq(sa.tx_syscalls, 1);
		ck_assert_uint_eq(sa.tx_gso_sends, 1);
	}
	fprintf(stderr, "gso_40 v4: %llu send syscalls, %llu GRO buffers, %llu recv syscalls\n",
	        (unsigned long long)sa.tx_syscalls, (unsigned long long)sb.rx_gro_buffers,
	        (unsigned long long)sb.rx_syscalls);
	/* on loopback a GSO send reaches a GRO socket whole */
	if ((f & TRST_UDP_F_GSO) && (trst_udp_features(cb.u) & TRST_UDP_F_GRO))
		ck_assert_uint_eq(sb.rx_gro_buffers, 1);
}
END_TEST

START_TEST(test_gso_gro_v6)
{
	gso_40("::1");
}
END_TEST

START_TEST(test_gso_no_gro)
{
	/* the receiver without GRO: the kernel splits the GSO buffer */
	struct trst_udp_stats sb;
	if (trst_udp_features(cb.u) & TRST_UDP_F_GRO)
		ck_assert_int_eq(trst_udp_set_gro(cb.u, 0), 0);
	ck_assert_uint_eq(trst_udp_features(cb.u) & TRST_UDP_F_GRO, 0);
	gso_40("127.0.0.1");
	trst_udp_get_stats(cb.u, &sb);
	ck_assert_uint_eq(sb.rx_gro_buffers, 0);
}
END_TEST

START_TEST(test_gso_disabled)
{
	/* without GSO the same call is one sendmmsg of 40 datagrams */
	struct trst_udp_stats sa;
	trst_udp_disable_gso(ca.u);
	ck_assert_uint_eq(trst_udp_features(ca.u) & TRST_UDP_F_GSO, 0);
	gso_40("127.0.0.1");
	trst_udp_get_stats(ca.u, &sa);
	ck_assert_uint_eq(sa.tx_gso_sends, 0);
	ck_assert_uint_eq(sa.tx_syscalls, 1);
	ck_assert_uint_eq(sa.tx_datagrams, GSO_COUNT);
}
END_TEST

START_TEST(test_gso_refused_at_runtime)
{
	/* The kernel says EIO to the first GSO send (a device that cannot
	 * checksum): the datagrams go out without GSO and GSO stays off. */
	struct trst_udp_stats sa;
	if (!(trst_udp_features(ca.u) & TRST_UDP_F_GSO))
		return; /* nothing to refuse */
	trst_udp_inject_send_error(ca.u, EIO, 1, 1);
	gso_40("127.0.0.1");
	ck_assert_uint_eq(trst_udp_features(ca.u) & TRST_UDP_F_GSO, 0);
	trst_udp_get_stats(ca.u, &sa);
	ck_assert_uint_eq(sa.tx_gso_sends, 0);
	ck_assert_uint_eq(sa.tx_datagrams, GSO_COUNT);
}
END_TEST

START_TEST(test_gso_error_not_gsos_fault)
{
	/* EINVAL for the GSO send and again for the plain one: the datagrams
	 * themselves are at fault, so GSO stays on and the error comes back. */
	static uint8_t buf[GSO_SEG * 4];
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, "127.0.0.1");
	size_t sent = 9;
	if (!(trst_udp_features(ca.u) & TRST_UDP_F_GSO))
		return;
	trst_udp_inject_send_error(ca.u, EINVAL, 2, 0);
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, sizeof buf, GSO_SEG, &sent),
	    TRYST_ERR_INVALID);
	ck_assert_uint_eq(sent, 0);
	ck_assert(trst_udp_features(ca.u) & TRST_UDP_F_GSO);
	/* and then it works */
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, sizeof buf, GSO_SEG, &sent), 0);
	ck_assert_uint_eq(sent, 4);
	ck_assert(run_until(&cb.n, 4, 2000));
}
END_TEST

START_TEST(test_many_segments)
{
	/* More than 64 segments and more than 64 KiB in one call: several
	 * GSO entries in one sendmmsg; tiny segments too. */
	static uint8_t buf[200 * 1000];
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, "::1");
	size_t sent = 0;
	fill(buf, sizeof buf, 9);
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, sizeof buf, 1000, &sent), 0);
	ck_assert_uint_eq(sent, 200);
	ck_assert(run_until(&cb.n, 200, 3000));
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, 100, 3, &sent), 0);
	ck_assert_uint_eq(sent, 34);
	ck_assert(run_until(&cb.n, 234, 3000));
	ck_assert_uint_eq(cb.n, 234);
	for (size_t i = 0; i < 200; i++) {
		ck_assert_uint_eq(cb.recs[i].len, 1000);
		ck_assert_mem_eq(cb.arena + cb.recs[i].off, buf + i * 1000, 1000);
	}
	for (size_t i = 0; i < 34; i++) {
		ck_assert_uint_eq(cb.recs[200 + i].len, i == 33 ? 1 : 3);
		ck_assert_mem_eq(cb.arena + cb.recs[200 + i].off, buf + i * 3,
		                 cb.recs[200 + i].len);
	}
}
END_TEST

START_TEST(test_batch_destinations)
{
	/* one batch to three sockets, both families, with a GSO entry */
	static uint8_t buf[8000];
	struct sockaddr_storage tb, tc4, tc6;
	struct trst_udp_tx m[4];
	size_t sent = 0;
	mk(&cc, NULL);
	fill(buf, sizeof buf, 3);
	m[0] = (struct trst_udp_tx){(struct sockaddr *)&tb, addr_of(&tb, &cb, "127.0.0.1"), buf,
	                            100, 0};
	m[1] = (struct trst_udp_tx){(struct sockaddr *)&tc6, addr_of(&tc6, &cc, "::1"), buf + 100,
	                            5000, 1000};
	m[2] = (struct trst_udp_tx){(struct sockaddr *)&tc4, addr_of(&tc4, &cc, "127.0.0.1"),
	                            buf + 5100, 200, 0};
	m[3] = (struct trst_udp_tx){(struct sockaddr *)&tb, sizeof(struct sockaddr_in), buf + 5300,
	                            2700, 1350};
	ck_assert_int_eq(trst_udp_send_batch(ca.u, m, 4, &sent), 0);
	ck_assert_uint_eq(sent, 1 + 5 + 1 + 2);
	ck_assert(run_until(&cb.n, 3, 2000));
	ck_assert(run_until(&cc.n, 6, 2000));
	ck_assert_uint_eq(cb.recs[0].len, 100);
	ck_assert_uint_eq(cb.recs[1].len, 1350);
	ck_assert_uint_eq(cb.recs[2].len, 1350);
	ck_assert_mem_eq(cb.arena + cb.recs[2].off, buf + 5300 + 1350, 1350);
	/* cc got 5 over IPv6 and 1 over IPv4; sort by family */
	size_t v6 = 0, v4 = 0;
	for (size_t i = 0; i < cc.n; i++) {
		if (cc.recs[i].from.ss_family == AF_INET6) {
			ck_assert_uint_eq(cc.recs[i].len, 1000);
			ck_assert_mem_eq(cc.arena + cc.recs[i].off, buf + 100 + v6 * 1000, 1000);
			v6++;
		} else {
			ck_assert_uint_eq(cc.recs[i].len, 200);
			v4++;
		}
	}
	ck_assert_uint_eq(v6, 5);
	ck_assert_uint_eq(v4, 1);
}
END_TEST

START_TEST(test_ten_thousand)
{
	/* 10 000 datagrams, in send batches of 100 across two receivers,
	 * flow-controlled (at most 1000 in flight) so the receive buffers
	 * never overflow: every one must arrive. */
	static uint8_t buf[1200 * 100];
	struct sockaddr_storage tb, tc;
	struct trst_udp_tx m[100];
	struct trst_udp_stats sb, sc;
	size_t total = 0, sent;
	mk(&cc, NULL);
	cb.copy = cc.copy = 0;
	fill(buf, sizeof buf, 1);
	addr_of(&tb, &cb, "127.0.0.1");
	addr_of(&tc, &cc, "::1");
	for (size_t i = 0; i < 100; i++)
		m[i] = (struct trst_udp_tx){(struct sockaddr *)(i % 2 ? &tc : &tb),
		                            i % 2 ? sizeof(struct sockaddr_in6)
		                                  : sizeof(struct sockaddr_in),
		                            buf + i * 1200, 1200, 0};
	while (total < 10000) {
		ck_assert_int_eq(trst_udp_send_batch(ca.u, m, 100, &sent), 0);
		ck_assert_uint_eq(sent, 100);
		total += sent;
		if (total - rx_all >= 1000)
			ck_assert(run_until(&rx_all, total, 5000));
	}
	ck_assert(run_until(&rx_all, 10000, 5000));
	trst_udp_get_stats(cb.u, &sb);
	trst_udp_get_stats(cc.u, &sc);
	ck_assert_uint_eq(sb.rx_kernel_drops + sc.rx_kernel_drops, 0);
	ck_assert_uint_eq(cb.n, 5000);
	ck_assert_uint_eq(cc.n, 5000);
	ck_assert_uint_eq(cb.bytes + cc.bytes, 10000 * 1200);
}
END_TEST

START_TEST(test_bounded_work)
{
	/* 2 000 small datagrams waiting (no GRO): one readiness event reads at
	 * most RX_BATCH * RX_ROUNDS of them, then the loop gets a turn. */
	static uint8_t buf[2000];
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, "127.0.0.1");
	size_t sent;
	if (trst_udp_features(cb.u) & TRST_UDP_F_GRO)
		ck_assert_int_eq(trst_udp_set_gro(cb.u, 0), 0);
	cb.copy = 0;
	trst_udp_disable_gso(ca.u);
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, 2000, 1, &sent),
	                 0);
	ck_assert_uint_eq(sent, 2000);
	/* the first loop iteration that reads anything runs one read event */
	ck_assert(run_until(&cb.n, 1, 2000));
	ck_assert_uint_le(cb.n, TRST_UDP_RX_BATCH * TRST_UDP_RX_ROUNDS);
	ck_assert(run_until(&cb.n, 2000, 3000));
	ck_assert_uint_le(cb.max_per_event, TRST_UDP_RX_BATCH * TRST_UDP_RX_ROUNDS);
}
END_TEST

static uint64_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

START_TEST(test_rx_time)
{
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, "127.0.0.1");
	uint64_t t0 = mono_now(), t1;
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, (const uint8_t *)"x", 1, 0, NULL),
	    0);
	ck_assert(run_until(&cb.n, 1, 2000));
	t1 = mono_now();
	ck_assert(cb.recs[0].time_us >= t0 && cb.recs[0].time_us <= t1);
}
END_TEST

START_TEST(test_again_injected)
{
	/* EAGAIN: TRYST_ERR_AGAIN, nothing counted as sent, and the writable
	 * callback fires once; ENOBUFS the same through the timer. */
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, "127.0.0.1");
	uint8_t buf[3000] = {0};
	size_t sent = 9;
	struct trst_udp_stats sa;
	trst_udp_inject_send_error(ca.u, EAGAIN, 1, 0);
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, 3000, 1000, &sent),
	                 TRYST_ERR_AGAIN);
	ck_assert_uint_eq(sent, 0);
	ck_assert_uint_eq(ca.writable, 0); /* never from inside the send */
	ck_assert(run_until(&ca.writable, 1, 2000));
	run_for(20);
	ck_assert_uint_eq(ca.writable, 1);
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, 3000, 1000, &sent),
	                 0);
	ck_assert_uint_eq(sent, 3);

	trst_udp_inject_send_error(ca.u, ENOBUFS, 1, 0);
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, 10, 0, &sent),
	                 TRYST_ERR_AGAIN);
	ck_assert(run_until(&ca.writable, 2, 2000));
	trst_udp_get_stats(ca.u, &sa);
	ck_assert_uint_eq(sa.tx_again, 2);
	ck_assert(run_until(&cb.n, 3, 2000));
}
END_TEST

START_TEST(test_async_error_retried)
{
	/* A pending ICMP error returned by sendmmsg (ECONNREFUSED belongs to
	 * an earlier datagram) does not lose this one. */
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, "127.0.0.1");
	size_t sent = 0;
	trst_udp_inject_send_error(ca.u, ECONNREFUSED, 1, 0);
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, (const uint8_t *)"hi", 2, 0, &sent),
	    0);
	ck_assert_uint_eq(sent, 1);
	ck_assert(run_until(&cb.n, 1, 2000));
	/* twice in a row is a real error */
	trst_udp_inject_send_error(ca.u, EHOSTUNREACH, 2, 0);
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, (const uint8_t *)"hi", 2, 0, &sent),
	    TRYST_ERR_UNREACHABLE);
	ck_assert_uint_eq(sent, 0);
}
END_TEST

/* A loopback port nobody listens on: bind one, note it, close it. */
static uint16_t closed_port(const char *ip)
{
	struct coll tmp;
	uint16_t port;
	mk(&tmp, ip);
	port = trst_udp_local_port(tmp.u);
	trst_udp_free(tmp.u);
	return port;
}

static void icmp_unreachable(const char *ip)
{
	struct sockaddr_storage dead, to;
	socklen_t deadlen, tolen = addr_of(&to, &cb, ip);
	uint16_t port = closed_port(ip);
	size_t sent;
	tu_addr(&dead, ip, port);
	deadlen =
	    dead.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	/* the kernel answers with ICMP port unreachable */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&dead, deadlen,
		                               (const uint8_t *)"anyone?", 7, 0, &sent),
		                 0);
		ck_assert_uint_eq(sent, 1);
	}
	ck_assert(run_until(&ca.errors, 1, 2000));
	ck_assert_int_eq(ca.last_err, ECONNREFUSED);
	ck_assert_int_eq(ca.err_to.ss_family, dead.ss_family); /* not mapped */
	ck_assert_mem_eq(&ca.err_to, &dead, deadlen);
	/* and the socket works on, both ways */
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, (const uint8_t *)"ok", 2, 0, &sent),
	    0);
	ck_assert(run_until(&cb.n, 1, 2000));
	ck_assert_int_eq(trst_udp_send(cb.u, (struct sockaddr *)&cb.recs[0].from,
	                               cb.recs[0].fromlen, (const uint8_t *)"ok", 2, 0, &sent),
	                 0);
	ck_assert(run_until(&ca.n, 1, 2000));
	/* no busy loop on a stale error queue: the loop goes idle */
	run_for(50);
	ck_assert_uint_eq(ca.callbacks, 1);
}

START_TEST(test_icmp_unreachable_v4)
{
	icmp_unreachable("127.0.0.1");
}
END_TEST

START_TEST(test_icmp_unreachable_v6)
{
	icmp_unreachable("::1");
}
END_TEST

START_TEST(test_free_in_callback)
{
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, "127.0.0.1");
	static uint8_t buf[1200 * 10];
	cb.free_in_cb = 1;
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, sizeof buf, 1200, NULL), 0);
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, sizeof buf, 1200, NULL), 0);
	ck_assert(run_until(&cb.callbacks, 1, 2000));
	run_for(20);
	ck_assert_ptr_null(cb.u);
	ck_assert_uint_eq(cb.callbacks, 1); /* nothing after the free */
}
END_TEST

START_TEST(test_route_mtu)
{
	struct sockaddr_storage ss;
	unsigned mtu = 0, lo = 0;
	FILE *f = fopen("/sys/class/net/lo/mtu", "r");
	if (f) {
		ck_assert_int_eq(fscanf(f, "%u", &lo), 1);
		fclose(f);
	}
	tu_addr(&ss, "127.0.0.1", 9);
	ck_assert_int_eq(
	    trst_udp_route_mtu((struct sockaddr *)&ss, sizeof(struct sockaddr_in), &mtu), 0);
	/* lo's MTU, capped at 65535 for IPv4 (IP_MAX_MTU) */
	ck_assert_uint_eq(mtu, lo && lo < 65535 ? lo : 65535);
	ck_assert_uint_eq(trst_udp_overhead((struct sockaddr *)&ss), 28);
	tu_addr(&ss, "::1", 9);
	ck_assert_int_eq(
	    trst_udp_route_mtu((struct sockaddr *)&ss, sizeof(struct sockaddr_in6), &mtu), 0);
	if (lo)
		ck_assert_uint_eq(mtu, lo);
	ck_assert_uint_ge(mtu, 1280);
	ck_assert_uint_eq(trst_udp_overhead((struct sockaddr *)&ss), 48);
	tu_addr(&ss, "::ffff:127.0.0.1", 9);
	ck_assert_uint_eq(trst_udp_overhead((struct sockaddr *)&ss), 28);
	ck_assert_int_eq(
	    trst_udp_route_mtu((struct sockaddr *)&ss, sizeof(struct sockaddr_in6), &mtu), 0);
	ck_assert_int_eq(trst_udp_route_mtu(NULL, 0, &mtu), TRYST_ERR_INVALID);
}
END_TEST

/* ---- a real full send buffer (root: private network namespace) ------------------ */

/* Loopback never blocks a UDP sender: its transmit orphans the datagram at
 * once (drivers/net/loopback.c), so SO_SNDBUF never fills.  A tbf qdisc on
 * lo holds datagrams (and their send-buffer charge) in its queue: in a
 * network namespace of the test's own, a tiny SO_SNDBUF then really fills. */
static int own_lo_namespace(int mtu)
{
	struct ifreq ifr;
	int s, rc = -1;
	if (unshare(CLONE_NEWNET) != 0)
		return -1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (mtu) {
		ifr.ifr_mtu = mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) != 0)
			goto out;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		goto out;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
		goto out;
	rc = 0;
out:
	close(s);
	return rc;
}

static int shaped_lo_namespace(void)
{
	if (own_lo_namespace(0) != 0)
		return -1;
	return system("tc qdisc add dev lo root tbf rate 8mbit burst 16kb latency 2s "
	              ">/dev/null 2>&1") == 0
	           ? 0
	           : -1;
}

START_TEST(test_again_real)
{
	struct sockaddr_storage to;
	socklen_t tolen;
	static uint8_t buf[1200];
	size_t sent;
	int rc = 0, n = 0;
	/* a fresh base and sockets inside the namespace */
	teardown();
	ck_assert_int_eq(shaped_lo_namespace(), 0);
	setup();
	tolen = addr_of(&to, &cb, "127.0.0.1");
	ck_assert_int_eq(trst_udp_set_sndbuf(ca.u, 4096), 0);
	while (n < 100000 && (rc = trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf,
	                                         sizeof buf, 0, &sent)) == 0)
		n++;
	ck_assert_int_eq(rc, TRYST_ERR_AGAIN);
	ck_assert_uint_eq(sent, 0);
	ck_assert_int_gt(n, 0);
	fprintf(stderr, "send buffer full after %d datagrams\n", n);
	/* the qdisc drains, the socket becomes writable, the callback says so */
	ck_assert(run_until(&ca.writable, 1, 5000));
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, sizeof buf, 0, &sent), 0);
	ck_assert_uint_eq(sent, 1);
	ck_assert(run_until(&cb.n, (size_t)n + 1, 5000));
}
END_TEST

/* RFC 8899 semantics on an interface with a small MTU: DF set, the kernel
 * neither fragments nor shrinks what it sends; too large is EMSGSIZE, and
 * the local error on the error queue carries the MTU. */
static void df_family(const char *ip, unsigned mtu)
{
	static uint8_t buf[4 * 1500];
	struct sockaddr_storage to;
	socklen_t tolen = addr_of(&to, &cb, ip);
	unsigned got = 0;
	size_t max, sent = 9, before = cb.n;
	ck_assert_int_eq(trst_udp_route_mtu((struct sockaddr *)&to, tolen, &got), 0);
	ck_assert_uint_eq(got, mtu);
	max = mtu - trst_udp_overhead((struct sockaddr *)&to);
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, max, 0, &sent), 0);
	ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, max + 1, 0, &sent),
	                 TRYST_ERR_MSGSIZE);
	ck_assert_uint_eq(sent, 0);
	/* GSO with a segment over the MTU: the kernel says EINVAL, the plain
	 * retry EMSGSIZE; GSO was not at fault and stays on */
	if (trst_udp_features(ca.u) & TRST_UDP_F_GSO) {
		ck_assert_int_eq(trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf,
		                               3 * (max + 1), max + 1, &sent),
		                 TRYST_ERR_MSGSIZE);
		ck_assert(trst_udp_features(ca.u) & TRST_UDP_F_GSO);
	}
	/* segments that fit go out as GSO */
	ck_assert_int_eq(
	    trst_udp_send(ca.u, (struct sockaddr *)&to, tolen, buf, 3 * max, max, &sent), 0);
	ck_assert_uint_eq(sent, 3);
	ck_assert(run_until(&cb.n, before + 4, 2000));
	ck_assert(run_until(&ca.errors, 1, 2000));
	ck_assert_int_eq(ca.last_err, EMSGSIZE);
	ck_assert_uint_eq(ca.last_info, mtu);
	for (size_t i = before; i < cb.n; i++)
		ck_assert_uint_eq(cb.recs[i].len, max);
}

START_TEST(test_df_small_mtu)
{
	teardown();
	ck_assert_int_eq(own_lo_namespace(1400), 0);
	setup();
	df_family("127.0.0.1", 1400);
	ca.errors = 0;
	df_family("::1", 1400);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("loopback");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_socket_options);
	tcase_add_test(tc, test_bind_choices);
	tcase_add_test(tc, test_invalid_args);
	tcase_add_test(tc, test_sizes_v4);
	tcase_add_test(tc, test_sizes_v6);
	tcase_add_test(tc, test_sizes_v4_socket);
	tcase_add_test(tc, test_dualstack_sources);
	tcase_add_test(tc, test_gso_gro);
	tcase_add_test(tc, test_gso_gro_v6);
	tcase_add_test(tc, test_gso_no_gro);
	tcase_add_test(tc, test_gso_disabled);
	tcase_add_test(tc, test_gso_refused_at_runtime);
	tcase_add_test(tc, test_gso_error_not_gsos_fault);
	tcase_add_test(tc, test_many_segments);
	tcase_add_test(tc, test_batch_destinations);
	tcase_add_test(tc, test_ten_thousand);
	tcase_add_test(tc, test_bounded_work);
	tcase_add_test(tc, test_rx_time);
	tcase_add_test(tc, test_again_injected);
	tcase_add_test(tc, test_async_error_retried);
	tcase_add_test(tc, test_icmp_unreachable_v4);
	tcase_add_test(tc, test_icmp_unreachable_v6);
	tcase_add_test(tc, test_free_in_callback);
	tcase_add_test(tc, test_route_mtu);
	suite_add_tcase(s, tc);

	/* Needs CAP_SYS_ADMIN (unshare) and tc; in fork mode only, since it
	 * moves the process into a new network namespace. */
	const char *fork_env = getenv("CK_FORK");
	if (geteuid() == 0 && access("/usr/sbin/tc", X_OK) == 0 &&
	    !(fork_env && strcmp(fork_env, "no") == 0)) {
		TCase *ns = tcase_create("netns");
		tcase_add_checked_fixture(ns, setup, teardown);
		tcase_set_timeout(ns, 60);
		tcase_add_test(ns, test_again_real);
		tcase_add_test(ns, test_df_small_mtu);
		suite_add_tcase(s, ns);
	} else {
		fprintf(stderr, "udp: SKIP netns tests (need root, tc and fork mode)\n");
	}
	return tu_run(s);
}

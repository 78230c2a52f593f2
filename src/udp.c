/*
 * udp.c: the node's UDP socket on libevent (see udp.h).
 *
 * Receive: a persistent read event; each readiness event drains up to
 * TRST_UDP_RX_ROUNDS recvmmsg(2) calls of TRST_UDP_RX_BATCH preallocated
 * 64 KiB buffers, splits buffers the kernel coalesced (UDP GRO, udp(7)
 * UDP_GRO; Documentation/networking/segmentation-offloads.rst) back into
 * datagrams and hands them to the callback in one array.
 *
 * Send: sendmmsg(2) of up to TRST_UDP_TX_BATCH entries; an entry carries up
 * to 64 equal segments with a UDP_SEGMENT control message (GSO) when the
 * kernel takes it, else one datagram.  Nothing is allocated per datagram:
 * every header, address and control buffer lives in struct trst_udp.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h>

#include <event2/event.h>

#include "internal.h"
#include "udp.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* include/uapi/linux/udp.h, Linux >= 4.18 */
#endif
#ifndef UDP_GRO
#define UDP_GRO 104 /* Linux >= 5.0 */
#endif
#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif

/* Room for any UDP payload: the UDP length field is 16 bits. */
#define RX_BUF_SIZE 65536
/* Datagrams handed to the callback at once; a batch that splits into more
 * (GRO) is delivered in several calls. */
#define RX_OUT_CAP 1024
/* Error-queue messages read per readiness event. */
#define ERRQ_MAX 64
/* How long to wait after ENOBUFS before saying "writable": the socket is
 * writable (its buffer is not full), only a device queue is, so waiting
 * for EPOLLOUT would spin.  send(2): "ENOBUFS The output queue for a
 * network interface was full ... may be caused by transient congestion." */
#define NOBUFS_RETRY_US 1000

/* Control buffer for one received datagram: UDP_GRO (int), SO_RXQ_OVFL
 * (uint32), with room to spare for anything else the kernel adds. */
union rx_ctrl {
	char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint32_t)) + 64];
	struct cmsghdr align;
};
union tx_ctrl {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};
union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

/* Where the next sendmmsg entry starts: entry `msg` of the caller's array,
 * byte `off` of it. */
struct tx_cursor {
	size_t msg;
	size_t off;
};

struct trst_udp {
	struct event_base *base;
	struct event *rd, *wr, *nobufs;
	int fd;
	int family;
	unsigned features;
	uint16_t port;
	struct trst_udp_callbacks cbs;
	void *user;

	int in_cb;           /* callbacks running (free is deferred while > 0) */
	int dead;            /* trst_udp_free() was called from a callback */
	int want_write;      /* the write event is armed */
	int errq_pending;    /* a send saw an asynchronous error: drain the queue */
	unsigned inject_cnt; /* trst_udp_inject_send_error() */
	int inject_err;
	int inject_gso_only;

	struct trst_udp_stats st;

	/* receive */
	uint8_t *rx_buf; /* TRST_UDP_RX_BATCH * RX_BUF_SIZE */
	struct mmsghdr rx_msg[TRST_UDP_RX_BATCH];
	struct iovec rx_iov[TRST_UDP_RX_BATCH];
	union addr rx_from[TRST_UDP_RX_BATCH];
	union rx_ctrl rx_ctrl[TRST_UDP_RX_BATCH];
	struct trst_udp_rx *rx_out; /* RX_OUT_CAP */

	/* send */
	struct mmsghdr tx_msg[TRST_UDP_TX_BATCH];
	struct iovec tx_iov[TRST_UDP_TX_BATCH];
	union addr tx_addr[TRST_UDP_TX_BATCH];
	union tx_ctrl tx_ctrl[TRST_UDP_TX_BATCH];
	struct tx_cursor tx_start[TRST_UDP_TX_BATCH];
	unsigned tx_dgrams[TRST_UDP_TX_BATCH];
};

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2)
 * becomes the plain sockaddr_in it stands for, so callers compare and
 * print one form of every IPv4 peer.  Returns the new length. */
static socklen_t unmap(union addr *a, socklen_t len)
{
	if (a->sa.sa_family == AF_INET6 && len >= (socklen_t)sizeof a->in6 &&
	    IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr)) {
		struct sockaddr_in in;
		memset(&in, 0, sizeof in);
		in.sin_family = AF_INET;
		in.sin_port = a->in6.sin6_port;
		memcpy(&in.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4);
		a->in = in;
		return sizeof in;
	}
	return len;
}

static int family_ok(const struct sockaddr *sa, socklen_t len)
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET)
		return len >= (socklen_t)sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return len >= (socklen_t)sizeof(struct sockaddr_in6);
	return 0;
}

/* ---- lifetime ------------------------------------------------------------- */

static void destroy(struct trst_udp *u)
{
	if (u->rd)
		event_free(u->rd);
	if (u->wr)
		event_free(u->wr);
	if (u->nobufs)
		event_free(u->nobufs);
	if (u->fd >= 0)
		close(u->fd);
	trst_free(u->rx_buf);
	trst_free(u->rx_out);
	trst_free(u);
}

void trst_udp_free(struct trst_udp *u)
{
	if (!u || u->dead)
		return;
	if (u->in_cb) {
		/* Called from our own callback: stop every event now, release
		 * the memory the caller's stack is still inside after it
		 * returns (end_cb). */
		u->dead = 1;
		event_del(u->rd);
		event_del(u->wr);
		event_del(u->nobufs);
		return;
	}
	destroy(u);
}

/* After a callback: returns 1 if the socket was freed inside it (the
 * caller must not touch u again). */
static int end_cb(struct trst_udp *u)
{
	if (--u->in_cb == 0 && u->dead) {
		destroy(u);
		return 1;
	}
	return 0;
}

/* ---- receive ---------------------------------------------------------------- */

/* Errors a receive or send may report that belong to an earlier datagram:
 * with IP_RECVERR an ICMP error sets the socket's pending error, which the
 * next call returns once (udp(7): "You may get an error for an earlier
 * packet that was sent on the same socket").  Not a reason to stop. */
static int async_error(int e)
{
	switch (e) {
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENONET:
	case EPROTO:
	case ENOPROTOOPT:
	case EACCES:
	case ECONNRESET:
	case EMSGSIZE: return 1;
	}
	return 0;
}

/* Read the error queue (ip(7) IP_RECVERR, ipv6(7) IPV6_RECVERR) and report
 * each error.  Must be drained: while it holds anything, poll reports
 * EPOLLERR and the read event would fire forever.  Returns 1 if the socket
 * was freed by a callback. */
static int drain_errqueue(struct trst_udp *u)
{
	for (int i = 0; i < ERRQ_MAX; i++) {
		union addr to, off;
		uint8_t payload[64];
		union {
			char buf[512];
			struct cmsghdr align;
		} ctrl;
		struct iovec iov = {payload, sizeof payload};
		struct msghdr h;
		struct cmsghdr *c;
		memset(&h, 0, sizeof h);
		h.msg_name = &to;
		h.msg_namelen = sizeof to;
		h.msg_iov = &iov;
		h.msg_iovlen = 1;
		h.msg_control = ctrl.buf;
		h.msg_controllen = sizeof ctrl.buf;
		if (recvmsg(u->fd, &h, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		for (c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
			struct sock_extended_err ee;
			struct trst_udp_err e;
			size_t dlen;
			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			dlen = c->cmsg_len - CMSG_LEN(0);
			if (dlen < sizeof ee)
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof ee);
			memset(&e, 0, sizeof e);
			e.err = (int)ee.ee_errno;
			e.origin = ee.ee_origin;
			e.type = ee.ee_type;
			e.code = ee.ee_code;
			e.info = ee.ee_info;
			/* msg_name holds the original destination (ip(7)). */
			if (h.msg_namelen > 0 && family_ok(&to.sa, h.msg_namelen)) {
				e.tolen = unmap(&to, h.msg_namelen);
				e.to = &to.sa;
			}
			/* SO_EE_OFFENDER follows the struct; AF_UNSPEC when
			 * unknown (local errors). */
			memset(&off, 0, sizeof off);
			dlen -= sizeof ee;
			if (dlen > sizeof off)
				dlen = sizeof off;
			memcpy(&off, CMSG_DATA(c) + sizeof ee, dlen);
			if (family_ok(&off.sa, (socklen_t)dlen)) {
				e.offenderlen = unmap(&off, (socklen_t)dlen);
				e.offender = &off.sa;
			}
			u->st.errqueue++;
			TRST_LOG(TRYST_LOG_DEBUG,
			         "udp: error queue: %s (origin %u type %u code %u)",
			         strerror(e.err), e.origin, e.type, e.code);
			if (u->cbs.error) {
				u->in_cb++;
				u->cbs.error(u, &e, u->user);
				if (end_cb(u))
					return 1;
				if (u->dead)
					return 0;
			}
		}
	}
	return 0;
}

static void rx_prepare(struct trst_udp *u)
{
	/* The kernel overwrites the lengths; reset them before each call. */
	for (int i = 0; i < TRST_UDP_RX_BATCH; i++) {
		struct msghdr *h = &u->rx_msg[i].msg_hdr;
		h->msg_namelen = sizeof u->rx_from[i];
		h->msg_controllen = sizeof u->rx_ctrl[i].buf;
		h->msg_flags = 0;
	}
}

/* Hand rx_out[0..n) to the callback.  Returns 1 if the socket is gone or
 * going (stop touching it). */
static int deliver(struct trst_udp *u, size_t n)
{
	if (n == 0)
		return 0;
	u->st.rx_datagrams += n;
	u->in_cb++;
	u->cbs.recv(u, u->rx_out, n, u->user);
	if (end_cb(u))
		return 1;
	return u->dead;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct trst_udp *u = arg;
	int got = 0, errq = 0;
	(void)what;

	for (int round = 0; round < TRST_UDP_RX_ROUNDS; round++) {
		int r;
		size_t nout = 0;
		uint64_t now;
		rx_prepare(u);
		r = recvmmsg(fd, u->rx_msg, TRST_UDP_RX_BATCH, MSG_DONTWAIT, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (async_error(errno)) {
				errq = 1;
				continue;
			}
			TRST_LOG(TRYST_LOG_WARN, "udp: recvmmsg: %s", strerror(errno));
			break;
		}
		got = 1;
		u->st.rx_syscalls++;
		now = mono_us();
		for (int i = 0; i < r; i++) {
			struct msghdr *h = &u->rx_msg[i].msg_hdr;
			size_t len = u->rx_msg[i].msg_len, seg = len;
			const uint8_t *data = u->rx_iov[i].iov_base;
			socklen_t alen;
			struct cmsghdr *c;
			if (h->msg_flags & MSG_TRUNC) {
				u->st.rx_truncated++;
				continue;
			}
			for (c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
				if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
					int gs;
					memcpy(&gs, CMSG_DATA(c), sizeof gs);
					if (gs > 0 && (size_t)gs < len)
						seg = (size_t)gs;
				} else if (c->cmsg_level == SOL_SOCKET &&
				           c->cmsg_type == SO_RXQ_OVFL) {
					uint32_t drops;
					memcpy(&drops, CMSG_DATA(c), sizeof drops);
					u->st.rx_kernel_drops = drops;
				}
			}
			alen = unmap(&u->rx_from[i], h->msg_namelen);
			if (seg < len)
				u->st.rx_gro_buffers++;
			/* One pass also covers len == 0 (an empty datagram). */
			size_t o = 0;
			do {
				struct trst_udp_rx *m;
				size_t piece = len - o < seg ? len - o : seg;
				if (nout == RX_OUT_CAP) {
					if (deliver(u, nout))
						return;
					nout = 0;
				}
				m = &u->rx_out[nout++];
				m->data = data + o;
				m->len = piece;
				m->from = &u->rx_from[i].sa;
				m->fromlen = alen;
				m->time_us = now;
				o += piece;
			} while (o < len);
		}
		if (deliver(u, nout))
			return;
		if (r < TRST_UDP_RX_BATCH)
			break; /* drained; skip the call that would say EAGAIN */
	}
	/* A readiness event with nothing to read is EPOLLERR from the error
	 * queue; so is an asynchronous error. */
	if (!got || errq || u->errq_pending) {
		u->errq_pending = 0;
		drain_errqueue(u);
	}
}

/* ---- send ------------------------------------------------------------------- */

static void notify_writable(struct trst_udp *u)
{
	if (u->cbs.writable) {
		u->in_cb++;
		u->cbs.writable(u, u->user);
		end_cb(u);
	}
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct trst_udp *u = arg;
	(void)fd;
	(void)what;
	u->want_write = 0;
	notify_writable(u);
}

static void on_nobufs(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	notify_writable(arg);
}

/* The address to put in entry k: the caller's own when the families agree,
 * else the mapped form (ipv6(7): "IPv4 connections can be handled with the
 * v6 API by using the v4-mapped-on-v6 address type") or the plain IPv4 form
 * of a mapped address on an IPv4 socket. */
static void *tx_name(struct trst_udp *u, unsigned k, const struct sockaddr *to, socklen_t tolen,
                     socklen_t *namelen)
{
	union addr *a = &u->tx_addr[k];
	if (u->family == AF_INET6 && to->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)to;
		memset(&a->in6, 0, sizeof a->in6);
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = in->sin_port;
		a->in6.sin6_addr.s6_addr[10] = 0xff;
		a->in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&a->in6.sin6_addr.s6_addr[12], &in->sin_addr, 4);
		*namelen = sizeof a->in6;
		return a;
	}
	if (u->family == AF_INET && to->sa_family == AF_INET6) {
		memcpy(&a->in6, to, sizeof a->in6);
		*namelen = unmap(a, sizeof a->in6);
		return a;
	}
	*namelen = tolen;
	return (void *)(uintptr_t)to;
}

/* Fill up to TRST_UDP_TX_BATCH entries from msgs starting at *cur. */
static unsigned tx_build(struct trst_udp *u, const struct trst_udp_tx *msgs, size_t n,
                         struct tx_cursor *cur)
{
	unsigned k = 0;
	const int gso = u->features & TRST_UDP_F_GSO;

	while (cur->msg < n && k < TRST_UDP_TX_BATCH) {
		const struct trst_udp_tx *m = &msgs[cur->msg];
		struct msghdr *h = &u->tx_msg[k].msg_hdr;
		size_t seg = m->segment_size && m->segment_size < m->len ? m->segment_size : m->len;
		size_t left = m->len - cur->off, chunk;
		unsigned dgrams = 1;

		if (gso && left > seg) {
			/* One GSO entry: whole segments, at most 64 of them and
			 * at most one maximal datagram in total (the kernel
			 * refuses more with EMSGSIZE or EINVAL). */
			size_t maxsegs = TRST_UDP_MAX_PAYLOAD / seg;
			if (maxsegs > TRST_UDP_MAX_SEGMENTS)
				maxsegs = TRST_UDP_MAX_SEGMENTS;
			chunk = left < maxsegs * seg ? left : maxsegs * seg;
			dgrams = (unsigned)((chunk + seg - 1) / seg);
		} else {
			chunk = left < seg ? left : seg;
		}
		u->tx_start[k] = *cur;
		u->tx_dgrams[k] = dgrams;
		h->msg_name = tx_name(u, k, m->to, m->tolen, &h->msg_namelen);
		u->tx_iov[k].iov_base = (void *)(uintptr_t)(m->data + cur->off);
		u->tx_iov[k].iov_len = chunk;
		h->msg_iov = &u->tx_iov[k];
		h->msg_iovlen = 1;
		h->msg_flags = 0;
		if (dgrams > 1) {
			/* udp(7) UDP_SEGMENT: the segment size as a uint16_t. */
			struct cmsghdr *c;
			uint16_t gs = (uint16_t)seg;
			h->msg_control = u->tx_ctrl[k].buf;
			h->msg_controllen = sizeof u->tx_ctrl[k].buf;
			c = CMSG_FIRSTHDR(h);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof gs);
			memcpy(CMSG_DATA(c), &gs, sizeof gs);
		} else {
			h->msg_control = NULL;
			h->msg_controllen = 0;
		}
		cur->off += chunk;
		if (cur->off >= m->len) {
			cur->msg++;
			cur->off = 0;
		}
		k++;
	}
	return k;
}

static int sys_sendmmsg(struct trst_udp *u, struct mmsghdr *m, unsigned n)
{
	if (u->inject_cnt && (!u->inject_gso_only || m[0].msg_hdr.msg_controllen)) {
		u->inject_cnt--;
		errno = u->inject_err;
		return -1;
	}
	u->st.tx_syscalls++;
	return sendmmsg(u->fd, m, n, 0);
}

/* A hard send or route error as a result code (errno kept for SYSTEM). */
static int map_errno(int e)
{
	switch (e) {
	case EMSGSIZE: return TRYST_ERR_MSGSIZE;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENONET:
	case ECONNREFUSED:
	case EADDRNOTAVAIL: return TRYST_ERR_UNREACHABLE;
	case EAFNOSUPPORT: return TRYST_ERR_FAMILY;
	case EINVAL: return TRYST_ERR_INVALID;
	}
	errno = e;
	return TRYST_ERR_SYSTEM;
}

/* Map a send errno to a result, arming what will say "writable". */
static int tx_error(struct trst_udp *u, int e)
{
	switch (e) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		u->st.tx_again++;
		if (!u->want_write && event_add(u->wr, NULL) == 0)
			u->want_write = 1;
		return TRYST_ERR_AGAIN;
	case ENOBUFS:
	case ENOMEM: {
		const struct timeval tv = {0, NOBUFS_RETRY_US};
		u->st.tx_again++;
		if (!evtimer_pending(u->nobufs, NULL))
			evtimer_add(u->nobufs, &tv);
		return TRYST_ERR_AGAIN;
	}
	}
	return map_errno(e);
}

static int tx_check(const struct trst_udp *u, const struct trst_udp_tx *m)
{
	size_t seg = m->segment_size && m->segment_size < m->len ? m->segment_size : m->len;
	if (!family_ok(m->to, m->tolen) || (m->len && !m->data))
		return TRYST_ERR_INVALID;
	if (seg > TRST_UDP_MAX_PAYLOAD)
		return TRYST_ERR_MSGSIZE;
	if (u->family == AF_INET && m->to->sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)m->to)->sin6_addr))
		return TRYST_ERR_FAMILY;
	if (u->family == AF_INET6 && !(u->features & TRST_UDP_F_DUALSTACK) &&
	    (m->to->sa_family == AF_INET ||
	     IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)m->to)->sin6_addr)))
		return TRYST_ERR_FAMILY;
	return 0;
}

int trst_udp_send_batch(struct trst_udp *u, const struct trst_udp_tx *msgs, size_t n, size_t *sent)
{
	struct tx_cursor cur = {0, 0};
	size_t done = 0;
	int gso_trial = 0, retried = 0, rc = 0;

	if (sent)
		*sent = 0;
	if (!u || u->dead || (n && !msgs))
		return TRYST_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if ((rc = tx_check(u, &msgs[i])) != 0)
			return rc;

	while (cur.msg < n) {
		unsigned k = tx_build(u, msgs, n, &cur), pos = 0;
		while (pos < k) {
			int r = sys_sendmmsg(u, &u->tx_msg[pos], k - pos), e;
			if (r > 0) {
				for (int j = 0; j < r; j++, pos++) {
					done += u->tx_dgrams[pos];
					if (u->tx_msg[pos].msg_hdr.msg_controllen)
						u->st.tx_gso_sends++;
				}
				if (gso_trial) {
					/* The segments went out one by one: it was
					 * GSO the kernel refused. */
					TRST_LOG(TRYST_LOG_WARN,
					         "udp: kernel refused GSO; sending without it");
					gso_trial = 0;
				}
				retried = 0;
				continue;
			}
			e = errno;
			if (e == EINTR)
				continue;
			if ((e == EIO || e == EINVAL) && u->tx_msg[pos].msg_hdr.msg_controllen) {
				/* udp_send_skb() refuses GSO with EIO when the
				 * device cannot checksum it, EINVAL when a segment
				 * exceeds the MTU.  Try the same datagrams without
				 * GSO; keep it off only if that works. */
				u->features &= ~TRST_UDP_F_GSO;
				gso_trial = 1;
				cur = u->tx_start[pos];
				break;
			}
			if (gso_trial) {
				/* Failed without GSO too: not GSO's fault. */
				u->features |= TRST_UDP_F_GSO;
				gso_trial = 0;
			}
			if (async_error(e) && !retried) {
				/* Probably an earlier datagram's ICMP error
				 * (consumed now); this one was not sent.  Try it
				 * once more, and read the error queue soon. */
				retried = 1;
				u->errq_pending = 1;
				event_active(u->rd, EV_READ, 0);
				continue;
			}
			rc = tx_error(u, e);
			goto out;
		}
	}
out:
	if (gso_trial) /* never got to try without it */
		u->features |= TRST_UDP_F_GSO;
	u->st.tx_datagrams += done;
	if (sent)
		*sent = done;
	return rc;
}

int trst_udp_send(struct trst_udp *u, const struct sockaddr *to, socklen_t tolen,
                  const uint8_t *buf, size_t len, size_t segment_size, size_t *sent)
{
	struct trst_udp_tx m = {to, tolen, buf, len, segment_size};
	return trst_udp_send_batch(u, &m, 1, sent);
}

/* ---- creation ---------------------------------------------------------------- */

/* Best-effort setsockopt for an int option; returns 0 or -errno. */
static int setopt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof val) == 0 ? 0 : -errno;
}

/* socket(7): SO_RCVBUFFORCE/SO_SNDBUFFORCE may exceed rmem_max/wmem_max
 * but need CAP_NET_ADMIN; without it, the plain option (capped). */
static void set_bufsize(int fd, int force, int plain, int bytes)
{
	if (setopt(fd, SOL_SOCKET, force, bytes) != 0)
		setopt(fd, SOL_SOCKET, plain, bytes);
}

/* Open and bind; returns an fd or -errno. */
static int open_bound(const union addr *a, socklen_t alen, int v6only)
{
	int fd = socket(a->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	int e;
	if (fd < 0)
		return -errno;
	if (a->sa.sa_family == AF_INET6 && setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only) != 0)
		goto fail;
	if (bind(fd, &a->sa, alen) != 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

static int open_socket(struct trst_udp *u, const struct sockaddr *bind_addr, uint16_t port)
{
	union addr a;
	int fd;

	memset(&a, 0, sizeof a);
	if (!bind_addr) {
		/* [::]:port, dual-stack (ipv6(7) IPV6_V6ONLY). */
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = in6addr_any;
		a.in6.sin6_port = htons(port);
		fd = open_bound(&a, sizeof a.in6, 0);
		if (fd >= 0) {
			u->features |= TRST_UDP_F_DUALSTACK;
		} else if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL || fd == -EPROTONOSUPPORT) {
			/* No IPv6 on this host (ipv6.disable=1): IPv4 only. */
			TRST_LOG(TRYST_LOG_INFO, "udp: no IPv6 (%s), binding 0.0.0.0",
			         strerror(-fd));
			memset(&a, 0, sizeof a);
			a.in.sin_family = AF_INET;
			a.in.sin_addr.s_addr = htonl(INADDR_ANY);
			a.in.sin_port = htons(port);
			fd = open_bound(&a, sizeof a.in, 0);
		}
	} else if (bind_addr->sa_family == AF_INET) {
		memcpy(&a.in, bind_addr, sizeof a.in);
		a.in.sin_port = htons(port);
		fd = open_bound(&a, sizeof a.in, 0);
	} else {
		memcpy(&a.in6, bind_addr, sizeof a.in6);
		a.in6.sin6_port = htons(port);
		/* Only the wildcard can carry IPv4 as well. */
		int any = IN6_IS_ADDR_UNSPECIFIED(&a.in6.sin6_addr);
		fd = open_bound(&a, sizeof a.in6, !any);
		if (fd >= 0 && any)
			u->features |= TRST_UDP_F_DUALSTACK;
	}
	if (fd < 0) {
		errno = -fd;
		if (fd == -EADDRINUSE)
			return TRYST_ERR_ADDRINUSE;
		if (fd == -EAFNOSUPPORT || fd == -EPROTONOSUPPORT)
			return TRYST_ERR_FAMILY;
		if (fd == -EADDRNOTAVAIL)
			return TRYST_ERR_UNREACHABLE;
		return TRYST_ERR_SYSTEM;
	}
	u->fd = fd;
	u->family = a.sa.sa_family;
	if (u->family == AF_INET6)
		u->features |= TRST_UDP_F_IPV6;
	return 0;
}

static void set_options(struct trst_udp *u)
{
	const int fd = u->fd;

	set_bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF, TRST_UDP_SOCKBUF);
	set_bufsize(fd, SO_SNDBUFFORCE, SO_SNDBUF, TRST_UDP_SOCKBUF);

	/* Path MTU (RFC 8899 section 3): DF on every IPv4 datagram, never
	 * fragment locally, and size sends by the interface MTU rather than
	 * a path MTU the kernel believes from ICMP (ip(7) IP_PMTUDISC_PROBE;
	 * ipv6(7) IPV6_PMTUDISC_PROBE and IPV6_DONTFRAG, without which the
	 * kernel would fragment an oversized IPv6 datagram at the source).
	 * Too-large sends then fail with EMSGSIZE: the probe's answer.  An
	 * AF_INET6 socket takes the IPv4 options for its mapped traffic. */
	if (u->family == AF_INET || (u->features & TRST_UDP_F_DUALSTACK)) {
		if (setopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE) != 0)
			TRST_LOG(TRYST_LOG_WARN, "udp: IP_MTU_DISCOVER: %s", strerror(errno));
		/* ip(7) IP_RECVERR: ICMP errors go to the error queue (read
		 * and reported by drain_errqueue) instead of being lost. */
		setopt(fd, IPPROTO_IP, IP_RECVERR, 1);
	}
	if (u->family == AF_INET6) {
		if (setopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE) != 0)
			TRST_LOG(TRYST_LOG_WARN, "udp: IPV6_MTU_DISCOVER: %s", strerror(errno));
		setopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, 1);
		setopt(fd, IPPROTO_IPV6, IPV6_RECVERR, 1);
	}
	/* socket(7) SO_RXQ_OVFL: a count of datagrams dropped for lack of
	 * receive buffer, for the stats. */
	setopt(fd, SOL_SOCKET, SO_RXQ_OVFL, 1);

	/* Offloads, detected once.  Setting UDP_SEGMENT to 0 changes nothing
	 * (0 = no default segment size) and fails where GSO is missing. */
	if (setopt(fd, SOL_UDP, UDP_SEGMENT, 0) == 0)
		u->features |= TRST_UDP_F_GSO;
	if (setopt(fd, SOL_UDP, UDP_GRO, 1) == 0)
		u->features |= TRST_UDP_F_GRO;
	TRST_LOG(TRYST_LOG_DEBUG, "udp: fd %d port %u%s%s%s", fd, u->port,
	         u->features & TRST_UDP_F_DUALSTACK ? " dual-stack" : "",
	         u->features & TRST_UDP_F_GSO ? " GSO" : "",
	         u->features & TRST_UDP_F_GRO ? " GRO" : "");
}

int trst_udp_new(struct event_base *base, const struct sockaddr *bind_addr, uint16_t port,
                 const struct trst_udp_callbacks *cbs, void *user_data, struct trst_udp **out)
{
	struct trst_udp *u;
	union addr local;
	socklen_t llen = sizeof local;
	int rc;

	if (!out)
		return TRYST_ERR_INVALID;
	*out = NULL;
	if (!base || !cbs || !cbs->recv)
		return TRYST_ERR_INVALID;
	if (bind_addr && bind_addr->sa_family != AF_INET && bind_addr->sa_family != AF_INET6)
		return TRYST_ERR_INVALID;
	u = trst_calloc(1, sizeof *u);
	if (!u)
		return TRYST_ERR_NOMEM;
	u->fd = -1;
	u->base = base;
	u->cbs = *cbs;
	u->user = user_data;
	/* 2 MiB of address space; the kernel only backs the pages datagrams
	 * are written to. */
	u->rx_buf = trst_calloc(TRST_UDP_RX_BATCH, RX_BUF_SIZE);
	u->rx_out = trst_calloc(RX_OUT_CAP, sizeof *u->rx_out);
	if (!u->rx_buf || !u->rx_out) {
		rc = TRYST_ERR_NOMEM;
		goto fail;
	}
	if ((rc = open_socket(u, bind_addr, port)) != 0)
		goto fail;
	if (getsockname(u->fd, &local.sa, &llen) != 0) {
		rc = TRYST_ERR_SYSTEM;
		goto fail;
	}
	u->port = ntohs(local.sa.sa_family == AF_INET ? local.in.sin_port : local.in6.sin6_port);
	set_options(u);

	for (int i = 0; i < TRST_UDP_RX_BATCH; i++) {
		struct msghdr *h = &u->rx_msg[i].msg_hdr;
		u->rx_iov[i].iov_base = u->rx_buf + (size_t)i * RX_BUF_SIZE;
		u->rx_iov[i].iov_len = RX_BUF_SIZE;
		h->msg_name = &u->rx_from[i];
		h->msg_iov = &u->rx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = u->rx_ctrl[i].buf;
	}

	u->rd = event_new(base, u->fd, EV_READ | EV_PERSIST, on_read, u);
	u->wr = event_new(base, u->fd, EV_WRITE, on_write, u);
	u->nobufs = evtimer_new(base, on_nobufs, u);
	if (!u->rd || !u->wr || !u->nobufs) {
		rc = TRYST_ERR_NOMEM;
		goto fail;
	}
	if (event_add(u->rd, NULL) != 0) {
		rc = TRYST_ERR_SYSTEM;
		goto fail;
	}
	*out = u;
	return 0;
fail:
	destroy(u);
	return rc;
}

/* ---- small accessors and knobs ----------------------------------------------- */

uint16_t trst_udp_local_port(const struct trst_udp *u)
{
	return u->port;
}

int trst_udp_fd(const struct trst_udp *u)
{
	return u->fd;
}

unsigned trst_udp_features(const struct trst_udp *u)
{
	return u->features;
}

void trst_udp_get_stats(const struct trst_udp *u, struct trst_udp_stats *out)
{
	*out = u->st;
}

void trst_udp_disable_gso(struct trst_udp *u)
{
	u->features &= ~TRST_UDP_F_GSO;
}

int trst_udp_set_gro(struct trst_udp *u, int on)
{
	if (setopt(u->fd, SOL_UDP, UDP_GRO, !!on) != 0)
		return TRYST_ERR_SYSTEM;
	if (on)
		u->features |= TRST_UDP_F_GRO;
	else
		u->features &= ~TRST_UDP_F_GRO;
	return 0;
}

int trst_udp_set_sndbuf(struct trst_udp *u, int bytes)
{
	return setopt(u->fd, SOL_SOCKET, SO_SNDBUF, bytes) == 0 ? 0 : TRYST_ERR_SYSTEM;
}

int trst_udp_set_rcvbuf(struct trst_udp *u, int bytes)
{
	return setopt(u->fd, SOL_SOCKET, SO_RCVBUF, bytes) == 0 ? 0 : TRYST_ERR_SYSTEM;
}

void trst_udp_inject_send_error(struct trst_udp *u, int err, unsigned count, int gso_only)
{
	u->inject_err = err;
	u->inject_cnt = count;
	u->inject_gso_only = gso_only;
}

unsigned trst_udp_overhead(const struct sockaddr *to)
{
	if (to && to->sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)to)->sin6_addr))
		return 40 + 8;
	return 20 + 8;
}

int trst_udp_route_mtu(const struct sockaddr *to, socklen_t tolen, unsigned *mtu)
{
	union addr a;
	socklen_t alen, olen;
	int fd, val = 0, ok;

	if (!mtu || !family_ok(to, tolen))
		return TRYST_ERR_INVALID;
	memset(&a, 0, sizeof a);
	memcpy(&a, to, to->sa_family == AF_INET ? sizeof a.in : sizeof a.in6);
	alen = unmap(&a, to->sa_family == AF_INET ? sizeof a.in : sizeof a.in6);
	fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return errno == EAFNOSUPPORT ? TRYST_ERR_FAMILY : TRYST_ERR_SYSTEM;
	/* connect(2) on UDP only looks the route up; nothing is sent. */
	if (connect(fd, &a.sa, alen) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return map_errno(e);
	}
	olen = sizeof val;
	if (a.sa.sa_family == AF_INET)
		ok = getsockopt(fd, IPPROTO_IP, IP_MTU, &val, &olen) == 0;
	else
		ok = getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &val, &olen) == 0;
	close(fd);
	if (!ok || val <= 0)
		return TRYST_ERR_SYSTEM;
	*mtu = (unsigned)val;
	return 0;
}

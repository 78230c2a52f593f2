/*
 * udp.h: the one UDP socket a node uses (DESIGN.md section 5), bound to a
 * libevent event_base.  Receives in batches (recvmmsg, UDP GRO) and sends in
 * batches (sendmmsg, UDP GSO), without allocating per datagram.
 *
 * Everything here runs on the base's thread.  Callbacks are never called
 * from inside trst_udp_send()/trst_udp_send_batch(), only from the loop, so
 * a callback may call any function below, including trst_udp_free() on its
 * own socket.
 */
#ifndef TRYST_UDP_H
#define TRYST_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct trst_udp;

/* The largest UDP payload: 65535 - 20 (IPv4 header) - 8 (UDP header).  IPv6
 * allows 65527, but one limit for both keeps a dual-stack socket simple. */
#define TRST_UDP_MAX_PAYLOAD 65507
/* Segments per GSO send.  The kernel's UDP_MAX_SEGMENTS is 64 before Linux
 * 6.9 and 128 after (include/linux/udp.h); 64 works everywhere. */
#define TRST_UDP_MAX_SEGMENTS 64
/* recvmmsg slots per call, and calls per readiness event: at most
 * RX_BATCH * RX_ROUNDS kernel buffers are read before the socket yields to
 * the loop, so a flood cannot starve timers (it gets another turn as soon as
 * the loop has run everything else that is ready; libevent's epoll backend
 * is level-triggered). */
#define TRST_UDP_RX_BATCH  32
#define TRST_UDP_RX_ROUNDS 8
/* mmsghdr entries per sendmmsg call. */
#define TRST_UDP_TX_BATCH 64
/* Requested socket buffer sizes ("generous": about 1 ms at 4 GB/s).  Without
 * CAP_NET_ADMIN the kernel caps them at net.core.rmem_max / wmem_max. */
#define TRST_UDP_SOCKBUF (4 * 1024 * 1024)

/* One received datagram.  Everything it points to belongs to the socket and
 * is valid only until the callback returns. */
struct trst_udp_rx {
	const uint8_t *data;
	size_t len;
	/* The source: AF_INET (IPv4-mapped IPv6 sources are turned into
	 * plain sockaddr_in) or AF_INET6. */
	const struct sockaddr *from;
	socklen_t fromlen;
	/* CLOCK_MONOTONIC in microseconds when the batch holding this
	 * datagram was read (one clock read per recvmmsg call). */
	uint64_t time_us;
};

/* One entry of a send batch: `len` bytes cut into datagrams of
 * `segment_size` bytes (the last may be shorter).  segment_size 0 or >= len
 * means one datagram. */
struct trst_udp_tx {
	const struct sockaddr *to;
	socklen_t tolen;
	const uint8_t *data;
	size_t len;
	size_t segment_size;
};

/* An error the kernel queued for the socket (ip(7) IP_RECVERR): an ICMP
 * message about one of our datagrams, or a local error such as a datagram
 * larger than the interface MTU.  Informational: the socket keeps working. */
struct trst_udp_err {
	int err;        /* errno value: ECONNREFUSED (port unreachable),
	                   EHOSTUNREACH, ENETUNREACH, EMSGSIZE, ... */
	uint8_t origin; /* SO_EE_ORIGIN_LOCAL, _ICMP or _ICMP6 */
	uint8_t type;   /* ICMP type and code, when origin is ICMP */
	uint8_t code;
	uint32_t info; /* EMSGSIZE: the MTU reported (RFC 8899 section 4.6
	                  says to treat it as a hint and verify by probing) */
	/* Destination of the datagram the error is about (the address we
	 * sent to, normalised like trst_udp_rx.from), or NULL. */
	const struct sockaddr *to;
	socklen_t tolen;
	/* Who reported it (a router or the far host), or NULL. */
	const struct sockaddr *offender;
	socklen_t offenderlen;
};

struct trst_udp_callbacks {
	/* A batch of datagrams (n >= 1).  Required. */
	void (*recv)(struct trst_udp *u, const struct trst_udp_rx *msgs, size_t n, void *user_data);
	/* A send returned TRYST_ERR_AGAIN earlier and the socket can take
	 * more now.  Called once per TRYST_ERR_AGAIN.  Optional. */
	void (*writable)(struct trst_udp *u, void *user_data);
	/* An error from the error queue.  Optional. */
	void (*error)(struct trst_udp *u, const struct trst_udp_err *e, void *user_data);
};

/* Create the socket, bind it and start reading on `base`.
 *  bind_addr: NULL binds [::]:port as a dual-stack socket (IPV6_V6ONLY=0,
 *             ipv6(7)), or 0.0.0.0:port where the host has no IPv6.
 *             Otherwise its address (AF_INET or AF_INET6) is used and its
 *             port field is ignored: the port is always `port`.  A socket
 *             bound to [::] is dual-stack, to another IPv6 address not.
 *  port:      0 lets the kernel pick; read it back with trst_udp_local_port().
 *  cbs:       copied.  user_data is passed to every callback.
 * The socket is non-blocking and close-on-exec, has generous buffers, sets
 * DF and never lets the kernel fragment or lower the size of what it sends
 * (the application probes the path MTU itself, RFC 8899), and asks for
 * ICMP errors on its error queue so they never break it.
 * Errors: TRYST_ERR_INVALID, TRYST_ERR_NOMEM, TRYST_ERR_ADDRINUSE,
 * TRYST_ERR_FAMILY (IPv6 bind_addr on a host without IPv6),
 * TRYST_ERR_SYSTEM (errno says why). */
int trst_udp_new(struct event_base *base, const struct sockaddr *bind_addr, uint16_t port,
                 const struct trst_udp_callbacks *cbs, void *user_data, struct trst_udp **out);

/* Stop reading, close the socket, release everything.  NULL is fine.  May
 * be called from one of the socket's own callbacks: the datagrams of the
 * batch being delivered are then not delivered any more. */
void trst_udp_free(struct trst_udp *u);

/* The bound port (host order). */
uint16_t trst_udp_local_port(const struct trst_udp *u);

/* The socket, for getsockopt() and the like.  Do not read from it or close
 * it. */
int trst_udp_fd(const struct trst_udp *u);

/* Features, detected once at creation and cleared at run time if the kernel
 * refuses them (see trst_udp_send). */
#define TRST_UDP_F_GSO       0x1 /* UDP_SEGMENT on send (Linux >= 4.18) */
#define TRST_UDP_F_GRO       0x2 /* UDP_GRO on receive (Linux >= 5.0) */
#define TRST_UDP_F_IPV6      0x4 /* the socket is AF_INET6 */
#define TRST_UDP_F_DUALSTACK 0x8 /* AF_INET6 socket that also carries IPv4 */
unsigned trst_udp_features(const struct trst_udp *u);

/* Send `len` bytes to `to` as datagrams of `segment_size` bytes (the last
 * one may be shorter; 0 or >= len: one datagram).  With GSO this is one
 * sendmsg per 64 segments (UDP_SEGMENT, udp(7)); without, one sendmmsg of
 * the datagrams.  An AF_INET destination on a dual-stack socket is sent to
 * as ::ffff:a.b.c.d.  Nothing is copied or allocated: `buf` is only read
 * during the call.
 * *sent (if not NULL) is always set to the number of datagrams the kernel
 * accepted, in order; they are gone even if an error is returned.
 * Errors:
 *  TRYST_ERR_AGAIN: the send buffer (EAGAIN) or the interface queue
 *      (ENOBUFS) is full; the writable callback fires when it is worth
 *      trying again.
 *  TRYST_ERR_MSGSIZE: a datagram is larger than the interface allows
 *      (or than TRST_UDP_MAX_PAYLOAD).
 *  TRYST_ERR_UNREACHABLE: no route to the destination.
 *  TRYST_ERR_FAMILY: an IPv6 destination on an IPv4-only socket.
 *  TRYST_ERR_INVALID, TRYST_ERR_SYSTEM (errno says why).
 * If the kernel refuses GSO for the send (EIO or EINVAL; a device without
 * checksum offload, for one) and the same datagrams then go out without it,
 * GSO is switched off for good (TRST_UDP_F_GSO cleared). */
int trst_udp_send(struct trst_udp *u, const struct sockaddr *to, socklen_t tolen,
                  const uint8_t *buf, size_t len, size_t segment_size, size_t *sent);

/* Send several entries (any destinations) with as few sendmmsg calls as
 * possible.  Entries are sent in order; on the first error the call stops
 * and returns it, and *sent (if not NULL) says how many datagrams (counting
 * every segment of every entry) went before it.  Errors as trst_udp_send. */
int trst_udp_send_batch(struct trst_udp *u, const struct trst_udp_tx *msgs, size_t n, size_t *sent);

/* The IP-level MTU of the route toward `to` (the interface MTU, or a path
 * MTU the kernel has learned): asks the kernel through a temporary connected
 * socket (ip(7) IP_MTU, ipv6(7) IPV6_MTU), which sends nothing.  The largest
 * UDP payload is *mtu minus trst_udp_overhead().  Errors:
 * TRYST_ERR_UNREACHABLE, TRYST_ERR_INVALID, TRYST_ERR_SYSTEM. */
int trst_udp_route_mtu(const struct sockaddr *to, socklen_t tolen, unsigned *mtu);

/* IP + UDP header bytes for a destination of this family: 28 for AF_INET,
 * 48 for AF_INET6. */
unsigned trst_udp_overhead(const struct sockaddr *to);

/* Counters, for tests and benchmarks. */
struct trst_udp_stats {
	uint64_t rx_datagrams;    /* delivered to the callback */
	uint64_t rx_syscalls;     /* recvmmsg calls that returned data */
	uint64_t rx_gro_buffers;  /* kernel buffers that held more than one datagram */
	uint64_t rx_truncated;    /* datagrams dropped because they did not fit */
	uint64_t rx_kernel_drops; /* SO_RXQ_OVFL: dropped by the kernel for lack of
	                             receive buffer, as last reported */
	uint64_t tx_datagrams;    /* accepted by the kernel */
	uint64_t tx_syscalls;
	uint64_t tx_gso_sends; /* sendmmsg entries carrying UDP_SEGMENT */
	uint64_t tx_again;     /* TRYST_ERR_AGAIN returned */
	uint64_t errqueue;     /* errors read from the error queue */
};
void trst_udp_get_stats(const struct trst_udp *u, struct trst_udp_stats *out);

/* ---- knobs for tests and benchmarks ---- */

/* Stop using GSO on send (the fallback path: sendmmsg of the segments). */
void trst_udp_disable_gso(struct trst_udp *u);

/* Turn UDP GRO on or off on receive.  Errors: TRYST_ERR_SYSTEM when the
 * kernel has no UDP GRO. */
int trst_udp_set_gro(struct trst_udp *u, int on);

/* Set SO_SNDBUF / SO_RCVBUF (the kernel doubles the value and applies a
 * minimum, socket(7)).  Errors: TRYST_ERR_SYSTEM. */
int trst_udp_set_sndbuf(struct trst_udp *u, int bytes);
int trst_udp_set_rcvbuf(struct trst_udp *u, int bytes);

/* Make the next `count` send system calls fail with `err` (an errno value)
 * without calling the kernel; gso_only: only those carrying UDP_SEGMENT.
 * Fault injection for the fallback and retry paths. */
void trst_udp_inject_send_error(struct trst_udp *u, int err, unsigned count, int gso_only);

#endif

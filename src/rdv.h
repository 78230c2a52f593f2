/*
 * rdv.h: the rendezvous server's message codec (src/rdv_msg.c) and its
 * sans-I/O core (src/rdv_server.c).  Wire format: doc/PROTOCOL.md,
 * "Rendezvous server".
 *
 * A client talks to a server inside an ordinary tryst connection: it dials
 * the server node's key (Noise IK), so the connection's authenticated peer
 * key *is* the requester -- proof of possession of the key comes from the
 * handshake, and the handshake's cookies already keep unauthenticated
 * sources from costing anything or being amplified.  Requests, responses
 * and server pushes travel as length-prefixed messages on the first stream
 * the client opens (the control stream).  Relayed packets travel as raw
 * datagrams on the server node's UDP socket (first byte 0x30).
 *
 * How a binding drives the core (nothing here touches sockets, clocks or
 * libevent; every function runs to completion and calls back synchronously):
 *
 *  1. trst_rdv_server_new(&cfg, &cb, user_data, now) once.  `now` is
 *     microseconds since the Unix epoch (tryst_now_us()): records carry
 *     wall-clock sequence numbers, so the core uses that clock throughout.
 *  2. When a connection to the server is established:
 *     trst_rdv_server_open(srv, handle, peer_key, peer_addr, now, &sess).
 *     `handle` is the binding's own pointer (its connection/stream); the
 *     core gives it back in cb.send.  On TRYST_ERR_RDV_MEMORY close the
 *     connection.  When the connection's peer address changes (NAT
 *     rebinding): trst_rdv_server_set_address().
 *  3. Bytes arriving on the control stream: trst_rdv_server_input(srv,
 *     sess, data, len, now, &consumed), then drop `consumed` bytes from the
 *     stream buffer and keep the rest for the next call (a partial message
 *     waits for more bytes).  It returns 0: every refusal is answered on
 *     the stream, and a request over TRST_RDV_REQUEST_MAX is answered once
 *     and its bytes skipped as they come, so the stream stays in step.
 *  4. A datagram whose first byte is 0x30 arriving on the node's socket:
 *     trst_rdv_server_datagram(srv, from, data, len, now).
 *  5. After every call, and when the timer fires: trst_rdv_server_expire(srv,
 *     now), then arm one timer for trst_rdv_server_next_deadline(srv)
 *     (UINT64_MAX: none).  Registrations, circuits and rate-limit state
 *     vanish by this deadline, not only when touched.
 *  6. When the connection closes: trst_rdv_server_close(srv, sess, now);
 *     the session pointer is invalid afterwards.  Registrations stay until
 *     their TTL runs out (a client that reconnects finds them).
 *  7. Output arrives through the callbacks: cb.send(handle, msg, len) --
 *     append the bytes to that session's control stream (the buffer is the
 *     core's, valid only during the call); cb.send_datagram(to, head, payload)
 *     -- send head || payload as one datagram from the node's socket.
 *     Callbacks must not call back into the core (nor close a session
 *     synchronously: defer that to the loop).
 *  8. trst_rdv_server_free(srv) at the end (no callbacks are made).
 */
#ifndef TRYST_RDV_H
#define TRYST_RDV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tryst.h"

/* ---- messages (doc/PROTOCOL.md, "Rendezvous server") ---- */

/* Every message: u32 length (of everything after it), u8 type, u32 id. */
#define TRST_RDV_HEADER 9
/* The largest request a server reads; a longer one is skipped and refused
 * (TRYST_ERR_RDV_OVERSIZE) without losing the stream. */
#define TRST_RDV_REQUEST_MAX 4096
/* The largest message of any kind (a DISCOVER response of 1000 records of
 * 605 bytes fits). */
#define TRST_RDV_MESSAGE_MAX      (1u << 20)
#define TRST_RDV_NAMESPACE_MAX    255 /* longest namespace in bytes */
#define TRST_RDV_COMMAND_NAME_MAX 32  /* longest application command name */
#define TRST_RDV_CIRCUIT_SIZE     8
#define TRST_RDV_TOKEN_SIZE       16
/* First byte of a relayed datagram: 0x30 || circuit id[8] || payload. */
#define TRST_RDV_RELAY_BYTE 0x30
#define TRST_RDV_RELAY_HEAD (1 + TRST_RDV_CIRCUIT_SIZE)

enum trst_rdv_type {
	/* requests (client -> server), id != 0 */
	TRST_RDV_REGISTER = 0x01,
	TRST_RDV_UNREGISTER = 0x02,
	TRST_RDV_DISCOVER = 0x03,
	TRST_RDV_LOOKUP = 0x04,
	TRST_RDV_CONNECT = 0x05,
	TRST_RDV_REFLECT = 0x06,
	TRST_RDV_RELAY_OPEN = 0x07,
	TRST_RDV_RELAY_CLOSE = 0x08,
	TRST_RDV_APP = 0x09,
	/* responses carry the request's type | 0x80 and its id; 0x80 itself
	 * answers a request whose type is unknown or could not be read */
	TRST_RDV_RESPONSE = 0x80,
	/* pushes (server -> client), id 0 */
	TRST_RDV_PUNCH = 0xc1,
	TRST_RDV_RELAY_OPENED = 0xc2,
	TRST_RDV_RELAY_CLOSED = 0xc3,
};

/* One decoded message.  Pointers point into the decoded buffer.  Which
 * fields a type uses is in doc/PROTOCOL.md; the rest are zero. */
struct trst_rdv_msg {
	uint8_t type;
	uint32_t id;
	int status; /* responses: 0 or a negative TRYST_ERR_* */
	const uint8_t *ns;
	size_t ns_len;
	uint32_t ttl; /* REGISTER: asked (0 = default); responses: granted/left */
	const uint8_t *record;
	size_t record_len;
	uint16_t limit;         /* DISCOVER: most results wanted (0 = server maximum) */
	uint64_t cookie;        /* DISCOVER and its response */
	uint8_t more;           /* DISCOVER response: more results wait */
	uint16_t count;         /* DISCOVER response: entries */
	const uint8_t *entries; /* DISCOVER response: count x (u32 ttl, u16 len, record) */
	size_t entries_len;
	const uint8_t *token; /* 16 bytes: CONNECT, PUNCH (the dialer's punch token) */
	const uint8_t *key; /* 32 bytes: LOOKUP, CONNECT, RELAY_OPEN, PUNCH, RELAY_OPENED */
	struct sockaddr_storage addr; /* REFLECT response, PUNCH */
	uint64_t circuit;
	uint64_t max_bytes; /* relay limits: bytes per circuit, seconds */
	uint32_t max_seconds;
	int reason;          /* RELAY_CLOSED: negative TRYST_ERR_* */
	const uint8_t *name; /* APP: command name */
	size_t name_len;
	const uint8_t *payload; /* APP request and response */
	size_t payload_len;
};

/* How many bytes the message at the start of buf (avail bytes so far)
 * occupies: 0 if its length field is not complete yet, else 4 + its length
 * (possibly more than avail: wait for the rest). */
long trst_rdv_frame_size(const uint8_t *buf, size_t avail);

/* Decode one whole message (header included; len must be its frame size).
 * Checks the layout of its type completely.  Errors, first found wins:
 * TRYST_ERR_RDV_TRUNCATED, TRYST_ERR_RDV_OVERSIZE (over
 * TRST_RDV_MESSAGE_MAX, a length field that disagrees with len, or bytes
 * after the last field), TRYST_ERR_RDV_TYPE, TRYST_ERR_RDV_MALFORMED (id 0
 * on a request, id not 0 on a push, a count, family, port or
 * status out of range). */
int trst_rdv_decode(const uint8_t *buf, size_t len, struct trst_rdv_msg *m);

/* Encode m (fields as trst_rdv_decode fills them).  Errors:
 * TRYST_ERR_BUFFER (needs *len bytes when it returns so, if len is not
 * NULL), TRYST_ERR_INVALID (a field cannot be encoded). */
int trst_rdv_encode(const struct trst_rdv_msg *m, uint8_t *out, size_t cap, size_t *len);

/* The size trst_rdv_encode needs for m, or 0 if m cannot be encoded. */
size_t trst_rdv_encoded_size(const struct trst_rdv_msg *m);

/* Walking a DISCOVER response's entries: start with it.p = m->entries,
 * it.end = p + m->entries_len; each call yields one record (bytes inside
 * the message) and its remaining TTL.  Returns 1, 0 at the end, or
 * TRYST_ERR_RDV_TRUNCATED (cannot happen on a decoded message). */
struct trst_rdv_entries {
	const uint8_t *p, *end;
};
int trst_rdv_entries_next(struct trst_rdv_entries *it, const uint8_t **rec, size_t *rec_len,
                          uint32_t *ttl);
/* Write one entry at out (6 + rec_len bytes); returns the end. */
uint8_t *trst_rdv_entry_put(uint8_t *out, uint32_t ttl, const uint8_t *rec, size_t rec_len);

/* ---- the server core ---- */

/* Limits; trst_rdv_config_default() fills the defaults named here. */
struct trst_rdv_config {
	uint32_t ttl_default;       /* seconds, when REGISTER asks 0: 7200 (2 h) */
	uint32_t ttl_min;           /* 30 */
	uint32_t ttl_max;           /* 259200 (72 h) */
	size_t namespace_max;       /* bytes, 1 ..= 255: 255 */
	uint32_t max_per_namespace; /* registrations: 10000 */
	uint32_t max_per_key;       /* registrations: 256 */
	uint32_t discover_max;      /* results per DISCOVER, <= 1000: 1000 */
	/* Token bucket per source address (an IPv4 address, or an IPv6 /64):
	 * every request takes a token; `rate` tokens a second, `burst` at most. */
	uint32_t rate;                 /* 100 */
	uint32_t burst;                /* 200 */
	uint64_t relay_max_bytes;      /* per circuit, both directions: 64 MiB */
	uint32_t relay_max_seconds;    /* per circuit: 600 */
	uint32_t max_circuits_per_key; /* 4 */
	size_t memory_max;             /* bytes allocated for state: 256 MiB */
};
void trst_rdv_config_default(struct trst_rdv_config *cfg);

struct trst_rdv_callbacks {
	/* Append msg to the control stream of the session opened with
	 * `handle`. */
	void (*send)(void *user_data, void *handle, const uint8_t *msg, size_t len);
	/* Send head || payload as one UDP datagram to `to`. */
	void (*send_datagram)(void *user_data, const struct sockaddr *to, socklen_t tolen,
	                      const uint8_t *head, size_t head_len, const uint8_t *payload,
	                      size_t payload_len);
};

/* An application command handler: `req` is the APP request's payload from
 * session key `key`; write the answer into out (cap bytes) and set
 * *out_len, or return a negative TRYST_ERR_* that goes back as the status.
 * It must not call into the core. */
typedef int (*trst_rdv_command_fn)(void *user_data, const uint8_t key[TRYST_KEY_SIZE],
                                   const uint8_t *req, size_t req_len, uint8_t *out, size_t cap,
                                   size_t *out_len);
#define TRST_RDV_COMMAND_OUT_MAX 4096
#define TRST_RDV_MAX_COMMANDS    32

/* Reasons a request or datagram was refused, for operators. */
enum trst_rdv_drop {
	TRST_RDV_DROP_MALFORMED,     /* truncated, oversize, unknown type, invalid field */
	TRST_RDV_DROP_RATE,          /* rate limited */
	TRST_RDV_DROP_MEMORY,        /* memory budget */
	TRST_RDV_DROP_LIMIT,         /* namespace/key/circuit limits, TTL, namespace length */
	TRST_RDV_DROP_RECORD,        /* record refused: another key, signature, stale, expired */
	TRST_RDV_DROP_RELAY_UNKNOWN, /* relay datagram for no circuit, or from the wrong source */
	TRST_RDV_DROP_RELAY_LIMIT,   /* relay datagram past the circuit's limits */
	TRST_RDV_DROP_N
};

struct trst_rdv_stats {
	uint64_t sessions, keys, namespaces, registrations, circuits;
	uint64_t memory;   /* bytes of state the core accounts */
	uint64_t requests; /* requests handled (answered ok or with an error) */
	uint64_t expired;  /* registrations that ran out */
	uint64_t relayed_datagrams, relayed_bytes;
	uint64_t dropped[TRST_RDV_DROP_N];
};

typedef struct trst_rdv_server trst_rdv_server;
typedef struct trst_rdv_session trst_rdv_session;

/* cfg and cb are copied.  Errors: TRYST_ERR_INVALID (a limit out of range),
 * TRYST_ERR_NOMEM, TRYST_ERR_CRYPTO. */
int trst_rdv_server_new(const struct trst_rdv_config *cfg, const struct trst_rdv_callbacks *cb,
                        void *user_data, uint64_t now, trst_rdv_server **out);
void trst_rdv_server_free(trst_rdv_server *srv);

/* Register an application command by name (1 ..= 32 bytes; copied).
 * Errors: TRYST_ERR_INVALID, TRYST_ERR_NOMEM (more than 32 commands). */
int trst_rdv_server_add_command(trst_rdv_server *srv, const char *name, trst_rdv_command_fn fn,
                                void *user_data);

int trst_rdv_server_open(trst_rdv_server *srv, void *handle, const uint8_t key[TRYST_KEY_SIZE],
                         const struct sockaddr *addr, socklen_t addrlen, uint64_t now,
                         trst_rdv_session **out);
void trst_rdv_server_set_address(trst_rdv_server *srv, trst_rdv_session *sess,
                                 const struct sockaddr *addr, socklen_t addrlen);
void trst_rdv_server_close(trst_rdv_server *srv, trst_rdv_session *sess, uint64_t now);

/* Stream bytes of a session (see the top of this file); returns 0. */
int trst_rdv_server_input(trst_rdv_server *srv, trst_rdv_session *sess, const uint8_t *data,
                          size_t len, uint64_t now, size_t *consumed);
/* One whole message (its frame); answers it.  Returns 0 or the error the
 * response carried. */
int trst_rdv_server_message(trst_rdv_server *srv, trst_rdv_session *sess, const uint8_t *msg,
                            size_t len, uint64_t now);
/* A relay datagram.  Returns 0 if forwarded, else why not. */
int trst_rdv_server_datagram(trst_rdv_server *srv, const struct sockaddr *from, socklen_t fromlen,
                             const uint8_t *data, size_t len, uint64_t now);

void trst_rdv_server_expire(trst_rdv_server *srv, uint64_t now);
uint64_t trst_rdv_server_next_deadline(const trst_rdv_server *srv);

void trst_rdv_server_get_stats(const trst_rdv_server *srv, struct trst_rdv_stats *st);
/* One JSON object on one line (no newline) into out; returns the length
 * snprintf would write (>= cap means truncated). */
int trst_rdv_stats_json(const struct trst_rdv_stats *st, char *out, size_t cap);

#endif

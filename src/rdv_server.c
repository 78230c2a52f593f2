/*
 * rdv_server.c: the rendezvous server's sans-I/O core (src/rdv.h says how a
 * binding drives it; doc/PROTOCOL.md, "Rendezvous server", what it
 * answers).
 *
 * State, sized for 100 000 registrations in well under 1 KiB each:
 *  - a key entry per identity that has a session or registrations, holding
 *    its one verified record, shared by all of its registrations (Ed25519
 *    verification costs ~35 us here; a REGISTER carrying the identical
 *    bytes again skips it);
 *  - a namespace entry holding its registrations in an array sorted by
 *    order number: DISCOVER's cookie is an order number, so "newer than
 *    the last answer" and paging are one binary search and a slice;
 *  - a registration: namespace, key, expiry, order (a few dozen bytes);
 *  - one min-heap of deadlines (registration expiry, circuit time limits,
 *    the rate-limiter sweep), so state vanishes without anyone asking;
 *  - hash tables with a keyed hash (SipHash, random key), so nobody can
 *    choose names or keys that collide.
 * Every byte allocated for state is counted against memory_max; a request
 * that would need more is refused (TRYST_ERR_RDV_MEMORY), never served by
 * growing.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "rdv.h"

#define US 1000000ull
/* How often idle rate-limiter state is swept away. */
#define SWEEP_US (10 * US)

/* ---- deadlines: one min-heap ---- */

enum { T_REG, T_CIRCUIT, T_SWEEP };

struct timer {
	uint64_t at;
	size_t idx; /* position in the heap, or NOT_QUEUED */
	uint8_t kind;
};
#define NOT_QUEUED SIZE_MAX

/* ---- hash tables: chained, intrusive, keyed hash ---- */

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **b;
	size_t cap, n; /* cap: a power of two */
};

/* ---- state ---- */

struct rdv_key {
	struct hnode h;
	uint8_t key[TRYST_KEY_SIZE];
	uint8_t *record; /* NULL when the key has no registration */
	uint16_t record_len;
	uint64_t record_seq;    /* highest accepted: replay protection */
	uint64_t record_expiry; /* us */
	struct rdv_reg *regs;   /* list through key_next */
	uint32_t n_regs, n_circuits;
	trst_rdv_session *sessions; /* newest first, through key_next */
};

struct rdv_ns {
	struct hnode h;
	struct rdv_reg **regs; /* sorted by order */
	size_t n, cap;
	uint16_t name_len;
	uint8_t name[];
};

struct rdv_reg {
	struct timer t; /* expiry */
	struct rdv_ns *ns;
	struct rdv_key *key;
	struct rdv_reg *key_next;
	uint64_t order;
};

struct rdv_circuit;
struct rdv_end {
	struct hnode h; /* by id */
	uint64_t id;
	trst_rdv_session *sess;
	struct rdv_circuit *c;
	struct rdv_end *sess_next;
};

struct rdv_circuit {
	struct timer t; /* time limit */
	struct rdv_end end[2];
	uint64_t bytes;
};

struct rdv_bucket {
	struct hnode h;
	uint8_t addr[8]; /* an IPv4 address, or an IPv6 /64 */
	uint8_t len;
	uint64_t tokens; /* in millionths of a token */
	uint64_t last;   /* us */
};

struct trst_rdv_session {
	void *handle;
	struct rdv_key *key;
	trst_rdv_session *key_next;
	struct sockaddr_storage addr;
	struct rdv_end *ends; /* circuits this session is an end of */
	size_t skip;          /* bytes of a refused oversize message still to drop */
};

struct command {
	char name[TRST_RDV_COMMAND_NAME_MAX];
	size_t name_len;
	trst_rdv_command_fn fn;
	void *ud;
};

struct trst_rdv_server {
	struct trst_rdv_config cfg;
	struct trst_rdv_callbacks cb;
	void *ud;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	struct htab keys, nss, ends, buckets;
	struct timer **heap;
	size_t heap_n, heap_cap;
	struct timer sweep;
	uint64_t next_order;
	struct command commands[TRST_RDV_MAX_COMMANDS];
	size_t n_commands;
	uint8_t *out; /* response scratch: the largest DISCOVER answer fits */
	size_t out_cap;
	int freeing; /* trst_rdv_server_free: no more callbacks */
	struct trst_rdv_stats st;
};

/* ---- memory accounting ---- */

static void *mem_alloc(trst_rdv_server *srv, size_t size)
{
	void *p;
	if (size > srv->cfg.memory_max - srv->st.memory)
		return NULL;
	if (!(p = trst_calloc(1, size)))
		return NULL;
	srv->st.memory += size;
	return p;
}

static void mem_free(trst_rdv_server *srv, void *p, size_t size)
{
	if (!p)
		return;
	srv->st.memory -= size;
	trst_free(p);
}

/* Grow an array from `old` to `new` bytes (new > old); NULL leaves it. */
static void *mem_grow(trst_rdv_server *srv, void *p, size_t old, size_t new)
{
	void *q;
	if (new - old > srv->cfg.memory_max - srv->st.memory)
		return NULL;
	if (!(q = realloc(p, new)))
		return NULL;
	memset((uint8_t *)q + old, 0, new - old);
	srv->st.memory += new - old;
	return q;
}

/* ---- heap ---- */

static void heap_swap(trst_rdv_server *srv, size_t a, size_t b)
{
	struct timer *t = srv->heap[a];
	srv->heap[a] = srv->heap[b];
	srv->heap[b] = t;
	srv->heap[a]->idx = a;
	srv->heap[b]->idx = b;
}

static void heap_up(trst_rdv_server *srv, size_t i)
{
	while (i > 0 && srv->heap[(i - 1) / 2]->at > srv->heap[i]->at) {
		heap_swap(srv, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(trst_rdv_server *srv, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < srv->heap_n && srv->heap[l]->at < srv->heap[m]->at)
			m = l;
		if (r < srv->heap_n && srv->heap[r]->at < srv->heap[m]->at)
			m = r;
		if (m == i)
			return;
		heap_swap(srv, i, m);
		i = m;
	}
}

/* Room for one more element in an array of n of *cap elements: the array
 * (moved, perhaps) or NULL when the budget does not allow it. */
static void *room_for_one(trst_rdv_server *srv, void *arr, size_t n, size_t *cap, size_t elem,
                          size_t first)
{
	size_t c;
	void *p;
	if (n < *cap)
		return arr;
	c = *cap ? 2 * *cap : first;
	if ((p = mem_grow(srv, arr, *cap * elem, c * elem)))
		*cap = c;
	return p;
}

/* Make room for one more timer before committing to anything. */
static int heap_reserve(trst_rdv_server *srv)
{
	struct timer **h =
	    room_for_one(srv, srv->heap, srv->heap_n, &srv->heap_cap, sizeof *srv->heap, 64);
	if (!h)
		return TRYST_ERR_RDV_MEMORY;
	srv->heap = h;
	return 0;
}

/* Queue (reserved before) or move a timer. */
static void timer_set(trst_rdv_server *srv, struct timer *t, uint64_t at)
{
	if (t->idx == NOT_QUEUED) {
		t->at = at;
		t->idx = srv->heap_n;
		srv->heap[srv->heap_n++] = t;
		heap_up(srv, t->idx);
		return;
	}
	uint64_t old = t->at;
	t->at = at;
	if (at < old)
		heap_up(srv, t->idx);
	else
		heap_down(srv, t->idx);
}

static void timer_cancel(trst_rdv_server *srv, struct timer *t)
{
	size_t i = t->idx;
	if (i == NOT_QUEUED)
		return;
	t->idx = NOT_QUEUED;
	if (i == --srv->heap_n)
		return;
	srv->heap[i] = srv->heap[srv->heap_n];
	srv->heap[i]->idx = i;
	heap_up(srv, i);
	heap_down(srv, srv->heap[i]->idx);
}

/* ---- hash tables ---- */

static uint64_t hash_bytes(const trst_rdv_server *srv, const uint8_t *p, size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, p, n, srv->hkey);
	return trst_get_u64(h);
}

static struct hnode *htab_chain(const struct htab *t, uint64_t hash)
{
	return t->cap ? t->b[hash & (t->cap - 1)] : NULL;
}

/* Insert; grows the table at load 1 when the budget allows (a table that
 * cannot grow still works, with longer chains). */
static int htab_insert(trst_rdv_server *srv, struct htab *t, struct hnode *n)
{
	if (t->n >= t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct hnode **b = mem_alloc(srv, cap * sizeof *b);
		if (b) {
			for (size_t i = 0; i < t->cap; i++) {
				for (struct hnode *x = t->b[i], *next; x; x = next) {
					next = x->next;
					x->next = b[x->hash & (cap - 1)];
					b[x->hash & (cap - 1)] = x;
				}
			}
			mem_free(srv, t->b, t->cap * sizeof *b);
			t->b = b;
			t->cap = cap;
		} else if (!t->cap) {
			return TRYST_ERR_RDV_MEMORY;
		}
	}
	struct hnode **slot = &t->b[n->hash & (t->cap - 1)];
	n->next = *slot;
	*slot = n;
	t->n++;
	return 0;
}

static void htab_remove(struct htab *t, struct hnode *n)
{
	struct hnode **pp = &t->b[n->hash & (t->cap - 1)];
	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	t->n--;
}

static void htab_free(trst_rdv_server *srv, struct htab *t)
{
	mem_free(srv, t->b, t->cap * sizeof *t->b);
	t->b = NULL;
	t->cap = t->n = 0;
}

/* ---- keys ---- */

static struct rdv_key *key_find(const trst_rdv_server *srv, const uint8_t *key)
{
	uint64_t h = hash_bytes(srv, key, TRYST_KEY_SIZE);
	for (struct hnode *n = htab_chain(&srv->keys, h); n; n = n->next) {
		struct rdv_key *k = (struct rdv_key *)n;
		if (n->hash == h && memcmp(k->key, key, TRYST_KEY_SIZE) == 0)
			return k;
	}
	return NULL;
}

static struct rdv_key *key_get(trst_rdv_server *srv, const uint8_t *key)
{
	struct rdv_key *k = key_find(srv, key);
	if (k)
		return k;
	if (!(k = mem_alloc(srv, sizeof *k)))
		return NULL;
	memcpy(k->key, key, TRYST_KEY_SIZE);
	k->h.hash = hash_bytes(srv, key, TRYST_KEY_SIZE);
	if (htab_insert(srv, &srv->keys, &k->h) < 0) {
		mem_free(srv, k, sizeof *k);
		return NULL;
	}
	srv->st.keys++;
	return k;
}

static void key_drop_record(trst_rdv_server *srv, struct rdv_key *k)
{
	mem_free(srv, k->record, k->record_len);
	k->record = NULL;
	k->record_len = 0;
}

/* Free a key entry nothing refers to any more. */
static void key_release(trst_rdv_server *srv, struct rdv_key *k)
{
	if (k->sessions || k->n_regs)
		return;
	key_drop_record(srv, k);
	htab_remove(&srv->keys, &k->h);
	mem_free(srv, k, sizeof *k);
	srv->st.keys--;
}

/* ---- namespaces ---- */

static struct rdv_ns *ns_find(const trst_rdv_server *srv, const uint8_t *name, size_t len)
{
	uint64_t h = hash_bytes(srv, name, len);
	for (struct hnode *n = htab_chain(&srv->nss, h); n; n = n->next) {
		struct rdv_ns *ns = (struct rdv_ns *)n;
		if (n->hash == h && ns->name_len == len && memcmp(ns->name, name, len) == 0)
			return ns;
	}
	return NULL;
}

static struct rdv_ns *ns_get(trst_rdv_server *srv, const uint8_t *name, size_t len)
{
	struct rdv_ns *ns = ns_find(srv, name, len);
	if (ns)
		return ns;
	if (!(ns = mem_alloc(srv, sizeof *ns + len)))
		return NULL;
	memcpy(ns->name, name, len);
	ns->name_len = (uint16_t)len;
	ns->h.hash = hash_bytes(srv, name, len);
	if (htab_insert(srv, &srv->nss, &ns->h) < 0) {
		mem_free(srv, ns, sizeof *ns + len);
		return NULL;
	}
	srv->st.namespaces++;
	return ns;
}

static void ns_release(trst_rdv_server *srv, struct rdv_ns *ns)
{
	if (ns->n)
		return;
	htab_remove(&srv->nss, &ns->h);
	mem_free(srv, ns->regs, ns->cap * sizeof *ns->regs);
	mem_free(srv, ns, sizeof *ns + ns->name_len);
	srv->st.namespaces--;
}

/* Room for one more registration in the namespace's array. */
static int ns_reserve(trst_rdv_server *srv, struct rdv_ns *ns)
{
	struct rdv_reg **r = room_for_one(srv, ns->regs, ns->n, &ns->cap, sizeof *ns->regs, 4);
	if (!r)
		return TRYST_ERR_RDV_MEMORY;
	ns->regs = r;
	return 0;
}

/* The index of the first registration with an order above `order`. */
static size_t ns_after(const struct rdv_ns *ns, uint64_t order)
{
	size_t lo = 0, hi = ns->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ns->regs[mid]->order <= order)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void ns_unlink(struct rdv_ns *ns, struct rdv_reg *r)
{
	size_t i = ns_after(ns, r->order - 1);
	memmove(&ns->regs[i], &ns->regs[i + 1], (ns->n - i - 1) * sizeof *ns->regs);
	ns->n--;
}

/* Give r the next order number: it is now the newest of its namespace
 * (orders only grow, so appending keeps the array sorted). */
static void reg_renew_order(trst_rdv_server *srv, struct rdv_reg *r, int linked)
{
	if (linked)
		ns_unlink(r->ns, r);
	r->order = ++srv->next_order;
	r->ns->regs[r->ns->n++] = r;
}

static void reg_remove(trst_rdv_server *srv, struct rdv_reg *r)
{
	struct rdv_key *k = r->key;
	struct rdv_ns *ns = r->ns;
	struct rdv_reg **pp = &k->regs;

	timer_cancel(srv, &r->t);
	ns_unlink(ns, r);
	while (*pp != r)
		pp = &(*pp)->key_next;
	*pp = r->key_next;
	k->n_regs--;
	mem_free(srv, r, sizeof *r);
	srv->st.registrations--;
	if (!k->n_regs)
		key_drop_record(srv, k);
	ns_release(srv, ns);
	key_release(srv, k);
}

static struct rdv_reg *reg_find(struct rdv_key *k, const struct rdv_ns *ns)
{
	for (struct rdv_reg *r = k->regs; r; r = r->key_next)
		if (r->ns == ns)
			return r;
	return NULL;
}

/* ---- output ---- */

static void send_msg(trst_rdv_server *srv, trst_rdv_session *sess, const struct trst_rdv_msg *m)
{
	size_t len;
	if (!srv->freeing && trst_rdv_encode(m, srv->out, srv->out_cap, &len) == 0)
		srv->cb.send(srv->ud, sess->handle, srv->out, len);
}

static int is_request(uint8_t type)
{
	return type >= TRST_RDV_REGISTER && type <= TRST_RDV_APP;
}

static void drop(trst_rdv_server *srv, int err)
{
	int why = -1;
	switch (err) {
	case TRYST_ERR_RDV_TRUNCATED:
	case TRYST_ERR_RDV_OVERSIZE:
	case TRYST_ERR_RDV_TYPE:
	case TRYST_ERR_RDV_MALFORMED: why = TRST_RDV_DROP_MALFORMED; break;
	case TRYST_ERR_RDV_RATE: why = TRST_RDV_DROP_RATE; break;
	case TRYST_ERR_RDV_MEMORY: why = TRST_RDV_DROP_MEMORY; break;
	case TRYST_ERR_RDV_NAMESPACE:
	case TRYST_ERR_RDV_TTL:
	case TRYST_ERR_RDV_NAMESPACE_FULL:
	case TRYST_ERR_RDV_KEY_FULL:
	case TRYST_ERR_RDV_CIRCUITS_FULL: why = TRST_RDV_DROP_LIMIT; break;
	default:
		if (err <= TRYST_ERR_RECORD_TRUNCATED && err >= TRYST_ERR_RECORD_FUTURE)
			why = TRST_RDV_DROP_RECORD;
	}
	if (why >= 0)
		srv->st.dropped[why]++;
}

/* An error response: to the request's own type when it is one, else 0x80. */
static int respond_error(trst_rdv_server *srv, trst_rdv_session *sess, uint8_t type, uint32_t id,
                         int err)
{
	struct trst_rdv_msg m = {0};
	m.type = is_request(type) ? (uint8_t)(TRST_RDV_RESPONSE | type) : TRST_RDV_RESPONSE;
	m.id = id;
	m.status = err;
	send_msg(srv, sess, &m);
	drop(srv, err);
	return err;
}

static void ok_msg(struct trst_rdv_msg *m, const struct trst_rdv_msg *req)
{
	memset(m, 0, sizeof *m);
	m->type = (uint8_t)(TRST_RDV_RESPONSE | req->type);
	m->id = req->id;
}

/* ---- rate limiting (a token bucket per source) ---- */

static size_t source_of(const struct sockaddr_storage *ss, uint8_t out[8])
{
	if (ss->ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return 4;
	}
	const uint8_t *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
		memcpy(out, a + 12, 4);
		return 4;
	}
	/* One IPv6 host usually owns a whole /64: limit the prefix. */
	memcpy(out, a, 8);
	return 8;
}

static void bucket_refill(const trst_rdv_server *srv, struct rdv_bucket *b, uint64_t now)
{
	uint64_t full = (uint64_t)srv->cfg.burst * US;
	if (now > b->last) {
		uint64_t dt = now - b->last;
		/* dt * rate could overflow after a long idle time: clamp first */
		if (dt >= full / srv->cfg.rate + 1)
			b->tokens = full;
		else
			b->tokens = b->tokens + dt * srv->cfg.rate > full
			                ? full
			                : b->tokens + dt * srv->cfg.rate;
		b->last = now;
	}
}

/* Take one token for a request from sess; 0 or TRYST_ERR_RDV_RATE, or
 * TRYST_ERR_RDV_MEMORY when a new source cannot be tracked. */
static int rate_take(trst_rdv_server *srv, const trst_rdv_session *sess, uint64_t now)
{
	uint8_t a[8];
	size_t len = source_of(&sess->addr, a);
	uint64_t h = hash_bytes(srv, a, len);
	struct rdv_bucket *b = NULL;

	for (struct hnode *n = htab_chain(&srv->buckets, h); n; n = n->next) {
		struct rdv_bucket *x = (struct rdv_bucket *)n;
		if (n->hash == h && x->len == len && memcmp(x->addr, a, len) == 0) {
			b = x;
			break;
		}
	}
	if (!b) {
		if (heap_reserve(srv) < 0 || !(b = mem_alloc(srv, sizeof *b)))
			return TRYST_ERR_RDV_MEMORY;
		memcpy(b->addr, a, len);
		b->len = (uint8_t)len;
		b->h.hash = h;
		b->tokens = (uint64_t)srv->cfg.burst * US;
		b->last = now;
		if (htab_insert(srv, &srv->buckets, &b->h) < 0) {
			mem_free(srv, b, sizeof *b);
			return TRYST_ERR_RDV_MEMORY;
		}
		if (srv->sweep.idx == NOT_QUEUED)
			timer_set(srv, &srv->sweep, now + SWEEP_US);
	}
	bucket_refill(srv, b, now);
	if (b->tokens < US)
		return TRYST_ERR_RDV_RATE;
	b->tokens -= US;
	return 0;
}

/* Forget sources whose bucket is full again: they are idle, and a fresh
 * bucket would be the same. */
static void rate_sweep(trst_rdv_server *srv, uint64_t now)
{
	for (size_t i = 0; i < srv->buckets.cap; i++) {
		struct hnode **pp = &srv->buckets.b[i];
		while (*pp) {
			struct rdv_bucket *b = (struct rdv_bucket *)*pp;
			bucket_refill(srv, b, now);
			if (b->tokens >= (uint64_t)srv->cfg.burst * US) {
				*pp = b->h.next;
				srv->buckets.n--;
				mem_free(srv, b, sizeof *b);
			} else {
				pp = &b->h.next;
			}
		}
	}
	if (srv->buckets.n)
		timer_set(srv, &srv->sweep, now + SWEEP_US);
}

/* ---- relay circuits ---- */

static int addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	/* compared in their canonical encoding, so an IPv4-mapped IPv6
	 * address equals the IPv4 address it is */
	uint8_t ea[19], eb[19];
	size_t na = trst_addr_size(a), nb = trst_addr_size(b);
	if (!na || na != nb)
		return 0;
	trst_addr_put(ea, a);
	trst_addr_put(eb, b);
	return memcmp(ea, eb, na) == 0;
}

static struct rdv_end *end_find(const trst_rdv_server *srv, uint64_t id)
{
	uint8_t b[8];
	trst_put_u64(b, id);
	uint64_t h = hash_bytes(srv, b, sizeof b);
	for (struct hnode *n = htab_chain(&srv->ends, h); n; n = n->next)
		if (n->hash == h && ((struct rdv_end *)n)->id == id)
			return (struct rdv_end *)n;
	return NULL;
}

static void push_closed(trst_rdv_server *srv, const struct rdv_end *e, int reason)
{
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_RELAY_CLOSED;
	m.circuit = e->id;
	m.reason = reason;
	send_msg(srv, e->sess, &m);
}

/* Tear a circuit down, telling each end why, except `quiet` (the session
 * that is leaving, or the one that asked and gets a response). */
static void circuit_close(trst_rdv_server *srv, struct rdv_circuit *c, int reason,
                          const trst_rdv_session *quiet)
{
	for (int i = 0; i < 2; i++) {
		struct rdv_end *e = &c->end[i];
		struct rdv_end **pp = &e->sess->ends;
		if (e->sess != quiet)
			push_closed(srv, e, reason);
		while (*pp != e)
			pp = &(*pp)->sess_next;
		*pp = e->sess_next;
		htab_remove(&srv->ends, &e->h);
		e->sess->key->n_circuits--;
	}
	timer_cancel(srv, &c->t);
	mem_free(srv, c, sizeof *c);
	srv->st.circuits--;
}

static int circuit_open(trst_rdv_server *srv, trst_rdv_session *a, trst_rdv_session *b,
                        uint64_t now, struct rdv_circuit **out)
{
	struct rdv_circuit *c;

	if (a->key->n_circuits >= srv->cfg.max_circuits_per_key ||
	    b->key->n_circuits >= srv->cfg.max_circuits_per_key)
		return TRYST_ERR_RDV_CIRCUITS_FULL;
	if (heap_reserve(srv) < 0 || !(c = mem_alloc(srv, sizeof *c)))
		return TRYST_ERR_RDV_MEMORY;
	c->t.kind = T_CIRCUIT;
	c->t.idx = NOT_QUEUED;
	for (int i = 0; i < 2; i++) {
		struct rdv_end *e = &c->end[i];
		uint8_t idb[8];
		/* Random ids: a third party cannot guess one to inject into a
		 * circuit (it would also need the end's address). */
		do {
			randombytes_buf(idb, sizeof idb);
			e->id = trst_get_u64(idb);
		} while (!e->id || end_find(srv, e->id));
		e->c = c;
		e->sess = i ? b : a;
		e->h.hash = hash_bytes(srv, idb, sizeof idb);
		if (htab_insert(srv, &srv->ends, &e->h) < 0) {
			if (i)
				htab_remove(&srv->ends, &c->end[0].h);
			mem_free(srv, c, sizeof *c);
			return TRYST_ERR_RDV_MEMORY;
		}
	}
	for (int i = 0; i < 2; i++) {
		c->end[i].sess_next = c->end[i].sess->ends;
		c->end[i].sess->ends = &c->end[i];
		c->end[i].sess->key->n_circuits++;
	}
	timer_set(srv, &c->t, now + (uint64_t)srv->cfg.relay_max_seconds * US);
	srv->st.circuits++;
	*out = c;
	return 0;
}

int trst_rdv_server_datagram(trst_rdv_server *srv, const struct sockaddr *from, socklen_t fromlen,
                             const uint8_t *data, size_t len, uint64_t now)
{
	struct sockaddr_storage src;
	struct rdv_end *e;
	struct rdv_circuit *c;
	uint8_t head[TRST_RDV_RELAY_HEAD];
	(void)now;

	if (len < TRST_RDV_RELAY_HEAD || data[0] != TRST_RDV_RELAY_BYTE || !from ||
	    fromlen > sizeof src) {
		srv->st.dropped[TRST_RDV_DROP_RELAY_UNKNOWN]++;
		return TRYST_ERR_RDV_MALFORMED;
	}
	memset(&src, 0, sizeof src);
	memcpy(&src, from, fromlen);
	/* Forward only for a known circuit and only from the address of its
	 * end's session: a spoofed source cannot make the server send
	 * anything anywhere. */
	e = end_find(srv, trst_get_u64(data + 1));
	if (!e || !addr_same(&src, &e->sess->addr)) {
		srv->st.dropped[TRST_RDV_DROP_RELAY_UNKNOWN]++;
		return TRYST_ERR_RDV_NOT_FOUND;
	}
	c = e->c;
	if (len - TRST_RDV_RELAY_HEAD > srv->cfg.relay_max_bytes - c->bytes) {
		srv->st.dropped[TRST_RDV_DROP_RELAY_LIMIT]++;
		circuit_close(srv, c, TRYST_ERR_RDV_RELAY_BYTES, NULL);
		return TRYST_ERR_RDV_RELAY_BYTES;
	}
	c->bytes += len - TRST_RDV_RELAY_HEAD;
	const struct rdv_end *to = &c->end[e == &c->end[0]];
	head[0] = TRST_RDV_RELAY_BYTE;
	trst_put_u64(head + 1, to->id);
	srv->cb.send_datagram(srv->ud, (const struct sockaddr *)&to->sess->addr,
	                      to->sess->addr.ss_family == AF_INET ? sizeof(struct sockaddr_in)
	                                                          : sizeof(struct sockaddr_in6),
	                      head, sizeof head, data + TRST_RDV_RELAY_HEAD,
	                      len - TRST_RDV_RELAY_HEAD);
	srv->st.relayed_datagrams++;
	srv->st.relayed_bytes += len - TRST_RDV_RELAY_HEAD;
	return 0;
}

/* ---- requests ---- */

static int ns_valid(const trst_rdv_server *srv, const struct trst_rdv_msg *m)
{
	return m->ns_len >= 1 && m->ns_len <= srv->cfg.namespace_max;
}

/* Check the record of a REGISTER; *changed says whether it differs from
 * the key's stored one.  Nothing is modified. */
static int check_record(const trst_rdv_session *sess, const struct trst_rdv_msg *m, uint64_t now,
                        tryst_record *rec, int *changed)
{
	struct rdv_key *k = sess->key;
	int rc;

	if (k->record && k->record_len == m->record_len &&
	    memcmp(k->record, m->record, m->record_len) == 0) {
		/* the bytes already verified: only time can have changed */
		*changed = 0;
		return now >= k->record_expiry ? TRYST_ERR_RECORD_EXPIRED : 0;
	}
	*changed = 1;
	/* The record must be the session's own: the connection proved
	 * possession of that key, so nobody registers for another. */
	rc = tryst_record_decode(m->record, m->record_len, k->key, k->record_seq, now, rec);
	if (rc < 0)
		return rc;
	/* one sequence number, one record: the same seq with other bytes is
	 * a replay of something else signed earlier */
	if (k->record && rec->seq == k->record_seq)
		return TRYST_ERR_RECORD_STALE;
	return 0;
}

static int do_register(trst_rdv_server *srv, trst_rdv_session *sess, const struct trst_rdv_msg *m,
                       uint64_t now)
{
	struct rdv_key *k = sess->key;
	struct rdv_ns *ns;
	struct rdv_reg *r;
	uint8_t *copy = NULL;
	tryst_record rec;
	uint64_t expiry, left;
	uint32_t ttl = m->ttl ? m->ttl : srv->cfg.ttl_default;
	int changed, rc, new_ns;

	if (!ns_valid(srv, m))
		return TRYST_ERR_RDV_NAMESPACE;
	if (ttl < srv->cfg.ttl_min || ttl > srv->cfg.ttl_max)
		return TRYST_ERR_RDV_TTL;
	if ((rc = check_record(sess, m, now, &rec, &changed)) < 0)
		return rc;
	/* A registration never outlives its record: what DISCOVER hands out
	 * must still decode at the reader. */
	expiry = changed ? rec.seq + (uint64_t)rec.ttl * US : k->record_expiry;
	left = (expiry - now) / US;
	if (left < ttl)
		ttl = (uint32_t)left;
	if (ttl < srv->cfg.ttl_min)
		return TRYST_ERR_RDV_TTL;

	new_ns = !(ns = ns_find(srv, m->ns, m->ns_len));
	r = ns ? reg_find(k, ns) : NULL;
	if (!r) {
		if (ns && ns->n >= srv->cfg.max_per_namespace)
			return TRYST_ERR_RDV_NAMESPACE_FULL;
		if (k->n_regs >= srv->cfg.max_per_key)
			return TRYST_ERR_RDV_KEY_FULL;
	}
	/* Allocate everything before changing anything. */
	if (changed && !(copy = mem_alloc(srv, m->record_len)))
		return TRYST_ERR_RDV_MEMORY;
	if (!r) {
		if (heap_reserve(srv) < 0 || !(ns = ns_get(srv, m->ns, m->ns_len)))
			goto nomem;
		if (ns_reserve(srv, ns) < 0 || !(r = mem_alloc(srv, sizeof *r))) {
			if (new_ns)
				ns_release(srv, ns);
			goto nomem;
		}
		r->t.kind = T_REG;
		r->t.idx = NOT_QUEUED;
		r->ns = ns;
		r->key = k;
		r->key_next = k->regs;
		k->regs = r;
		k->n_regs++;
		srv->st.registrations++;
		reg_renew_order(srv, r, 0);
	}
	timer_set(srv, &r->t, now + (uint64_t)ttl * US);
	if (changed) {
		key_drop_record(srv, k);
		memcpy(copy, m->record, m->record_len);
		k->record = copy;
		k->record_len = (uint16_t)m->record_len;
		k->record_seq = rec.seq;
		k->record_expiry = expiry;
		/* A new record is news in every namespace the key is in; and
		 * none of its registrations may outlive it. */
		for (struct rdv_reg *x = k->regs; x; x = x->key_next) {
			if (x != r || x->order != srv->next_order)
				reg_renew_order(srv, x, 1);
			if (x->t.at > expiry)
				timer_set(srv, &x->t, expiry);
		}
	}
	return (int)ttl;
nomem:
	mem_free(srv, copy, m->record_len);
	return TRYST_ERR_RDV_MEMORY;
}

static int do_unregister(trst_rdv_server *srv, trst_rdv_session *sess, const struct trst_rdv_msg *m)
{
	struct rdv_ns *ns;
	struct rdv_reg *r;
	if (!ns_valid(srv, m))
		return TRYST_ERR_RDV_NAMESPACE;
	if (!(ns = ns_find(srv, m->ns, m->ns_len)) || !(r = reg_find(sess->key, ns)))
		return TRYST_ERR_RDV_NOT_FOUND;
	reg_remove(srv, r);
	return 0;
}

static uint32_t secs_left(uint64_t at, uint64_t now)
{
	return at > now ? (uint32_t)((at - now + US - 1) / US) : 0;
}

/* DISCOVER writes its response itself: the entries go straight from the
 * stored records into the output buffer. */
static int do_discover(trst_rdv_server *srv, trst_rdv_session *sess, const struct trst_rdv_msg *m,
                       uint64_t now)
{
	struct rdv_ns *ns;
	uint32_t limit = m->limit, count = 0;
	size_t i;
	uint64_t cookie = m->cookie;
	uint8_t *p;
	struct trst_rdv_msg resp;

	if (!ns_valid(srv, m))
		return TRYST_ERR_RDV_NAMESPACE;
	if (!limit || limit > srv->cfg.discover_max)
		limit = srv->cfg.discover_max;
	ns = ns_find(srv, m->ns, m->ns_len);
	i = ns ? ns_after(ns, m->cookie) : 0;
	p = srv->out + TRST_RDV_HEADER + 2 + 8 + 1 + 2;
	for (; ns && i < ns->n && count < limit; i++) {
		const struct rdv_reg *r = ns->regs[i];
		cookie = r->order;
		if (r->t.at <= now) /* due but not yet expired by the binding */
			continue;
		p = trst_rdv_entry_put(p, secs_left(r->t.at, now), r->key->record,
		                       r->key->record_len);
		count++;
	}
	ok_msg(&resp, m);
	resp.cookie = cookie;
	resp.more = ns && i < ns->n;
	resp.count = (uint16_t)count;
	resp.entries = srv->out + TRST_RDV_HEADER + 13;
	resp.entries_len = (size_t)(p - resp.entries);
	/* header and fixed fields in place; the entries are already there */
	size_t len = (size_t)(p - srv->out);
	trst_put_u32(srv->out, (uint32_t)(len - 4));
	srv->out[4] = resp.type;
	trst_put_u32(srv->out + 5, resp.id);
	p = srv->out + TRST_RDV_HEADER;
	trst_put_u16(p, 0);
	trst_put_u64(p + 2, resp.cookie);
	p[10] = resp.more;
	trst_put_u16(p + 11, resp.count);
	srv->cb.send(srv->ud, sess->handle, srv->out, len);
	return 0;
}

static const struct rdv_key *live_record(const trst_rdv_server *srv, const uint8_t *key)
{
	const struct rdv_key *k = key_find(srv, key);
	return k && k->record ? k : NULL;
}

static int do_lookup(trst_rdv_server *srv, trst_rdv_session *sess, const struct trst_rdv_msg *m,
                     uint64_t now)
{
	const struct rdv_key *k = live_record(srv, m->key);
	struct trst_rdv_msg resp;
	uint64_t until = 0;

	if (!k)
		return TRYST_ERR_RDV_NOT_FOUND;
	for (const struct rdv_reg *r = k->regs; r; r = r->key_next)
		if (r->t.at > until)
			until = r->t.at;
	ok_msg(&resp, m);
	resp.ttl = secs_left(until, now);
	resp.record = k->record;
	resp.record_len = k->record_len;
	send_msg(srv, sess, &resp);
	return 0;
}

/* The session of another key that a CONNECT or RELAY_OPEN names. */
static int peer_session(const trst_rdv_server *srv, const trst_rdv_session *sess,
                        const uint8_t *key, trst_rdv_session **out)
{
	const struct rdv_key *k;
	if (memcmp(key, sess->key->key, TRYST_KEY_SIZE) == 0)
		return TRYST_ERR_RDV_SELF;
	if (!(k = key_find(srv, key)) || !k->sessions)
		return TRYST_ERR_RDV_OFFLINE;
	*out = k->sessions;
	return 0;
}

static void push_punch(trst_rdv_server *srv, trst_rdv_session *to, const trst_rdv_session *about,
                       const uint8_t *token)
{
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_PUNCH;
	m.token = token;
	m.key = about->key->key;
	m.addr = about->addr;
	m.record = about->key->record;
	m.record_len = about->key->record_len;
	send_msg(srv, to, &m);
}

static int do_connect(trst_rdv_server *srv, trst_rdv_session *sess, const struct trst_rdv_msg *m)
{
	trst_rdv_session *peer;
	struct trst_rdv_msg resp;
	int rc = peer_session(srv, sess, m->key, &peer);
	if (rc < 0)
		return rc;
	/* Both learn about each other in the same instant, so both start
	 * punching together (the simultaneous open of RFC 5128 section 3.3). */
	push_punch(srv, peer, sess, m->token);
	push_punch(srv, sess, peer, m->token);
	ok_msg(&resp, m);
	send_msg(srv, sess, &resp);
	return 0;
}

static int do_relay_open(trst_rdv_server *srv, trst_rdv_session *sess, const struct trst_rdv_msg *m,
                         uint64_t now)
{
	trst_rdv_session *peer;
	struct rdv_circuit *c;
	struct trst_rdv_msg resp;
	int rc = peer_session(srv, sess, m->key, &peer);
	if (rc < 0 || (rc = circuit_open(srv, sess, peer, now, &c)) < 0)
		return rc;
	memset(&resp, 0, sizeof resp);
	resp.type = TRST_RDV_RELAY_OPENED;
	resp.circuit = c->end[1].id;
	resp.key = sess->key->key;
	resp.max_bytes = srv->cfg.relay_max_bytes;
	resp.max_seconds = srv->cfg.relay_max_seconds;
	send_msg(srv, peer, &resp);
	ok_msg(&resp, m);
	resp.circuit = c->end[0].id;
	resp.max_bytes = srv->cfg.relay_max_bytes;
	resp.max_seconds = srv->cfg.relay_max_seconds;
	send_msg(srv, sess, &resp);
	return 0;
}

static int do_relay_close(trst_rdv_server *srv, trst_rdv_session *sess,
                          const struct trst_rdv_msg *m)
{
	struct rdv_end *e = end_find(srv, m->circuit);
	struct trst_rdv_msg resp;
	if (!e || e->sess != sess)
		return TRYST_ERR_RDV_NOT_FOUND;
	circuit_close(srv, e->c, TRYST_ERR_RDV_RELAY_CLOSED, sess);
	ok_msg(&resp, m);
	send_msg(srv, sess, &resp);
	return 0;
}

static int do_app(trst_rdv_server *srv, trst_rdv_session *sess, const struct trst_rdv_msg *m)
{
	for (size_t i = 0; i < srv->n_commands; i++) {
		struct command *c = &srv->commands[i];
		struct trst_rdv_msg resp;
		size_t n = 0;
		int rc;
		if (c->name_len != m->name_len || memcmp(c->name, m->name, m->name_len) != 0)
			continue;
		/* the handler writes behind where the header will go */
		uint8_t *body = srv->out + TRST_RDV_HEADER + 2;
		rc = c->fn(c->ud, sess->key->key, m->payload, m->payload_len, body,
		           TRST_RDV_COMMAND_OUT_MAX, &n);
		if (rc < 0)
			return rc < -0xffff ? TRYST_ERR_INVALID : rc;
		if (n > TRST_RDV_COMMAND_OUT_MAX)
			return TRYST_ERR_INVALID;
		ok_msg(&resp, m);
		trst_put_u32(srv->out, (uint32_t)(TRST_RDV_HEADER + 2 + n - 4));
		srv->out[4] = resp.type;
		trst_put_u32(srv->out + 5, resp.id);
		trst_put_u16(srv->out + TRST_RDV_HEADER, 0);
		srv->cb.send(srv->ud, sess->handle, srv->out, TRST_RDV_HEADER + 2 + n);
		return 0;
	}
	return TRYST_ERR_RDV_COMMAND;
}

int trst_rdv_server_message(trst_rdv_server *srv, trst_rdv_session *sess, const uint8_t *msg,
                            size_t len, uint64_t now)
{
	struct trst_rdv_msg m, resp;
	uint8_t type = len > 4 ? msg[4] : 0;
	uint32_t id = len >= TRST_RDV_HEADER ? trst_get_u32(msg + 5) : 0;
	int rc;

	srv->st.requests++;
	/* The token is taken before anything else is spent on the message. */
	if ((rc = rate_take(srv, sess, now)) < 0)
		return respond_error(srv, sess, type, id, rc);
	if ((rc = trst_rdv_decode(msg, len, &m)) < 0)
		return respond_error(srv, sess, type, id, rc);
	switch (m.type) {
	case TRST_RDV_REGISTER:
		if ((rc = do_register(srv, sess, &m, now)) < 0)
			break;
		ok_msg(&resp, &m);
		resp.ttl = (uint32_t)rc;
		send_msg(srv, sess, &resp);
		return 0;
	case TRST_RDV_UNREGISTER:
		if ((rc = do_unregister(srv, sess, &m)) < 0)
			break;
		ok_msg(&resp, &m);
		send_msg(srv, sess, &resp);
		return 0;
	case TRST_RDV_REFLECT:
		ok_msg(&resp, &m);
		resp.addr = sess->addr;
		if (!trst_addr_size(&resp.addr)) { /* the binding gave no usable address */
			rc = TRYST_ERR_INVALID;
			break;
		}
		send_msg(srv, sess, &resp);
		return 0;
	case TRST_RDV_DISCOVER: rc = do_discover(srv, sess, &m, now); break;
	case TRST_RDV_LOOKUP: rc = do_lookup(srv, sess, &m, now); break;
	case TRST_RDV_CONNECT: rc = do_connect(srv, sess, &m); break;
	case TRST_RDV_RELAY_OPEN: rc = do_relay_open(srv, sess, &m, now); break;
	case TRST_RDV_RELAY_CLOSE: rc = do_relay_close(srv, sess, &m); break;
	case TRST_RDV_APP: rc = do_app(srv, sess, &m); break;
	default: rc = TRYST_ERR_RDV_TYPE; /* a response or push sent to the server */
	}
	return rc < 0 ? respond_error(srv, sess, m.type, m.id, rc) : 0;
}

int trst_rdv_server_input(trst_rdv_server *srv, trst_rdv_session *sess, const uint8_t *data,
                          size_t len, uint64_t now, size_t *consumed)
{
	size_t used = 0;

	while (used < len) {
		const uint8_t *p = data + used;
		size_t avail = len - used;
		long frame;
		if (sess->skip) {
			size_t n = sess->skip < avail ? sess->skip : avail;
			sess->skip -= n;
			used += n;
			continue;
		}
		if (!(frame = trst_rdv_frame_size(p, avail)))
			break;
		if (frame > TRST_RDV_REQUEST_MAX) {
			/* Refuse it once its id is known, then drop its bytes as
			 * they come: the stream stays in step. */
			if (avail < TRST_RDV_HEADER)
				break;
			srv->st.requests++;
			respond_error(srv, sess, p[4], trst_get_u32(p + 5), TRYST_ERR_RDV_OVERSIZE);
			sess->skip = (size_t)frame;
			continue;
		}
		if ((size_t)frame > avail)
			break;
		trst_rdv_server_message(srv, sess, p, (size_t)frame, now);
		used += (size_t)frame;
	}
	*consumed = used;
	return 0;
}

/* ---- sessions ---- */

int trst_rdv_server_open(trst_rdv_server *srv, void *handle, const uint8_t key[TRYST_KEY_SIZE],
                         const struct sockaddr *addr, socklen_t addrlen, uint64_t now,
                         trst_rdv_session **out)
{
	trst_rdv_session *s;
	struct rdv_key *k;
	(void)now;

	if (!srv || !key || !addr || addrlen > sizeof(struct sockaddr_storage) || !out)
		return TRYST_ERR_INVALID;
	if (!(s = mem_alloc(srv, sizeof *s)))
		return TRYST_ERR_RDV_MEMORY;
	if (!(k = key_get(srv, key))) {
		mem_free(srv, s, sizeof *s);
		return TRYST_ERR_RDV_MEMORY;
	}
	s->handle = handle;
	s->key = k;
	memcpy(&s->addr, addr, addrlen);
	/* the newest session of a key is the one pushes go to */
	s->key_next = k->sessions;
	k->sessions = s;
	srv->st.sessions++;
	*out = s;
	return 0;
}

void trst_rdv_server_set_address(trst_rdv_server *srv, trst_rdv_session *sess,
                                 const struct sockaddr *addr, socklen_t addrlen)
{
	(void)srv;
	if (addrlen <= sizeof sess->addr) {
		memset(&sess->addr, 0, sizeof sess->addr);
		memcpy(&sess->addr, addr, addrlen);
	}
}

void trst_rdv_server_close(trst_rdv_server *srv, trst_rdv_session *sess, uint64_t now)
{
	struct rdv_key *k;
	trst_rdv_session **pp;
	(void)now;

	if (!sess)
		return;
	while (sess->ends)
		circuit_close(srv, sess->ends->c, TRYST_ERR_RDV_PEER_GONE, sess);
	k = sess->key;
	for (pp = &k->sessions; *pp != sess; pp = &(*pp)->key_next)
		;
	*pp = sess->key_next;
	mem_free(srv, sess, sizeof *sess);
	srv->st.sessions--;
	key_release(srv, k);
}

/* ---- time ---- */

void trst_rdv_server_expire(trst_rdv_server *srv, uint64_t now)
{
	while (srv->heap_n && srv->heap[0]->at <= now) {
		struct timer *t = srv->heap[0];
		timer_cancel(srv, t);
		switch (t->kind) {
		case T_REG:
			srv->st.expired++;
			reg_remove(srv, (struct rdv_reg *)t);
			break;
		case T_CIRCUIT:
			srv->st.dropped[TRST_RDV_DROP_RELAY_LIMIT]++;
			circuit_close(srv, (struct rdv_circuit *)t, TRYST_ERR_RDV_RELAY_TIME, NULL);
			break;
		case T_SWEEP: rate_sweep(srv, now); break;
		}
	}
}

uint64_t trst_rdv_server_next_deadline(const trst_rdv_server *srv)
{
	return srv->heap_n ? srv->heap[0]->at : UINT64_MAX;
}

/* ---- setup ---- */

void trst_rdv_config_default(struct trst_rdv_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->ttl_default = 2 * 3600;
	cfg->ttl_min = 30;
	cfg->ttl_max = 72 * 3600;
	cfg->namespace_max = TRST_RDV_NAMESPACE_MAX;
	cfg->max_per_namespace = 10000;
	cfg->max_per_key = 256;
	cfg->discover_max = 1000;
	cfg->rate = 100;
	cfg->burst = 200;
	cfg->relay_max_bytes = 64ull << 20;
	cfg->relay_max_seconds = 600;
	cfg->max_circuits_per_key = 4;
	cfg->memory_max = 256u << 20;
}

int trst_rdv_server_new(const struct trst_rdv_config *cfg, const struct trst_rdv_callbacks *cb,
                        void *user_data, uint64_t now, trst_rdv_server **out)
{
	trst_rdv_server *srv;
	size_t out_cap;

	if (!cfg || !cb || !cb->send || !cb->send_datagram || !out)
		return TRYST_ERR_INVALID;
	if (cfg->ttl_min < 1 || cfg->ttl_min > cfg->ttl_max || cfg->ttl_default < cfg->ttl_min ||
	    cfg->ttl_default > cfg->ttl_max || cfg->ttl_max > TRYST_RECORD_MAX_TTL ||
	    cfg->namespace_max < 1 || cfg->namespace_max > TRST_RDV_NAMESPACE_MAX ||
	    !cfg->max_per_namespace || !cfg->max_per_key || cfg->discover_max < 1 ||
	    cfg->discover_max > 1000 || !cfg->rate || !cfg->burst)
		return TRYST_ERR_INVALID;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	/* The largest response: a full DISCOVER page, or an APP answer. */
	out_cap = TRST_RDV_HEADER + 13 + (size_t)cfg->discover_max * (6 + TRYST_RECORD_MAX_SIZE);
	if (out_cap < TRST_RDV_HEADER + 2 + TRST_RDV_COMMAND_OUT_MAX)
		out_cap = TRST_RDV_HEADER + 2 + TRST_RDV_COMMAND_OUT_MAX;
	if (sizeof *srv + out_cap > cfg->memory_max)
		return TRYST_ERR_INVALID;
	if (!(srv = trst_calloc(1, sizeof *srv)))
		return TRYST_ERR_NOMEM;
	srv->cfg = *cfg;
	srv->cb = *cb;
	srv->ud = user_data;
	srv->st.memory = sizeof *srv;
	if (!(srv->out = mem_alloc(srv, out_cap))) {
		trst_free(srv);
		return TRYST_ERR_NOMEM;
	}
	srv->out_cap = out_cap;
	randombytes_buf(srv->hkey, sizeof srv->hkey);
	srv->sweep.kind = T_SWEEP;
	srv->sweep.idx = NOT_QUEUED;
	/* Order numbers, and so DISCOVER cookies, start at the creation time
	 * in microseconds: a restarted server starts above the cookies it
	 * handed out before, as long as it made fewer than one order per
	 * microsecond of its life, so old cookies do not hide new entries.
	 * (A cookie from before a restart may skip entries made since:
	 * clients start over with cookie 0 after reconnecting.) */
	srv->next_order = now;
	*out = srv;
	return 0;
}

void trst_rdv_server_free(trst_rdv_server *srv)
{
	if (!srv)
		return;
	srv->freeing = 1;
	while (srv->heap_n) {
		struct timer *t = srv->heap[0];
		timer_cancel(srv, t);
		if (t->kind == T_REG)
			reg_remove(srv, (struct rdv_reg *)t);
		else if (t->kind == T_CIRCUIT)
			circuit_close(srv, (struct rdv_circuit *)t, TRYST_ERR_RDV_PEER_GONE, NULL);
	}
	/* sessions still open: the binding should have closed them */
	for (size_t i = 0; i < srv->keys.cap; i++) {
		while (srv->keys.b[i]) {
			/* closing a key's last session frees the key (its
			 * registrations are gone): read the chain afresh */
			struct rdv_key *k = (struct rdv_key *)srv->keys.b[i];
			if (k->sessions)
				trst_rdv_server_close(srv, k->sessions, 0);
			else
				key_release(srv, k);
		}
	}
	for (size_t i = 0; i < srv->buckets.cap; i++)
		for (struct hnode *n = srv->buckets.b[i], *next; n; n = next) {
			next = n->next;
			mem_free(srv, n, sizeof(struct rdv_bucket));
		}
	htab_free(srv, &srv->keys);
	htab_free(srv, &srv->nss);
	htab_free(srv, &srv->ends);
	htab_free(srv, &srv->buckets);
	mem_free(srv, srv->heap, srv->heap_cap * sizeof *srv->heap);
	mem_free(srv, srv->out, srv->out_cap);
	trst_free(srv);
}

int trst_rdv_server_add_command(trst_rdv_server *srv, const char *name, trst_rdv_command_fn fn,
                                void *user_data)
{
	size_t n = name ? strlen(name) : 0;
	if (!srv || !fn || n < 1 || n > TRST_RDV_COMMAND_NAME_MAX)
		return TRYST_ERR_INVALID;
	for (size_t i = 0; i < srv->n_commands; i++)
		if (srv->commands[i].name_len == n && memcmp(srv->commands[i].name, name, n) == 0)
			return TRYST_ERR_INVALID;
	if (srv->n_commands == TRST_RDV_MAX_COMMANDS)
		return TRYST_ERR_NOMEM;
	memcpy(srv->commands[srv->n_commands].name, name, n);
	srv->commands[srv->n_commands].name_len = n;
	srv->commands[srv->n_commands].fn = fn;
	srv->commands[srv->n_commands].ud = user_data;
	srv->n_commands++;
	return 0;
}

/* ---- statistics ---- */

void trst_rdv_server_get_stats(const trst_rdv_server *srv, struct trst_rdv_stats *st)
{
	*st = srv->st;
}

int trst_rdv_stats_json(const struct trst_rdv_stats *st, char *out, size_t cap)
{
	const uint64_t *d = st->dropped;
	return snprintf(
	    out, cap,
	    "{\"sessions\":%llu,\"keys\":%llu,\"namespaces\":%llu,"
	    "\"registrations\":%llu,\"circuits\":%llu,\"memory\":%llu,"
	    "\"requests\":%llu,\"expired\":%llu,\"relayed_datagrams\":%llu,"
	    "\"relayed_bytes\":%llu,\"dropped\":{\"malformed\":%llu,\"rate\":%llu,"
	    "\"memory\":%llu,\"limit\":%llu,\"record\":%llu,\"relay_unknown\":%llu,"
	    "\"relay_limit\":%llu}}",
	    (unsigned long long)st->sessions, (unsigned long long)st->keys,
	    (unsigned long long)st->namespaces, (unsigned long long)st->registrations,
	    (unsigned long long)st->circuits, (unsigned long long)st->memory,
	    (unsigned long long)st->requests, (unsigned long long)st->expired,
	    (unsigned long long)st->relayed_datagrams, (unsigned long long)st->relayed_bytes,
	    (unsigned long long)d[TRST_RDV_DROP_MALFORMED],
	    (unsigned long long)d[TRST_RDV_DROP_RATE], (unsigned long long)d[TRST_RDV_DROP_MEMORY],
	    (unsigned long long)d[TRST_RDV_DROP_LIMIT], (unsigned long long)d[TRST_RDV_DROP_RECORD],
	    (unsigned long long)d[TRST_RDV_DROP_RELAY_UNKNOWN],
	    (unsigned long long)d[TRST_RDV_DROP_RELAY_LIMIT]);
}

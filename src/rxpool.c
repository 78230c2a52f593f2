/*
 * rxpool.c: pooled, reference-lent memory for received stream data
 * (rxpool.h explains why).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "internal.h"
#include "rxpool.h"

struct block {
	struct trst_rxpool *pool;
	struct block *next; /* free list */
	size_t used;
	unsigned refs; /* evbuffer chains pointing into the block */
	uint8_t data[];
};

struct trst_rxpool {
	size_t block_size, max_free;
	struct block *cur; /* being filled; not recycled while current */
	struct block *free_list;
	size_t n_free;
	size_t live; /* blocks allocated and not freed */
	int released;
	/* The room handed out by trst_rxpool_scratch: [lo, hi) of `scratch`,
	 * which holds a reference meanwhile so it cannot be recycled. */
	struct block *scratch;
	size_t scratch_lo, scratch_hi;
};

int trst_rxpool_new(size_t block_size, size_t max_free, struct trst_rxpool **out)
{
	struct trst_rxpool *p;
	if (!block_size || !out)
		return TRYST_ERR_INVALID;
	if (!(p = trst_calloc(1, sizeof *p)))
		return TRYST_ERR_NOMEM;
	p->block_size = block_size;
	p->max_free = max_free;
	*out = p;
	return 0;
}

static void pool_maybe_free(struct trst_rxpool *p)
{
	if (p->released && !p->live)
		trst_free(p);
}

static void block_free(struct block *b)
{
	struct trst_rxpool *p = b->pool;
	free(b);
	p->live--;
}

/* A block nobody points into any more: keep it for reuse or free it. */
static void block_recycle(struct block *b)
{
	struct trst_rxpool *p = b->pool;
	if (p->released || p->n_free >= p->max_free) {
		block_free(b);
		pool_maybe_free(p);
		return;
	}
	b->used = 0;
	b->next = p->free_list;
	p->free_list = b;
	p->n_free++;
}

static void chain_done(const void *data, size_t len, void *arg)
{
	struct block *b = arg;
	(void)data;
	(void)len;
	if (--b->refs == 0 && b->pool->cur != b)
		block_recycle(b);
}

static struct block *block_get(struct trst_rxpool *p)
{
	struct block *b = p->free_list;
	if (b) {
		p->free_list = b->next;
		p->n_free--;
		return b;
	}
	if (!(b = malloc(sizeof *b + p->block_size)))
		return NULL;
	b->pool = p;
	b->used = 0;
	b->refs = 0;
	p->live++;
	return b;
}

/* Make the current block one with `len` bytes free past `from`. */
static int room_for(struct trst_rxpool *p, size_t from, size_t len)
{
	if (p->cur && p->block_size - from >= len)
		return 0;
	struct block *old = p->cur, *b = block_get(p);
	if (!b)
		return TRYST_ERR_NOMEM;
	p->cur = b;
	if (old && !old->refs)
		block_recycle(old);
	return 0;
}

/* Lend [at, at + len) of b to buf. */
static int lend(struct block *b, struct evbuffer *buf, const uint8_t *at, size_t len)
{
	b->refs++;
	if (evbuffer_add_reference(buf, at, len, chain_done, b) < 0) {
		b->refs--;
		return TRYST_ERR_NOMEM;
	}
	size_t end = (size_t)(at - b->data) + len;
	if (end > b->used)
		b->used = end;
	return 0;
}

int trst_rxpool_add(struct trst_rxpool *p, struct evbuffer *buf, const uint8_t *data, size_t len)
{
	struct block *s = p->scratch;
	if (!len)
		return 0;
	/* Opened into the pool already: lend it where it is.  The room
	 * below shrinks to what follows, so bytes are lent once. */
	if (s && data >= s->data + p->scratch_lo && len <= p->scratch_hi - p->scratch_lo &&
	    data - (s->data + p->scratch_lo) <= (ptrdiff_t)(p->scratch_hi - p->scratch_lo - len)) {
		int rc = lend(s, buf, data, len);
		if (rc == 0)
			p->scratch_lo = (size_t)(data - s->data) + len;
		return rc;
	}
	if (len > p->block_size)
		return evbuffer_add(buf, data, len) < 0 ? TRYST_ERR_NOMEM : 0;
	/* Never write into the room of a packet still being read. */
	size_t from = p->cur ? p->cur->used : 0;
	if (s && s == p->cur && from < p->scratch_hi)
		from = p->scratch_hi;
	if (room_for(p, from, len) < 0)
		return evbuffer_add(buf, data, len) < 0 ? TRYST_ERR_NOMEM : 0;
	struct block *b = p->cur;
	if (b != s || from < b->used)
		from = b->used; /* a fresh block */
	memcpy(b->data + from, data, len);
	return lend(b, buf, b->data + from, len);
}

uint8_t *trst_rxpool_scratch(struct trst_rxpool *p, size_t len)
{
	trst_rxpool_scratch_done(p);
	if (len > p->block_size || room_for(p, p->cur ? p->cur->used : 0, len) < 0)
		return NULL;
	struct block *b = p->cur;
	b->refs++;
	p->scratch = b;
	p->scratch_lo = b->used;
	p->scratch_hi = b->used + len;
	return b->data + b->used;
}

void trst_rxpool_scratch_done(struct trst_rxpool *p)
{
	struct block *b = p->scratch;
	if (!b)
		return;
	p->scratch = NULL;
	if (--b->refs == 0 && b != p->cur)
		block_recycle(b);
}

void trst_rxpool_release(struct trst_rxpool *p)
{
	if (!p)
		return;
	trst_rxpool_scratch_done(p);
	p->released = 1;
	while (p->free_list) {
		struct block *b = p->free_list;
		p->free_list = b->next;
		block_free(b);
	}
	p->n_free = 0;
	struct block *cur = p->cur;
	p->cur = NULL;
	if (cur && !cur->refs)
		block_free(cur);
	pool_maybe_free(p);
}

size_t trst_rxpool_live(const struct trst_rxpool *p)
{
	return p->live;
}

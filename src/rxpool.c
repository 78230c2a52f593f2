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

int trst_rxpool_add(struct trst_rxpool *p, struct evbuffer *buf, const uint8_t *data, size_t len)
{
	if (!len)
		return 0;
	if (len > p->block_size)
		return evbuffer_add(buf, data, len) < 0 ? TRYST_ERR_NOMEM : 0;
	if (!p->cur || p->block_size - p->cur->used < len) {
		struct block *old = p->cur, *b = block_get(p);
		if (!b)
			return evbuffer_add(buf, data, len) < 0 ? TRYST_ERR_NOMEM : 0;
		p->cur = b;
		if (old && !old->refs)
			block_recycle(old);
	}
	struct block *b = p->cur;
	uint8_t *at = b->data + b->used;
	memcpy(at, data, len);
	b->refs++;
	if (evbuffer_add_reference(buf, at, len, chain_done, b) < 0) {
		b->refs--;
		return TRYST_ERR_NOMEM;
	}
	b->used += len;
	return 0;
}

void trst_rxpool_release(struct trst_rxpool *p)
{
	if (!p)
		return;
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

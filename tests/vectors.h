/*
 * vectors.h: reads the ```vector blocks of a document under doc/, in the
 * format tests/check_protocol.c reads from doc/PROTOCOL.md: each block is
 * a list of "name: value" lines; a name with an empty value takes the
 * indented lines that follow (hex, split anywhere); "#" starts a comment.
 * Tests check the library against the document, so the two cannot drift.
 */
#ifndef TRYST_VECTORS_H
#define TRYST_VECTORS_H

#include "testutil.h"

#include <ctype.h>
#include <limits.h>

#define TV_MAX_ENTRIES 32
#define TV_MAX_VALUE   4096
#define TV_MAX_BLOCKS  64

struct tv_entry {
	char name[40];
	char value[TV_MAX_VALUE];
};

struct tv_block {
	int n;
	struct tv_entry e[TV_MAX_ENTRIES];
};

static struct tv_block tv_blocks[TV_MAX_BLOCKS];
static int tv_n_blocks;

static inline void tv_strip(char *s)
{
	char *h = strchr(s, '#');
	if (h)
		*h = '\0';
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* Load every vector block of TOP_SRCDIR/`doc` (e.g. "doc/PROTOCOL.md"). */
static inline void tv_load(const char *doc)
{
	char path[PATH_MAX], line[1024];
	FILE *f;
	struct tv_block *b = NULL;

	snprintf(path, sizeof path, "%s/%s", TOP_SRCDIR, doc);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	tv_n_blocks = 0;
	while (fgets(line, sizeof line, f)) {
		if (!b) {
			if (strncmp(line, "```vector", 9) == 0) {
				ck_assert_int_lt(tv_n_blocks, TV_MAX_BLOCKS);
				b = &tv_blocks[tv_n_blocks++];
				b->n = 0;
			}
			continue;
		}
		if (strncmp(line, "```", 3) == 0) {
			b = NULL;
			continue;
		}
		if (line[0] == ' ') { /* continuation of the last entry */
			ck_assert_int_gt(b->n, 0);
			tv_strip(line);
			char *v = line;
			while (*v == ' ')
				v++;
			struct tv_entry *e = &b->e[b->n - 1];
			ck_assert_uint_lt(strlen(e->value) + strlen(v), TV_MAX_VALUE);
			strcat(e->value, v);
			continue;
		}
		char *colon = strchr(line, ':');
		ck_assert_msg(colon != NULL, "vector line without a name: %s", line);
		ck_assert_int_lt(b->n, TV_MAX_ENTRIES);
		struct tv_entry *e = &b->e[b->n++];
		*colon = '\0';
		ck_assert_uint_lt(strlen(line), sizeof e->name);
		memcpy(e->name, line, strlen(line) + 1);
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		tv_strip(v);
		memcpy(e->value, v, strlen(v) + 1);
	}
	fclose(f);
	ck_assert_msg(b == NULL, "unterminated vector block in %s", doc);
}

/* The idx-th value named `name` in b (NULL if none). */
static inline const char *tv_get_nth(const struct tv_block *b, const char *name, int idx)
{
	for (int i = 0; i < b->n; i++)
		if (strcmp(b->e[i].name, name) == 0 && idx-- == 0)
			return b->e[i].value;
	return NULL;
}

static inline const char *tv_get(const struct tv_block *b, const char *name)
{
	const char *v = tv_get_nth(b, name, 0);
	ck_assert_msg(v != NULL, "vector lacks '%s'", name);
	return v;
}

static inline size_t tv_get_hex(const struct tv_block *b, const char *name, uint8_t *out,
                                size_t cap)
{
	const char *v = tv_get(b, name);
	long n = trst_hex_decode(v, strlen(v), out, cap);
	ck_assert_msg(n >= 0, "'%s' is not hex that fits %zu bytes", name, cap);
	return (size_t)n;
}

/* A decimal, or hexadecimal with 0x. */
static inline uint64_t tv_get_u64(const struct tv_block *b, const char *name)
{
	return strtoull(tv_get(b, name), NULL, 0);
}

static inline int tv_is(const struct tv_block *b, const char *type)
{
	return strcmp(tv_get(b, "type"), type) == 0;
}

static inline int tv_count_type(const char *type)
{
	int n = 0;
	for (int i = 0; i < tv_n_blocks; i++)
		n += tv_is(&tv_blocks[i], type);
	return n;
}

#endif

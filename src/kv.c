/*
 * kv.c: what every key-value store shares (src/kv.h): release and the
 * clock watchers a fake clock tells about its jumps.
 */
#include "config.h"

#include "internal.h"
#include "kv.h"

void trst_kv_free(trst_kv *kv)
{
	if (kv)
		kv->ops->free(kv);
}

int trst_kv_clock_watch(trst_kv *kv, trst_kv_clock_fn fn, void *ud)
{
	for (size_t i = 0; i < TRST_KV_MAX_CLOCK_WATCHERS; i++) {
		if (!kv->clock_fn[i]) {
			kv->clock_fn[i] = fn;
			kv->clock_ud[i] = ud;
			return 0;
		}
	}
	return TRYST_ERR_NOMEM;
}

void trst_kv_clock_unwatch(trst_kv *kv, trst_kv_clock_fn fn, void *ud)
{
	for (size_t i = 0; i < TRST_KV_MAX_CLOCK_WATCHERS; i++) {
		if (kv->clock_fn[i] == fn && kv->clock_ud[i] == ud) {
			kv->clock_fn[i] = NULL;
			kv->clock_ud[i] = NULL;
		}
	}
}

void trst_kv_clock_changed(trst_kv *kv)
{
	/* A watcher may unwatch itself (or another) while being told. */
	for (size_t i = 0; i < TRST_KV_MAX_CLOCK_WATCHERS; i++)
		if (kv->clock_fn[i])
			kv->clock_fn[i](kv->clock_ud[i]);
}

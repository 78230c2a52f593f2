/*
 * common.c: option handling, error reporting and identity loading shared
 * by the subcommands.
 */
#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <event2/event.h>
#include <event2/util.h>

#include "cli.h"

int cli_verbose;

static void log_to_stderr(int level, const char *msg, void *user_data)
{
	static const char *names[] = {"error", "warn", "info", "debug", "trace"};
	(void)user_data;
	fprintf(stderr, "tryst: %s: %s\n",
	        level >= 0 && level <= TRYST_LOG_TRACE ? names[level] : "log", msg);
}

int cli_common_option(int opt, const char *usage)
{
	switch (opt) {
	case 'h': fputs(usage, stdout); return 0;
	case 'V': printf("tryst %s\n", tryst_version()); return 0;
	case 'v':
		cli_verbose++;
		tryst_log_set(log_to_stderr, TRYST_LOG_WARN + cli_verbose, NULL);
		return -1;
	case CLI_OPT_NO_DHT:
		return -1; /* every command takes it; those without a DHT ignore it */
	default: /* getopt already said what was wrong */ fputs(usage, stderr); return EXIT_USAGE;
	}
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tryst: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_file_error(const char *path, int err)
{
	struct stat st;

	switch (err) {
	case TRYST_ERR_FILE_OPEN: cli_error("%s: %s", path, strerror(errno)); break;
	case TRYST_ERR_FILE_EXISTS:
		cli_error("%s: file already exists; not overwriting it (use --force to replace it)",
		          path);
		break;
	case TRYST_ERR_FILE_PERMS:
		if (stat(path, &st) == 0)
			cli_error("%s: secret key file is accessible by group or others (mode "
			          "%04o); refusing "
			          "to use it. Fix with: chmod 600 '%s'",
			          path, (unsigned)(st.st_mode & 07777), path);
		else
			cli_error("%s: %s; fix with: chmod 600 '%s'", path, tryst_strerror(err),
			          path);
		break;
	default: cli_error("%s: %s", path, tryst_strerror(err));
	}
}

int cli_identity_path(const char *given, char *out, size_t outlen)
{
	int rc;

	if (given) {
		if (strlen(given) >= outlen) {
			cli_error("%s: path too long", given);
			return -1;
		}
		strcpy(out, given);
		return 0;
	}
	if ((rc = tryst_identity_default_path(out, outlen)) < 0) {
		cli_error("no identity file given and neither XDG_CONFIG_HOME nor HOME is set; "
		          "use --identity FILE");
		return -1;
	}
	return 0;
}

tryst_identity *cli_load_identity(const char *given_path)
{
	char path[PATH_MAX];
	tryst_identity *id = NULL;
	int rc;

	if (cli_identity_path(given_path, path, sizeof path) < 0)
		return NULL;
	if ((rc = tryst_identity_load(path, &id)) < 0) {
		cli_file_error(path, rc);
		if (rc == TRYST_ERR_FILE_OPEN && errno == ENOENT && !given_path)
			cli_error("no identity yet: create one with 'tryst keygen'");
		return NULL;
	}
	return id;
}

void cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct event_base *cli_event_base(void)
{
	/* Pacing needs timers accurate to microseconds (tryst.h). */
	struct event_config *cfg = event_config_new();
	struct event_base *base;
	if (!cfg)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

tryst_node *cli_start_node(const char *cmd, struct event_base *base, const char *file,
                           int ephemeral, struct tryst_node_config *cfg,
                           uint8_t key[TRYST_KEY_SIZE])
{
	tryst_identity *id = NULL;
	tryst_node *node = NULL;
	int rc;
	if (ephemeral)
		tryst_identity_generate(&id);
	else
		id = cli_load_identity(file);
	if (!id)
		return NULL;
	cfg->identity = id;
	rc = tryst_node_new(base, cfg, &node);
	if (key)
		tryst_identity_public_key(id, key);
	tryst_identity_free(id);
	if (rc < 0)
		cli_error("%s: cannot start a node: %s", cmd, tryst_strerror(rc));
	return node;
}

int cli_parse_addr(const char *text, struct sockaddr_storage *out)
{
	int len = (int)sizeof *out;
	memset(out, 0, sizeof *out);
	if (evutil_parse_sockaddr_port(text, (struct sockaddr *)out, &len) < 0)
		return -1;
	if (out->ss_family == AF_INET && ((struct sockaddr_in *)out)->sin_port == 0)
		return -1;
	if (out->ss_family == AF_INET6 && ((struct sockaddr_in6 *)out)->sin6_port == 0)
		return -1;
	return 0;
}

int cli_parse_key(const char *text, uint8_t key[TRYST_KEY_SIZE])
{
	size_t bad = 0;
	int rc = tryst_key_from_text(text, key, &bad);
	if (rc == TRYST_ERR_KEY_CHAR)
		cli_error("'%s' is not a public key: character %zu ('%c') is not in its alphabet",
		          text, bad + 1, text[bad]);
	else if (rc < 0)
		cli_error("'%s' is not a public key: %s", text, tryst_strerror(rc));
	return rc < 0 ? -1 : 0;
}

void cli_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(out, outlen, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(out, outlen, "?");
	}
}

void cli_format_path(tryst_conn *conn, char *out, size_t outlen)
{
	struct tryst_conn_info info;
	char addr[64];
	socklen_t alen;
	tryst_conn_get_info(conn, &info);
	if (info.relayed) {
		cli_format_addr((struct sockaddr *)&info.relay_server, addr, sizeof addr);
		snprintf(out, outlen, "relayed through %s", addr);
	} else {
		cli_format_addr(tryst_conn_peer_address(conn, &alen), addr, sizeof addr);
		snprintf(out, outlen, "direct from %s", addr);
	}
}

void cli_event_base_free(struct event_base *base)
{
	/* Freed bufferevents (streams) are finalized by the loop: give it one
	 * turn so nothing is left behind. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

int cli_parse_cc(const char *cmd, const char *text, int *cc)
{
	if (strcmp(text, "cubic") == 0)
		*cc = TRYST_CC_CUBIC;
	else if (strcmp(text, "bbr") == 0)
		*cc = TRYST_CC_BBR;
	else {
		cli_error("%s: --cc takes cubic or bbr, not '%s'", cmd, text);
		return -1;
	}
	return 0;
}

int cli_resolve_addr(const char *text, struct sockaddr_storage *out)
{
	char host[256];
	const char *port;
	struct addrinfo hints, *res = NULL;

	if (cli_parse_addr(text, out) == 0)
		return 0;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof host)
			return -1;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = 0;
		port = end + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || (size_t)(colon - text) >= sizeof host)
			return -1;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = 0;
		port = colon + 1;
	}
	if (!*host || !*port)
		return -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		return -1;
	memset(out, 0, sizeof *out);
	memcpy(out, res->ai_addr,
	       res->ai_addrlen < sizeof *out ? res->ai_addrlen : sizeof *out);
	freeaddrinfo(res);
	return 0;
}

int cli_parse_port(const char *cmd, const char *opt, const char *arg, uint16_t *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);
	if (!*arg || *end || *arg == '-' || v > 65535) {
		cli_error("%s: --%s takes a number from 0 to 65535, not '%s'", cmd, opt, arg);
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

int cli_dht_option(struct cli_dht *d, const char *cmd, int opt, const char *arg)
{
	char *end;
	unsigned long v;
	switch (opt) {
	case 'b':
	case CLI_OPT_BOOTSTRAP:
		if (d->n_boot == CLI_MAX_BOOTSTRAP) {
			cli_error("%s: at most %d --bootstrap", cmd, CLI_MAX_BOOTSTRAP);
			return -1;
		}
		if (cli_resolve_addr(arg, &d->boot[d->n_boot]) < 0) {
			cli_error("%s: --bootstrap wants HOST:PORT (a name or an address that "
			          "resolves), not '%s'",
			          cmd, arg);
			return -1;
		}
		d->n_boot++;
		return 1;
	case CLI_OPT_DHT_PORT: return cli_parse_port(cmd, "dht-port", arg, &d->port) < 0 ? -1 : 1;
	case CLI_OPT_DHT_NETWORK:
		errno = 0;
		v = strtoul(arg, &end, 0);
		if (!*arg || *end || errno || v > UINT32_MAX) {
			cli_error("%s: --dht-network takes a number from 0 to 4294967295, not "
			          "'%s'",
			          cmd, arg);
			return -1;
		}
		d->network = (uint32_t)v;
		return 1;
	case CLI_OPT_NO_DHT: d->no_dht = 1; return 1;
	case 's':
	case CLI_OPT_SERVER: {
		struct tryst_server_ref *r = &d->servers[d->n_servers];
		const char *at = strchr(arg, '@');
		if (d->n_servers == CLI_MAX_SERVERS) {
			cli_error("%s: at most %d --server", cmd, CLI_MAX_SERVERS);
			return -1;
		}
		memset(r, 0, sizeof *r);
		if (at) {
			char keytext[TRYST_KEY_TEXT_LEN + 1];
			size_t kl = (size_t)(at - arg);
			if (kl >= sizeof keytext) {
				cli_error("%s: --server KEY@HOST:PORT: '%.*s' is not a key", cmd,
				          (int)kl, arg);
				return -1;
			}
			memcpy(keytext, arg, kl);
			keytext[kl] = 0;
			if (cli_parse_key(keytext, r->key) < 0)
				return -1;
			r->has_key = 1;
			arg = at + 1;
		}
		if (cli_resolve_addr(arg, &r->addr) < 0) {
			cli_error("%s: --server wants [KEY@]HOST:PORT, not '%s'", cmd, arg);
			return -1;
		}
		d->n_servers++;
		return 1;
	}
	case CLI_OPT_NAMESPACE:
		if (d->n_namespaces == CLI_MAX_NAMESPACES) {
			cli_error("%s: at most %d --namespace", cmd, CLI_MAX_NAMESPACES);
			return -1;
		}
		if (!*arg || strlen(arg) > 255) {
			cli_error("%s: a namespace has 1 to 255 bytes", cmd);
			return -1;
		}
		d->namespaces[d->n_namespaces++] = arg;
		return 1;
	case CLI_OPT_RELAY_ONLY: d->relay_only = 1; return 1;
	case CLI_OPT_RELAY_AFTER:
		errno = 0;
		v = strtoul(arg, &end, 0);
		if (!*arg || *end || errno || v < 1 || v > 3600000) {
			cli_error(
			    "%s: --relay-after takes milliseconds from 1 to 3600000, not '%s'", cmd,
			    arg);
			return -1;
		}
		d->relay_after_ms = (uint32_t)v;
		return 1;
	}
	return 0;
}

int cli_dht_apply(struct cli_dht *d, const char *cmd, struct tryst_node_config *cfg)
{
	cfg->servers = d->servers;
	cfg->n_servers = d->n_servers;
	cfg->namespaces = d->namespaces;
	cfg->n_namespaces = d->n_namespaces;
	cfg->relay_only = d->relay_only;
	if (d->relay_after_ms)
		cfg->relay_after_ms = d->relay_after_ms;
	if (d->no_dht)
		return 0;
	if (!d->n_boot) {
		if (cli_resolve_addr(CLI_DEFAULT_BOOTSTRAP, &d->boot[0]) < 0) {
			cli_error("%s: cannot resolve the default DHT bootstrap %s: give "
			          "--bootstrap HOST:PORT, or --no-dht",
			          cmd, CLI_DEFAULT_BOOTSTRAP);
			return -1;
		}
		d->n_boot = 1;
	}
	cfg->dht = 1;
	cfg->bootstrap = d->boot;
	cfg->n_bootstrap = d->n_boot;
	cfg->dht_port = d->port;
	cfg->dht_network = d->network;
	return 0;
}

/* Print every address of every interface with `port`, one a line on
 * stderr, after `prefix`: where this node can be reached. */
void cli_print_addresses(const char *prefix, uint16_t port)
{
	struct ifaddrs *ifs, *i;
	char addr[80];
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof ss);
		if (i->ifa_addr->sa_family == AF_INET) {
			memcpy(&ss, i->ifa_addr, sizeof(struct sockaddr_in));
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		} else {
			memcpy(&ss, i->ifa_addr, sizeof(struct sockaddr_in6));
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
				continue; /* needs a scope to be dialled */
			s6->sin6_port = htons(port);
		}
		cli_format_addr((struct sockaddr *)&ss, addr, sizeof addr);
		fprintf(stderr, "tryst:   %s%s\n", prefix, addr);
	}
	freeifaddrs(ifs);
}

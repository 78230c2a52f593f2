/*
 * common.c: option handling, error reporting and identity loading shared
 * by the subcommands.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
			cli_error("%s: secret key file is accessible by group or others (mode %04o); refusing "
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

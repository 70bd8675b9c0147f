/* secret.c - credential sources; see secret.h. */
#include "config.h"

#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void secret_free(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = 0;
	free(s);
}

bool secret_ref_valid(const char *ref, struct err *e)
{
	static const char *const kinds[] = { "file:", "env:", "cmd:", "secret:" };
	for (size_t i = 0; ref && i < countof(kinds); i++) {
		size_t n = strlen(kinds[i]);
		if (!strncmp(ref, kinds[i], n) && ref[n])
			return true;
	}
	err_set(e, ST_CONFIG, "bad password source '%s': use file:PATH, env:VAR, cmd:COMMAND or "
	        "secret:NAME", ref ? ref : "");
	return false;
}

/* Keeps the first line, without its line end. */
static char *first_line(const char *buf, size_t n)
{
	size_t k = 0;
	while (k < n && buf[k] != '\n' && buf[k] != '\r')
		k++;
	return x_strndup(buf, k);
}

static enum st read_file_secret(const char *path, char **out, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ST_CONFIG, "cannot read password file %s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return err_set(e, ST_CONFIG, "password file %s is not a regular file", path);
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return err_set(e, ST_CONFIG, "password file %s can be read by others (mode %03o): "
		               "run chmod 600 %s", path, (unsigned)(sb.st_mode & 0777), path);
	}
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0)
		return err_set(e, ST_CONFIG, "cannot read password file %s: %s", path, strerror(errno));
	*out = first_line(buf, (size_t)n);
	memset(buf, 0, sizeof buf);
	if (!**out) {
		secret_free(*out);
		*out = NULL;
		return err_set(e, ST_CONFIG, "password file %s is empty", path);
	}
	return ST_OK;
}

static enum st run_cmd_secret(const char *cmd, char **out, struct err *e)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return err_set(e, ST_INTERNAL, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return err_set(e, ST_INTERNAL, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof buf && (n = read(pfd[0], buf + len, sizeof buf - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		memset(buf, 0, sizeof buf);
		return err_set(e, ST_CONFIG, "password command '%s' failed (exit status %d)", cmd,
		               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	*out = first_line(buf, len);
	memset(buf, 0, sizeof buf);
	if (!**out) {
		secret_free(*out);
		*out = NULL;
		return err_set(e, ST_CONFIG, "password command '%s' printed nothing", cmd);
	}
	return ST_OK;
}

/* Secrets file format: one "name<TAB>hex(value)" line per entry.  Hex keeps
 * any byte safe and stops a casual glance from reading the password. */
static enum st lookup_saved(const char *secrets_path, const char *name, char **out, struct err *e)
{
	char *val = NULL;
	enum st r = read_file_secret(secrets_path, &val, e); /* checks the mode */
	if (r)
		return r;
	secret_free(val);
	FILE *f = fopen(secrets_path, "re");
	if (!f)
		return err_set(e, ST_CONFIG, "cannot read secrets file %s: %s", secrets_path, strerror(errno));
	char line[8192];
	size_t nlen = strlen(name);
	r = err_set(e, ST_CONFIG, "no secret named '%s' in %s", name, secrets_path);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, name, nlen) || line[nlen] != '\t')
			continue;
		const char *hex = line + nlen + 1;
		size_t hl = strcspn(hex, "\r\n");
		char *v = x_malloc(hl / 2 + 1);
		size_t k = 0;
		for (size_t i = 0; i + 1 < hl; i += 2) {
			unsigned b;
			if (sscanf(hex + i, "%2x", &b) != 1)
				break;
			v[k++] = (char)b;
		}
		v[k] = '\0';
		*out = v;
		err_clear(e);
		r = ST_OK;
		break;
	}
	memset(line, 0, sizeof line);
	fclose(f);
	return r;
}

enum st secret_resolve(const char *ref, const char *secrets_path, char **out, struct err *e)
{
	*out = NULL;
	if (!secret_ref_valid(ref, e))
		return ST_CONFIG;
	if (!strncmp(ref, "file:", 5))
		return read_file_secret(ref + 5, out, e);
	if (!strncmp(ref, "env:", 4)) {
		const char *v = getenv(ref + 4);
		if (!v || !*v)
			return err_set(e, ST_CONFIG, "environment variable %s (password source) is not set", ref + 4);
		*out = x_strdup(v);
		return ST_OK;
	}
	if (!strncmp(ref, "cmd:", 4))
		return run_cmd_secret(ref + 4, out, e);
	return lookup_saved(secrets_path, ref + 7, out, e);
}

enum st secret_save(const char *secrets_path, const char *name, const char *value,
                    char **ref_out, struct err *e)
{
	/* Rewrite the file without the old entry, then append the new one. */
	struct sbuf keep;
	sb_init(&keep);
	FILE *f = fopen(secrets_path, "re");
	if (f) {
		char line[8192];
		size_t nlen = strlen(name);
		while (fgets(line, sizeof line, f))
			if (strncmp(line, name, nlen) || line[nlen] != '\t')
				sb_adds(&keep, line);
		memset(line, 0, sizeof line);
		fclose(f);
	}
	/* The secrets file lives beside the store by default: make its folder
	 * (owner only) if this is the first secret. */
	char *dir = x_strdup(secrets_path);
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	free(dir);
	char *tmp = x_asprintf("%s.tmp", secrets_path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		enum st r = err_set(e, ST_CONFIG, "cannot write secrets file %s: %s", tmp, strerror(errno));
		free(tmp);
		sb_free(&keep);
		return r;
	}
	sb_printf(&keep, "%s\t", name);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		sb_printf(&keep, "%02x", *p);
	sb_addc(&keep, '\n');
	ssize_t w = write(fd, keep.data, keep.len);
	bool ok = w == (ssize_t)keep.len && fsync(fd) == 0;
	close(fd);
	memset(keep.data, 0, keep.len);
	sb_free(&keep);
	if (!ok || rename(tmp, secrets_path) < 0) {
		unlink(tmp);
		free(tmp);
		return err_set(e, ST_CONFIG, "cannot write secrets file %s", secrets_path);
	}
	free(tmp);
	*ref_out = x_asprintf("secret:%s", name);
	return ST_OK;
}

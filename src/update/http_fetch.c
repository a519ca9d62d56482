/*
 * HTTP(S) fetches for the updater: see http_fetch.h for the contract.
 */
#include "update/http_fetch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ringward/schema.h"

struct http_fetch {
	CURL *curl;
	char *base;		/* ends with '/'; from malloc() */
	char *ca_file;		/* from malloc(), or NULL */
	unsigned timeout_s;
	struct curl_slist *no_cache;	/* "Cache-Control: no-cache" */
	int last_err;
	char curl_err[CURL_ERROR_SIZE];
	char err[HTTP_FETCH_ERR_LEN];
};

/* The response body as it arrives, never past max. */
struct sink {
	uint8_t *buf;
	size_t len, cap, max;
	bool over;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb;

	if (n > s->max - s->len) {
		/* past the cap: abort the transfer now (endless or oversized) */
		s->over = true;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		uint8_t *nb;

		while (cap < s->len + n + 1)
			cap *= 2;
		if (cap > s->max + 1)
			cap = s->max + 1;
		nb = realloc(s->buf, cap);
		if (!nb)
			return 0;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = 0;
	return n;
}

/* Repository file names: what TUF names files ("3.snapshot.json",
 * "targets/HASH.NAME"); nothing that could leave the base URL. */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > HTTP_FETCH_MAX_NAME || name[0] == '/' || strstr(name, "..") ||
	    strstr(name, "//"))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '/'))
			return false;
	}
	return true;
}

/* Files replaced in place (timestamp.json) or whose absence means
 * something (N.root.json: the end of the root chain) must come from the
 * origin, not from a cache in between; every other file is named by its
 * version or hash and may be cached forever. */
static bool is_fresh_name(const char *name)
{
	size_t n = strlen(name);

	return !strcmp(name, "timestamp.json") ||
	       (n > 10 && !strcmp(name + n - 10, ".root.json"));
}

static bool valid_base(const char *url)
{
	const char *host;

	if (!strncmp(url, "http://", 7))
		host = url + 7;
	else if (!strncmp(url, "https://", 8))
		host = url + 8;
	else
		return false;
	/* a host, and nothing a request line or header could be split by */
	if (!*host || *host == '/')
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

struct http_fetch *http_fetch__new(const struct http_fetch_opts *o)
{
	struct http_fetch *h;
	size_t n;

	if (!o->base_url || !valid_base(o->base_url)) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto nomem;
	n = strlen(o->base_url);
	h->base = malloc(n + 2);
	if (!h->base)
		goto nomem;
	memcpy(h->base, o->base_url, n + 1);
	if (h->base[n - 1] != '/')
		memcpy(h->base + n, "/", 2);
	if (o->ca_file) {
		h->ca_file = strdup(o->ca_file);
		if (!h->ca_file)
			goto nomem;
	}
	h->timeout_s = o->timeout_s ? o->timeout_s : HTTP_FETCH_TIMEOUT_S;
	h->curl = curl_easy_init();
	h->no_cache = curl_slist_append(NULL, "Cache-Control: no-cache");
	if (!h->curl || !h->no_cache)
		goto nomem;
	return h;
nomem:
	http_fetch__free(h);
	errno = ENOMEM;
	return NULL;
}

void http_fetch__free(struct http_fetch *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->no_cache);
	free(h->base);
	free(h->ca_file);
	free(h);
}

const char *http_fetch__error(const struct http_fetch *h)
{
	return h->err;
}

int http_fetch__last_err(const struct http_fetch *h)
{
	return h->last_err;
}

static unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

/* Every option, every request: curl_easy_reset() keeps the connection
 * cache (so a poll's few requests share one connection) but nothing a
 * previous request set. */
static int setup(struct http_fetch *h, const char *url, bool fresh, struct sink *s)
{
	CURL *c = h->curl;
	CURLcode rc = CURLE_OK;

	curl_easy_reset(c);
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		SET(CURLOPT_CAINFO, h->ca_file);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT, (long)h->timeout_s);
	SET(CURLOPT_CONNECTTIMEOUT, (long)min_u(HTTP_FETCH_CONNECT_S, h->timeout_s));
	SET(CURLOPT_LOW_SPEED_LIMIT, (long)HTTP_FETCH_LOW_SPEED_BPS);
	SET(CURLOPT_LOW_SPEED_TIME, (long)min_u(HTTP_FETCH_LOW_SPEED_S, h->timeout_s));
	/* a Content-Length above the cap is refused before any body */
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
	/* 4xx/5xx end the transfer without reading an error body */
	SET(CURLOPT_FAILONERROR, 1L);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, s);
	SET(CURLOPT_ERRORBUFFER, h->curl_err);
	SET(CURLOPT_USERAGENT, "ringward-updater/" RW_SENSOR_VERSION);
	if (fresh)
		SET(CURLOPT_HTTPHEADER, h->no_cache);
#undef SET
	return rc == CURLE_OK ? 0 : -ENOMEM;
}

static int map_curl(CURLcode rc, long status, const struct sink *s)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_WRITE_ERROR:
		return s->over ? -EFBIG : -ENOMEM;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_HTTP_RETURNED_ERROR:
		return status == 404 || status == 410 ? -ENOENT : -EIO;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTONOSUPPORT;
	default:
		return -EIO;
	}
}

int http_fetch__get(void *ctx, const char *name, size_t max_len, uint8_t **buf, size_t *len)
{
	struct http_fetch *h = ctx;
	struct sink s = { .max = max_len };
	char *url = NULL;
	long status = 0;
	CURLcode rc;
	int err;

	*buf = NULL;
	*len = 0;
	h->err[0] = 0;
	h->curl_err[0] = 0;
	if (!valid_name(name)) {
		snprintf(h->err, sizeof(h->err), "'%.64s': not a repository file name", name);
		err = -EINVAL;
		goto cleanup;
	}
	if (asprintf(&url, "%s%s", h->base, name) < 0) {
		url = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	err = setup(h, url, is_fresh_name(name), &s);
	if (err) {
		snprintf(h->err, sizeof(h->err), "GET %.200s: libcurl refused an option", url);
		goto cleanup;
	}
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	err = map_curl(rc, status, &s);
	if (!err && status >= 300) {
		/* a redirect or other non-success status that FAILONERROR let
		 * through: the file is not what was asked for */
		err = -EIO;
		snprintf(h->err, sizeof(h->err), "GET %.200s: HTTP %ld%s", url, status,
			 status < 400 ? " (redirects are not followed)" : "");
	} else if (err == -EFBIG) {
		snprintf(h->err, sizeof(h->err), "GET %.200s: more than %zu bytes (the cap)", url,
			 max_len);
	} else if (err && rc == CURLE_HTTP_RETURNED_ERROR) {
		snprintf(h->err, sizeof(h->err), "GET %.200s: HTTP %ld", url, status);
	} else if (err) {
		snprintf(h->err, sizeof(h->err), "GET %.200s: %s", url,
			 h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc));
	}
	if (!err) {
		if (!s.buf) {
			/* an empty body: still a buffer the caller can free */
			s.buf = malloc(1);
			if (!s.buf) {
				err = -ENOMEM;
				goto cleanup;
			}
			s.buf[0] = 0;
		}
		*buf = s.buf;
		*len = s.len;
		s.buf = NULL;
	}
cleanup:
	free(s.buf);
	free(url);
	h->last_err = err;
	return err;
}

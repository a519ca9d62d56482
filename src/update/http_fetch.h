/*
 * HTTP(S) fetches for the updater (libcurl): the tuf_fetch_fn the TUF
 * client pulls repository files through (update/tuf.h), hardened for a
 * repository, network or middlebox that may be down, slow or hostile.
 *
 *   - http:// and https:// only, for the request and (were redirects on)
 *     for any redirect; redirects are not followed: a repository is static
 *     files at one base URL, and a 3xx is reported as a failure;
 *   - TLS peer and host name verification always on; a CA bundle of the
 *     operator's (ca_file) or the system's;
 *   - a connect timeout, a total timeout per request, and a low-speed
 *     limit (a trickle that would hold the updater for the whole timeout
 *     is cut sooner);
 *   - a hard cap on the bytes of every response, enforced as they arrive
 *     (the write callback aborts past max_len: -EFBIG), so an endless or
 *     oversized response costs at most max_len bytes of memory; a
 *     Content-Length above the cap is refused before the body is read;
 *   - no content decoding (no decompression bomb), no cookies, no auth.
 *
 * Errors (what http_fetch__get returns, as tuf.h asks):
 *   -ENOENT        HTTP 404 or 410 (the file does not exist: the end of
 *                  the root chain, a target not published)
 *   -EFBIG         more than max_len bytes (or a Content-Length above it)
 *   -ETIMEDOUT     connect or total timeout, or below the low-speed limit
 *   -ECONNREFUSED  nothing listens (the repository is down)
 *   -EHOSTUNREACH  the name does not resolve, or no route
 *   -EPROTO        TLS failure (handshake, certificate verification)
 *   -EIO           any other HTTP status (>= 300) or transfer failure
 *   -EINVAL        a name that is not a repository file name
 *   -ENOMEM
 * and http_fetch__error() tells the detail of the last failure (libcurl's
 * message, the HTTP status) for the updater's report.
 *
 * Constructors return NULL and set errno.
 */
#ifndef RINGWARD_HTTP_FETCH_H
#define RINGWARD_HTTP_FETCH_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_FETCH_TIMEOUT_S		30	/* default total per request */
#define HTTP_FETCH_CONNECT_S		10	/* at most; never above the total */
#define HTTP_FETCH_LOW_SPEED_BPS	256	/* bytes/s below which ... */
#define HTTP_FETCH_LOW_SPEED_S		15	/* ... for this long, a request is cut */
#define HTTP_FETCH_MAX_NAME		512	/* bytes of a repository file name */
#define HTTP_FETCH_ERR_LEN		320

struct http_fetch_opts {
	const char *base_url;	/* http:// or https://; '/' appended when missing */
	const char *ca_file;	/* PEM CA bundle for https, or NULL: the system's */
	unsigned timeout_s;	/* total per request; 0: HTTP_FETCH_TIMEOUT_S */
};

struct http_fetch;

/* -EINVAL (errno) for a base URL that is not http(s)://HOST..., -ENOMEM.
 * curl_global_init() must have been called. */
struct http_fetch *http_fetch__new(const struct http_fetch_opts *o);
void http_fetch__free(struct http_fetch *h);

/* tuf_fetch_fn: GET base_url + name into *buf (from malloc(), caller
 * frees; NUL-terminated one byte past *len for convenience), at most
 * max_len bytes. ctx is the struct http_fetch. */
int http_fetch__get(void *ctx, const char *name, size_t max_len, uint8_t **buf, size_t *len);

/* The detail of the last failure ("" after a success), e.g.
 * "GET http://127.0.0.1:8080/timestamp.json: Failed to connect to
 * 127.0.0.1 port 8080 after 0 ms: Couldn't connect to server". Owned by
 * h, valid until the next fetch. */
const char *http_fetch__error(const struct http_fetch *h);

/* The errno of the last failure (0 after a success). */
int http_fetch__last_err(const struct http_fetch *h);

#endif

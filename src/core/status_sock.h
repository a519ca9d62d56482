/*
 * `ringward status` over a unix socket served by the running sensor.
 *
 * Server: a SOCK_STREAM socket (default STATUS_SOCK_PATH) created with
 * mode 0600 (umask 077 around bind, then chmod), in a 0700 directory;
 * peers are also checked by SO_PEERCRED (uid 0 or the sensor's own). A
 * client connects and reads one JSON object, then the sensor closes.
 * Everything is non-blocking: clients are accepted when the listening
 * socket is readable (the sensor's epoll), served from the sensor's tick;
 * a client that does not read is dropped after STATUS_CLIENT_MS, never
 * waited for.
 * At most STATUS_MAX_CLIENTS at a time.
 *
 * Client: `ringward status [--socket PATH] [--format json|text]`.
 *
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_STATUS_SOCK_H
#define RINGWARD_STATUS_SOCK_H

#include "common/ecs_out.h"

#define STATUS_SOCK_PATH	"/run/ringward/status.sock"
#define STATUS_MAX_CLIENTS	8
#define STATUS_CLIENT_MS	2000

/* Called for each client: append the status JSON object to sb. */
typedef void (*status_fill_fn)(void *ctx, struct strbuf *sb);

struct status_sock;

/* Listen on path. A live socket of another sensor there is left alone
 * (-EADDRINUSE); a stale one is replaced. */
struct status_sock *status_sock__open(const char *path, status_fill_fn fill, void *ctx);
/* The listening socket, for the sensor's epoll (readable: a client waits). */
int status_sock__fd(const struct status_sock *ss);
/* Accept the clients waiting (when status_sock__fd is readable). */
void status_sock__accept(struct status_sock *ss);
/* Write to the clients being served; drop those past their time. */
void status_sock__tick(struct status_sock *ss);
/* Close every client and the socket, and remove the path. */
void status_sock__close(struct status_sock *ss);

#endif

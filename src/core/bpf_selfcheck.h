/*
 * Self-check of the sensor's own BPF programs: are they still attached,
 * and still the programs the sensor loaded?
 *
 * At attach time the eBPF source registers each of its programs with the
 * link that attaches it; the program id, tag and link id are recorded
 * then. bpf_selfcheck__run(), called once a second, looks every one of
 * them up again by id:
 *   - the link id no longer exists           -> "sensor-bpf-link-detached"
 *   - the link runs another program id       -> "sensor-bpf-program-replaced"
 *   - the program id no longer exists        -> "sensor-bpf-program-missing"
 *   - the program id has another tag         -> "sensor-bpf-program-replaced"
 * Each becomes ONE `ringward-tamper` alert (event.kind "alert"), written
 * with sensor__write() when the program first enters that state, not one per
 * second, and the program's hook is reported as no longer in force
 * (sensor__hook) with the same reason, so `ringward status` shows it.
 *
 * Work per run: six bpf() calls and two closes per program.
 *
 * A link found gone is bpf_link__disconnect()ed unless its fd still holds
 * it: its fd number was closed behind the sensor's back and may have been
 * reused, and must not be closed again when the source stops.
 *
 * Errors: 0 or a negative errno.
 */
#ifndef RINGWARD_BPF_SELFCHECK_H
#define RINGWARD_BPF_SELFCHECK_H

#include <stddef.h>

struct sensor;
struct bpf_link;
struct bpf_program;
struct bpf_selfcheck;

/* An empty check list. Owned by the caller; free with bpf_selfcheck__free. */
struct bpf_selfcheck *bpf_selfcheck__new(struct sensor *s);

/* Watch prog, attached by link, as part of hook (the name reported with
 * sensor__hook, e.g. "bpf:sched_process_exec"). Records its ids and tag
 * now. The names are copied; prog and link stay the caller's and must
 * outlive the check list (link may be disconnected here, see above).
 * NULL-safe on c (a no-op returning 0). */
int bpf_selfcheck__add(struct bpf_selfcheck *c, const char *hook, struct bpf_program *prog,
		       struct bpf_link *link);

/* How many programs are watched. */
size_t bpf_selfcheck__count(const struct bpf_selfcheck *c);

/* Check every watched program once; alert on new incidents. Returns the
 * number of new incidents. NULL-safe. */
int bpf_selfcheck__run(struct bpf_selfcheck *c);

/* NULL-safe. Does not touch the programs or links. */
void bpf_selfcheck__free(struct bpf_selfcheck *c);

#endif

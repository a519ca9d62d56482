/*
 * The last-known-good (LKG) content store: a copy, on disk, of the last
 * content that loaded, for the next start when newer content fails.
 *
 * Layout under the state directory (default CONTENT_STORE_DIR):
 *
 *   lkg             symbolic link to the current data directory (relative)
 *   lkg.d.XXXXXX/   a data directory: SOURCES (which path each part came
 *                   from) and one entry per loaded path: NNNN/ for a
 *                   directory (a bundle copied whole, manifest included; a
 *                   plain directory as the rule files the loader reads),
 *                   NNNN.yml for a file
 *   .lkg.lock       serialises savers (flock)
 *
 * Saving never leaves a half-written LKG: the copy is written into a fresh
 * data directory, every file and directory fsync'd, the copy loaded with
 * the sensor's own loader (a copy that does not load is thrown away), and
 * only then does `lkg` switch to it, by renaming a new link over the old
 * one (atomic), after which the state directory is fsync'd and the old
 * data removed. A crash at any step leaves `lkg` pointing at a complete
 * copy (the old or the new one); leftovers of an interrupted save (data
 * directories and links `lkg` does not point at) are ignored, and removed
 * by the next save.
 *
 * Plain directories can change between their load and the copy: the copy
 * is what loads at copy time, checked by loading it. Bundles are copied
 * whole and verified against their manifest by that same load, so their
 * copy is exactly the content that loaded.
 *
 * Errors: 0 or -errno.
 */
#ifndef RINGWARD_CONTENT_STORE_H
#define RINGWARD_CONTENT_STORE_H

#include <stddef.h>

#include "engine/diag.h"
#include "engine/ruleset.h"

#define CONTENT_STORE_DIR	"/var/lib/ringward"
#define CONTENT_STORE_MAX_PATHS	1000	/* content paths in one LKG */

/* Save the content of paths (as given to ruleset__load()) as the LKG under
 * state_dir (NULL: CONTENT_STORE_DIR; created 0700 if missing). Saving
 * the LKG itself again is a no-op. -EINVAL when the copy does not load. */
int content_store__save_lkg(const char *state_dir, const char *const paths[], int n);
/* The same, loading the copy with opts (placeholders), with the reasons
 * for a failure in d (may be NULL). */
int content_store__save_lkg_opts(const char *state_dir, const char *const paths[], int n,
				 const struct ruleset_opts *opts, struct diag *d);

/* The path of the LKG content to give ruleset__load() ("<state_dir>/lkg",
 * written into buf), or NULL when there is none (or buf is too small). */
const char *content_store__lkg_dir(const char *state_dir, char *buf, size_t len);

/* For tests: called with each step number as a save reaches it (see
 * content_store.c), so a test can kill the saving process between steps. */
extern void (*content_store__step_hook)(int step);

#endif

/*
 * libFuzzer harness: everything the updater parses from a repository it
 * does not trust yet (update/tuf.h, update/rollout.h, update/archive.h).
 * Each input goes to:
 *   - the envelope parser, then every role's body parser; a root that
 *     parses verifies the input's signatures for each of its roles, and
 *     its JSON written back parses to the same keys and thresholds;
 *   - canonical JSON: canonicalising the canonical form is the identity;
 *   - the rollout parser, and for a document that parses, the choice of a
 *     version for a few hosts, groups and times, which must name a release
 *     of the document (or none);
 *   - the bundle archive walker, whose entries must lie inside the input.
 * Seeds: fuzz/corpus/fuzz_tuf_metadata/ (metadata of each role as `ringward
 * repo` writes it, a rollout document, a bundle archive, refused ones).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "update/archive.h"
#include "update/rollout.h"
#include "update/tuf.h"

struct walk_ctx {
	const uint8_t *buf;
	size_t len;
};

static int check_entry(void *vctx, const struct archive_entry *ent)
{
	const struct walk_ctx *c = vctx;
	const uint8_t *end = c->buf + c->len;

	if ((const uint8_t *)ent->path < c->buf || (const uint8_t *)ent->path + ent->path_len > end ||
	    ent->data < c->buf || ent->data + ent->size > end)
		abort();	/* an entry outside the archive */
	return 0;
}

static void roles(const struct tuf_envelope *env)
{
	struct tuf_root r;
	struct tuf_targets t;
	struct tuf_snapshot s;
	struct tuf_timestamp ts;
	struct tuf_err e;

	if (tuf_root__parse(&r, "f", env, &e) == 0) {
		json_object *back = tuf_root__json(&r);
		char *canon = NULL;
		size_t n;

		for (int i = 0; i < TUF_N_ROLES; i++)
			tuf__verify_role(&r, (enum tuf_role)i, env, "f", "root", &e);
		/* written back, it must read as the same root */
		if (back && tuf__canonical(back, &canon, &n) == 0) {
			uint8_t *doc = malloc(n + 32);
			struct tuf_envelope env2;
			struct tuf_root r2;

			memcpy(doc, "{\"signatures\":[],\"signed\":", 26);
			memcpy(doc + 26, canon, n);
			doc[26 + n] = '}';
			if (tuf_envelope__parse(&env2, "f2", doc, n + 27, &e) ||
			    tuf_root__parse(&r2, "f2", &env2, &e) || r2.version != r.version ||
			    r2.n_keys != r.n_keys)
				abort();
			for (int i = 0; i < TUF_N_ROLES; i++)
				if (!tuf_root__same_keys(&r, &r2, (enum tuf_role)i))
					abort();
			tuf_root__free(&r2);
			tuf_envelope__free(&env2);
			free(doc);
		}
		free(canon);
		json_object_put(back);
	}
	tuf_root__free(&r);
	if (tuf_targets__parse(&t, "f", env, &e) == 0) {
		for (size_t i = 0; i < t.n; i++)
			if (tuf_targets__find(&t, t.v[i].name) != &t.v[i])
				abort();
	}
	tuf_targets__free(&t);
	tuf_snapshot__parse(&s, "f", env, &e);
	tuf_timestamp__parse(&ts, "f", env, &e);
}

static void canonical(const struct tuf_envelope *env)
{
	struct tuf_err e;
	json_object *o = tuf__parse_json("c", (const uint8_t *)env->canon, env->canon_len, &e);
	char *again = NULL;
	size_t n;

	/* the canonical form parses, and is its own canonical form */
	if (!o || tuf__canonical(o, &again, &n) || n != env->canon_len ||
	    memcmp(again, env->canon, n))
		abort();
	free(again);
	json_object_put(o);
}

static void rollout(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { "host-1", "db-7", "" };
	static const char *const groups[] = { NULL, "default", "db", "lab" };
	static const int64_t times[] = { 0, 1893456000, 1893456000 + 86400 * 9 + 3600 * 23 };
	struct rollout_doc doc;
	struct tuf_err e;

	if (rollout__parse(&doc, "r", (const char *)data, size, &e) == 0) {
		for (size_t h = 0; h < 3; h++)
			for (size_t g = 0; g < 4; g++)
				for (size_t t = 0; t < 3; t++) {
					int64_t bad = 13;
					struct rollout_health hl = { .current = 12, .bad = &bad,
								     .n_bad = 1 };
					struct rollout_choice ch;
					bool found;

					if (rollout__select(&doc, hosts[h], groups[g], times[t], &hl,
							    &ch))
						abort();
					if (ch.ring >= doc.n_rings)
						abort();
					found = ch.version == 0 || ch.version == 12;
					for (size_t i = 0; i < doc.n_releases; i++)
						found |= doc.releases[i].version == ch.version;
					if (!found || (ch.version == 13 && !ch.current_bad &&
						       ch.change))
						abort();
				}
	}
	rollout__free(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk_ctx wc = { data, size };
	struct tuf_envelope env;
	struct tuf_err e;

	if (tuf_envelope__parse(&env, "f", data, size, &e) == 0) {
		canonical(&env);
		roles(&env);
	}
	tuf_envelope__free(&env);
	rollout(data, size);
	archive__walk(data, size, check_entry, &wc, &e);
	return 0;
}

/*
 * libFuzzer harness: the bundle manifest parser (engine/bundle.h) and the
 * signature file parser (engine/content_sign.h) on each input, then, when
 * the input parses as a manifest, the sensor check, the RFC 3339 expiry
 * round trip and a signature check of the input against itself. Seeds:
 * fuzz/corpus/fuzz_bundle_manifest/ (manifests as `ringward content
 * manifest` writes them, with and without expiry, signature files, and
 * refused ones).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/bundle.h"
#include "engine/content_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pk[32] = { 1, 2, 3 };
	struct sign_trust trust = { 0 };
	struct sign_key key = { 0 };
	struct bundle_manifest m;
	struct sign_file sf;
	struct diag d;

	diag__init(&d);
	if (bundle_manifest__parse(&m, "fuzz/" BUNDLE_MANIFEST, (const char *)data, size, &d) == 0) {
		char when[32];
		int64_t back;

		bundle_manifest__check_sensor(&m, "fuzz/" BUNDLE_MANIFEST, &d);
		if (m.expires) {
			bundle__format_time(m.expires, when, sizeof(when));
			if (bundle__parse_time(when, strlen(when), &back) || back != m.expires)
				abort();	/* the round trip must hold */
		}
	}
	bundle_manifest__free(&m);
	sign_file__parse(&sf, "fuzz/" BUNDLE_SIGNATURE, (const char *)data, size, &d);
	/* the input as both manifest and signature file: must refuse */
	memcpy(key.pk, pk, sizeof(pk));
	sign__key_id(key.pk, key.id);
	trust.keys = &key;
	trust.n = 1;
	trust.required = true;
	if (sign__verify(&trust, "m", (const char *)data, size, "s", (const char *)data, size,
			 NULL, &d) == 0)
		abort();	/* no valid signature by a key nobody holds */
	diag__free(&d);
	return 0;
}

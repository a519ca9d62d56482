/*
 * libFuzzer harness: the Sigma condition parser on arbitrary text over a
 * fixed set of search identifiers; every node it builds must reference
 * only nodes and searches that exist. Seeds: fuzz/corpus/fuzz_sigma_cond/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/sigma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct search s[] = {
		{ .name = "selection" }, { .name = "sel_a" }, { .name = "sel_b" },
		{ .name = "filter_main_x" }, { .name = "filter.dot-dash" }, { .name = "_hidden" },
		{ .name = "1" }, { .name = "all" },
	};
	struct rule r = { .searches = s, .n_searches = sizeof(s) / sizeof(s[0]) };
	struct cond_error ce;
	int root = sigma_cond__parse(&r, (const char *)data, size, &ce);

	if (root >= 0) {
		if ((uint32_t)root >= r.n_nodes)
			abort();
		for (uint32_t i = 0; i < r.n_nodes; i++) {
			const struct cnode *n = &r.nodes[i];

			switch (n->kind) {
			case CN_SEARCH:
				if (n->a >= r.n_searches)
					abort();
				break;
			case CN_AND:
			case CN_OR:
				if (n->a >= i || n->b >= i)
					abort();
				break;
			case CN_NOT:
				if (n->a >= i)
					abort();
				break;
			case CN_ONE_OF:
			case CN_ALL_OF:
				if (!n->b || n->a + n->b > r.n_refs)
					abort();
				for (uint32_t k = n->a; k < n->a + n->b; k++)
					if (r.refs[k] >= r.n_searches)
						abort();
				break;
			default:
				abort();
			}
		}
	} else if (ce.off > size || !ce.msg[0]) {
		abort();
	}
	free(r.nodes);
	free(r.refs);
	return 0;
}

/* Test-only fault injection (see fault.h). */
#include "engine/fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sigma.h"

unsigned fault__switches;
static void *volatile leak_head;	/* RF_ALLOC's blocks */

static const char *const names[] = { "rules", "unknown-fields", "no-bounds-check" };

const char *fault__name(unsigned i)
{
	return i < sizeof(names) / sizeof(names[0]) ? names[i] : NULL;
}

int fault__parse(const char *list, unsigned *mask)
{
	char *dup = strdup(list), *save = NULL, *tok;
	int err = 0;

	if (!dup)
		return -ENOMEM;
	*mask = 0;
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned i;

		if (strcmp(tok, "all") == 0) {
			*mask |= FAULT__ALL;
			continue;
		}
		for (i = 0; fault__name(i); i++)
			if (strcmp(tok, fault__name(i)) == 0)
				break;
		if (!fault__name(i)) {
			err = -EINVAL;
			break;
		}
		*mask |= 1u << i;
	}
	free(dup);
	return *mask || err ? err : -EINVAL;
}

int fault__kind(const char *s)
{
	if (strcmp(s, "crash") == 0)
		return RF_CRASH;
	if (strcmp(s, "hang") == 0)
		return RF_HANG;
	if (strcmp(s, "alloc") == 0)
		return RF_ALLOC;
	return -1;
}

/* A read or write the compiler cannot prove invalid, at an address that
 * is never mapped (below mmap_min_addr): a real SIGSEGV. */
static void wild_access(uintptr_t addr, int write)
{
	volatile char *p = (volatile char *)addr;

	if (write)
		*p = 1;
	else
		(void)*p;
}

void fault__trigger(int kind, void (*on_oom)(void))
{
	volatile unsigned long spin = 0;

	switch (kind) {
	case RF_CRASH:
		wild_access(8, 1);
		abort();	/* not reached */
	case RF_HANG:
		for (;;)
			spin++;
	case RF_ALLOC:
		for (;;) {
			char *p = malloc(1u << 20);

			if (!p) {
				if (on_oom)
					on_oom();
				abort();
			}
			/* touch every page (resident, not just reserved), and
			 * keep every block reachable so that the compiler cannot
			 * elide the allocation */
			memset(p, 0xa5, 1u << 20);
			*(void **)p = leak_head;
			leak_head = p;
		}
	default:
		return;
	}
}

void fault__unchecked_access(const struct rule *r)
{
	for (uint32_t i = 0; i < r->n_items; i++) {
		const struct item *it = &r->items[i];

		if (it->field < sigma_n_fields && it->ecs < RW_F__COUNT)
			continue;
		/* the interpreter of 2024 read the 21st entry of a 20-entry
		 * array of input pointers and dereferenced it; with no table
		 * entry there, ours reads through slot `field` of an input
		 * array that is not there: an address in the never-mapped
		 * first page */
		wild_access((uintptr_t)it->field * sizeof(void *) + 8, 0);
		abort();
	}
}

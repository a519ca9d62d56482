/*
 * Test-only fault injection, for proving fault containment on a real
 * running sensor. Every switch is off unless the sensor is started with
 * `ringward run --test-faults LIST`; the engine process sets them before it
 * loads content. `ringward validate` and `replay` never set them, so
 * content that asks for a fault is refused there, and by any sensor
 * started without the flag (the load fails and says why).
 *
 *   rules            a rule may carry `ringward: {fault: crash|hang|alloc}`:
 *                    when it matches, the engine dies of SIGSEGV, spins
 *                    forever, or allocates without bound
 *   unknown-fields   the loader accepts a field the sensor does not supply
 *                    (validation bypassed): the item points one past the
 *                    end of the field table, as the 2024 template did
 *   no-bounds-check  an access the run-time bounds check refuses is made
 *                    anyway: the engine reads through the out-of-range
 *                    slot, as an unchecked interpreter would (SIGSEGV)
 *
 * Errors: 0 or -EINVAL.
 */
#ifndef RINGWARD_FAULT_H
#define RINGWARD_FAULT_H

#include <stdint.h>

#define FAULT_RULES		(1u << 0)
#define FAULT_UNKNOWN_FIELDS	(1u << 1)
#define FAULT_NO_BOUNDS_CHECK	(1u << 2)
#define FAULT__ALL		(FAULT_RULES | FAULT_UNKNOWN_FIELDS | FAULT_NO_BOUNDS_CHECK)

/* ringward.fault of a rule */
enum rule_fault { RF_NONE, RF_CRASH, RF_HANG, RF_ALLOC };

/* The switches in force in this process (set by the engine only). */
extern unsigned fault__switches;

/* "rules,unknown-fields,no-bounds-check" or "all" into *mask. */
int fault__parse(const char *list, unsigned *mask);
/* The name of switch bit i (0..2), or NULL. */
const char *fault__name(unsigned i);
/* enum rule_fault for "crash", "hang", "alloc"; -1 otherwise. */
int fault__kind(const char *s);

/* Do what a rule's fault asks; never returns for crash, hang and alloc
 * (alloc calls on_oom, which must not return, when an allocation fails,
 * and aborts if it does or is NULL). */
void fault__trigger(int kind, void (*on_oom)(void));

struct rule;
/* With no-bounds-check: make the access the bounds check refused in rule
 * r (an item whose field lies past the table). Never returns when there is
 * such an item; returns otherwise. */
void fault__unchecked_access(const struct rule *r);

#endif

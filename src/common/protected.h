/*
 * What keeps a host alive and the sensor honest, by path: the one list
 * both the guardrails (engine/guardrails.h: no rule may act on these) and
 * protect mode's fail-closed default (core/perm_source.h: a missed verdict
 * never denies these) use.
 *
 * Each array ends with NULL. Executables are exact paths; trees are
 * directories whose every file counts.
 */
#ifndef RINGWARD_PROTECTED_H
#define RINGWARD_PROTECTED_H

#include <stdbool.h>

extern const char *const protected_sensor_exe[];	/* installed ringward binaries */
extern const char *const protected_init_exe[], *const protected_init_tree[];
extern const char *const protected_pm_exe[], *const protected_pm_tree[];
extern const char *const protected_ssh_exe[], *const protected_ssh_tree[];
extern const char *const protected_loader_exe[];	/* the usual dynamic loaders */
extern const char *const protected_loader_glob[];	/* where others are found */

/* Is path the executable of an essential process (the sensor, init or
 * systemd, the package manager, sshd, the dynamic loader)? Exact paths,
 * trees, and any ld-linux* loader under a lib directory. */
bool protected__essential_exe(const char *path);

#endif

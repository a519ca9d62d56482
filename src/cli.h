/*
 * Subcommands of build/ringward. Each takes the arguments after its name
 * (argv[0] is the subcommand name) and returns the process exit status.
 * Each prints its usage for --help and exits 0.
 */
#ifndef RINGWARD_CLI_H
#define RINGWARD_CLI_H

int cmd_run(int argc, char **argv);	/* src/core/sensor.c */
int cmd_status(int argc, char **argv);	/* src/core/status_sock.c */
int cmd_reload(int argc, char **argv);	/* src/core/sensor.c */
int cmd_validate(int argc, char **argv);	/* src/engine/cli_validate.c */
int cmd_replay(int argc, char **argv);	/* src/engine/cli_replay.c */
int cmd_content(int argc, char **argv);	/* src/engine/cli_content.c */
int cmd_engine(int argc, char **argv);	/* src/engine/engine_main.c */
int cmd_quarantine(int argc, char **argv);	/* src/core/cli_quarantine.c */
int cmd_repo(int argc, char **argv);	/* src/update/cli_repo.c */
int cmd_rollout(int argc, char **argv);	/* src/update/cli_rollout.c */
int cmd_updater(int argc, char **argv);	/* src/update/updater.c */

#endif

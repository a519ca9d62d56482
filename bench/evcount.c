/*
 * Count what the sensor saw of one benchmark workload, from its JSON lines:
 *
 *   evcount FILE PID DIR
 *
 * prints
 *
 *   exec=<n> create=<n> modify=<n> rename=<n> delete=<n> connect=<n>
 *   own=<n> drops=<n> records=<n> bad=<n>
 *
 * exec: exec events whose process.parent.pid is PID (the workload's
 * children); create/modify/rename/delete: file events whose file.path is
 * under DIR; connect: connect events of process.pid PID; own: every event
 * of process.pid PID; drops: the sum of the drops.* counters in the
 * sensor-stopped record; bad: lines that are not JSON objects.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *get(json_object *o, const char *dotted)
{
	char key[128];
	const char *p = dotted;

	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		p = dot ? dot + 1 : p + n;
	}
	return o;
}

static const char *str(json_object *o, const char *dotted)
{
	json_object *v = get(o, dotted);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static long long num(json_object *o, const char *dotted)
{
	json_object *v = get(o, dotted);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

int main(int argc, char **argv)
{
	static const char *const file_actions[] = { "create", "modify", "rename", "delete" };
	unsigned long long n_exec = 0, n_file[4] = { 0 }, n_conn = 0, own = 0, drops = 0;
	unsigned long long records = 0, bad = 0;
	char *line = NULL, dirp[4096];
	size_t cap = 0;
	long long pid;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: evcount FILE PID DIR\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	pid = atoll(argv[2]);
	snprintf(dirp, sizeof(dirp), "%s/", argv[3]);
	while (getline(&line, &cap, f) > 0) {
		json_object *o = json_tokener_parse(line);
		const char *action, *path;

		if (!o || !json_object_is_type(o, json_type_object)) {
			bad++;
			json_object_put(o);
			continue;
		}
		records++;
		action = str(o, "event.action");
		if (action && strcmp(action, "sensor-stopped") == 0) {
			json_object *c = get(o, "ringward.counters");

			if (c && json_object_is_type(c, json_type_object)) {
				json_object_object_foreach(c, k, v) {
					if (strncmp(k, "drops.", 6) == 0)
						drops += (unsigned long long)json_object_get_int64(v);
				}
			}
		}
		if (!action) {
			json_object_put(o);
			continue;
		}
		if (num(o, "process.pid") == pid) {
			own++;
			if (strcmp(action, "connect") == 0)
				n_conn++;
		}
		if (strcmp(action, "exec") == 0 && num(o, "process.parent.pid") == pid)
			n_exec++;
		path = str(o, "file.path");
		if (path && strncmp(path, dirp, strlen(dirp)) == 0)
			for (int i = 0; i < 4; i++)
				if (strcmp(action, file_actions[i]) == 0)
					n_file[i]++;
		json_object_put(o);
	}
	free(line);
	fclose(f);
	printf("exec=%llu create=%llu modify=%llu rename=%llu delete=%llu connect=%llu "
	       "own=%llu drops=%llu records=%llu bad=%llu\n",
	       n_exec, n_file[0], n_file[1], n_file[2], n_file[3], n_conn, own, drops,
	       records, bad);
	return 0;
}

/* adaptfs-workloads(5): a managed workload's recipe, one INI file per
 * workload in the recipes directory, loaded with libinih. The recipe says
 * what to run; actuators/managed.c says how (runc or a QEMU microvm). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum recipe_mode { RECIPE_CONTAINER, RECIPE_VM, RECIPE_AUTO };
/* When the other mode's instance is kept prepared (adaptfs-workloads(5)):
 * auto while the policy is about to switch an auto workload, yes always. */
enum recipe_standby { STANDBY_AUTO, STANDBY_YES, STANDBY_NO };

#define RECIPE_NAME_MAX 48

struct recipe {
	char name[RECIPE_NAME_MAX + 1];	/* the file name without .conf */
	char *path;
	char *rootfs;			/* directory: container root, VM 9p root */
	char **argv;			/* command, split like a shell would (quotes) */
	size_t argc;
	char **env;			/* "KEY=VALUE" */
	size_t n_env;
	unsigned cpus;
	uint64_t memory_bytes;
	char address[16];		/* IPv4 on the bridge, dotted */
	unsigned prefix_len;
	char gateway[16];		/* "" if none */
	char mac[18];			/* given, or derived from the name */
	char *data;			/* host directory that survives switches, or NULL */
	char *data_mount;		/* where the workload sees it */
	unsigned ready_port;		/* 0: none */
	char *ready_command;		/* run by /bin/sh on the host, or NULL */
	double ready_timeout;		/* seconds */
	double stop_timeout;		/* seconds from SIGTERM to SIGKILL */
	enum recipe_mode mode;		/* initial mode setting */
	enum recipe_standby standby;
	char *kernel, *initrd;		/* [vm] overrides of adaptfs.conf, or NULL */
	char *append;			/* extra kernel command line, or NULL */
};

/* Load the recipe at path (its name comes from the file name). On error, err
 * holds "FILE:LINE: reason" (or "FILE: reason") for the user. */
int recipe_load(const char *path, struct recipe *r, char *err, size_t errlen);
void recipe_free(struct recipe *r);

/* Split a command line into words: blanks separate, '...' is literal,
 * "..." and a backslash escape as in sh. No expansion. Pure. */
int recipe_split_command(const char *s, char ***argv, size_t *argc);
void recipe_free_words(char **v, size_t n);

const char *recipe_mode_name(enum recipe_mode m);
const char *recipe_standby_name(enum recipe_standby s);
int recipe_mode_parse(const char *s, enum recipe_mode *m);

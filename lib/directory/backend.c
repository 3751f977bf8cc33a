/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the directory's front (directory.c) and its backends:
 * the log type, the clock, key names and copies of the published table.
 * They sit below the backends so that a backend never calls into the front
 * that calls it (doc/directory.md, "Layout").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_log.h>

#include "directory_private.h"

RTE_LOG_REGISTER(directory_logtype, tern.directory, INFO);

int
directory_key(const struct tern_directory *dir, const char *node, const char *segment, char *buf,
	      size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/%s/%s", dir->prefix, node, segment != NULL ? segment : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

int
directory_kv_key(const struct tern_directory *dir, const char *key, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/~kv/%s", dir->prefix, key);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

int
directory_entry_fill(struct directory_entry *e, const char *node, const char *segment,
		     const char *json, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, json, len);
	copy[len] = '\0';
	free(e->json);
	snprintf(e->node, sizeof(e->node), "%s", node);
	snprintf(e->segment, sizeof(e->segment), "%s", segment);
	e->json = copy;
	e->len = len;
	e->stamp_ns = tern_clock_ns();
	return 0;
}

void
directory_entries_free(struct directory_entry *entries, unsigned int n)
{
	unsigned int i;

	if (entries == NULL)
		return;
	for (i = 0; i < n; i++)
		free(entries[i].json);
	free(entries);
}

int
directory_published_snapshot(struct tern_directory *dir, struct directory_entry **entries)
{
	struct directory_entry *copy;
	unsigned int i, n;
	int rc = 0;

	pthread_mutex_lock(&dir->pub_lock);
	n = dir->nb_published;
	copy = calloc(n > 0 ? n : 1, sizeof(*copy));
	if (copy == NULL)
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < n; i++)
		rc = directory_entry_fill(&copy[i], dir->published[i].node,
					  dir->published[i].segment, dir->published[i].json,
					  dir->published[i].len);
	pthread_mutex_unlock(&dir->pub_lock);
	if (rc < 0) {
		directory_entries_free(copy, n);
		return rc;
	}
	*entries = copy;
	return (int)n;
}

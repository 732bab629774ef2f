/* Rendering: the text of every file, from one snapshot. Pure: no kernel
 * files are read here, only the snapshot. */
#pragma once

#include "nodes.h"
#include "snapshot.h"
#include "strbuf.h"

/* Append the file's text. -ENOENT when its workload is not in s. */
int render_node(struct snapshot *s, const struct node *n, struct strbuf *out);
/* metrics.prom of s, rendered on first use and shared: a new reference,
 * valid after s is dropped. */
struct shared_text *render_prom_cached(struct snapshot *s);

void render_flat(const struct metric_def *defs, int n, const struct metric_set *m,
		 const char *file, struct strbuf *out);
void render_stat(const struct metric_def *defs, int n, const struct metric_set *m,
		 struct strbuf *out);
void render_prom(const struct snapshot *s, struct strbuf *out);

/* What open files pin, per user: each open's rendered text (and its
 * handle) is charged to the uid that opened it, so that one unprivileged
 * reader holding files open cannot grow the daemon without bound. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Bytes a user other than root may pin; one open file is always allowed. */
#define BUDGET_PER_USER (16u << 20)

/* Charge bytes to uid. -EMFILE, nothing charged, if uid already pins
 * something and bytes would take it past BUDGET_PER_USER; *first_refusal
 * is then true for the first refusal since uid was last under it (for one
 * event, not one per open). Root is never refused. */
int budget_charge(uid_t uid, size_t bytes, bool *first_refusal);
/* Charge without refusal: a re-render of a file already open. */
void budget_force(uid_t uid, size_t bytes);
void budget_release(uid_t uid, size_t bytes);
/* Bytes uid pins now (tests). */
size_t budget_of(uid_t uid);

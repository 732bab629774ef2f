#include "budget.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>

/* Users who hold files open at once are few: a list, entries dropped at zero. */
struct user {
	uid_t uid;
	size_t bytes;
	bool refused;		/* refused since last under the budget */
	struct user *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct user *users;

static struct user **find(uid_t uid)
{
	struct user **p = &users;

	while (*p && (*p)->uid != uid)
		p = &(*p)->next;
	return p;
}

static void add(struct user **p, uid_t uid, size_t bytes)
{
	if (!*p) {
		*p = xcalloc(1, sizeof **p);
		(*p)->uid = uid;
	}
	(*p)->bytes += bytes;
}

int budget_charge(uid_t uid, size_t bytes, bool *first_refusal)
{
	struct user **p;
	int r = 0;

	*first_refusal = false;
	pthread_mutex_lock(&lock);
	p = find(uid);
	if (uid != 0 && *p && (*p)->bytes + bytes > BUDGET_PER_USER) {
		*first_refusal = !(*p)->refused;
		(*p)->refused = true;
		r = -EMFILE;
	} else {
		add(p, uid, bytes);
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void budget_force(uid_t uid, size_t bytes)
{
	pthread_mutex_lock(&lock);
	add(find(uid), uid, bytes);
	pthread_mutex_unlock(&lock);
}

void budget_release(uid_t uid, size_t bytes)
{
	struct user **p, *u;

	pthread_mutex_lock(&lock);
	p = find(uid);
	u = *p;
	if (u) {
		u->bytes -= bytes < u->bytes ? bytes : u->bytes;
		if (u->bytes <= BUDGET_PER_USER / 2)
			u->refused = false;
		if (u->bytes == 0) {
			*p = u->next;
			free(u);
		}
	}
	pthread_mutex_unlock(&lock);
}

size_t budget_of(uid_t uid)
{
	struct user **p;
	size_t n;

	pthread_mutex_lock(&lock);
	p = find(uid);
	n = *p ? (*p)->bytes : 0;
	pthread_mutex_unlock(&lock);
	return n;
}

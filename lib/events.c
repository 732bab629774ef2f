#include "events.h"
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#define EVENT_LEN 320
#define MSG_LEN 240

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char ring[EVENTS_MAX][EVENT_LEN];
static uint64_t seq;
static uint64_t last_usec;
static void (*hook)(void);

void events_set_hook(void (*fn)(void))
{
	hook = fn;
}

void events_add(const char *subject, const char *fmt, ...)
{
	char msg[MSG_LEN], stamp[24];
	uint64_t now = wall_usec();
	time_t secs = (time_t)(now / USEC_PER_SEC);
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One event is one line whatever a caller passes in. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&lock);
	snprintf(ring[seq % EVENTS_MAX], EVENT_LEN, "%s.%03uZ %.48s: %s", stamp,
		 (unsigned)(now % USEC_PER_SEC / 1000), subject, msg);
	seq++;
	last_usec = now;
	pthread_mutex_unlock(&lock);

	/* The log already says "adaptfs:" in front of every line. */
	if (strcmp(subject, "adaptfs") == 0)
		log_info("%s", msg);
	else
		log_info("%s: %s", subject, msg);
	if (hook)
		hook();
}

void events_render(struct strbuf *sb)
{
	pthread_mutex_lock(&lock);
	for (uint64_t i = seq > EVENTS_MAX ? seq - EVENTS_MAX : 0; i < seq; i++)
		strbuf_printf(sb, "%s\n", ring[i % EVENTS_MAX]);
	pthread_mutex_unlock(&lock);
}

uint64_t events_seq(void)
{
	pthread_mutex_lock(&lock);
	uint64_t s = seq;
	pthread_mutex_unlock(&lock);
	return s;
}

uint64_t events_last_usec(void)
{
	pthread_mutex_lock(&lock);
	uint64_t t = last_usec;
	pthread_mutex_unlock(&lock);
	return t;
}

#include "events.h"
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#define EVENT_LEN 320
#define MSG_LEN 240
#define SUBJECT_LEN 48

/* One line, newline included, and where it starts in the stream of every
 * event since start: readers address the stream by offset (tail -f). */
struct event {
	uint64_t start;
	size_t len;
	char text[EVENT_LEN + 1];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct event ring[EVENTS_MAX];
static uint64_t seq;
static uint64_t total;		/* bytes of every event so far */
static uint64_t last_usec;
static void (*hook)(void);

void events_set_hook(void (*fn)(void))
{
	hook = fn;
}

void events_add(const char *subject, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	events_vadd(subject, fmt, ap);
	va_end(ap);
}

void events_vadd(const char *subject, const char *fmt, va_list ap)
{
	char msg[MSG_LEN], subj[SUBJECT_LEN + 1], raw[MSG_LEN], stamp[24];
	uint64_t now = wall_usec();
	time_t secs = (time_t)(now / USEC_PER_SEC);
	struct tm tm;

	vsnprintf(raw, sizeof raw, fmt, ap);
	/* One event is one line, and cgroup names or bytes written by users
	 * never reach a terminal that tails events or the log raw: newlines,
	 * controls and invalid UTF-8 become \xNN. */
	str_escape(raw, msg, sizeof msg);
	str_escape(subject, subj, sizeof subj);
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&lock);
	struct event *e = &ring[seq % EVENTS_MAX];

	snprintf(e->text, EVENT_LEN, "%s.%03uZ %s: %s", stamp,
		 (unsigned)(now % USEC_PER_SEC / 1000), subj, msg);
	e->len = strlen(e->text);
	e->text[e->len++] = '\n';
	e->start = total;
	total += e->len;
	seq++;
	last_usec = now;
	pthread_mutex_unlock(&lock);

	/* The log already says "adaptfs:" in front of every line. */
	if (strcmp(subj, "adaptfs") == 0)
		log_info("%s", msg);
	else
		log_info("%s: %s", subj, msg);
	if (hook)
		hook();
}

void events_render(struct strbuf *sb)
{
	pthread_mutex_lock(&lock);
	for (uint64_t i = seq > EVENTS_MAX ? seq - EVENTS_MAX : 0; i < seq; i++)
		strbuf_append(sb, ring[i % EVENTS_MAX].text, ring[i % EVENTS_MAX].len);
	pthread_mutex_unlock(&lock);
}

uint64_t events_last_usec(void)
{
	pthread_mutex_lock(&lock);
	uint64_t t = last_usec;
	pthread_mutex_unlock(&lock);
	return t;
}

uint64_t events_size(void)
{
	pthread_mutex_lock(&lock);
	uint64_t t = total;
	pthread_mutex_unlock(&lock);
	return t;
}

/* The retained event holding stream offset pos (oldest <= pos < total). */
static uint64_t event_at(uint64_t oldest, uint64_t pos)
{
	uint64_t lo = oldest, hi = seq;

	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (ring[mid % EVENTS_MAX].start <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

size_t events_read(uint64_t *pos, char *buf, size_t size)
{
	size_t n = 0;

	pthread_mutex_lock(&lock);
	uint64_t oldest = seq > EVENTS_MAX ? seq - EVENTS_MAX : 0;
	uint64_t first = seq ? ring[oldest % EVENTS_MAX].start : 0;

	if (*pos < first)
		*pos = first;	/* fell behind: the lines in between are gone */
	for (uint64_t i = *pos < total ? event_at(oldest, *pos) : seq; i < seq && n < size; i++) {
		const struct event *e = &ring[i % EVENTS_MAX];
		size_t skip = *pos + n > e->start ? (size_t)(*pos + n - e->start) : 0;
		size_t take = e->len - skip < size - n ? e->len - skip : size - n;

		memcpy(buf + n, e->text + skip, take);
		n += take;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

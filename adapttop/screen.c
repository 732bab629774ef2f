#include "screen.h"

#include "control.h"
#include "format.h"
#include "util.h"

#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Long names are cut on screen so the figures stay in view (batch mode never cuts). */
#define SCREEN_MAX_W 32
/* How often keys and finished writes are looked at between reads of the mount. */
#define KEY_POLL_MS 100

/* Columns scroll by this many characters per Left/Right (NAME stays). */
#define HSCROLL_STEP 8

#define HELP_LINE "c/P p w i n f m/M N sort  r reverse  j/k select  <-/-> scroll  / find  \\ filter  t prefetch  o mode  q quit"

struct screen {
	struct view_options o;
	struct frame frame;
	int sample_err;			/* last sample_read() result */
	size_t sel, top;		/* selected row, first row shown */
	char sel_name[256];		/* the selection follows its workload across re-sorts */
	char status[512];
	/* FIND and FILTER: keys edit TEXT until Enter/Esc; CONFIRM: y writes ASK_VALUE to
	 * ASK_NAME's ASK_FILE, any other key cancels */
	enum { PROMPT_NONE, PROMPT_FIND, PROMPT_FILTER, PROMPT_CONFIRM } prompt;
	char text[64];
	char ask_name[256], ask_file[32], ask_value[32];
	int hscroll;			/* characters of the columns after NAME scrolled off */
	long frames;			/* refreshes shown, for -n */
	char filter[64];		/* only workloads whose name contains it ("": all) */
	struct control_job job;
};

void screen_title(const struct view_options *o, const struct frame *f, char *buf, size_t size)
{
	char when[32];
	time_t t = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	char shown[96];

	if (o->filter && *o->filter)
		snprintf(shown, sizeof(shown), "%zu of %zu workloads match '%s'", f->n, f->n_all,
			 o->filter);
	else
		snprintf(shown, sizeof(shown), "%zu workloads", f->n);
	snprintf(buf, size, "adapttop - %s - %s - %s - sort: %s%s", o->mount, when, shown,
		 sort_key_name(o->sort), o->reverse ? " (reversed)" : "");
}

static void screen_select_name(struct screen *s)
{
	if (s->sel < s->frame.n)
		snprintf(s->sel_name, sizeof(s->sel_name), "%s", s->frame.rows[s->sel].name);
}

/* Re-sort and find the selected workload again; if it has gone, stay at its position. */
static void screen_resort(struct screen *s)
{
	sort_rows(s->frame.rows, s->frame.n, s->o.sort, s->o.reverse);
	for (size_t i = 0; i < s->frame.n; i++)
		if (strcmp(s->frame.rows[i].name, s->sel_name) == 0) {
			s->sel = i;
			return;
		}
	if (s->sel >= s->frame.n)
		s->sel = s->frame.n ? s->frame.n - 1 : 0;
	screen_select_name(s);
}

static void screen_sample(struct screen *s)
{
	s->sample_err = sample_read(s->o.mount, &s->frame);
	rows_filter(&s->frame, s->filter);
	screen_resort(s);
}

/* How far the columns after NAME can scroll: until the last one is in view. */
static int hscroll_max(const struct layout *l, const char *line)
{
	int fixed = l->name_w + 1, rest = (int)strlen(line) - fixed;

	return rest > COLS - fixed ? rest - (COLS - fixed) : 0;
}

/* A header or row line at screen line Y: NAME stays, the other columns are shifted
 * left by the horizontal scroll, so every column can be brought into view at 80 columns. */
static void screen_put_row(struct screen *s, const struct layout *l, int y, const char *line)
{
	int fixed = l->name_w + 1, len = (int)strlen(line), max = hscroll_max(l, line);
	int off = s->hscroll < max ? s->hscroll : max;

	if (len <= fixed || fixed >= COLS) {
		mvaddnstr(y, 0, line, COLS);
		return;
	}
	mvaddnstr(y, 0, line, fixed);
	addnstr(line + fixed + off, COLS - fixed);
}

static void screen_draw(struct screen *s)
{
	char line[1024];
	struct layout l;
	size_t rows_h, i;
	int y;

	erase();
	s->o.filter = s->filter;
	screen_title(&s->o, &s->frame, line, sizeof(line));
	mvaddnstr(0, 0, line, COLS);
	if (s->sample_err < 0)
		snprintf(line, sizeof(line), "%s: %s (is adaptfs running?)", s->o.mount,
			 strerror(-s->sample_err));
	else
		format_host(&s->frame.host, line, sizeof(line));
	mvaddnstr(1, 0, line, COLS);
	mvaddnstr(2, 0, s->status, COLS);

	layout_fit(&l, &s->frame, SCREEN_MAX_W);
	format_header(&l, line, sizeof(line));
	if (s->hscroll > hscroll_max(&l, line))
		s->hscroll = hscroll_max(&l, line);
	attron(A_BOLD);
	screen_put_row(s, &l, 3, line);
	attroff(A_BOLD);

	rows_h = LINES > 5 ? (size_t)LINES - 5 : 1;
	if (s->sel < s->top)
		s->top = s->sel;
	if (s->sel >= s->top + rows_h)
		s->top = s->sel - rows_h + 1;
	for (i = s->top, y = 4; i < s->frame.n && i < s->top + rows_h; i++, y++) {
		format_row(&l, &s->frame.rows[i], line, sizeof(line));
		if (i == s->sel)
			attron(A_REVERSE);
		screen_put_row(s, &l, y, line);
		if (i == s->sel) {
			/* the bar spans the screen, as in top and htop */
			for (int x = getcurx(stdscr); x < COLS && x > 0; x++)
				addch(' ');
			attroff(A_REVERSE);
		}
	}
	mvaddnstr(LINES - 1, 0, HELP_LINE, COLS);
	refresh();
}

/* t and o: ask before writing the selected workload's control file, since a mode switch
 * stops and restarts a managed workload. The question names what would be written. */
static void screen_ask(struct screen *s, const char *file)
{
	const struct row *r;
	const char *value;

	if (s->sel >= s->frame.n) {
		snprintf(s->status, sizeof(s->status), "no workload selected");
		return;
	}
	r = &s->frame.rows[s->sel];
	value = strcmp(file, "prefetch") == 0 ? control_toggle_prefetch(r->prefetch)
					      : control_next_mode(r->mode);
	snprintf(s->ask_name, sizeof(s->ask_name), "%s", r->name);
	snprintf(s->ask_file, sizeof(s->ask_file), "%s", file);
	snprintf(s->ask_value, sizeof(s->ask_value), "%s", value);
	s->prompt = PROMPT_CONFIRM;
	snprintf(s->status, sizeof(s->status), "%s: write %s %s? (y/n)", r->name, file, value);
}

/* y to the question: write in the background (adaptfs returns when the action is done). */
static void screen_control(struct screen *s)
{
	const char *name = s->ask_name, *file = s->ask_file, *value = s->ask_value;
	int err = control_start(&s->job, s->o.mount, name, file, value);

	if (err == -EBUSY)
		snprintf(s->status, sizeof(s->status), "%s: %s %s: still running, wait for it",
			 s->job.name, s->job.file, s->job.value);
	else if (err < 0)
		snprintf(s->status, sizeof(s->status), "%s: %s %s failed: %s", name, file, value,
			 strerror(-err));
	else
		snprintf(s->status, sizeof(s->status), "%s: %s %s ...", name, file, value);
}

static bool screen_control_done(struct screen *s)
{
	int err;

	if (!control_poll(&s->job, &err))
		return false;
	if (err < 0)
		snprintf(s->status, sizeof(s->status), "%s: %s %s failed: %s", s->job.name,
			 s->job.file, s->job.value, strerror(-err));
	else
		snprintf(s->status, sizeof(s->status), "%s: %s %s: done", s->job.name, s->job.file,
			 s->job.value);
	return true;
}

static void screen_move(struct screen *s, long delta)
{
	long n = (long)s->frame.n, to = (long)s->sel + delta;

	if (n == 0)
		return;
	s->sel = (size_t)(to < 0 ? 0 : to >= n ? n - 1 : to);
	screen_select_name(s);
}

/* Select the first workload at or after the selection whose name contains TEXT. */
static void screen_find(struct screen *s)
{
	size_t n = s->frame.n;

	for (size_t i = 0; i < n; i++) {
		size_t k = (s->sel + i) % n;

		if (strstr(s->frame.rows[k].name, s->text)) {
			s->sel = k;
			screen_select_name(s);
			s->status[0] = '\0';
			return;
		}
	}
	snprintf(s->status, sizeof(s->status), "no workload name contains '%s'", s->text);
}

static const char *prompt_label(const struct screen *s)
{
	return s->prompt == PROMPT_FIND ? "find" : "filter";
}

/* A key while prompting: the line editor of the status line. Enter acts, Esc cancels. */
static void screen_prompt_key(struct screen *s, int ch)
{
	size_t len = strlen(s->text);

	switch (ch) {
	case '\n': case '\r': case KEY_ENTER:
		if (s->prompt == PROMPT_FIND) {
			screen_find(s);
		} else {
			snprintf(s->filter, sizeof(s->filter), "%s", s->text);
			s->status[0] = '\0';
			screen_sample(s);
		}
		s->prompt = PROMPT_NONE;
		return;
	case 27: /* Esc */
		s->prompt = PROMPT_NONE;
		s->status[0] = '\0';
		return;
	case KEY_BACKSPACE: case 127: case 8:
		if (len)
			s->text[len - 1] = '\0';
		break;
	default:
		if (ch >= 32 && ch < 127 && len + 1 < sizeof(s->text)) {
			s->text[len] = (char)ch;
			s->text[len + 1] = '\0';
		}
	}
	snprintf(s->status, sizeof(s->status), "%s: %s", prompt_label(s), s->text);
}

static void screen_prompt(struct screen *s, int kind, const char *initial)
{
	s->prompt = kind;
	snprintf(s->text, sizeof(s->text), "%s", initial);
	snprintf(s->status, sizeof(s->status), "%s: %s", prompt_label(s), s->text);
}

/* Returns false when the key quits. */
static bool screen_key(struct screen *s, int ch)
{
	int k;
	long page = LINES > 6 ? LINES - 6 : 1;

	if (s->prompt == PROMPT_CONFIRM) {
		s->prompt = PROMPT_NONE;
		if (ch == 'y' || ch == 'Y')
			screen_control(s);
		else
			snprintf(s->status, sizeof(s->status), "%s: %s unchanged", s->ask_name,
				 s->ask_file);
		return true;
	}
	if (s->prompt != PROMPT_NONE) {
		screen_prompt_key(s, ch);
		return true;
	}
	switch (ch) {
	case 'q':
		return false;
	case KEY_UP: case 'k':
		screen_move(s, -1);
		break;
	case KEY_DOWN: case 'j':
		screen_move(s, 1);
		break;
	case KEY_PPAGE:
		screen_move(s, -page);
		break;
	case KEY_NPAGE: case ' ':
		screen_move(s, page);
		break;
	case KEY_HOME: case 'g':
		screen_move(s, -(long)s->frame.n);
		break;
	case KEY_END: case 'G':
		screen_move(s, (long)s->frame.n);
		break;
	case 'r':
		s->o.reverse = !s->o.reverse;
		screen_resort(s);
		break;
	case KEY_LEFT:
		s->hscroll = s->hscroll > HSCROLL_STEP ? s->hscroll - HSCROLL_STEP : 0;
		break;
	case KEY_RIGHT:
		s->hscroll += HSCROLL_STEP;
		break;
	case 't':
		screen_ask(s, "prefetch");
		break;
	case 'o':
		screen_ask(s, "mode");
		break;
	case '/':
		screen_prompt(s, PROMPT_FIND, "");
		break;
	case '\\':
		screen_prompt(s, PROMPT_FILTER, s->filter);
		break;
	case 'h': case '?':
		snprintf(s->status, sizeof(s->status), "%s", HELP_LINE);
		break;
	default:
		k = sort_key_from_char(ch);
		if (k >= 0) {
			s->o.sort = (enum sort_key)k;
			screen_resort(s);
		}
	}
	return true;
}

int screen_run(const struct view_options *o)
{
	/* on the heap: a write still in flight at quit may finish into it while we exit */
	struct screen *s = xcalloc(1, sizeof(*s));
	uint64_t next = 0, now;
	bool dirty = true;
	int ch;

	s->o = *o;
	if (o->filter)
		snprintf(s->filter, sizeof(s->filter), "%s", o->filter);
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(KEY_POLL_MS);
	set_escdelay(25);
	for (;;) {
		now = now_usec();
		if (now >= next) {
			/* -n N: the Nth frame stays up for one delay, then quit, as top does */
			if (s->o.iterations && s->frames++ == s->o.iterations)
				break;
			screen_sample(s);
			next = now + (uint64_t)(s->o.delay * 1e6);
			dirty = true;
		}
		if (screen_control_done(s)) {
			/* show the new state of what was just written */
			screen_sample(s);
			dirty = true;
		}
		if (dirty)
			screen_draw(s);
		dirty = false;
		ch = getch();
		if (ch == ERR)
			continue;
		if (!screen_key(s, ch))
			break;
		dirty = true;
	}
	endwin();
	if (atomic_load(&s->job.state) != CONTROL_RUNNING) {
		frame_free(&s->frame);
		free(s);
	}
	return 0;
}

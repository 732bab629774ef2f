#include "ops.h"
#include "budget.h"
#include "control.h"
#include "events.h"
#include "nodes.h"
#include "render.h"
#include "snapshot.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>

/* Names and attributes stay valid this long in the kernel; vanished
 * workloads are invalidated explicitly, so this only bounds staleness. */
#define ENTRY_TIMEOUT 1.0

struct open_file {
	struct node node;
	struct strbuf text;
	/* metrics.prom serves its snapshot's shared render (held, so never
	 * torn) instead of a copy of up to megabytes per open; the text
	 * alone is held, never the snapshot. */
	struct shared_text *prom;
	uid_t uid;		/* who opened it: charged for what it pins */
	size_t charged;
	/* events: the stream offset this open's file offset 0 stands for (it
	 * grows when the reader falls behind the kept lines), and where its
	 * last read ended, for poll(). */
	uint64_t events_skip, events_end;
	/* events, class, mode, placement: the kernel's handle for this open's
	 * poll() wait, under poll_lock. The kernel sends one per poll call for
	 * the same file, so the newest replaces the last: one per open file,
	 * never a table. */
	struct fuse_pollhandle *ph;
	bool fresh;		/* text rendered at open, not yet read */
	pthread_mutex_t lock;	/* the kernel may read one open file from several threads */
	struct open_file *prev, *next;	/* all open files, freed at exit if still open */
};

static pthread_mutex_t open_files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_file *open_files;
/* Taken inside open_files_lock, never the other way round. */
static pthread_mutex_t poll_lock = PTHREAD_MUTEX_INITIALIZER;

static void open_files_link(struct open_file *of)
{
	pthread_mutex_lock(&open_files_lock);
	of->next = open_files;
	if (open_files)
		open_files->prev = of;
	open_files = of;
	pthread_mutex_unlock(&open_files_lock);
}

static void open_file_free(struct open_file *of)
{
	pthread_mutex_lock(&open_files_lock);
	if (of->prev)
		of->prev->next = of->next;
	else
		open_files = of->next;
	if (of->next)
		of->next->prev = of->prev;
	pthread_mutex_unlock(&open_files_lock);
	pthread_mutex_lock(&poll_lock);
	if (of->ph)
		fuse_pollhandle_destroy(of->ph);
	pthread_mutex_unlock(&poll_lock);
	pthread_mutex_destroy(&of->lock);
	strbuf_free(&of->text);
	shared_text_put(of->prom);
	budget_release(of->uid, of->charged);
	free(of);
}

static struct fuse_session *session;
static gid_t control_gid;	/* group allowed to write control files; 0: root only */

static void fill_attr(const struct node *n, struct stat *st)
{
	*st = (struct stat){0};
	st->st_ino = node_ino(n);
	if (node_is_dir(n)) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (node_is_control(n)) {
		st->st_mode = S_IFREG | (control_gid ? 0664 : 0644);
		st->st_gid = control_gid;
		st->st_nlink = 1;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
	}
}

void ops_set_control_group(gid_t gid)
{
	control_gid = gid;
}

/* The time the node's content is of: a file shows snapshot s (events: its
 * newest line), a directory changes when its names do. Monitoring reads it
 * as freshness (node_exporter's textfile mtime), so it is never 0. */
static uint64_t node_time_usec(const struct snapshot *s, const struct node *n)
{
	const struct wl_view *w;
	uint64_t t;

	switch (n->kind) {
	case N_ROOT:
		return s->tree_usec;
	case N_HOST_DIR:
		return s->start_usec;
	case N_WL_DIR:
		w = snapshot_find_id(s, n->wid);
		return w ? w->appeared_usec : s->tree_usec;
	case N_EVENTS:
		t = events_last_usec();
		return t ? t : s->start_usec;
	default:
		return s->wall_usec;
	}
}

static void set_times(const struct snapshot *s, const struct node *n, struct stat *st)
{
	uint64_t t = s ? node_time_usec(s, n) : 0;
	struct timespec ts = { (time_t)(t / USEC_PER_SEC), (long)(t % USEC_PER_SEC) * 1000 };

	st->st_mtim = st->st_ctim = st->st_atim = ts;
}

/* Attributes of a file carry the length of its text in snapshot s, for ls
 * and test -s; reads never trust it (direct I/O, see op_open). */
static int file_attr(struct snapshot *s, const struct node *n, struct stat *st)
{
	struct strbuf text = {0};
	int r;

	fill_attr(n, st);
	set_times(s, n, st);
	/* events' size is the bytes of every event so far: it only grows, so
	 * tail -f reads what was added. Control files change on write: read
	 * directly. */
	if (n->kind == N_EVENTS)
		st->st_size = (off_t)events_size();
	if (node_is_dir(n) || n->kind == N_EVENTS || node_is_control(n))
		return 0;
	if (n->kind == N_METRICS) {
		struct shared_text *t = render_prom_cached(s);

		st->st_size = (off_t)t->len;
		shared_text_put(t);
		return 0;
	}
	r = render_node(s, n, &text);
	if (r == 0)
		st->st_size = (off_t)text.len;
	strbuf_free(&text);
	return r;
}

/* Does the node exist in snapshot s? Workload nodes come and go. */
static bool node_exists(const struct snapshot *s, const struct node *n)
{
	if (n->kind != N_WL_DIR && n->kind != N_WL_FILE)
		return true;
	return s && snapshot_find_id(s, n->wid);
}

/* events' size grows with every event: a follower's fstat() must see it
 * at once, so its attributes are never kept in the kernel. */
static double attr_timeout(const struct node *n)
{
	return n->kind == N_EVENTS ? 0 : ENTRY_TIMEOUT;
}

static void reply_entry(fuse_req_t req, struct snapshot *s, const struct node *n)
{
	struct fuse_entry_param e = {
		.ino = node_ino(n),
		.attr_timeout = attr_timeout(n),
		.entry_timeout = ENTRY_TIMEOUT,
	};
	int r = file_attr(s, n, &e.attr);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

/* The node of each of the top level's fixed entries (top_names). */
static const enum node_kind top_kinds[TOP_N] = {
	[TOP_EVENTS] = N_EVENTS, [TOP_METRICS] = N_METRICS, [TOP_HOST] = N_HOST_DIR, [TOP_HOSTS] = N_HOSTS,
};

static int lookup_in(const struct snapshot *s, const struct node *dir, const char *name,
		     struct node *out)
{
	const struct wl_view *w;
	int i;

	switch (dir->kind) {
	case N_ROOT:
		i = top_name_index(name);
		if (i >= 0) {
			*out = (struct node){ .kind = top_kinds[i] };
			return 0;
		}
		w = s ? snapshot_find_name(s, name) : NULL;
		if (!w)
			return -ENOENT;
		*out = (struct node){ .kind = N_WL_DIR, .wid = w->id };
		return 0;
	case N_HOST_DIR:
	case N_WL_DIR:
		i = node_file_index(dir->kind, name);
		if (i < 0)
			return -ENOENT;
		*out = (struct node){ .kind = dir->kind == N_HOST_DIR ? N_HOST_FILE : N_WL_FILE,
				      .file = i, .wid = dir->wid };
		return 0;
	default:
		return -ENOTDIR;
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct snapshot *s = snapshot_get();
	struct node dir, n;
	int r = -ENOENT;

	if (node_from_ino(parent, &dir) && node_exists(s, &dir))
		r = lookup_in(s, &dir, name, &n);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, s, &n);
	snapshot_put(s);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snapshot *s = snapshot_get();
	struct node n;
	struct stat st;
	bool ok = node_from_ino(ino, &n) && node_exists(s, &n);

	int r = ok ? file_attr(s, &n, &st) : -ENOENT;

	(void)fi;
	snapshot_put(s);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, attr_timeout(&n));
}

/* Charge what an open pins to its opener; refused: EMFILE, and one event
 * when the user first reaches the budget. */
static int charge(fuse_req_t req, size_t bytes, uid_t *uid)
{
	bool first;
	int r;

	*uid = fuse_req_ctx(req)->uid;
	r = budget_charge(*uid, bytes, &first);
	if (r < 0 && first)
		events_add("adaptfs", "open refused to uid %u: its open files pin more than %u MiB (EMFILE until it closes some)",
			   (unsigned)*uid, BUDGET_PER_USER >> 20);
	return r;
}

/* A directory listing is taken from one snapshot, held from opendir to
 * releasedir, so that paging through it sees one consistent tree. */
struct open_dir {
	struct snapshot *s;
	uid_t uid;
	size_t charged;
	struct open_dir *prev, *next;	/* all open directories, freed at exit if still open */
};

static struct open_dir *open_dirs;	/* under open_files_lock */

static void open_dir_free(struct open_dir *od)
{
	pthread_mutex_lock(&open_files_lock);
	if (od->prev)
		od->prev->next = od->next;
	else
		open_dirs = od->next;
	if (od->next)
		od->next->prev = od->prev;
	pthread_mutex_unlock(&open_files_lock);
	snapshot_put(od->s);
	budget_release(od->uid, od->charged);
	free(od);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snapshot *s = snapshot_get();
	struct open_dir *od;
	struct node n;
	uid_t uid;
	size_t bytes;

	if (!node_from_ino(ino, &n) || !node_is_dir(&n) || !node_exists(s, &n)) {
		snapshot_put(s);
		fuse_reply_err(req, node_is_dir(&n) ? ENOENT : ENOTDIR);
		return;
	}
	bytes = sizeof *od + snapshot_bytes(s);
	if (charge(req, bytes, &uid) < 0) {
		snapshot_put(s);
		fuse_reply_err(req, EMFILE);
		return;
	}
	od = xmalloc(sizeof *od);
	*od = (struct open_dir){ .s = s, .uid = uid, .charged = bytes };
	pthread_mutex_lock(&open_files_lock);
	od->next = open_dirs;
	if (open_dirs)
		open_dirs->prev = od;
	open_dirs = od;
	pthread_mutex_unlock(&open_files_lock);
	fi->fh = (uintptr_t)od;
	fuse_reply_open(req, fi);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	open_dir_free((struct open_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Files and directories still open when the session ends get no RELEASE
 * (nor RELEASEDIR). */
void ops_free_open_files(void)
{
	while (open_files)
		open_file_free(open_files);
	while (open_dirs)
		open_dir_free(open_dirs);
}

/* Entry i of directory dir in snapshot s; false past the end. */
static bool dir_entry(const struct snapshot *s, const struct node *dir, size_t i,
		      const char **name, struct node *n)
{
	switch (dir->kind) {
	case N_ROOT:
		if (i < TOP_N) {
			*name = top_names[i];
			*n = (struct node){ .kind = top_kinds[i] };
			return true;
		}
		i -= TOP_N;
		if (!s || i >= s->n)
			return false;
		*name = s->wl[i].name;
		*n = (struct node){ .kind = N_WL_DIR, .wid = s->wl[i].id };
		return true;
	case N_HOST_DIR:
		if (i >= HF_COUNT)
			return false;
		*name = host_file_names[i];
		*n = (struct node){ .kind = N_HOST_FILE, .file = (int)i };
		return true;
	case N_WL_DIR:
		if (i >= WF_COUNT)
			return false;
		*name = wl_file_names[i];
		*n = (struct node){ .kind = N_WL_FILE, .file = (int)i, .wid = dir->wid };
		return true;
	default:
		return false;
	}
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	const struct snapshot *s = ((const struct open_dir *)(uintptr_t)fi->fh)->s;
	_cleanup_free_ char *buf = xmalloc(size);
	size_t len = 0;
	struct node dir, n;
	const char *name;

	node_from_ino(ino, &dir);
	/* Offsets 0 and 1 are "." and ".."; entry i sits at offset i + 2. */
	for (off_t i = off;; i++) {
		struct stat st;
		size_t need;

		if (i == 0 || i == 1) {
			name = i == 0 ? "." : "..";
			n = i == 0 ? dir : (struct node){ .kind = N_ROOT };
		} else if (!dir_entry(s, &dir, (size_t)i - 2, &name, &n)) {
			break;
		}
		fill_attr(&n, &st);
		need = fuse_add_direntry(req, buf + len, size - len, name, &st, i + 1);
		if (need > size - len)
			break;
		len += need;
	}
	fuse_reply_buf(req, buf, len);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct snapshot *s = snapshot_get();
	struct open_file *of;
	struct node n;
	int r = -ENOENT;

	if (node_from_ino(ino, &n) && node_exists(s, &n))
		r = node_is_dir(&n) ? -EISDIR :
		    !node_is_control(&n) && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) ?
			    -EACCES : 0;
	if (r < 0) {
		snapshot_put(s);
		fuse_reply_err(req, -r);
		return;
	}
	of = xcalloc(1, sizeof *of);
	of->node = n;
	pthread_mutex_init(&of->lock, NULL);
	if (n.kind == N_EVENTS) {
		/* read by offset from the event stream, see read_events() */
		of->events_end = events_size();
	} else if (n.kind == N_METRICS) {
		of->prom = render_prom_cached(s);
	} else {
		r = render_node(s, &n, &of->text);
	}
	snapshot_put(s);
	of->charged = sizeof *of + (of->prom ? of->prom->len : of->text.cap);
	if (r == 0)
		r = charge(req, of->charged, &of->uid);
	if (r < 0) {
		pthread_mutex_destroy(&of->lock);
		strbuf_free(&of->text);
		shared_text_put(of->prom);
		free(of);
		fuse_reply_err(req, -r);
		return;
	}
	of->fresh = true;
	/* Live text goes around the page cache: the kernel's cached size and
	 * pages are shared by every opener, the text is per open and changes
	 * with every snapshot, so a cached size could cut a text short. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->fh = (uintptr_t)of;
	open_files_link(of);
	fuse_reply_open(req, fi);
}

static int rerender(struct open_file *of)
{
	struct snapshot *s = snapshot_get();
	int r;

	if (of->prom) {
		if (!s)
			return -EAGAIN;
		shared_text_put(of->prom);
		of->prom = render_prom_cached(s);
		snapshot_put(s);
	} else {
		strbuf_reset(&of->text);
		r = s ? render_node(s, &of->node, &of->text) : -EAGAIN;
		snapshot_put(s);
		if (r < 0)
			return r;
	}
	/* the same open, a new text: charged as it is, never refused */
	budget_release(of->uid, of->charged);
	of->charged = sizeof *of + (of->prom ? of->prom->len : of->text.cap);
	budget_force(of->uid, of->charged);
	return 0;
}

/* events is read by offset over the stream of lines (file offset + skip =
 * stream offset), so tail -f finds at its old size what was added since.
 * A read before the kept lines (cat from 0 on a long-running daemon, a
 * follower more than EVENTS_MAX lines behind) continues at the oldest kept
 * line; the skip keeps that open's later offsets in step. */
static void read_events(fuse_req_t req, struct open_file *of, size_t size, off_t off)
{
	_cleanup_free_ char *buf = xmalloc(size ? size : 1);
	uint64_t pos = (uint64_t)off + of->events_skip;
	size_t n = events_read(&pos, buf, size);

	of->events_skip = pos - (uint64_t)off;
	of->events_end = pos + n;
	fuse_reply_buf(req, buf, n);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	const char *buf;
	size_t len;
	int r = 0;

	(void)ino;
	pthread_mutex_lock(&of->lock);
	if (of->node.kind == N_EVENTS) {
		read_events(req, of, size, off);
		pthread_mutex_unlock(&of->lock);
		return;
	}
	/* Offset 0 renders from the current snapshot (the first read uses the
	 * text rendered at open); later offsets slice the same text so one
	 * read(2) loop sees one consistent file. */
	if (off == 0 && !of->fresh)
		r = rerender(of);
	of->fresh = false;
	buf = of->prom ? of->prom->buf : of->text.buf;
	len = of->prom ? of->prom->len : of->text.len;
	if (r < 0)
		fuse_reply_err(req, -r);
	else if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - (size_t)off < size ? len - (size_t)off : size);
	pthread_mutex_unlock(&of->lock);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)ino;
	/* The kernel may send RELEASE as soon as a READ's reply reached it,
	 * while the replying thread is still returning from writev() with our
	 * buffer: wait for it. No request for this handle can follow. */
	pthread_mutex_lock(&of->lock);
	pthread_mutex_unlock(&of->lock);
	open_file_free(of);
	fuse_reply_err(req, 0);
}

/* class, mode and placement wake a poller when their value changes, as
 * kernfs does for cgroup.events. */
static bool node_watched(const struct node *n)
{
	return n->kind == N_WL_FILE &&
	       (n->file == WF_CLASS || n->file == WF_MODE || n->file == WF_PLACEMENT);
}

/* Does the file read differently in s than what this open last read (or
 * rendered at open)? A vanished workload counts as a change: the next read
 * fails with ENOENT. */
static bool watched_changed(struct open_file *of, struct snapshot *s)
{
	struct strbuf now = {0};
	bool changed;

	pthread_mutex_lock(&of->lock);
	changed = !s || render_node(s, &of->node, &now) < 0 || now.len != of->text.len ||
		  memcmp(now.buf, of->text.buf, now.len) != 0;
	pthread_mutex_unlock(&of->lock);
	strbuf_free(&now);
	return changed;
}

/* Keep ph as this open's handle for a later wake-up (the newest wins). */
static void keep_pollhandle(struct open_file *of, struct fuse_pollhandle **ph)
{
	if (!*ph)
		return;
	if (of->ph)
		fuse_pollhandle_destroy(of->ph);
	of->ph = *ph;
	*ph = NULL;
}

/* events supports poll() as cgroup.events does: readable only once the
 * stream has bytes past the end of this open's last read (or its open),
 * however often a reader polls and times out. class, mode and placement
 * are always readable, and add POLLPRI | POLLERR once their text differs
 * from what this open last read, as kernfs's cgroup.events. The check and
 * the registration are one step under poll_lock: a change between them
 * still finds the handle, since its wake-up takes poll_lock after the
 * change. Other files are always readable. */
static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	unsigned revents = POLLIN | POLLRDNORM;

	(void)ino;
	if (node_watched(&of->node)) {
		struct snapshot *s;

		pthread_mutex_lock(&poll_lock);
		s = snapshot_get();
		if (watched_changed(of, s))
			revents |= POLLPRI | POLLERR;
		else
			keep_pollhandle(of, &ph);
		pthread_mutex_unlock(&poll_lock);
		snapshot_put(s);
	} else if (of->node.kind == N_EVENTS) {
		pthread_mutex_lock(&of->lock);
		uint64_t end = of->events_end;

		pthread_mutex_unlock(&of->lock);
		pthread_mutex_lock(&poll_lock);
		if (events_size() <= end) {
			revents = 0;
			keep_pollhandle(of, &ph);
		}
		pthread_mutex_unlock(&poll_lock);
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, revents);
}

static void wake(struct open_file *of)
{
	fuse_lowlevel_notify_poll(of->ph);
	fuse_pollhandle_destroy(of->ph);
	of->ph = NULL;
}

/* A new event: wake the pollers of events (the others wait for a change). */
static void wake_pollers(void)
{
	pthread_mutex_lock(&open_files_lock);
	pthread_mutex_lock(&poll_lock);
	for (struct open_file *of = open_files; of; of = of->next)
		if (of->ph && of->node.kind == N_EVENTS)
			wake(of);
	pthread_mutex_unlock(&poll_lock);
	pthread_mutex_unlock(&open_files_lock);
}

/* A new snapshot or a done write: wake the pollers of class, mode and
 * placement files that now read differently. After a publish it runs after
 * the swap, so a poll that took the old snapshot has registered its handle
 * by the time this takes poll_lock. */
static void wake_changed(void)
{
	struct snapshot *s = snapshot_get();

	pthread_mutex_lock(&open_files_lock);
	pthread_mutex_lock(&poll_lock);
	for (struct open_file *of = open_files; of; of = of->next)
		if (of->ph && node_watched(&of->node) && watched_changed(of, s))
			wake(of);
	pthread_mutex_unlock(&poll_lock);
	pthread_mutex_unlock(&open_files_lock);
	snapshot_put(s);
}

/* Nothing in the tree is created, removed or renamed by users. Control
 * files accept the truncation that "echo x > file" asks for (each write is
 * a whole command; there is nothing to truncate). */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct node n;
	struct stat st;

	(void)fi;
	if (node_from_ino(ino, &n) && node_is_control(&n) && to_set == FUSE_SET_ATTR_SIZE &&
	    attr->st_size == 0) {
		fill_attr(&n, &st);
		fuse_reply_attr(req, &st, ENTRY_TIMEOUT);
		return;
	}
	fuse_reply_err(req, EACCES);
}

struct pending_write {
	fuse_req_t req;
	size_t size;
};

/* The outcome of a queued action: the write returns only now, after the
 * pollers of what it changed are woken. */
static void write_done(void *ctx, int err)
{
	struct pending_write *pw = ctx;

	if (err < 0) {
		fuse_reply_err(pw->req, -err);
	} else {
		wake_changed();
		fuse_reply_write(pw->req, pw->size);
	}
	free(pw);
}

static const enum control_file control_of[WF_COUNT] = {
	[WF_PLACEMENT] = CTL_PLACEMENT, [WF_MODE] = CTL_MODE, [WF_PREFETCH] = CTL_PREFETCH,
};

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	struct snapshot *s = snapshot_get();
	const struct wl_view *w = s ? snapshot_find_id(s, of->node.wid) : NULL;
	struct pending_write *pw;
	int r;

	(void)ino, (void)off;
	if (!node_is_control(&of->node) || !w) {
		snapshot_put(s);
		fuse_reply_err(req, w ? EACCES : ENOENT);
		return;
	}
	pw = xmalloc(sizeof *pw);
	*pw = (struct pending_write){ req, size };
	r = control_write(s, w, control_of[of->node.file], buf, size, write_done, pw);
	snapshot_put(s);
	if (r != 0) {
		free(pw);
		if (r < 0) {
			fuse_reply_err(req, -r);
		} else {
			/* a setting (auto, prefetch) changed at once */
			wake_changed();
			fuse_reply_write(req, size);
		}
	}
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EPERM);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EPERM);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EPERM);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EPERM);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EPERM);
}

/* Tell the kernel to forget names of workloads that just vanished, so that a
 * cached dentry never leads to a dead workload's inode. */
static void on_publish(const struct snapshot *old, const struct snapshot *cur)
{
	for (size_t i = 0; i < old->n; i++) {
		const struct wl_view *w = &old->wl[i];
		const struct wl_view *now = snapshot_find_name(cur, w->name);

		if (session && (!now || now->id != w->id))
			fuse_lowlevel_notify_inval_entry(session, ROOT_INO, w->name, strlen(w->name));
	}
	wake_changed();
}

void ops_attach_session(struct fuse_session *se)
{
	session = se;
	snapshot_set_publish_hook(on_publish);
	events_set_hook(wake_pollers);
}

void ops_detach_session(void)
{
	snapshot_set_publish_hook(NULL);
	events_set_hook(NULL);
	session = NULL;
}

const struct fuse_lowlevel_ops adaptfs_ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.poll = op_poll,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.rename = op_rename,
	.create = op_create,
	.symlink = op_symlink,
	.link = op_link,
};

/*
 * --jobs (jobs.h). Each child has a pipe of its own and writes one
 * struct camp_result per run (smaller than PIPE_BUF, so every write is
 * whole); the parent polls the pipes, so progress follows the fastest
 * child, and reaps the children when every pipe is closed. A child that
 * cannot run exits with the vmm status as its exit code after printing
 * why on the shared stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "jobs.h"
#include "../traces/db.h"
#include "../traces/merge.h"

#define MAX_JOBS 64

/* Collects results in memory, then passes them on. */
struct collect {
	struct camp_result *r;
	int *job;                 /* which part each result came from */
	size_t n, cap;
	camp_run_fn *fn;
	void *ctx;
	int cur_job;
};

/* camp_run_fn: appends one result. */
static void collect_one(void *ctx, const struct camp_result *r)
{
	struct collect *c = ctx;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct camp_result *nr = realloc(c->r, cap * sizeof(*nr));
		int *nj = nr ? realloc(c->job, cap * sizeof(*nj)) : NULL;
		if (nr)
			c->r = nr;
		if (!nj)
			return;           /* out of memory: the run is still in the database */
		c->job = nj;
		c->cap = cap;
	}
	c->job[c->n] = c->cur_job;
	c->r[c->n++] = *r;
	if (c->fn)
		c->fn(c->ctx, r);
}

/* Orders results by run index. */
static int by_index(const void *a, const void *b)
{
	const struct camp_result *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* camp_run_fn in a child: sends the result to the parent. */
static void send_one(void *ctx, const struct camp_result *r)
{
	int fd = *(int *)ctx;
	while (write(fd, r, sizeof(*r)) < 0 && errno == EINTR)
		;
}

/* Removes a database part and its WAL files. */
static void remove_part(const char *path)
{
	char buf[4200];
	unlink(path);
	snprintf(buf, sizeof(buf), "%s-wal", path);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-shm", path);
	unlink(buf);
}

/* Merges the parts into db, renumbering the results' run ids. Returns 0
 * or a vmm status with err set. */
static int merge_parts(const char *db, char parts[][4096], int jobs, struct collect *col, char *err,
		       size_t errlen)
{
	sqlite3 *out;
	int rc = db__open(&out, db, err, errlen);
	for (int j = 0; !rc && j < jobs; j++) {
		struct merge_run *map;
		size_t n;
		if (access(parts[j], F_OK))
			continue;        /* a job without runs made no database */
		rc = merge__db(out, parts[j], &map, &n, err, errlen);
		if (rc)
			break;
		for (size_t i = 0; i < col->n; i++) {
			if (col->job[i] != j)
				continue;
			for (size_t k = 0; k < n; k++)
				if (map[k].from == col->r[i].run_id)
					col->r[i].run_id = map[k].to;
		}
		free(map);
	}
	if (out)
		sqlite3_close(out);
	if (rc)
		return rc == -ENOMEM || rc == -ENOSPC || rc == -EIO ? 3 : 2;
	for (int j = 0; j < jobs; j++)
		remove_part(parts[j]);
	return 0;
}

/* Reads the children's results until every pipe is closed. */
static void gather(int *fds, int jobs, struct collect *col)
{
	struct pollfd pfd[MAX_JOBS];
	struct camp_result buf[MAX_JOBS];
	size_t got[MAX_JOBS] = { 0 };
	int open_fds = jobs;
	for (int j = 0; j < jobs; j++)
		pfd[j] = (struct pollfd){ .fd = fds[j], .events = POLLIN };
	while (open_fds) {
		if (poll(pfd, (nfds_t)jobs, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int j = 0; j < jobs; j++) {
			if (pfd[j].fd < 0 || !pfd[j].revents)
				continue;
			ssize_t r = read(pfd[j].fd, (char *)&buf[j] + got[j], sizeof(buf[j]) - got[j]);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(pfd[j].fd);
				pfd[j].fd = -1;
				open_fds--;
				continue;
			}
			got[j] += (size_t)r;
			if (got[j] == sizeof(buf[j])) {
				col->cur_job = j;
				collect_one(col, &buf[j]);
				got[j] = 0;
			}
		}
	}
}

int campaign__run_jobs(const struct campaign_cfg *c, const char *image, const char *db,
		       const struct camp_slice *slice, int jobs, camp_run_fn *fn, void *ctx, struct camp_result **out,
		       size_t *n, char *err, size_t errlen)
{
	struct collect col = { .fn = fn, .ctx = ctx };
	int status = 0;
	*out = NULL;
	*n = 0;
	if (jobs < 1 || jobs > MAX_JOBS) {
		snprintf(err, errlen, "--jobs %d: expected 1..%d", jobs, MAX_JOBS);
		return 2;
	}
	if (jobs == 1) {
		struct camp_slice s = *slice;
		s.job = 0;
		s.jobs = 1;
		status = campaign__run(c, image, db, &s, collect_one, &col, err, errlen);
	} else {
		static char parts[MAX_JOBS][4096];
		int fds[MAX_JOBS];
		pid_t pids[MAX_JOBS];
		fflush(NULL);
		for (int j = 0; j < jobs; j++) {
			int p[2];
			snprintf(parts[j], sizeof(parts[j]), "%s.part%d", db, j);
			remove_part(parts[j]);
			if (pipe(p) < 0 || (pids[j] = fork()) < 0) {
				snprintf(err, errlen, "cannot start job %d: %s", j, strerror(errno));
				jobs = j;     /* reap those started */
				status = 3;
				break;
			}
			if (pids[j] == 0) {
				for (int k = 0; k < j; k++)
					close(fds[k]);
				close(p[0]);
				struct camp_slice s = *slice;
				s.job = (uint64_t)j;
				s.jobs = (uint64_t)jobs;
				char cerr[512];
				int st = campaign__run(c, image, parts[j], &s, send_one, &p[1], cerr, sizeof(cerr));
				if (st)
					fprintf(stderr, "devirt campaign: job %d: %s\n", j, cerr);
				_exit(st);
			}
			close(p[1]);
			fds[j] = p[0];
		}
		gather(fds, jobs, &col);
		for (int j = 0; j < jobs; j++) {
			int ws;
			while (waitpid(pids[j], &ws, 0) < 0 && errno == EINTR)
				;
			int st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 3;
			if (st && !status) {
				status = st;
				snprintf(err, errlen, "job %d %s (its database part %s is kept)", j,
					 WIFEXITED(ws) ? "could not run its share" : "was killed", parts[j]);
			}
		}
		if (!status)
			status = merge_parts(db, parts, jobs, &col, err, errlen);
	}
	if (status) {
		free(col.r);
		free(col.job);
		return status;
	}
	qsort(col.r, col.n, sizeof(*col.r), by_index);
	free(col.job);
	*out = col.r;
	*n = col.n;
	return 0;
}

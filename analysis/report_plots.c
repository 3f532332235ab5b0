/*
 * PNG plots through gnuplot: the data files and a script (plots.gp) are
 * written into the output directory and gnuplot runs there as a child
 * process, so the directory is self-contained: edit plots.gp and run
 * `gnuplot plots.gp` there to restyle. Three PNGs:
 *   switch-latency-cdf.png  CDF of switch latency per device (virtual time)
 *   pause-length-cdf.png    CDF of pause length per kind
 *   exit-rate.png           exits per second of virtual time, one panel per
 *                           run for the first few runs
 * Latencies span decades, so x is logarithmic and zero (a switch that took
 * no virtual time) is drawn at a floor the axis label states.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "report_int.h"

#define CDF_POINTS 2000       /* points per CDF curve (quantiles of larger series) */
#define RATE_BINS 200         /* bins per exit-rate panel, at most */
#define RATE_PER_BIN 50       /* exits per bin, at least (fewer make the rate jitter by quantisation) */

/* Returns 1 if an executable gnuplot is on PATH (as execlp will find it). */
int report__have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[4096];
	if (!path)
		path = "/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(buf, sizeof(buf), "%.*s/gnuplot", (int)n, n ? p : ".");
		if (!access(buf, X_OK))
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

/* Copies s into buf as a file-name part (letters, digits, - and _). */
static const char *fname(char *buf, size_t len, const char *s)
{
	size_t i = 0;
	for (; s[i] && i + 1 < len; i++)
		buf[i] = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			 (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ? s[i] : '_';
	buf[i] = 0;
	return buf;
}

/* Writes s as a gnuplot single-quoted string ('' is a quote there). */
static void gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* Opens dir/name for writing as *f. Returns 0, or -errno with r->err set. */
static int open_in(struct rp *r, const char *dir, const char *name, FILE **f)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*f = fopen(path, "w");
	return *f ? 0 : rp_syserr(r, path, -errno);
}

/* Writes one CDF plot: a data file per series (x in us, floored for the
 * log axis; y the fraction <= x) and its plot command into gp; what names
 * the x axis, none what is missing when there is nothing to plot. */
static int cdf(struct rp *r, FILE *gp, const char *dir, const char *png, const char *prefix, const char *title,
	       const char *what, const char *none, const struct rp_series *s, int ns)
{
	int64_t lo = 0;
	for (int i = 0; i < ns; i++)
		for (size_t k = 0; k < s[i].n; k++)
			if (s[i].v[k] > 0 && (!lo || s[i].v[k] < lo))
				lo = s[i].v[k];
	double floor_us = lo ? (double)lo / 1e3 / 10 : 0.1;
	fprintf(gp, "\nset output '%s'\nset title ", png);
	gp_str(gp, title);
	fprintf(gp, "\nset xlabel '%s (us of virtual time, log scale; zero drawn at %g us)'\n"
		"set ylabel 'fraction <= x'\nset logscale x\nset yrange [0:1.02]\nset key bottom right\n",
		what, floor_us);
	if (!ns) {
		fprintf(gp, "set label 1 'nothing to plot: no %s in this database' at graph 0.5,0.5 center\n"
			"plot [0.1:10] NaN notitle\nunset label 1\nunset logscale x\nset autoscale\n", none);
		return 0;
	}
	fputs("plot", gp);
	for (int i = 0; i < ns; i++) {
		char part[64], name[160];
		snprintf(name, sizeof(name), "%s-%s.dat", prefix, fname(part, sizeof(part), s[i].name));
		FILE *d;
		int rc = open_in(r, dir, name, &d);
		if (rc)
			return rc;
		size_t m = s[i].n < CDF_POINTS ? s[i].n : CDF_POINTS;
		for (size_t k = 0; k < m; k++) {
			size_t j = m == s[i].n ? k : k * (s[i].n - 1) / (m - 1);
			double x = (double)s[i].v[j] / 1e3;
			fprintf(d, "%.6g %.6g\n", x > floor_us ? x : floor_us, (double)(j + 1) / (double)s[i].n);
		}
		if (fclose(d))
			return rp_syserr(r, name, -errno);
		char title2[160];
		snprintf(title2, sizeof(title2), "%s (%zu)", s[i].name, s[i].n);
		fprintf(gp, "%s '%s' using 1:2 with steps lw 2 title ", i ? ", \\\n    " : " ", name);
		gp_str(gp, title2);
	}
	fputs("\nunset logscale x\nset autoscale\n", gp);
	return 0;
}

/* Writes run's exits-per-second data file and its panel into gp. */
static int rate_panel(struct rp *r, FILE *gp, const char *dir, const struct rp_run *run)
{
	uint64_t bin[RATE_BINS] = { 0 };
	sqlite3_stmt *st;
	int rc = rp_prepare(r, &st, "SELECT vtime_ns FROM access WHERE run = ?1"
			    " UNION ALL SELECT vtime_ns FROM halt WHERE run = ?1");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, run->id);
	double end = run->end_vt > 0 ? (double)run->end_vt : 1;
	int nb = run->exits == RP_NULL || run->exits / RATE_PER_BIN > RATE_BINS ? RATE_BINS
		 : run->exits / RATE_PER_BIN < 10 ? 10 : (int)(run->exits / RATE_PER_BIN);
	while ((rc = rp_step(r, st)) == SQLITE_ROW) {
		double b = (double)sqlite3_column_int64(st, 0) * nb / end;
		bin[b < 0 ? 0 : b >= nb ? nb - 1 : (int)b]++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return rc;
	char name[64], title[256];
	snprintf(name, sizeof(name), "exits-run%lld.dat", (long long)run->id);
	FILE *d;
	if ((rc = open_in(r, dir, name, &d)))
		return rc;
	double w = end / nb;   /* ns */
	for (int i = 0; i < nb; i++)
		fprintf(d, "%.6g %.6g\n", i * w / 1e6, (double)bin[i] / (w / 1e9));
	fprintf(d, "%.6g %.6g\n", end / 1e6, (double)bin[nb - 1] / (w / 1e9));   /* closes the last step */
	if (fclose(d))
		return rp_syserr(r, name, -errno);
	snprintf(title, sizeof(title), "run %lld: %s (%s)", (long long)run->id, run->guest,
		 run->verdict ? run->verdict : "unfinished");
	fputs("set title ", gp);
	gp_str(gp, title);
	fprintf(gp, "\nplot '%s' using 1:2 with steps lw 1.5 lc rgb '#1e88e5' notitle\n", name);
	return 0;
}

/* Writes the exit-rate multiplot for the first runs into gp. */
static int rates(struct rp *r, FILE *gp, const char *dir)
{
	int64_t *ids;
	size_t n;
	int rc = rp_run_ids(r, &ids, &n);
	if (rc)
		return rc;
	int panels = (int)(n < (size_t)r->o->max_runs ? n : (size_t)r->o->max_runs);
	if (panels > REPORT_MAX_PANELS)
		panels = REPORT_MAX_PANELS;
	fprintf(gp, "\nset terminal @TERM size 900,%d\nset output 'exit-rate.png'\n"
		"set xlabel 'virtual time (ms)'\nset ylabel 'exits per second'\nset format y '%%.1s%%c'\n"
		"set yrange [0:*]\n",
		60 + 220 * (panels ? panels : 1));
	if (!panels) {
		fprintf(gp, "set title 'exits per second'\nset label 1 '%s' at graph 0.5,0.5 center\n"
			"plot [0:1][0:1] NaN notitle\nunset label 1\n",
			n ? "no run asked for (--max-runs 0)" : "no runs in this database");
	} else {
		fprintf(gp, "set multiplot layout %d,1 title 'Exits per second of virtual time (first %d of %zu runs)'\n",
			panels, panels, n);
		for (int i = 0; !rc && i < panels; i++) {
			struct rp_run run;
			rc = rp_run_load(r, ids[i], 0, &run);
			if (!rc)
				rc = rate_panel(r, gp, dir, &run);
			rp_run_free(&run);
		}
		fputs("unset multiplot\n", gp);
	}
	free(ids);
	return rc;
}

/* Runs gnuplot on dir/plots.gp with dir as its working directory.
 * Returns 0, -ENOENT (no gnuplot) or -EPROTO (its first output line in err). */
static int run_gnuplot(struct rp *r, const char *dir)
{
	int pfd[2];
	if (pipe(pfd))
		return rp_syserr(r, "pipe", -errno);
	pid_t pid = fork();
	if (pid < 0)
		return rp_syserr(r, "fork", -errno);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		if (chdir(dir))
			_exit(126);
		execlp("gnuplot", "gnuplot", "plots.gp", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char out[1024];
	size_t got = 0;
	ssize_t k;
	while ((k = read(pfd[0], out + got, sizeof(out) - 1 - got)) > 0 || (k < 0 && errno == EINTR))
		got += k > 0 ? (size_t)k : 0;
	out[got] = 0;
	while (read(pfd[0], (char[256]){ 0 }, 256) > 0)
		;
	close(pfd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
		snprintf(r->err, r->errlen, "gnuplot could not be run (Debian: apt-get install gnuplot-nox)");
		return -ENOENT;
	}
	/* gnuplot's message: the last non-empty line usually names the problem */
	char *nl;
	while (got && (out[got - 1] == '\n' || out[got - 1] == ' '))
		out[--got] = 0;
	char *last = (nl = strrchr(out, '\n')) ? nl + 1 : out;
	snprintf(r->err, r->errlen, "gnuplot failed on %s/plots.gp: %s", dir, *last ? last : "(no output)");
	return -EPROTO;
}

/* Writes plots.gp and the data files into dir. Returns 0 or -errno. */
static int script(struct rp *r, const char *dir)
{
	FILE *gp;
	int rc = open_in(r, dir, "plots.gp", &gp);
	if (rc)
		return rc;
	fputs("# devirt report: plots of ", gp);
	gp_str(gp, r->dbname);
	fputs("\n# redraw with `gnuplot plots.gp` in this directory\n"
	      "TERM = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'\n"
	      "set terminal @TERM size 900,540\nset termoption noenhanced\nset grid\n", gp);
	struct rp_series *s;
	int ns;
	rc = rp_latencies(r, 0, &s, &ns);
	if (!rc) {
		rc = cdf(r, gp, dir, "switch-latency-cdf.png", "switch-latency",
			 "Switch latency (completed - requested), CDF per device", "switch latency",
			 "completed switches", s, ns);
		rp_series_free(s, ns);
	}
	if (!rc && !(rc = rp_pauses(r, 0, &s, &ns))) {
		rc = cdf(r, gp, dir, "pause-length-cdf.png", "pause", "Pause length, CDF per kind", "pause length",
			 "pauses", s, ns);
		rp_series_free(s, ns);
	}
	if (!rc)
		rc = rates(r, gp, dir);
	if (fclose(gp) && !rc)
		rc = rp_syserr(r, "plots.gp", -errno);
	return rc;
}

/* Creates dir, writes the data and script there, runs gnuplot. Returns 0 or -errno. */
int report__plots(sqlite3 *db, const char *dbname, const char *dir, const struct report_opts *o,
		  char *err, size_t errlen)
{
	struct rp r = { .db = db, .dbname = dbname, .o = o, .err = err, .errlen = errlen };
	if (mkdir(dir, 0777) && errno != EEXIST)
		return rp_syserr(&r, dir, -errno);
	int rc = script(&r, dir);
	if (!rc)
		rc = run_gnuplot(&r, dir);
	rp_free(&r);
	return rc;
}

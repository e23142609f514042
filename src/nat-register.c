/*
 * nat-register: register this peer's profile with rendezvous servers,
 * stay online, and print what happens as records (nat(7) PROTOCOL).
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

#include <libwebsockets.h>

#include "budget.h"
#include "cli.h"
#include "exits.h"
#include "ident.h"
#include "log.h"
#include "offer.h"
#include "record.h"
#include "rv.h"
#include "term.h"
#include "version.h"

static const char usage_line[] =
    "usage: nat-register [-hjqrVv] [-e command] [-m count] [-N name] "
    "[-s url ...]\n";

static int verbose, json, nchildren, max_children = 8;
static struct tech_aims aims;	/* attempts started toward each address */
static const char *command;
static volatile sig_atomic_t got_term;
static struct rv_client *client;
static struct ident id;
static struct offer_seen seen;	/* requests, until they expire */
static long long replays, started;

static void
on_signal(int sig)
{
	if (sig != SIGCHLD)
		got_term = 1;
	if (client != NULL)
		rv_client_interrupt(client);
}

/* Prints one record and flushes: every line is an event someone waits for. */
static void
emit(struct record *r)
{
	const char *line;

	if ((line = record_end(r)) == NULL) {
		warn("record");
		return;
	}
	if (fputs(line, stdout) == EOF || fflush(stdout) == EOF) {
		warn("stdout");
		got_term = 1;		/* nobody reads the events: stop */
		rv_client_interrupt(client);
	}
}

/* Runs the command with the request record on its standard input, as
 * inetd would; its output goes to our standard error. */
static void
spawn(const char *line)
{
	size_t len = strlen(line), off = 0;
	ssize_t n;
	pid_t pid;
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1) {
		warn("pipe");
		return;
	}
	if ((pid = fork()) == -1) {
		warn("fork");
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		if (dup2(p[0], STDIN_FILENO) == -1 ||
		    dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
			_exit(EX_OSERR);
		close_range(3, ~0U, 0);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	nchildren++;
	log_say(NULL, "started command, pid %ld", (long)pid);
	close(p[0]);
	/* One record is far less than a pipe holds: this does not block. */
	while (off < len && (n = write(p[1], line + off, len - off)) > 0)
		off += (size_t)n;
	close(p[1]);
}

static void
reap(void)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		nchildren--;
		if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
			warnx("command (pid %ld) exited %d", (long)pid,
			    WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			warnx("command (pid %ld) killed by signal %d",
			    (long)pid, WTERMSIG(st));
	}
}

/* Says why a request was neither printed nor run. */
static void
dropped(const struct rv_event *ev, const char *why)
{
	warnx("%s: request from %s: %s; dropped", ev->server->base,
	    TERM_SAFE(ev->from), TERM_SAFE(why));
}

/* The same for a request that verified, with a refused record whose
 * reason is a word for programs. */
static void
refused(const struct rv_event *ev, const struct offer *o, const char *reason,
    const char *why)
{
	struct record r;

	dropped(ev, why);
	record_begin(&r, json, "refused");
	record_str(&r, "from", o->from);
	record_str(&r, "nonce", o->nonce);
	record_str(&r, "reason", reason);
	emit(&r);
}

/*
 * A request, opened: it must verify as an offer to this peer, signed by
 * the peer the server says sent it, and be new: made after this run
 * began (its expiry OFFER_EXPIRES_S after), and not seen before, so that
 * a request runs at most once.  It is printed as it was signed, type
 * first, and passed to -e.
 */
static void
on_request(const struct rv_event *ev, const struct record_in *b)
{
	static struct offer o;
	char w[OFFER_WHY_LEN], signer[IDENT_ID_LEN + 1];
	long long now = (long long)time(NULL);
	struct record r;
	size_t i;

	snprintf(signer, sizeof(signer), "%.*s", (int)strcspn(ev->from, "/"),
	    ev->from);
	if (offer_verify(&o, b, 0, id.id, signer, NULL, now, w) == -1) {
		dropped(ev, w);
		return;
	}
	/* Made before this run began: a previous one may have run it. */
	if (o.expires - OFFER_EXPIRES_S < started) {
		snprintf(w, sizeof(w), "made %lld s before nat-register "
		    "started: a replay, or the sender's clock is behind",
		    started - (o.expires - OFFER_EXPIRES_S));
		dropped(ev, w);
		return;
	}
	if (offer_seen_add(&seen, &o, now) == -1) {
		if (errno == EALREADY) {
			replays++;
			log_say(NULL, "%s: request %s from %s seen before (a "
			    "replay, or another server's copy; %lld so far); "
			    "dropped", ev->server->base, o.nonce, ev->from,
			    replays);
			return;
		}
		snprintf(w, sizeof(w), "more requests live than the replay "
		    "cache holds (%d)", OFFER_SEEN_MAX);
		refused(ev, &o, "full", w);
		return;
	}
	if (command != NULL && nchildren >= max_children) {
		snprintf(w, sizeof(w), "busy: %d commands running (-m %d)",
		    nchildren, max_children);
		refused(ev, &o, "busy", w);
		return;
	}
	/* An attempt sends where the request's candidates say: no more
	 * than TECH_AIMS_MINUTE a minute toward any one address (budget.h). */
	if (command != NULL && tech_aims_take(&aims, o.cand, o.ncand, now, w,
	    sizeof(w)) == -1) {
		refused(ev, &o, "budget", w);
		return;
	}
	record_begin(&r, json, "request");
	for (i = 0; i < b->n; i++)
		if (strcmp(b->key[i], "type") != 0)
			record_str(&r, b->key[i], b->val[i]);
	emit(&r);
	if (command != NULL && r.err == 0)
		spawn(r.buf);
}

/* A request arrives sealed to this peer's key, and is handled opened;
 * anything else as a signal record with the body's type and from
 * renamed. */
static void
on_signal_event(const struct rv_event *ev)
{
	static struct record_in opened;
	const struct record_in *b = ev->body;
	const char *t, *k;
	char w[OFFER_WHY_LEN];
	size_t i;
	struct record r;

	if (b == NULL) {
		warnx("%s: signal from %s is not a record; dropped",
		    ev->server->base, TERM_SAFE(ev->from));
		return;
	}
	t = record_get(b, "type");
	if (strcmp(t, "sealed") == 0) {
		if (offer_open(&opened, b, &id, w) == -1) {
			warnx("%s: sealed signal from %s: %s; dropped",
			    ev->server->base, TERM_SAFE(ev->from),
			    TERM_SAFE(w));
			return;
		}
		b = &opened;
		t = record_get(b, "type");
		if (strcmp(t, "request") == 0) {
			on_request(ev, b);
			return;
		}
	} else if (strcmp(t, "request") == 0) {
		dropped(ev, "not sealed to this peer's key (an older "
		    "natkit?)");
		return;
	}
	record_begin(&r, json, "signal");
	record_str(&r, "from", ev->from);
	for (i = 0; i < b->n; i++) {
		k = b->key[i];
		if (strcmp(k, "type") == 0)
			k = "body-type";
		else if (strcmp(k, "from") == 0)
			k = "body-from";
		record_str(&r, k, b->val[i]);
	}
	emit(&r);
}

static void
on_event(void *arg, const struct rv_event *ev)
{
	struct record r;

	(void)arg;
	switch (ev->type) {
	case RV_EV_WELCOME:
		log_say(NULL, "%s: authenticated", ev->server->base);
		break;
	case RV_EV_REGISTERED:
	case RV_EV_REREGISTERED:
		record_begin(&r, json, ev->type == RV_EV_REGISTERED ?
		    "registered" : "reregistered");
		record_str(&r, "id", ev->id);
		record_str(&r, "server", ev->server->base);
		record_int(&r, "seq", ev->seq);
		emit(&r);
		break;
	case RV_EV_SIGNAL:
		on_signal_event(ev);
		break;
	case RV_EV_ERROR:
		warnx("%s: %s%s%s", ev->server->base, TERM_SAFE(ev->code),
		    ev->reason != NULL ? ": " : "",
		    ev->reason != NULL ? TERM_SAFE(ev->reason) : "");
		break;
	case RV_EV_LOST:
		record_begin(&r, json, "lost");
		record_str(&r, "server", ev->server->base);
		record_str(&r, "reason", ev->reason);
		emit(&r);
		break;
	case RV_EV_RETRY:
		/* A server that cannot be reached is said, with the wait:
		 * a mistyped name is not a silent retry forever. */
		warnx("%s: %s; trying again in %.1f s", ev->server->base,
		    TERM_SAFE(ev->reason), ev->retry_ms / 1000.0);
		break;
	}
}

/* Reads the profile: the first record on stdin, which must be one. */
static void
read_profile(struct record_in *in)
{
	char line[RECORD_MAX + 2];
	const char *t;
	int n = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		n++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (strchr(line, '\n') == NULL && !feof(stdin))
			errx(EX_DATAERR, "stdin:%d: line too long", n);
		if (record_parse(in, line) == -1)
			errx(EX_DATAERR, "stdin:%d: %s", n, in->error);
		if (strcmp(t = record_get(in, "type"), "profile") != 0)
			errx(EX_DATAERR, "stdin:%d: a %s record, not a profile",
			    n, t);
		return;
	}
	if (ferror(stdin))
		err(EX_IOERR, "stdin");
	errx(EX_DATAERR, "stdin: no profile record (pipe nat-probe in)");
}

/* The options (nat(7) OPTIONS). */
static const struct cli_opt opts[] = {
	{ 'e', 'e', "exec", "command", "run command for each request", 0 },
	{ 'h', 'h', "help", NULL, "print this summary and exit", 0 },
	{ 'j', 'j', "json", NULL, "write JSON records", 0 },
	{ 'm', 'm', "max-commands", "count", "commands at once at most", 0 },
	{ 'N', 'N', "name", "name", "register under this name", 0 },
	{ 'N', 'n', NULL, "name", NULL, CLI_OLD },
	{ 'q', 'q', "quiet", NULL, "only errors on stderr (the default)", 0 },
	{ 'r', 'r', "records", NULL, "write key=value records (the default)",
	    0 },
	{ 's', 's', "server", "url", "a rendezvous server (repeatable)", 0 },
	{ 'V', 'V', "version", NULL, "print the version and exit", 0 },
	{ 'v', 'v', "verbose", NULL, "say what is tried (repeatable)", 0 },
	{ 0, 0, NULL, NULL, NULL, 0 }
};

int
main(int argc, char **argv)
{
	struct cli cli = { .prog = "nat-register", .usage = usage_line,
	    .opts = opts };
	static struct record_in profile;
	struct rv_url url[RV_MAX_SERVERS];
	struct sigaction sa;
	const char *name = "-";
	char why[512];
	int ch, i, nurl = 0, max_set = 0;

	while ((ch = cli_getopt(&cli, argc, argv)) != -1) {
		switch (ch) {
		case 'e':
			command = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'm':
			max_children = (int)cli_number(optarg, 1, 1024,
			    "commands");
			max_set = 1;
			break;
		case 'N':
			if (!rvmsg_name_valid(optarg))
				errx(EX_USAGE, "name %s: not 1 to 32 of "
				    "A-Z a-z 0-9 . _ -", optarg);
			name = optarg;
			break;
		case 'q':
			verbose = 0;
			break;
		case 'r':
			break;		/* records are the only output */
		case 's':
			if (rv_url_list(url, &nurl, RV_MAX_SERVERS, optarg,
			    why, sizeof(why)) == -1)
				errx(EX_USAGE, "%s", why);
			break;
		case 'v':
			verbose++;
			break;
		default:
			cli_usage(usage_line, EX_USAGE);
		}
	}
	log_init("nat-register", 0, verbose);
	if (optind != argc)
		cli_usage(usage_line, EX_USAGE);
	if (max_set && command == NULL)
		errx(EX_USAGE, "-m bounds the commands of -e: give -e");
	if (rv_url_defaults(url, &nurl, RV_MAX_SERVERS, why,
	    sizeof(why)) == -1)
		errx(EX_CONFIG, "%s", why);
	if (nurl == 0)
		errx(EX_USAGE, "no server: give -s url or set NATKIT_SERVERS");

	started = (long long)time(NULL);
	read_profile(&profile);
	if (ident_load(&id, NULL, 1, why, sizeof(why)) == -1)
		errx(cli_exit_ident(errno), "%s", why);
	if (why[0] != '\0')
		warnx("%s", why);	/* a new identity made */
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if ((client = rv_client_new(&id, on_event, NULL, verbose > 1 ?
	    LLL_ERR | LLL_WARN | LLL_NOTICE : verbose ? LLL_ERR | LLL_WARN :
	    0)) == NULL)
		err(EX_OSERR, "libwebsockets");
	if (rv_client_set_profile(client, name, &profile) == -1)
		errx(EX_DATAERR, "stdin: the profile does not make a peer "
		    "record: %s", errno == EMSGSIZE ? "too large" :
		    strerror(errno));
	for (i = 0; i < nurl; i++)
		if (rv_client_open(client, &url[i], NULL, RV_RECONNECT) == NULL)
			err(EX_OSERR, "session");
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	log_say(NULL, "peer %s, %d server%s", id.id, nurl, nurl == 1 ? "" : "s");

	while (!got_term) {
		if (rv_client_run(client, -1) == -1 && errno != EINTR)
			errx(EX_SOFTWARE, "the event loop failed");
		reap();
	}
	if (replays > 0)
		log_say(NULL, "%lld replayed requests dropped", replays);
	log_say(NULL, "unregistering");
	if (rv_client_shutdown(client, 2000) == -1)
		warnx("some servers did not close in time");
	rv_client_free(client);
	client = NULL;
	ident_free(&id);
	reap();
	return 0;
}

/*
 * conf.h: the daemons' configuration files (nat-rendezvousd(8) and
 * nat-reflect(8), option -f): one setting a line, the
 * long name of a command-line option and its value, '#' starting a
 * comment.  One reader for both daemons, so that both files read alike.
 * Like cli.h it prints and exits, so only main files call it.
 */
#ifndef NATKIT_CONF_H
#define NATKIT_CONF_H

struct cli_opt;

#define CONF_LINE_MAX	512	/* a line, bytes, newline included */
#define CONF_DEPTH_MAX	4	/* files including files ("file" setting) */

/* Applies one setting: ch is the option's val in the table, val its value
 * (NULL for a flag), kept for the life of the process. */
typedef void (*conf_apply_fn)(void *arg, int ch, const char *val);

/*
 * Reads path and calls apply for every setting in order, finding each
 * name among the long names of opts (cli.h; those flagged CLI_LINE, such
 * as help, are refused, and an old name is warned of).  While apply
 * runs, cli_where() is "FILE:LINE", and a number cli_number refuses
 * names the file and line and exits 78 too.  Exits 78 (EX_CONFIG) with
 * "FILE:LINE: NAME: why" on an unknown setting, a missing or extra value,
 * a line too long, files including each other more than CONF_DEPTH_MAX
 * deep, or "FILE: why" when it cannot be read.
 */
void conf_read(const char *path, const struct cli_opt *opts,
    conf_apply_fn apply, void *arg);

#endif

/*
 * replay.c: runs a libFuzzer target's LLVMFuzzerTestOneInput over corpus
 * files without clang, so that `tests/run` replays every seed.
 *
 *	replay_NAME [-o OUTDIR] DIR|FILE ...
 *
 * A seed named NAME.hex is its input in hex digits (so that binary seeds
 * are text in the repository): whitespace between the digits and '#' to
 * the end of a line are skipped.  -o writes each input, decoded, to
 * OUTDIR/NAME (what `make fuzz` hands libFuzzer) instead of running it.
 *
 * Exits 0 after "replayed N inputs", 1 when an argument is missing, a
 * directory is empty or a .hex seed is not hex, 64 for usage; a crash is
 * the target's own.
 */
#include <dirent.h>
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *outdir;

/* The length of name without ".hex", or 0 when it has none. */
static size_t
hex_stem(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && strcmp(name + len - 4, ".hex") == 0 ? len - 4 : 0;
}

/* Decodes the hex text buf (n bytes) in place; returns the input's
 * length, or -1 when it is not hex. */
static long
hex_decode(uint8_t *buf, size_t n)
{
	size_t i, out = 0;
	int hi = -1, v;

	for (i = 0; i < n; i++) {
		if (buf[i] == '#') {
			while (i < n && buf[i] != '\n')
				i++;
			continue;
		}
		if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
		    buf[i] == '\r')
			continue;
		if (buf[i] >= '0' && buf[i] <= '9')
			v = buf[i] - '0';
		else if ((buf[i] | 0x20) >= 'a' && (buf[i] | 0x20) <= 'f')
			v = (buf[i] | 0x20) - 'a' + 10;
		else
			return -1;
		if (hi == -1)
			hi = v;
		else {
			buf[out++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return hi == -1 ? (long)out : -1;
}

/* Writes the input data (n bytes) of the seed at path to outdir. */
static int
write_input(const char *path, const uint8_t *data, size_t n)
{
	const char *base = strrchr(path, '/');
	char out[4096];
	size_t len;
	FILE *f;

	base = base != NULL ? base + 1 : path;
	if ((len = hex_stem(base)) == 0)
		len = strlen(base);
	if (snprintf(out, sizeof(out), "%s/%.*s", outdir, (int)len, base) >=
	    (int)sizeof(out)) {
		warnx("%s: path too long", path);
		return -1;
	}
	if ((f = fopen(out, "wb")) == NULL ||
	    (n > 0 && fwrite(data, 1, n, f) != n) || fclose(f) == EOF) {
		warn("%s", out);
		return -1;
	}
	return 0;
}

/* Reads path into a buffer of exactly its size (so that ASan sees a read
 * past the end) and runs the target on it.  Returns 0 or -1. */
static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t n;
	FILE *f;
	int rc;

	if ((f = fopen(path, "rb")) == NULL) {
		warn("%s", path);
		return -1;
	}
	if (fstat(fileno(f), &st) == -1) {
		warn("%s", path);
		fclose(f);
		return -1;
	}
	n = (size_t)st.st_size;
	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		err(EX_OSERR, "malloc");
	if (fread(buf, 1, n, f) != n) {
		warnx("%s: short read", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (hex_stem(path) > 0) {
		long m = hex_decode(buf, n);
		uint8_t *exact;

		if (m == -1) {
			warnx("%s: not hex", path);
			free(buf);
			return -1;
		}
		/* Exactly its size again, for ASan. */
		if ((exact = malloc(m > 0 ? (size_t)m : 1)) == NULL)
			err(EX_OSERR, "malloc");
		memcpy(exact, buf, (size_t)m);
		free(buf);
		buf = exact;
		n = (size_t)m;
	}
	rc = 0;
	if (outdir != NULL)
		rc = write_input(path, buf, n);
	else
		LLVMFuzzerTestOneInput(n > 0 ? buf : NULL, n);
	free(buf);
	return rc;
}

/* Replays the regular files in dir.  Returns how many, or -1. */
static long
replay_dir(const char *dir)
{
	struct dirent *d;
	struct stat st;
	char path[4096];
	long count = 0;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL) {
		warn("%s", dir);
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >=
		    (int)sizeof(path)) {
			warnx("%s/%s: path too long", dir, d->d_name);
			closedir(dp);
			return -1;
		}
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path) == -1) {
			closedir(dp);
			return -1;
		}
		count++;
	}
	closedir(dp);
	if (count == 0) {
		warnx("%s: no inputs", dir);
		return -1;
	}
	return count;
}

int
main(int argc, char *argv[])
{
	struct stat st;
	long total = 0, n;
	int i;

	i = 1;
	if (argc > 2 && strcmp(argv[1], "-o") == 0) {
		outdir = argv[2];
		i = 3;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: %s [-o outdir] dir|file ...\n",
		    argv[0]);
		return EX_USAGE;
	}
	for (; i < argc; i++) {
		if (stat(argv[i], &st) == -1)
			err(1, "%s", argv[i]);
		if (S_ISDIR(st.st_mode))
			n = replay_dir(argv[i]);
		else
			n = replay_file(argv[i]) == -1 ? -1 : 1;
		if (n == -1)
			return 1;
		total += n;
	}
	printf("%s %ld inputs\n", outdir != NULL ? "wrote" : "replayed",
	    total);
	return 0;
}

/*
 * replay.c: runs a libFuzzer target's LLVMFuzzerTestOneInput over corpus
 * files without clang, so that `tests/run` replays every seed.
 *
 *	replay_NAME DIR|FILE ...
 *
 * Exits 0 after "replayed N inputs", 1 when an argument is missing or a
 * directory is empty, 64 for usage; a crash is the target's own.
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

/* Reads path into a buffer of exactly its size (so that ASan sees a read
 * past the end) and runs the target on it.  Returns 0 or -1. */
static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t n;
	FILE *f;

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
	LLVMFuzzerTestOneInput(n > 0 ? buf : NULL, n);
	free(buf);
	return 0;
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

	if (argc < 2) {
		fprintf(stderr, "usage: %s dir|file ...\n", argv[0]);
		return EX_USAGE;
	}
	for (i = 1; i < argc; i++) {
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
	printf("replayed %ld inputs\n", total);
	return 0;
}

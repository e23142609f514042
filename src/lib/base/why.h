/*
 * why.h: the library's way to fail (doc/architecture.md, Errors): -1,
 * errno in the vocabulary of the exit table, and a sentence in the
 * caller's why buffer naming the object and the bad value.
 */
#ifndef NATKIT_WHY_H
#define NATKIT_WHY_H

#include <stddef.h>

/* Writes the sentence into why (len bytes), sets errno to err (0: leaves
 * it as it was, for a system error) and returns -1. */
int why_fail(char *why, size_t len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

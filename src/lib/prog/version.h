/* version.h: the version every natkit program reports with -V. */
#ifndef NATKIT_VERSION_H
#define NATKIT_VERSION_H
#define NATKIT_VERSION	"0.1.0"
#endif

#ifndef FS_VERSION_H
#define FS_VERSION_H

#ifndef FS_VERSION
#define FS_VERSION "0.0.0"
#endif
#include "git_rev.h" /* generated: build/gen/git_rev.h */

#endif

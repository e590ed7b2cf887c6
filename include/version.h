#ifndef FS_VERSION_H
#define FS_VERSION_H

#ifndef FS_VERSION
#define FS_VERSION "0.0.0"
#endif
#ifndef FS_GIT_REV
#define FS_GIT_REV "unknown"
#endif

#endif

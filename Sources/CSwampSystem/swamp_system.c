// System calls Swift's Glibc module does not import (they need _GNU_SOURCE).
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "swamp_system.h"

int swamp_syncfs(int fd) {
#if defined(__linux__)
    return syncfs(fd);
#else
    (void)fd;
    errno = ENOSYS;
    return -1;
#endif
}

#ifndef SWAMP_SYSTEM_H
#define SWAMP_SYSTEM_H

/// syncfs(2): writes out every file system buffer of the file system holding `fd`, data and
/// metadata, and reports write-back errors seen since `fd` was opened. -1 with errno ENOSYS
/// where the system has no such call (then each file is fsynced instead).
int swamp_syncfs(int fd);

#endif

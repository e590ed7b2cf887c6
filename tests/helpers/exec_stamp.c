/* exec_stamp FILE PROG [ARGS...]: writes CLOCK_BOOTTIME in nanoseconds to
 * FILE, then execvp()s PROG in the same process. The integration tests
 * measure event latency as (the consumer's seen_ns - this stamp): the
 * whole path from just before execve() to the callback. The clock is read
 * before FILE is written: put FILE on tmpfs, where the write cannot wait
 * for a journal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: exec_stamp FILE PROG [ARGS...]\n");
        return 64;
    }
    struct timespec ts;
    char buf[32];
    clock_gettime(CLOCK_BOOTTIME, &ts);
    int n =
        snprintf(buf, sizeof(buf), "%llu\n",
                 (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, (size_t)n) != n) {
        perror(argv[1]);
        return 1;
    }
    close(fd);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "exec_stamp: %s: %s\n", argv[2], strerror(errno));
    return 127;
}

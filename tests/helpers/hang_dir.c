/* hang_dir DIR: makes every open(2) of the directory DIR hang, the way a
 * stuck FUSE server or NFS mount does, with nothing but the kernel: a
 * fanotify permission event (FAN_OPEN_PERM, fanotify(7)) that is never
 * answered. stat(2) and O_PATH opens still work; opening it to list it
 * waits. Prints "ready", then "blocked <pid>" for each process caught,
 * and keeps them waiting until it is killed (the kernel then lets the
 * pending opens through). Needs CAP_SYS_ADMIN. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hang_dir DIR\n");
        return 64;
    }
    int fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC);
    if (fan < 0 ||
        fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ONDIR, AT_FDCWD, argv[1]) < 0) {
        fprintf(stderr, "hang_dir: fanotify on %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = read(fan, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 1;
        const struct fanotify_event_metadata *m = (const void *)buf;
        for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
            printf("blocked %d\n", (int)m->pid);
            fflush(stdout);
            /* the event's fd stays open and no answer is written */
        }
    }
}

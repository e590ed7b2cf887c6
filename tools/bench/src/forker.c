/* forker: the exec storm's load generator (tools/bench/execstorm).
 *   forker SECONDS PROGRAM   fork+exec PROGRAM (no arguments) in a loop for
 *                            SECONDS, reaping each child; prints the number
 *                            of execs that succeeded.
 *   forker --exit            exits at once (a static binary run as PROGRAM
 *                            costs the storm less than /bin/true's ld.so).
 * One forker keeps one child alive at a time: run several for a storm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--exit") == 0)
        return 0;
    if (argc != 3) {
        fprintf(stderr, "usage: forker SECONDS PROGRAM | forker --exit\n");
        return 2;
    }
    double end = now() + atof(argv[1]);
    long n = 0;
    char *args[] = {argv[2], "--exit", NULL};
    while (now() < end) {
        pid_t pid = fork();
        if (pid == 0) {
            execv(argv[2], args);
            _exit(127);
        }
        int st;
        if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            n++;
    }
    printf("%ld\n", n);
    return 0;
}

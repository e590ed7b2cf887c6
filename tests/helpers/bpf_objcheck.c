/* bpf_objcheck OBJECT.bpf.o: opens a BPF object file and loads every
 * program in it into this kernel (without attaching), so that each CO-RE
 * relocation is resolved against the running kernel's BTF and the verifier
 * sees the code. BPF bytecode does not depend on the build architecture:
 * an object compiled with -D__TARGET_ARCH_arm64 against
 * vmlinux/arm64/vmlinux.h proves here that the minimal header names only
 * types and fields the kernel has.
 *
 * A relocation libbpf cannot match is a failure unless it is one of the
 * deliberate "___old" flavours of bpf/compat.bpf.h (guarded by an
 * existence check): a misspelt field behind bpf_core_field_exists() would
 * otherwise load fine and silently read nothing.
 *
 * Prints "loaded <prog> (<section>)" per program and "unmatched: <relo>"
 * per bad relocation; exits 0 when all loaded and nothing was unmatched. */
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct check {
    char last[512]; /* the description line of the relocation being resolved */
    int unmatched;
};

static struct check g_check; /* libbpf's print callback takes no argument */

static int on_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    if (level == LIBBPF_WARN)
        fputs(line, stderr);
    const char *relo = strstr(line, ": relo #");
    const char *desc = relo ? strstr(relo, ": <") : NULL;
    if (desc && !strstr(line, "candidate"))
        snprintf(g_check.last, sizeof(g_check.last), "%s", line);
    if (relo && strstr(line, "no matching targets found") && !strstr(g_check.last, "___old")) {
        printf("unmatched: %s", g_check.last);
        g_check.unmatched++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bpf_objcheck OBJECT.bpf.o\n");
        return 64;
    }
    libbpf_set_print(on_print);
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj) {
        perror(argv[1]);
        return 1;
    }
    struct bpf_program *prog;
    int n = 0;
    bpf_object__for_each_program(prog, obj)
    {
        bpf_program__set_autoload(prog, true);
        n++;
    }
    int rc = bpf_object__load(obj);
    if (rc == 0) {
        bpf_object__for_each_program(prog, obj)
        {
            printf("loaded %s (%s)\n", bpf_program__name(prog), bpf_program__section_name(prog));
        }
    }
    bpf_object__close(obj);
    printf("%d programs: %s, %d unmatched relocations\n", n, rc == 0 ? "all loaded" : "load failed",
           g_check.unmatched);
    return rc == 0 && g_check.unmatched == 0 ? 0 : 1;
}

#include "capture/jvmopts.h"

#include "core/fsutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bound on what one process's options may add up to: past it the reading
 * is marked incomplete rather than grown without end. */
#define MAX_VM_OPTIONS 8192
#define PROC_FILE_MAX  (1u << 20)

#define VM_OPTIONS_FILE "-XX:VMOptionsFile="

typedef int (*token_fn)(void *arg, const char *tok);

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* JAVA_TOOL_OPTIONS, _JAVA_OPTIONS, JDK_JAVA_OPTIONS and VMOptionsFile, as
 * HotSpot's parse_options_buffer and libjli's expand() split them:
 * whitespace separates, a '...' or "..." run (quotes=true) is taken as it
 * is, without escapes. An unmatched quote stops both (the JVM would not
 * have started); here it runs to the end. */
static int split_env(const char *s, size_t len, bool quotes, token_fn fn, void *arg)
{
    char *tok = malloc(len + 1);
    if (!tok)
        return -ENOMEM;
    int rc = 0;
    size_t i = 0;
    while (rc == 0 && i < len) {
        while (i < len && is_space(s[i]))
            i++;
        if (i >= len)
            break;
        size_t n = 0;
        while (i < len && !is_space(s[i])) {
            if (quotes && (s[i] == '\'' || s[i] == '"')) {
                char q = s[i++];
                while (i < len && s[i] != q)
                    tok[n++] = s[i++];
                i += i < len;
            } else {
                tok[n++] = s[i++];
            }
        }
        tok[n] = '\0';
        rc = fn(arg, tok);
    }
    free(tok);
    return rc;
}

enum argfile_state { FIND_NEXT, IN_COMMENT, IN_QUOTE, IN_ESCAPE, SKIP_LEAD_WS, IN_TOKEN };

static char unescape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'f':
        return '\f';
    default:
        return c;
    }
}

struct argfile_tok {
    char *buf;
    size_t n;       /* bytes in buf */
    size_t flushed; /* of which survive a '#' (libjli keeps "parts" already split off) */
};

static int argfile_emit(struct argfile_tok *t, token_fn fn, void *arg)
{
    t->buf[t->n] = '\0';
    t->n = t->flushed = 0;
    return fn(arg, t->buf);
}

/* One character inside a token or quote: the part of libjli's nextToken()
 * after whitespace, escapes and comments are dealt with. Returns 1 when a
 * token ends, else 0. */
static int argfile_char(struct argfile_tok *t, enum argfile_state *st, char *quote, char c)
{
    bool quoted = *st == IN_QUOTE;
    switch (c) {
    case ' ':
    case '\t':
    case '\f':
        if (quoted)
            break;
        /* fall through */
    case '\n':
    case '\r':
        *st = FIND_NEXT;
        return 1;
    case '#':
        if (quoted)
            break;
        t->n = t->flushed; /* libjli drops the unsplit part before a '#' */
        *st = IN_COMMENT;
        return 0;
    case '\\':
        if (!quoted)
            break;
        t->flushed = t->n;
        *st = IN_ESCAPE;
        return 0;
    case '\'':
    case '"':
        if (quoted && *quote != c)
            break;
        t->flushed = t->n;
        if (quoted) {
            *st = IN_TOKEN;
        } else {
            *quote = c;
            *st = IN_QUOTE;
        }
        return 0;
    default:
        break;
    }
    t->buf[t->n++] = c;
    return 0;
}

/* An @argfile, with libjli's tokenizer (args.c nextToken): whitespace
 * separates; '...' and "..." group, and inside them \n \r \t \f and \<c>
 * are escapes and a \ at the end of a line continues the token after the
 * next line's leading whitespace; an unquoted # starts a comment to the
 * end of the line; a quote left open ends at the end of its line. */
static int split_argfile(const char *s, size_t len, token_fn fn, void *arg)
{
    struct argfile_tok t = {.buf = malloc(len + 1)};
    if (!t.buf)
        return -ENOMEM;
    enum argfile_state st = FIND_NEXT;
    char quote = '"';
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < len; i++) {
        char c = s[i];
        if (st == FIND_NEXT || st == SKIP_LEAD_WS) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')
                continue;
            st = st == FIND_NEXT ? IN_TOKEN : IN_QUOTE;
        } else if (st == IN_ESCAPE) {
            if (c == '\n' || c == '\r') {
                st = SKIP_LEAD_WS;
            } else {
                t.buf[t.n++] = unescape(c);
                t.flushed = t.n;
                st = IN_QUOTE;
            }
            continue;
        } else if (st == IN_COMMENT) {
            if (c == '\n' || c == '\r')
                st = FIND_NEXT;
            continue;
        }
        if (argfile_char(&t, &st, &quote, c))
            rc = argfile_emit(&t, fn, arg);
    }
    if (rc == 0 && (st == IN_TOKEN || st == IN_QUOTE) && t.n)
        rc = argfile_emit(&t, fn, arg);
    free(t.buf);
    return rc;
}

static int push_vm(struct jvmopts *o, const char *opt)
{
    if (o->n_vm >= MAX_VM_OPTIONS) {
        o->incomplete = true;
        return 0;
    }
    if (o->n_vm == o->cap_vm) {
        size_t cap = o->cap_vm ? 2 * o->cap_vm : 16;
        char **v = realloc(o->vm, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        o->vm = v;
        o->cap_vm = cap;
    }
    if (!(o->vm[o->n_vm] = strdup(opt)))
        return -ENOMEM;
    o->n_vm++;
    return 0;
}

/* Reads a file the options name; 1 with its text, 0 when it is unread
 * (recorded), -ENOMEM. */
static int read_file(const struct jvmopts_input *in, struct jvmopts *o, const char *path,
                     char **text, size_t *len)
{
    int rc = in->read ? in->read(in->ctx, path, text, len) : -ENOSYS;
    if (rc == -ENOMEM)
        return rc;
    if (rc == 0)
        return 1;
    if (o->n_unread++ == 0) {
        snprintf(o->unread, sizeof(o->unread), "%s", path);
        o->unread_err = rc;
    }
    o->incomplete = true;
    return 0;
}

struct vm_reader {
    const struct jvmopts_input *in;
    struct jvmopts *o;
    bool in_file; /* inside a VMOptionsFile: another one there is an error (ignored) */
};

/* One option as the VM reads it; a VMOptionsFile is replaced in place. */
static int vm_option(void *arg, const char *opt)
{
    struct vm_reader *r = arg;
    if (!has_prefix(opt, VM_OPTIONS_FILE))
        return push_vm(r->o, opt);
    if (r->in_file)
        return 0;
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(r->in, r->o, opt + strlen(VM_OPTIONS_FILE), &text, &len);
    if (rc == 1) {
        struct vm_reader inner = {.in = r->in, .o = r->o, .in_file = true};
        rc = split_env(text, len, true, vm_option, &inner);
    }
    free(text);
    return rc;
}

/* The value of NAME= in a NUL-separated environment block (the first, as
 * getenv finds it), or NULL. */
static const char *env_value(const char *env, size_t len, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    for (size_t i = 0; env && i < len;) {
        size_t e = strnlen(env + i, len - i);
        if (e > n && memcmp(env + i, name, n) == 0 && env[i + n] == '=') {
            *vlen = e - n - 1;
            return env + i + n + 1;
        }
        i += e + 1;
    }
    return NULL;
}

static int vm_env(const struct jvmopts_input *in, struct jvmopts *o, const char *name)
{
    size_t len;
    const char *v = env_value(in->env, in->env_len, name, &len);
    struct vm_reader r = {.in = in, .o = o};
    return v ? split_env(v, len, true, vm_option, &r) : 0;
}

/* The launcher: libjli's argument expansion (args.c) and option parsing
 * (java.c ParseArguments) in one pass over its arguments. */
enum want { WANT_NONE, WANT_VALUE, WANT_MODULE, WANT_SOURCE };

struct launcher {
    const struct jvmopts_input *in;
    struct jvmopts *o;
    struct vm_reader vm;
    bool expand; /* @files are still expanded (no --disable-@files yet) */
    bool jar;    /* -jar seen: the main entry is a jar */
    bool source; /* --source seen: the main entry is a source file */
    enum want want;
    bool done;  /* the main entry was found: the rest is the application's */
    bool blind; /* an @file was not read: what follows is unknown */
};

/* java.c: white-space options (IsWhiteSpaceOption) other than -m/--module
 * and --source, which the launcher itself looks at. */
static const char *const value_options[] = {
    "-cp",
    "-classpath",
    "--class-path",
    "-p",
    "--module-path",
    "--upgrade-module-path",
    "--add-modules",
    "--enable-native-access",
    "--limit-modules",
    "--add-exports",
    "--add-opens",
    "--add-reads",
    "--patch-module",
    "-d",
    "--describe-module",
};

static bool is_value_option(const char *a)
{
    for (size_t i = 0; i < sizeof(value_options) / sizeof(value_options[0]); i++)
        if (strcmp(a, value_options[i]) == 0)
            return true;
    return false;
}

static int set_main(struct launcher *l, enum jvmopts_mode mode, const char *what)
{
    size_t n = strlen(what);
    if (mode == JVMOPTS_CLASS && (l->source || (n > 5 && strcmp(what + n - 5, ".java") == 0)))
        mode = JVMOPTS_SOURCE;
    l->done = true;
    l->o->mode = mode;
    return (l->o->main = strdup(what)) ? 0 : -ENOMEM;
}

/* One argument after expansion (java.c ParseArguments and GetOpt). */
static int launcher_token(void *arg, const char *a)
{
    struct launcher *l = arg;
    if (l->done)
        return 0;
    enum want want = l->want;
    l->want = WANT_NONE;
    if (want != WANT_NONE && a[0] != '-') { /* GetOpt: a value never starts with '-' */
        if (want == WANT_MODULE)
            return set_main(l, JVMOPTS_MODULE, a);
        l->source |= want == WANT_SOURCE;
        return 0;
    }
    if (a[0] != '-')
        return set_main(l, l->jar ? JVMOPTS_JAR : JVMOPTS_CLASS, a);
    if (strcmp(a, "-jar") == 0)
        l->jar = true;
    else if (strcmp(a, "-m") == 0 || strcmp(a, "--module") == 0)
        l->want = WANT_MODULE;
    else if (strcmp(a, "--source") == 0)
        l->want = WANT_SOURCE;
    else if (is_value_option(a))
        l->want = WANT_VALUE;
    else if (strcmp(a, "--disable-@files") == 0)
        l->expand = false;
    else if (has_prefix(a, "--source="))
        l->source = true;
    else if (has_prefix(a, "--module="))
        return set_main(l, JVMOPTS_MODULE, a + strlen("--module="));
    else
        return vm_option(&l->vm, a);
    return 0;
}

/* Only the first unread @file matters for the reading; the later ones are
 * still offered to read, so that a caller fetching files in rounds (see
 * jvm_options) learns all of them at once. */
static void hint(struct launcher *l, const char *a)
{
    char *text = NULL;
    size_t len;
    if (l->expand && a[0] == '@' && a[1] && a[1] != '@' && l->in->read &&
        l->in->read(l->in->ctx, a + 1, &text, &len) == 0)
        free(text);
}

enum { ARG_FROM_CMDLINE = 1 };

static int launcher_arg(struct launcher *l, const char *a, int flags);

static int env_arg(void *arg, const char *a)
{
    return launcher_arg(arg, a, 0);
}

/* One argument before expansion (args.c JLI_PreprocessArg). */
static int launcher_arg(struct launcher *l, const char *a, int flags)
{
    if (l->blind)
        hint(l, a);
    if (l->done || l->blind)
        return 0;
    /* a shebang line passes "--source N" as one argument */
    if ((flags & ARG_FROM_CMDLINE) && has_prefix(a, "--source") && strchr(a, ' '))
        return split_env(a, strlen(a), false, env_arg, l);
    if (!l->expand || a[0] != '@' || !a[1])
        return launcher_token(l, a);
    if (a[1] == '@')
        return launcher_token(l, a + 1);
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(l->in, l->o, a + 1, &text, &len);
    if (rc == 1)
        rc = split_argfile(text, len, launcher_token, l);
    else if (rc == 0)
        l->blind = true;
    free(text);
    return rc;
}

static bool is_java_launcher(const char *argv0)
{
    const char *b = strrchr(argv0, '/');
    return strcmp(b ? b + 1 : argv0, "java") == 0;
}

static int launcher_run(const struct jvmopts_input *in, struct jvmopts *o)
{
    struct launcher l = {.in = in, .o = o, .vm = {.in = in, .o = o}, .expand = true};
    const char *end = in->argv + in->argv_len;
    size_t vlen;
    const char *v = env_value(in->env, in->env_len, "JDK_JAVA_OPTIONS", &vlen);
    int rc = 0;
    if (v && is_java_launcher(in->argv))
        rc = split_env(v, vlen, true, env_arg, &l);
    for (const char *a = in->argv + strnlen(in->argv, in->argv_len) + 1; rc == 0 && a < end;) {
        size_t n = strnlen(a, (size_t)(end - a));
        if (a + n == end) { /* cut off: not an argument the launcher saw whole */
            o->incomplete = true;
            break;
        }
        rc = launcher_arg(&l, a, ARG_FROM_CMDLINE);
        a += n + 1;
    }
    return rc;
}

int jvmopts_parse(const struct jvmopts_input *in, struct jvmopts *out)
{
    memset(out, 0, sizeof(*out));
    if (!in->argv || !in->argv_len || !in->argv[0] || !memchr(in->argv, '\0', in->argv_len))
        return -EINVAL;
    int rc = vm_env(in, out, "JAVA_TOOL_OPTIONS");
    if (rc == 0)
        rc = launcher_run(in, out);
    if (rc == 0)
        rc = vm_env(in, out, "_JAVA_OPTIONS");
    return rc;
}

void jvmopts_free(struct jvmopts *o)
{
    for (size_t i = 0; i < o->n_vm; i++)
        free(o->vm[i]);
    free(o->vm);
    free(o->main);
    memset(o, 0, sizeof(*o));
}

int jvmopts_of_pid(const char *proc_root, int pid, jvmopts_read_fn read, void *ctx,
                   struct jvmopts *out)
{
    char p[PATH_MAX];
    struct jvmopts_input in = {.read = read, .ctx = ctx};
    char *argv = NULL, *env = NULL;
    memset(out, 0, sizeof(*out));
    snprintf(p, sizeof(p), "%s/%d/cmdline", proc_root ? proc_root : "/proc", pid);
    int rc = fsutil_read_all(p, PROC_FILE_MAX, &argv, &in.argv_len);
    if (rc == -ENOENT)
        rc = -ESRCH;
    snprintf(p, sizeof(p), "%s/%d/environ", proc_root ? proc_root : "/proc", pid);
    if (rc == 0 && fsutil_read_all(p, PROC_FILE_MAX, &env, &in.env_len) < 0)
        env = NULL;
    in.argv = argv;
    in.env = env;
    if (rc == 0)
        rc = jvmopts_parse(&in, out);
    free(argv);
    free(env);
    return rc;
}

int jvmopts_flag(const struct jvmopts *o, const char *name)
{
    for (size_t i = o->n_vm; i-- > 0;) {
        const char *a = o->vm[i];
        if (has_prefix(a, "-XX:") && (a[4] == '+' || a[4] == '-') && strcmp(a + 5, name) == 0)
            return a[4] == '+';
    }
    return -1;
}

const char *jvmopts_value(const struct jvmopts *o, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = o->n_vm; i-- > 0;) {
        const char *a = o->vm[i];
        if (!has_prefix(a, "-XX:") || strncmp(a + 4, name, n) != 0)
            continue;
        const char *rest = a + 4 + n;
        if (rest[0] == '=')
            return rest + 1;
        if (rest[0] == ':' && rest[1] == '=')
            return rest + 2;
    }
    return NULL;
}

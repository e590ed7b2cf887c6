#include "policy/sampler.h"

#include "core/fsutil.h"
#include "events/procfs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

double sampler_cpu_pct(double cpu_host_pct, const struct limits *lim)
{
    if (lim && lim->cpu_millis)
        return cpu_host_pct * 1000.0 / (double)lim->cpu_millis;
    return cpu_host_pct;
}

void sampler_push(struct sampler_state *st, const struct sample *s)
{
    st->ring[st->head] = *s;
    st->head = (st->head + 1) % SAMPLER_KEEP;
    if (st->n < SAMPLER_KEEP)
        st->n++;
}

const struct sample *sampler_latest(const struct sampler_state *st)
{
    if (st->n == 0)
        return NULL;
    return &st->ring[(st->head + SAMPLER_KEEP - 1) % SAMPLER_KEEP];
}

bool sampler_average(const struct sampler_state *st, struct sample *avg)
{
    if (st->n < SAMPLER_AVG)
        return false;
    struct sample a = {0};
    for (int i = 1; i <= SAMPLER_AVG; i++) {
        const struct sample *s = &st->ring[(st->head + SAMPLER_KEEP - i) % SAMPLER_KEEP];
        a.cpu_pct += s->cpu_pct;
        a.cpu_host_pct += s->cpu_host_pct;
        a.rss_mb += s->rss_mb;
        a.mem_pct += s->mem_pct;
    }
    a.cpu_pct /= SAMPLER_AVG;
    a.cpu_host_pct /= SAMPLER_AVG;
    a.rss_mb /= SAMPLER_AVG;
    a.mem_pct /= SAMPLER_AVG;
    a.t_ms = sampler_latest(st)->t_ms;
    *avg = a;
    return true;
}

int sampler_take(const char *proc_root, const struct proc_ident *id, const struct limits *lim,
                 struct sampler_state *st, uint64_t now_ms)
{
    struct proc_stat ps;
    uint64_t rss;
    int rc = procfs_read_stat(proc_root, id->pid, &ps);
    if (rc == -ENOENT)
        return -ESRCH;
    if (rc < 0)
        return rc;
    if (ps.state == 'Z' || ps.state == 'X' || ps.starttime != id->start_time)
        return -ESRCH;
    rc = procfs_read_rss(proc_root, id->pid, &rss);
    if (rc < 0)
        return rc;
    uint64_t ticks = ps.utime + ps.stime;
    /* counters going backwards mean a different process behind the pid */
    bool primed = st->primed && ticks >= st->last_ticks && now_ms > st->last_ms;
    uint64_t dticks = ticks - st->last_ticks, dms = now_ms - st->last_ms;
    st->last_ticks = ticks;
    st->last_ms = now_ms;
    st->primed = true;
    if (!primed)
        return 0;
    struct sample s = {.t_ms = now_ms};
    s.cpu_host_pct = (double)dticks / (double)procfs_clk_tck() / ((double)dms / 1000.0) * 100.0;
    s.cpu_pct = sampler_cpu_pct(s.cpu_host_pct, lim);
    s.rss_mb = (double)rss / (1024.0 * 1024.0);
    s.mem_pct = lim->mem_bytes ? (double)rss * 100.0 / (double)lim->mem_bytes : 0;
    sampler_push(st, &s);
    return 1;
}

const char *limit_source_name(enum limit_source s)
{
    switch (s) {
    case LIMIT_CGROUP:
        return "cgroup";
    case LIMIT_OVERRIDE:
        return "override";
    case LIMIT_HOST:
        return "host";
    default:
        return "none";
    }
}

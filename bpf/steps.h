/* steps.h: the rule of a step ladder, shared by bpf/events.bpf.c and the
 * poller (src/events/poller.c) so that both sources report the same steps.
 *
 * A ladder has boundaries at from + k * step (k >= 0) and remembers the
 * next one to report. A value at or past it is reported once, and the next
 * boundary becomes the one above the value (a jump over several boundaries
 * is one report). A value that has fallen FS_STEP_DROP steps below the next
 * boundary moves the ladder down to the boundary above it, silently, so
 * that the climb after a garbage collection or a restart is reported from
 * where it starts. Noise smaller than a step is never reported: the growth
 * rate comes from the reports' times and values, and the kernel sends no
 * record per page. */
#ifndef FS_BPF_STEPS_H
#define FS_BPF_STEPS_H

#ifdef __bpf__
#define FS_STEPS_FN static __always_inline
#else
#include <linux/types.h>
#define FS_STEPS_FN static inline
#endif

#define FS_STEP_DROP 2

/* The first boundary above value (from itself below from). step > 0. */
FS_STEPS_FN __u64 fs_step_above(__u64 from, __u64 step, __u64 value)
{
    return value < from ? from : from + ((value - from) / step + 1) * step;
}

/* The next boundary once value is seen: next itself when nothing moved.
 * The value is reported when value >= next. step > 0. */
FS_STEPS_FN __u64 fs_step_next(__u64 from, __u64 step, __u64 next, __u64 value)
{
    if (value >= next || value + FS_STEP_DROP * step <= next)
        return fs_step_above(from, step, value);
    return next;
}

#endif

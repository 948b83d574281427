"""When a pool refreshes next: the pure rule the pool loops (``k8s.pools``) apply.

Idle, a pool refreshes on its interval; with a few links busy, every
FAST_REFRESH_SECONDS; in a burst, so that refreshing takes a bounded share of
the wall clock, a share that grows as the burst drains (P14, P15: a link
waiting for provider progress needs a read begun after its last call).
"""

from __future__ import annotations

FAST_REFRESH_SECONDS = 1.0
#: While more than BUSY_MANY links are busy, the share of the wall clock refreshes may take.
BUSY_REFRESH_SHARE = 0.1
#: The most of the wall clock refreshes take in a burst's tail (links queued with
#: work down to a fifth of the busy links or fewer): the gap after a refresh is at
#: least as long as the refresh itself, so the pool never refreshes back to back.
TAIL_REFRESH_SHARE = 0.5
#: Up to this many busy links (one applied now, a restart's stragglers) the pool
#: refreshes every FAST_REFRESH_SECONDS: a link waiting on a provider's progress
#: sees it within a second. Well below the worker count: during a burst the
#: number of busy links hovers around it, and the wait is re-judged often.
BUSY_MANY = 4


def refresh_due_in(
    interval: float,
    duration: float,
    since: float,
    *,
    busy: int,
    since_woken: float | None,
    pending: int | None = None,
) -> float:
    """Seconds until the next refresh is due (<= 0: now).

    ``duration``: how long the last refresh took; ``since``: seconds since it
    started; ``since_woken``: seconds since a link became busy (None: no wake);
    ``pending``: links waiting in the work queue with a change to act on (None:
    unknown, counted as a burst's height). Idle: the pool's interval. ``busy``
    links (at most BUSY_MANY): FAST_REFRESH_SECONDS. More (a burst): stretched
    so that refreshing takes at most a share of the time (``refresh_share``: a
    0.5 s refresh at the burst's height waits 4.5 s). Never beyond the pool's
    interval. A link that just became busy gets no refresh before
    FAST_REFRESH_SECONDS: its own steps come first (a bring-up that needs no
    provider progress is done by then), and it never waits longer.
    """
    if busy > BUSY_MANY:
        share = refresh_share(busy, busy if pending is None else pending)
        interval = min(interval, max(FAST_REFRESH_SECONDS, duration / share))
    elif busy:
        interval = min(interval, FAST_REFRESH_SECONDS)
    due = interval - since
    if since_woken is not None:
        due = max(due, FAST_REFRESH_SECONDS - since_woken)
    return due


def refresh_share(busy: int, pending: int) -> float:
    """The share of the wall clock refreshes may take with ``busy`` links in
    progress and ``pending`` links queued with a change to act on.

    While the queue holds as many links with work as there are busy links
    (a burst's height: new links, steps to take), the link workers need the
    CPU: BUSY_REFRESH_SHARE. As the queue drains, the busy links are more and
    more those waiting only for a read begun after their last call (P14,
    P15), which only a refresh brings: the share grows as BUSY_REFRESH_SHARE
    x busy / pending, up to TAIL_REFRESH_SHARE (pending a fifth of the busy
    links or fewer). At N=10,000 a refresh in the burst took ~7.5 s, so the
    last ~1,200 links waited 30 s (the pool's interval) for each read they
    needed: ~240 Ready per minute against ~1,700 before.
    """
    if pending >= busy:
        return BUSY_REFRESH_SHARE
    return min(TAIL_REFRESH_SHARE, BUSY_REFRESH_SHARE * busy / max(pending, 1))

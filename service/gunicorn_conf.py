"""gunicorn settings that the command line cannot express (``gdlab serve`` loads them)."""

import sys

#: Seconds a thread may hold the GIL while others wait. Python's default, 5 ms, lets a
#: worker thread grading a submission (numpy in small pieces: pure Python most of the
#: time) keep a quick request such as /health waiting for 5 ms at every step; 1 ms
#: lets short requests through under load at a small cost in throughput.
SWITCH_INTERVAL = 0.001


def post_fork(server, worker) -> None:
    """In each worker: switch threads more often (see :data:`SWITCH_INTERVAL`)."""
    sys.setswitchinterval(SWITCH_INTERVAL)

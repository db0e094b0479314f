"""Is this process one of several server workers? Asked once, when a process first revokes.

The in-memory blocklist lives in one process. Under ``gunicorn -w 4``, uWSGI with
``processes = 4`` or mod_wsgi with ``processes=4``, a logout revokes the token in the
worker that served it and nowhere else: the next requests answer 200 or 401 depending on
which worker takes them, and nothing says why. Each server can be recognised from inside
its worker: gunicorn sets ``SERVER_SOFTWARE`` in the environment of its processes and
keeps its ``Worker`` object (with the configured number of workers) in memory; uWSGI and
mod_wsgi expose a module of their own. Any other pre-forking server is recognised by the
fork itself: the process id differs from the one that built the store.

A logged WARNING, not a ``SecurityWarning``: it is found at run time, in a request, where
a warning turned into an error (``-W error``, pytest's filters) would turn every logout
into a 500, and a server's error log is where an operator looks.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

logger = logging.getLogger("jwt_wsgi")

_warned = False
_lock = threading.Lock()

#: What the warning says after naming the server.
ADVICE = ("a token revoked here stays valid in the other worker processes: use "
          "JWTManager(blocklist=RedisBlocklist(url)) (or token_in_blocklist_loader with a "
          "shared store) so that every worker sees each revocation")


def several_workers(built_pid: int) -> str | None:
    """A description of the server when this process is one of several workers, else None.

    :param built_pid: the process id where the in-memory store was built.
    """
    gunicorn = _gunicorn_workers()
    if gunicorn is not None:
        return f"gunicorn runs {gunicorn} workers" if gunicorn > 1 else None
    uwsgi = sys.modules.get("uwsgi")
    if uwsgi is not None and isinstance(getattr(uwsgi, "numproc", None), int):
        return f"uWSGI runs {uwsgi.numproc} processes" if uwsgi.numproc > 1 else None
    mod_wsgi = sys.modules.get("mod_wsgi")
    if mod_wsgi is not None and isinstance(getattr(mod_wsgi, "maximum_processes", None), int):
        count = mod_wsgi.maximum_processes
        group = getattr(mod_wsgi, "process_group", "") or "embedded"
        return f"mod_wsgi runs up to {count} processes ({group})" if count > 1 else None
    if os.getpid() != built_pid:
        return (f"this process ({os.getpid()}) is a fork of the one that built the store "
                f"({built_pid}), as a pre-forking server's workers are")
    return None


def warn_if_one_of_several(built_pid: int) -> None:
    """Log one WARNING per process when an in-memory revocation cannot reach the others."""
    global _warned
    if _warned:
        return
    with _lock:
        if _warned:
            return
        _warned = True
    where = several_workers(built_pid)
    if where is not None:
        logger.warning("MemoryBlocklist (the default revocation store) under several "
                       "workers: %s; %s", where, ADVICE)


def reset_after_fork() -> None:
    """A forked child asks again (its parent may have asked before the fork)."""
    global _warned, _lock
    _warned = False
    _lock = threading.Lock()


def _gunicorn_workers() -> int | None:
    """The configured number of gunicorn workers, when this is a gunicorn process."""
    if not os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        return None
    base = sys.modules.get("gunicorn.workers.base")
    worker_class = getattr(base, "Worker", None)
    if worker_class is None:
        return None
    import gc

    # Once per process: gunicorn keeps no module-level handle on the worker it runs.
    for obj in gc.get_objects():
        if isinstance(obj, worker_class):
            workers = getattr(getattr(obj, "cfg", None), "workers", None)
            if isinstance(workers, int):
                return workers
    return None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reset_after_fork)

"""Process plumbing shared by the benchmark scripts: free ports, servers
started in their own process groups and killed on exit, on an exception and
on SIGINT/SIGTERM/SIGHUP (a benchmark never leaves servers behind)."""
import atexit
import os
import signal
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TANDEMD = os.path.join(os.environ.get("TANDEM_BUILD_DIR", os.path.join(ROOT, "build")),
                               "tandemd")

_children = []


def _kill_children():
    while _children:
        stop(_children[-1])


def _on_signal(signo, frame):
    _kill_children()
    sys.exit(128 + signo)


atexit.register(_kill_children)
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def spawn(argv):
    """Starts argv in its own process group, output discarded."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    _children.append(p)
    return p


def stop(p):
    """Kills p's process group and reaps it."""
    if p in _children:
        _children.remove(p)
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

"""A fake simulator that will not stop when asked: it ignores SIGTERM, SIGINT and SIGHUP, starts a child
that does the same (in its process group), writes both pids to ``pids.txt`` in its working directory and
sleeps. Only SIGKILL of the whole group ends it - what the runner must do on every way out of a job.

``--exit-now``: write the pids and exit 0 at once, leaving the child running in the background.
"""
import os
import signal
import subprocess
import sys
import time

STUBBORN = ("import signal, time\n"
            "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP): signal.signal(s, signal.SIG_IGN)\n"
            "time.sleep(600)\n")

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", STUBBORN])
with open("pids.tmp", "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}\n")
os.replace("pids.tmp", "pids.txt")
if "--exit-now" not in sys.argv:
    time.sleep(600)

# The guard of a test's Ray cluster (tests/common/ray.rs): starts `ray start --head --block`
# and, when its stdin closes (the test stopped the cluster, or the test process died), stops
# every process the cluster left and removes its directory unless a line said `keep`.
#
# Nothing of a test's cluster is worth a graceful stop (Ray drains for up to 30 s, an idle
# cluster stops in ~4 s), so every process is killed at once; a cluster whose directory is
# kept gets SIGTERM and GRACE seconds first, so that its logs are whole.
#
# It is the cluster's child subreaper (prctl PR_SET_CHILD_SUBREAPER): a process of the
# cluster whose parent dies (a daemon Ray detaches, a job's entrypoint, which Ray starts in a
# session of its own, and whatever that entrypoint detached in turn) becomes this guard's
# child instead of init's. So "the cluster" is exactly this process's descendants, found
# through /proc and stopped by PID, whatever sessions or groups they made.
#
# Arguments: DIRECTORY USER LOG GRACE -- RAY-ARGV...; USER empty for the guard's own.
# Prints the PID of `ray start` on its stdout.
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER): errno {ctypes.get_errno()}")

directory, user, log, grace = sys.argv[1:5]
assert sys.argv[5] == "--"
argv = sys.argv[6:]
options = {}
if user:
    entry = pwd.getpwnam(user)
    options = dict(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
with open(log, "ab") as out:
    ray = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=directory,
        **options,
    )
print(ray.pid, flush=True)

keep = False
for line in sys.stdin:
    if line.strip() == "keep":
        keep = True


def descendants():
    """The live processes below this one, per /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        # `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        fields = text[text.rfind(")") + 2 :].split()
        if fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def signal_all(number):
    for pid in descendants():
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def gone_within(seconds):
    deadline = time.monotonic() + seconds
    while True:
        reap()
        if not descendants():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


if keep:
    # `ray start --block` stops the processes it started, in its order.
    try:
        ray.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass
if not (keep and gone_within(float(grace))):
    for _ in range(100):
        signal_all(signal.SIGKILL)
        if gone_within(0.1):
            break
reap()
if not keep:
    shutil.rmtree(directory, ignore_errors=True)

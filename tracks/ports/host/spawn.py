"""The first moment of a port's process, before its program: ``python -I -S spawn.py PARENT MAX_FILE_BYTES
NICE PROGRAM...`` asks the kernel to kill it when the process PARENT dies (0: not), caps every file it may
write at MAX_FILE_BYTES (0: no cap), lowers its priority by NICE, then becomes ``python PROGRAM...`` by exec:
the same process, so the caller's pid, process group and memory watch still hold.

This is what ``subprocess.Popen(preexec_fn=...)`` would do, without running Python between fork and exec,
which can hang for ever in a process with threads (Python's documentation warns of it; it hung ours: the
child, freeing a dead thread's PyAV image scaler, waited on a condition whose waiters did not exist in it).
Standard library only, no site (-S): it costs a few milliseconds.
"""

import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, max_file_bytes, nice = (int(a) for a in argv[:3])
    if parent and sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # it died before the line above could take effect: nobody waits for us
            sys.exit(1)
    if max_file_bytes:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    if nice:
        os.nice(nice)
    os.execv(sys.executable, [sys.executable, *argv[3:]])  # noqa: S606 (our own interpreter, argv as given)


if __name__ == "__main__":
    main(sys.argv[1:])

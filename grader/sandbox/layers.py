"""The isolation layers a sandboxed child puts around itself, and how to tell which exist.

Every layer is one function the child applies to itself after the fork and before the
student's code runs, in this order:

==================  ==========================================================  ============
layer               what it does (and blocks)                                    needs
==================  ==========================================================  ============
close-fds           every descriptor closed but the job's socket and result pipe  -
session             a new session: no terminal, no signals to the runner's group  -
net-namespace       an empty network namespace: no interface, not even loopback    root
ipc-namespace       a private System V IPC / POSIX message-queue namespace         root
uts-namespace       a private host name                                          root
mount-namespace     a private root: read-only /usr and Python, an empty /proc, a    root
                    private size-limited /tmp; nothing else (no /etc, no /home, no
                    application or data directory, no other submission)
rlimits             CPU seconds, address space, processes, file size, open files,   -
                    no core dumps
uid                 a distinct unprivileged user per slot: cannot signal or trace   root
                    the runner or a sibling job, owns nothing on disk
no-new-privs        no privilege gain through exec of set-uid files                 -
pdeathsig           SIGKILL when the runner dies (set after the uid change, which   -
                    clears it)
seccomp             sockets other than AF_UNIX, process or thread creation, exec,   libseccomp
                    ptrace, unshare/setns, mount, bpf, keyctl, io_uring, sending
                    signals and a few more kill the process (``forbidden``)
empty-env           no environment variables                                      -
==================  ==========================================================  ============

:func:`probe` tries them all in a throw-away child, so the runner knows and reports which
are active; where one is missing (not root, a container without the capability) the
others still apply.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

LAYERS = (
    "close-fds",
    "session",
    "net-namespace",
    "ipc-namespace",
    "uts-namespace",
    "mount-namespace",
    "rlimits",
    "uid",
    "no-new-privs",
    "pdeathsig",
    "seccomp",
    "empty-env",
)
NAMESPACE_FLAGS = {
    "net-namespace": 0x40000000,  # CLONE_NEWNET
    "ipc-namespace": 0x08000000,  # CLONE_NEWIPC
    "uts-namespace": 0x04000000,  # CLONE_NEWUTS
    "mount-namespace": 0x00020000,  # CLONE_NEWNS
}
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND = 1, 2, 4, 32, 4096
MS_REC, MS_PRIVATE = 16384, 1 << 18
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 1, 2
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39

#: Syscalls that kill the process (seccomp). Names unknown on an architecture are skipped.
BLOCKED_SYSCALLS = (
    "fork", "vfork", "clone", "clone3", "execve", "execveat",
    "ptrace", "process_vm_readv", "process_vm_writev",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
    "bpf", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
    "acct", "quotactl", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie",
    # no signal to anyone, not even where the per-slot user id is missing
    "kill", "tkill", "tgkill", "pidfd_send_signal", "pidfd_open", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
)

_libc = ctypes.CDLL(None, use_errno=True)


class LayerError(OSError):
    """A layer could not be applied."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise LayerError(code, f"{what}: {os.strerror(code)}")


def unshare(flags: int) -> None:
    """unshare(2)."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    """mount(2)."""
    def enc(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags),
                       enc(data)), f"mount {target}")


def prctl(option: int, value: int = 0) -> int:
    """prctl(2) with one argument; returns the call's result."""
    result = _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                         ctypes.c_ulong(0), ctypes.c_ulong(0))
    if result < 0:
        code = ctypes.get_errno()
        raise LayerError(code, f"prctl({option}): {os.strerror(code)}")
    return result


@dataclass(frozen=True)
class RootPlan:
    """The filesystem a child will see, decided once by the runner.

    Attributes
    ----------
    staging : str
        An empty directory of the runner's; each child mounts its private root there.
    binds : tuple of str
        Directories shown read-only (the Python installation, ``/usr``).
    files : tuple of str
        Single files shown read-only (the dynamic loader's cache).
    masks : tuple of str
        Directories inside those that are covered by an empty tmpfs (gdlab's own code when
        it is installed in site-packages).
    symlinks : tuple of (str, str)
        Links to recreate (``/lib -> usr/lib`` on merged-/usr systems).
    tmp_size : int
        Size of the private ``/tmp`` in bytes.
    tmp_inodes : int
        Files and directories the private ``/tmp`` may hold (``nr_inodes``).
    """

    staging: str
    binds: tuple[str, ...]
    files: tuple[str, ...]
    masks: tuple[str, ...]
    symlinks: tuple[tuple[str, str], ...]
    tmp_size: int
    tmp_inodes: int


def _outermost(paths: list[str]) -> tuple[str, ...]:
    """Drop paths that lie inside another one of the list."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return tuple(kept)


def plan_root(staging: str, hidden_packages: list[str], tmp_size: int,
              tmp_inodes: int) -> RootPlan:
    """What to show a child: Python's directories and ``/usr``, with gdlab's packages
    (``hidden_packages``: their directories) hidden wherever they fall inside those."""
    python_dirs = [sys.base_prefix, sys.prefix, *[p for p in sys.path if p.endswith("-packages")]]
    candidates = ["/usr", *[os.path.abspath(p) for p in python_dirs if os.path.isdir(p)]]
    symlinks: list[tuple[str, str]] = []
    for top in ("/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"):
        if os.path.islink(top):
            symlinks.append((top, os.readlink(top)))
        elif os.path.isdir(top) and top.startswith("/lib"):
            candidates.append(top)
    binds = _outermost(candidates)
    masks = tuple(
        p for p in (os.path.abspath(h) for h in hidden_packages)
        if any(p.startswith(b.rstrip("/") + "/") for b in binds) and os.path.isdir(p)
    )
    files = tuple(f for f in ("/etc/ld.so.cache",) if os.path.isfile(f))
    return RootPlan(staging, binds, files, masks, tuple(symlinks), tmp_size, tmp_inodes)


def build_root(root: RootPlan) -> None:
    """In a fresh mount namespace: assemble the private root and chroot into it."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    stage = root.staging
    mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    # /tmp first: a directory to show (a virtual environment under /tmp) lands inside it.
    os.makedirs(stage + "/tmp")
    mount("tmpfs", stage + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={root.tmp_size},nr_inodes={root.tmp_inodes},mode=1777")
    os.makedirs(stage + "/proc", mode=0o555)  # an empty directory: nothing of /proc
    for path in root.binds:
        target = stage + path
        os.makedirs(target, exist_ok=True)
        mount(path, target, None, MS_BIND)
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for path in root.files:
        target = stage + path
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb"):
            pass
        mount(path, target, None, MS_BIND)
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for path in root.masks:
        mount("tmpfs", stage + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
              "size=4k,mode=0555")
    for link, target in root.symlinks:
        os.symlink(target, stage + link)
    mount(None, stage, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    os.chdir(stage)
    os.chroot(".")
    os.chdir("/")


def build_seccomp_filter() -> Any:
    """The seccomp filter (a ``pyseccomp.SyscallFilter``), built once in the runner and
    loaded by each child. Raises ImportError/OSError/RuntimeError where libseccomp is
    missing."""
    import pyseccomp as sc  # noqa: PLC0415 (optional at import time: the layer may be missing)

    rules = sc.SyscallFilter(sc.ALLOW)
    for name in BLOCKED_SYSCALLS:
        try:
            rules.add_rule(sc.KILL_PROCESS, name)
        except (OSError, ValueError):
            continue  # not a syscall on this architecture
    for name in ("socket", "socketpair"):
        rules.add_rule(sc.KILL_PROCESS, name, sc.Arg(0, sc.NE, socket.AF_UNIX))
    return rules


@dataclass(frozen=True)
class ChildPlan:
    """Everything a child needs to isolate itself, prepared once by the runner.

    Attributes
    ----------
    layers : frozenset of str
        The layers to apply (those available and not disabled).
    root : RootPlan
        The private filesystem.
    uid_base : int
        Slot ``i`` runs as user and group ``uid_base + i``.
    rlimits : tuple of (resource, soft, hard)
        Applied in the ``rlimits`` layer; NPROC after the uid change.
    runner_pid : int
        The runner's process id, to detect that it died before PDEATHSIG was armed.
    seccomp : object or None
        The prepared filter.
    """

    layers: frozenset[str]
    root: RootPlan
    uid_base: int
    rlimits: tuple[tuple[int, int, int], ...]
    runner_pid: int
    seccomp: Any = field(default=None, compare=False)


def isolate(plan: ChildPlan) -> None:
    """The layers a child applies before it knows its job (still root, no student code):
    session, namespaces, private root, resource limits, and PDEATHSIG for the wait.

    Raises
    ------
    LayerError
        If a layer that should be available fails: no job may run in this child then.
    """
    layers = plan.layers
    if "pdeathsig" in layers:
        _arm_pdeathsig(plan.runner_pid)
    if "session" in layers:
        os.setsid()
        keep_niceness_in_new_session()
    flags = 0
    for name, flag in NAMESPACE_FLAGS.items():
        if name in layers:
            flags |= flag
    if flags:
        unshare(flags)
    if "uts-namespace" in layers:
        socket.sethostname("sandbox")
    if "mount-namespace" in layers:
        build_root(plan.root)
    if "rlimits" in layers:
        for kind, soft, hard in plan.rlimits:
            if kind != resource.RLIMIT_NPROC:
                resource.setrlimit(kind, (soft, hard))


#: Where Linux shows, and lets a process change, the nice value of its autogroup.
AUTOGROUP = "/proc/self/autogroup"


def keep_niceness_in_new_session() -> None:
    """Give this process's new autogroup its own nice value (best effort).

    Where the kernel groups processes by session for scheduling (``autogroup``, on by
    default on many distributions), ``setsid`` starts a new group that competes for the CPU
    as a whole at nice 0, whatever the nice value of the processes in it: every job would
    take a full share from the web service, and the runner's low priority would be lost.
    Writing the process's nice value to :data:`AUTOGROUP` restores it. Nothing happens
    where the file is absent (no autogroup, or a container's cgroup decides) or may not
    be written.
    """
    try:
        with open(AUTOGROUP, "w") as autogroup:
            autogroup.write(str(os.getpriority(os.PRIO_PROCESS, 0)))
    except OSError:
        pass


def _arm_pdeathsig(runner_pid: int) -> None:
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != runner_pid:  # the runner died before the signal was armed
        os._exit(1)


def drop_privileges(plan: ChildPlan, slot: int) -> None:
    """The layers applied once the job is known, just before the student's code runs:
    the slot's user id, the process limit, no_new_privs, PDEATHSIG again (a credential
    change clears it), seccomp, the empty environment."""
    layers = plan.layers
    if "uid" in layers:
        uid = plan.uid_base + slot
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if "rlimits" in layers:
        for kind, soft, hard in plan.rlimits:
            if kind == resource.RLIMIT_NPROC:
                resource.setrlimit(kind, (soft, hard))
    if "no-new-privs" in layers or "seccomp" in layers:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    if "pdeathsig" in layers:
        _arm_pdeathsig(plan.runner_pid)
    if "seccomp" in layers:
        plan.seccomp.load()
    if "empty-env" in layers:
        os.environ.clear()


def close_fds(keep: set[int]) -> None:
    """Close every descriptor except those in ``keep`` and 0, 1, 2 (redirected later)."""
    highest = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    highest = 65536 if highest == resource.RLIM_INFINITY else min(highest, 1 << 20)
    start = 3
    for fd in sorted(keep | {highest}):
        if fd >= start:
            os.closerange(start, fd)
            start = fd + 1


def probe(plan: ChildPlan) -> dict[str, str | None]:
    """Try every layer of ``plan`` in a throw-away child; ``{layer: None or why missing}``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the throw-away child: report, never return
        os.close(read_end)
        report: dict[str, str | None] = {}
        try:
            report = _probe_in_child(plan)
        finally:
            os.write(write_end, json.dumps(report).encode())
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    try:
        found = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        found = {}
    return {name: found.get(name, "the probe did not report it") for name in LAYERS}


def _probe_in_child(plan: ChildPlan) -> dict[str, str | None]:
    report: dict[str, str | None] = {"close-fds": None, "empty-env": None}

    def attempt(name: str, action) -> None:
        try:
            action()
            report[name] = None
        except Exception as error:  # a layer that fails is reported, whatever the reason
            report[name] = _reason(error)

    attempt("session", os.setsid)
    for name, flag in NAMESPACE_FLAGS.items():
        if name != "mount-namespace":
            attempt(name, lambda flag=flag: unshare(flag))
    attempt("mount-namespace", lambda: (unshare(NAMESPACE_FLAGS["mount-namespace"]),
                                        build_root(plan.root)))
    attempt("rlimits", lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
    attempt("uid", lambda: os.setresuid(plan.uid_base, plan.uid_base, plan.uid_base))
    attempt("no-new-privs", lambda: prctl(PR_SET_NO_NEW_PRIVS, 1))
    attempt("pdeathsig", lambda: prctl(PR_SET_PDEATHSIG, signal.SIGKILL))
    if plan.seccomp is None:
        report["seccomp"] = "libseccomp or pyseccomp is not installed"
    else:
        attempt("seccomp", plan.seccomp.load)
    return report


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno in (errno.EPERM, errno.EACCES):
        return f"not permitted here (needs root or a capability): {error.strerror or error}"
    return f"{type(error).__name__}: {error}"

"""Each isolation layer, shown to block what it should.

Where another layer would block the same thing first (seccomp kills a socket before the
network namespace could refuse it), that layer is disabled for the test, so that the test
proves *this* layer; some tests also run the negative control (the layer off) to show that
the attempt would otherwise have succeeded.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from grader.limits import SandboxLimits
from grader.sandbox import LAYERS, Sandbox, SandboxUnavailableError

from .conftest import FAKE_SECRET, TEST_LIMITS, needs_root, rule, started, update_job

pytestmark = needs_root


def run(sandbox: Sandbox, module_code: str, **job):
    """Run ``module_code`` (dedented) as the top of a student's file."""
    return sandbox.run(update_job(rule(textwrap.dedent(module_code)), **job))


def test_every_layer_is_active_and_reported(sandbox):
    layers = sandbox.status()["layers"]
    assert list(layers) == list(LAYERS)
    assert all(entry["active"] and entry["missing"] is None for entry in layers.values())


def test_a_disabled_layer_is_reported_missing_and_require_all_refuses_to_start():
    with started(disable=("seccomp",)) as sandbox:
        layers = sandbox.status()["layers"]
        assert layers["seccomp"] == {"active": False, "missing": "disabled by the operator"}
        assert layers["uid"]["active"]
    strict = SandboxLimits(**{**TEST_LIMITS.to_dict(), "require": "all"})
    with pytest.raises(SandboxUnavailableError, match=r"refusing to start.*seccomp"), \
            started(strict, disable=("seccomp",)):
        pass


def test_session(sandbox):
    result = run(sandbox, """
        import os
        print(os.getsid(0) == os.getpid(), os.getpgid(0) == os.getpid())
    """)
    assert result.stdout.split() == ["True", "True"]


def test_a_new_session_keeps_its_low_priority_where_the_kernel_groups_by_session():
    # what a job does after setsid, in a process of its own (a session leader, as a job
    # is): with autogroup on, its group must take the job's nice value, or the job would
    # compete with the web service at full weight
    probe = textwrap.dedent("""
        import os
        from grader.sandbox import layers
        os.setpriority(os.PRIO_PROCESS, 0, 12)
        layers.keep_niceness_in_new_session()
        try:
            print(open(layers.AUTOGROUP).read().strip())
        except OSError:
            print("no autogroup here")
    """)
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           timeout=30, start_new_session=True, check=True).stdout.strip()
    if Path("/proc/self/autogroup").exists():
        assert shown.endswith("nice 12"), shown
    else:
        assert shown == "no autogroup here"


def test_network_namespace_has_no_way_out(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    attempt = f"""
        import socket
        print(sorted(name for _, name in socket.if_nameindex()))
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=1)
            print("connected")
        except OSError as error:
            print("refused", error.errno)
    """
    with started(disable=("seccomp",)) as sandbox:
        result = run(sandbox, attempt)
    assert result.stdout.splitlines()[0] == "['lo']"  # and it is down
    assert result.stdout.splitlines()[1].startswith("refused")
    with pytest.raises(TimeoutError):
        server.accept()
    # negative control: without the namespace (and seccomp) the same code gets through
    with started(disable=("seccomp", "net-namespace")) as sandbox:
        assert run(sandbox, attempt).stdout.splitlines()[1] == "connected"
    server.close()


def _host_shm_keys() -> set[int]:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines}


def test_ipc_namespace_keeps_shared_memory_private():
    key = 0x6D1AB
    create = f"""
        import ctypes
        libc = ctypes.CDLL(None)
        print(libc.shmget({key}, 4096, 0o1000 | 0o600) >= 0)
    """
    with started() as sandbox:
        assert run(sandbox, create).stdout.split() == ["True"]
    assert key not in _host_shm_keys()
    with started(disable=("ipc-namespace",)) as sandbox:  # negative control
        assert run(sandbox, create).stdout.split() == ["True"]
    try:
        assert key in _host_shm_keys()
    finally:
        libc = ctypes.CDLL(None)
        libc.shmctl(libc.shmget(key, 0, 0), 0, None)  # IPC_RMID


def test_uts_namespace_keeps_the_host_name():
    host_name = socket.gethostname()
    with started(disable=("uid",)) as sandbox:  # as root, sethostname would otherwise work
        result = run(sandbox, """
            import socket
            print(socket.gethostname())
            socket.sethostname("evil")
            print(socket.gethostname())
        """)
    assert result.stdout.split() == ["sandbox", "evil"]
    assert socket.gethostname() == host_name


def test_mount_namespace_shows_a_private_read_only_root(sandbox, project_root):
    result = run(sandbox, f"""
        import os
        print(sorted(os.listdir("/")))
        print(os.listdir("/proc"))
        print(os.path.exists("/etc/passwd"), os.path.exists("{project_root}/pyproject.toml"))
        for path in ("/usr/gdlab-x", "/gdlab-x"):
            try:
                open(path, "w")
            except OSError as error:
                print(error.errno)
        open("/tmp/mine", "w").write("ok")
        print(open("/tmp/mine").read())
    """)
    lines = result.stdout.splitlines()
    assert "home" not in lines[0] and "var" not in lines[0] and "tmp" in lines[0]
    assert lines[1] == "[]"
    assert lines[2] == "False False"
    assert lines[3:5] == ["30", "30"]  # EROFS: the root is read-only
    assert lines[5] == "ok"


def test_tmp_is_size_limited():
    limits = SandboxLimits(**{**TEST_LIMITS.to_dict(), "tmp_size": 1 << 20,
                              "file_size_limit": 64 << 20})
    with started(limits) as sandbox:
        result = run(sandbox, """
            try:
                open("/tmp/big", "wb").write(b"x" * (4 << 20))
            except OSError as error:
                print(error.errno)
        """)
    assert result.stdout.split() == ["28"]  # ENOSPC


def test_rlimits_are_set():
    with started() as sandbox:
        result = run(sandbox, """
            import resource
            for name in ("CPU", "AS", "NPROC", "FSIZE", "NOFILE", "CORE"):
                print(name, *resource.getrlimit(getattr(resource, "RLIMIT_" + name)))
        """)
    limits = {line.split()[0]: tuple(map(int, line.split()[1:])) for line in
              result.stdout.splitlines()}
    assert limits["CPU"] == (TEST_LIMITS.cpu_limit, TEST_LIMITS.cpu_limit + 1)
    assert limits["NPROC"] == (1, 1)
    assert limits["FSIZE"] == (TEST_LIMITS.file_size_limit,) * 2
    assert limits["NOFILE"] == (TEST_LIMITS.open_files,) * 2
    assert limits["CORE"] == (0, 0)
    assert limits["AS"][0] < 4 << 30


def test_cpu_limit_stops_a_busy_loop_before_the_wall_clock():
    limits = SandboxLimits(**{**TEST_LIMITS.to_dict(), "time_limit": 30.0, "cpu_limit": 1})
    with started(limits) as sandbox:
        result = run(sandbox, "while True:\n    pass\n")
    # stopped by RLIMIT_CPU (SIGXCPU), not by the 30 s wall clock, and told so
    assert result.verdict == "timeout"
    assert "1 s of processor time" in result.detail, result.detail


def test_process_limit_refuses_fork_even_without_seccomp():
    with started(disable=("seccomp",)) as sandbox:
        result = run(sandbox, "import os\nos.fork()\n")
    assert result.verdict == "forbidden"
    assert result.error is not None and result.error.type == "BlockingIOError"


def test_file_size_and_descriptor_limits():
    with started() as sandbox:
        big = run(sandbox, "open('/tmp/big', 'wb').write(b'x' * (2 << 20))\n")
        many = run(sandbox, "handles = [open('/tmp/f%d' % i, 'w') for i in range(500)]\n")
    assert big.verdict == "forbidden" and big.error.message.startswith("[Errno 27]")  # EFBIG
    assert many.verdict == "forbidden" and many.error.message.startswith("[Errno 24]")  # EMFILE


def test_each_slot_runs_as_its_own_unprivileged_user(sandbox):
    code = rule("import os, time\n", "def update(params, grad, lr, state, **hyper):\n"
                "    print(os.getuid(), os.getgid(), os.getgroups())\n    time.sleep(0.3)\n"
                "    return params\n")
    results = []
    threads = [threading.Thread(target=lambda: results.append(sandbox.run(update_job(code))))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    uids = sorted(int(r.stdout.split()[0]) for r in results)
    assert uids == [TEST_LIMITS.uid_base, TEST_LIMITS.uid_base + 1]
    assert all(r.stdout.split()[1] == r.stdout.split()[0] and r.stdout.split()[2] == "[]"
               for r in results)


def test_the_slots_user_cannot_signal_the_runner_even_without_seccomp():
    with started(disable=("seccomp",)) as sandbox:
        runner = sandbox.status()["pid"]
        result = run(sandbox, f"import os, signal\nos.kill({runner}, signal.SIGKILL)\n")
        assert result.verdict == "forbidden" and result.error.type == "PermissionError"
        assert sandbox.status()["pid"] == runner


def test_no_new_privileges_and_parent_death_signal_are_armed(sandbox):
    result = run(sandbox, """
        import ctypes
        libc = ctypes.CDLL(None)
        signal = ctypes.c_int(0)
        libc.prctl(2, ctypes.byref(signal), 0, 0, 0)   # PR_GET_PDEATHSIG
        print(libc.prctl(39, 0, 0, 0, 0), signal.value)  # PR_GET_NO_NEW_PRIVS
    """)
    assert result.stdout.split() == ["1", str(int(signal.SIGKILL))]


def test_a_job_dies_with_its_runner():
    sandbox = Sandbox(TEST_LIMITS)
    sandbox.start()
    try:
        slow = rule("import time\ntime.sleep(30)\n")
        threading.Thread(target=lambda: _ignore_errors(sandbox.run, update_job(slow)),
                         daemon=True).start()
        deadline = time.monotonic() + 5
        while not sandbox.status()["children"] and time.monotonic() < deadline:
            time.sleep(0.01)
        (job_pid,) = sandbox.status()["children"]
        os.kill(sandbox.process.pid, signal.SIGKILL)
        assert _gone(job_pid, within=3)
    finally:
        sandbox.close()


def _ignore_errors(function, *args):
    with contextlib.suppress(Exception):
        function(*args)


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("socket", "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"),
        ("socket6", "import socket\nsocket.socket(socket.AF_INET6)\n"),
        ("netlink", "import socket\nsocket.socket(socket.AF_NETLINK, socket.SOCK_RAW)\n"),
        ("fork", "import os\nos.fork()\n"),
        ("exec", "import os\nos.execv('/bin/true', ['true'])\n"),
        ("ptrace", "import ctypes\nctypes.CDLL(None).ptrace(16, 1, 0, 0)\n"),
        ("unshare", "import ctypes\nctypes.CDLL(None).unshare(0x40000000)\n"),
        ("mount", "import ctypes\nctypes.CDLL(None).mount(b'x', b'/tmp', b'tmpfs', 0, None)\n"),
        ("bpf", "import ctypes\nctypes.CDLL(None).syscall(321, 0, 0, 0)\n"),
        ("keyctl", "import ctypes\nctypes.CDLL(None).syscall(250, 0, 0, 0)\n"),
        ("io_uring", "import ctypes\nctypes.CDLL(None).syscall(425, 1, 0)\n"),
        ("kill", "import os\nos.kill(1, 0)\n"),
    ],
)
def test_seccomp_kills_forbidden_system_calls(name, code, seccomp_only):
    result = seccomp_only.run(update_job(rule(code)))
    assert result.verdict == "forbidden", (name, result.detail)


def test_seccomp_allows_unix_sockets(seccomp_only):
    result = seccomp_only.run(update_job(rule(
        "import socket\na, b = socket.socketpair()\na.send(b'hi')\nprint(b.recv(2))\n")))
    assert result.verdict == "ok" and result.stdout.strip() == "b'hi'"


@pytest.fixture(scope="module")
def seccomp_only():
    """Seccomp with the layers that would block the same calls earlier turned off."""
    with started(disable=("net-namespace", "rlimits", "uid")) as sandbox:
        yield sandbox


def test_the_environment_is_empty(sandbox):
    result = run(sandbox, "import os\nprint(len(os.environ))\n")
    assert result.stdout.split() == ["0"]


def test_only_the_result_pipe_is_left_open(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(FAKE_SECRET)
    with secret.open() as held, started() as sandbox:
        assert held.fileno() > 2
        result = run(sandbox, """
            import json, os, stat
            open_fds = []
            for fd in range(1024):
                try:
                    mode = os.fstat(fd).st_mode
                except OSError:
                    continue
                open_fds.append((fd, stat.S_ISFIFO(mode), stat.S_ISCHR(mode)))
            print(json.dumps(open_fds))
        """)
    found = json.loads(result.stdout)
    assert [fd for fd, _, _ in found][:3] == [0, 1, 2]
    assert all(is_char for fd, _, is_char in found if fd <= 2)  # /dev/null
    assert [is_fifo for fd, is_fifo, _ in found if fd > 2] == [True]  # the result pipe only


def test_the_runner_is_single_threaded_with_blas_pinned(sandbox):
    pid = sandbox.status()["pid"]
    assert len(os.listdir(f"/proc/{pid}/task")) == 1
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"OPENBLAS_NUM_THREADS=1" in environ
    assert not any(FAKE_SECRET.encode() in entry for entry in environ)


def test_the_runner_holds_no_payload_and_no_secret(sandbox):
    secret_code = rule(f"MARK = '{FAKE_SECRET}-in-code'\n")
    sandbox.run(update_job(secret_code))
    pid = sandbox.status()["pid"]
    memory = _readable_memory(pid)
    assert f"{FAKE_SECRET}-in-code".encode() not in memory


def _readable_memory(pid: int) -> bytes:
    chunks = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            address, perms = line.split()[:2]
            if "r" not in perms or "[vvar]" in line or "[vsyscall]" in line:
                continue
            start, end = (int(x, 16) for x in address.split("-"))
            try:
                mem.seek(start)
                chunks.append(mem.read(end - start))
            except OSError:
                continue
    return b"".join(chunks)


def test_the_standalone_server_and_its_limits(tmp_path):
    path = str(tmp_path / "runner.sock")
    with subprocess.Popen(
        [sys.executable, "-m", "service.cli", "sandbox-server", "--socket", path],
        env={**os.environ, "GDLAB_SANDBOX_TIME_LIMIT": "1.5"},
        stderr=subprocess.PIPE,
    ) as server:
        try:
            client = Sandbox(SandboxLimits(time_limit=1.5), socket_path=path, start_timeout=30)
            client.start()
            assert client.status()["limits"]["time_limit"] == 1.5
            assert client.run(update_job(rule())).verdict == "ok"
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=10) == 0
            assert not os.path.exists(path)
            log = server.stderr.read().decode()
            assert "layers active" in log and FAKE_SECRET not in log
        finally:
            if server.poll() is None:
                server.kill()

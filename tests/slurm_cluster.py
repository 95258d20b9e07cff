"""A throw-away one-node SLURM cluster on this machine, for the SLURM profile's end-to-end test.

``start_cluster(install=True)`` installs Debian's ``slurm-wlm`` and ``munge`` when their daemons
are missing (only when asked: ``install``, or ``start --install`` by hand), then starts a private
``munged``, ``slurmctld`` and ``slurmd`` (as root) whose configuration, keys, sockets, spool, state
and logs all live in one directory (default ``/tmp/poredesign-slurm``, or
``$POREDESIGN_SLURM_DIR``). Nothing under ``/etc`` is written and no system service is touched:
clients find the cluster through ``SLURM_CONF`` (see ``SlurmCluster.env``) and a link at
``/run/slurm/conf/slurm.conf`` (for srun inside jobs, see ``CONFIGLESS_CONF``), and munge runs on
its own socket (``AuthInfo=socket=...``), so a machine's real munge installation is left alone.

The configuration suits a container: no cgroups (``proctrack/pgid``, ``task/none``), no
accounting database (job status comes from ``squeue``; ``MinJobAge`` keeps finished jobs listed for
5 minutes), free TCP ports picked at start, the node's CPUs and memory taken from ``slurmd -C``.

Idempotent: a healthy cluster left running in the same directory (an earlier session with
``POREDESIGN_SLURM_KEEP=1``, or another session right now) is reused and left running; otherwise
any stale daemons recorded in the directory's pid files are stopped and a fresh cluster is started.
``stop()`` stops only what this process started. Failures raise ``SlurmClusterError`` with the tail
of the daemon logs, so a test using the cluster fails with the reason instead of skipping.

Run ``python tests/slurm_cluster.py start|stop|status`` to drive it by hand.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DIR = "/tmp/poredesign-slurm"
# Where SLURM clients look for slurm.conf when SLURM_CONF is unset: the system file first, then
# the cache of a "configless" slurmd. Inside a job the slurm-jobstep executor starts `srun` with
# every SLURM_* variable removed (SLURM_CONF included), so that srun must find this cluster's file
# in one of these places: the helper links it from the configless cache path (under /run).
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
CONFIGLESS_CONF = Path("/run/slurm/conf/slurm.conf")
PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sinfo", "squeue", "sbatch", "srun", "scontrol", "mungekey")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
APT_TIMEOUT_S = 900
START_TIMEOUT_S = 60


class SlurmClusterError(RuntimeError):
    """The cluster could not be installed or started; the message says why."""


def _which(name: str) -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(SBIN)
    return shutil.which(name, path=path)


def _run(
    cmd: list[str],
    env: dict | None = None,
    timeout: float = 30,
    check: bool = True,
) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired as e:
        raise SlurmClusterError(f"`{' '.join(cmd)}` timed out after {timeout} s") from e
    if check and proc.returncode != 0:
        raise SlurmClusterError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}:\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return proc


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return f"    ({path}: {e.strerror})"
    return "\n".join(f"    {line}" for line in text[-lines:]) or f"    ({path} is empty)"


def _pid_alive(pid: int, name: str) -> bool:
    """Whether process ``pid`` runs the executable ``name`` (not a zombie, not a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    comm, state = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :][:1]
    return comm == name[:15] and state not in ("Z", "X")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_packages(install: bool = False) -> None:
    """Install slurm-wlm and munge from the Debian mirror when a daemon or client is missing and
    ``install`` asks for it; otherwise name what is missing."""
    missing = [name for name in DAEMONS + CLIENTS if _which(name) is None]
    if not missing:
        return
    if not install:
        raise SlurmClusterError(
            f"SLURM/munge programs {missing} are missing: install {' '.join(PACKAGES)} "
            f"(Debian), or let the test install them as root with POREDESIGN_SLURM_TEST=install"
        )
    if os.geteuid() != 0:
        raise SlurmClusterError(
            f"SLURM/munge programs {missing} are missing and installing them needs root: run "
            f"`apt-get install -y {' '.join(PACKAGES)}` (Debian), or deselect with -m 'not slurm'"
        )
    if _which("apt-get") is None:
        raise SlurmClusterError(
            f"SLURM/munge programs {missing} are missing and apt-get is not "
            "available to install them"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # the packages' postinst scripts start munge/slurmctld/slurmd services unless a policy-rc.d
    # forbids it (Docker's Debian images ship one); without /etc/slurm/slurm.conf, slurmctld's start
    # fails and with it the installation, so forbid service starts for the time of the install
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text(
            "#!/bin/sh\n# written by tests/slurm_cluster.py during apt-get install\nexit 101\n"
        )
        policy.chmod(0o755)
    try:
        _run(["apt-get", "update", "-q"], env=env, timeout=APT_TIMEOUT_S)
        _run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
            env=env,
            timeout=APT_TIMEOUT_S,
        )
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    still = [name for name in DAEMONS + CLIENTS if _which(name) is None]
    if still:
        raise SlurmClusterError(f"after installing {PACKAGES}, {still} are still missing")


def node_hardware() -> dict[str, str]:
    """The node line of ``slurmd -C`` (CPUs, sockets, cores, threads, RealMemory) as a dict."""
    out = _run([_which("slurmd") or "slurmd", "-C"]).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("NodeName=")), None)
    if line is None:
        raise SlurmClusterError(f"`slurmd -C` printed no NodeName line:\n{out}")
    return dict(item.split("=", 1) for item in line.split() if "=" in item)


@dataclass
class SlurmCluster:
    """A one-node cluster whose files all live under ``root``."""

    root: Path = field(
        default_factory=lambda: Path(os.environ.get("POREDESIGN_SLURM_DIR", DEFAULT_DIR))
    )
    partition: str = "debug"
    started: list[str] = field(default_factory=list)  # daemons this process started
    install: bool = False  # install slurm-wlm and munge when missing (needs root and apt-get)

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """Environment for SLURM clients (sinfo, sbatch, snakemake) to reach this cluster."""
        path = os.environ.get("PATH", "")
        extra = [d for d in SBIN if d not in path.split(os.pathsep)]
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": os.pathsep.join([path, *extra])}

    def _pidfile(self, daemon: str) -> Path:
        return self.root / "run" / f"{daemon}.pid"

    def _logfile(self, daemon: str) -> Path:
        return self.root / "log" / f"{daemon}.log"

    def _pid(self, daemon: str) -> int | None:
        pid = _read_pid(self._pidfile(daemon))
        return pid if pid is not None and _pid_alive(pid, daemon) else None

    # ---------------------------------------------------------------- queries
    def sinfo(self) -> str:
        """``NODE STATE`` lines of the partition, or raise if slurmctld does not answer."""
        return _run(
            ["sinfo", "--noheader", "-p", self.partition, "-o", "%n %t"], env=self.env, timeout=15
        ).stdout.strip()

    def is_ready(self) -> bool:
        if not self.conf.exists() or any(self._pid(d) is None for d in DAEMONS):
            return False
        if not self._conf_linked():
            return False
        try:
            states = self.sinfo().split()
        except SlurmClusterError:
            return False
        return len(states) >= 2 and states[1] in ("idle", "mix", "alloc")

    def logs(self) -> str:
        return "\n".join(f"  {d} ({self._logfile(d)}):\n{_tail(self._logfile(d))}" for d in DAEMONS)

    # ---------------------------------------------------------------- start/stop
    def start(self) -> SlurmCluster:
        """Bring the cluster up (or reuse a healthy one in ``root``); wait for an idle node."""
        ensure_packages(self.install)
        if self.is_ready():
            return self
        if os.geteuid() != 0:
            raise SlurmClusterError("starting munged, slurmctld and slurmd needs root")
        self._stop_recorded()
        shutil.rmtree(self.root, ignore_errors=True)
        self._write_files()
        self._link_conf()
        self._start_munged()
        self._start_slurm()
        self._wait_idle()
        return self

    def _write_files(self) -> None:
        for sub, mode in (
            ("", 0o755),
            ("etc", 0o755),
            ("run", 0o755),
            ("log", 0o755),
            ("munge", 0o700),
            ("spool", 0o755),
            ("state", 0o700),
        ):
            d = self.root / sub
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(mode)
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            _run([_which("mungekey") or "mungekey", "--create", "--keyfile", str(key)])
        key.chmod(0o600)
        hw = node_hardware()
        host = socket.gethostname().split(".")[0]
        node = " ".join(
            f"{k}={hw[k]}"
            for k in (
                "CPUs",
                "Boards",
                "SocketsPerBoard",
                "CoresPerSocket",
                "ThreadsPerCore",
                "RealMemory",
            )
            if k in hw
        )
        r = self.root
        self.conf.write_text(f"""\
# one-node test cluster written by tests/slurm_cluster.py; nothing here is meant for production
ClusterName=poredesign-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/run/munge.socket
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={self._pidfile("slurmctld")}
SlurmdPidFile={self._pidfile("slurmd")}
SlurmctldLogFile={self._logfile("slurmctld")}
SlurmdLogFile={self._logfile("slurmd")}
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# containers often lack a writable cgroup hierarchy: track processes by group, no task binding
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# squeue is the status source (no accounting database): keep finished jobs listed for 5 minutes
MinJobAge=300
InactiveLimit=0
KillWait=10
SlurmctldTimeout=60
SlurmdTimeout=120
NodeName={host} NodeAddr=127.0.0.1 NodeHostname={host} {node} State=UNKNOWN
PartitionName={self.partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")

    def _conf_linked(self) -> bool:
        return CONFIGLESS_CONF.is_symlink() and CONFIGLESS_CONF.resolve() == self.conf.resolve()

    def _link_conf(self) -> None:
        """Make srun inside jobs (which runs without SLURM_CONF) find this cluster's slurm.conf."""
        if SYSTEM_CONF.exists():
            raise SlurmClusterError(
                f"{SYSTEM_CONF} exists: inside jobs srun runs without SLURM_CONF and would read it "
                "instead of the test cluster's configuration; run the SLURM test on a machine "
                "without a system SLURM configuration (a CI container), or deselect it with "
                "-m 'not slurm'"
            )
        if CONFIGLESS_CONF.is_symlink():
            target = Path(os.readlink(CONFIGLESS_CONF))
            if target.exists() and not str(target).startswith(str(self.root)):
                raise SlurmClusterError(f"{CONFIGLESS_CONF} points to {target} (another cluster)")
            CONFIGLESS_CONF.unlink()
        elif CONFIGLESS_CONF.exists():
            raise SlurmClusterError(
                f"{CONFIGLESS_CONF} exists (a configless slurmd runs here); not replacing it"
            )
        CONFIGLESS_CONF.parent.mkdir(parents=True, exist_ok=True)
        CONFIGLESS_CONF.symlink_to(self.conf)

    def _unlink_conf(self) -> None:
        if CONFIGLESS_CONF.is_symlink() and str(os.readlink(CONFIGLESS_CONF)).startswith(
            str(self.root)
        ):
            CONFIGLESS_CONF.unlink()
            for d in (CONFIGLESS_CONF.parent, CONFIGLESS_CONF.parent.parent):
                try:
                    d.rmdir()  # only when empty
                except OSError:
                    break

    def _spawn(self, daemon: str, args: list[str]) -> None:
        exe = _which(daemon)
        if exe is None:
            raise SlurmClusterError(f"{daemon} not found")
        out = self.root / "log" / f"{daemon}.out"
        # the daemon forks and detaches; its early messages (before its log opens) go to `out`
        with out.open("ab") as sink:
            try:
                code = subprocess.run(
                    [exe, *args],
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    timeout=30,
                ).returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
        if code != 0:
            raise SlurmClusterError(
                f"{daemon} failed to start (exit code {code}):\n{_tail(out)}\n{self.logs()}"
            )
        deadline = time.monotonic() + 15
        while self._pid(daemon) is None:
            if time.monotonic() > deadline:
                raise SlurmClusterError(
                    f"{daemon} did not stay up (no live pid in "
                    f"{self._pidfile(daemon)})\n{self.logs()}"
                )
            time.sleep(0.2)
        self.started.append(daemon)

    def _start_munged(self) -> None:
        r = self.root
        self._spawn(
            "munged",
            [
                f"--socket={r}/run/munge.socket",
                f"--key-file={r}/munge/munge.key",
                f"--log-file={self._logfile('munged')}",
                f"--pid-file={self._pidfile('munged')}",
                f"--seed-file={r}/munge/munged.seed",
            ],
        )

    def _start_slurm(self) -> None:
        # -i: ignore state files of an earlier cluster; -c: clear jobs
        self._spawn("slurmctld", ["-f", str(self.conf), "-c", "-i"])
        self._spawn("slurmd", ["-f", str(self.conf)])

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        last = ""
        while time.monotonic() < deadline:
            for daemon in DAEMONS:
                if self._pid(daemon) is None:
                    raise SlurmClusterError(f"{daemon} exited during start-up\n{self.logs()}")
            try:
                last = self.sinfo()
            except SlurmClusterError as e:
                last = str(e)
            states = last.split()
            if len(states) >= 2 and states[1] == "idle":
                return
            time.sleep(0.5)
        raise SlurmClusterError(
            f"node not idle after {START_TIMEOUT_S} s; sinfo says: {last!r}\n{self.logs()}"
        )

    def _stop_recorded(self) -> None:
        """Stop daemons recorded in ``root``'s pid files (stale clusters of crashed sessions)."""
        for daemon in reversed(DAEMONS):
            self._stop_daemon(daemon)

    def _stop_daemon(self, daemon: str, timeout: float = 15) -> None:
        pid = self._pid(daemon)
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid, daemon) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid, daemon):
            os.kill(pid, signal.SIGKILL)

    def stop(self, remove: bool = True) -> None:
        """Stop the daemons this process started (jobs first) and remove ``root``."""
        if not self.started:
            return
        if "slurmctld" in self.started and self._pid("slurmctld") is not None:
            _run(
                ["scancel", "--full", f"--partition={self.partition}"],
                env=self.env,
                timeout=15,
                check=False,
            )
        for daemon in reversed(DAEMONS):
            if daemon in self.started:
                self._stop_daemon(daemon)
        self.started.clear()
        self._unlink_conf()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(root: str | os.PathLike | None = None, install: bool = False) -> SlurmCluster:
    cluster = SlurmCluster(install=install)
    if root is not None:
        cluster.root = Path(root)
    return cluster.start()


def main(argv: list[str]) -> int:
    cluster = SlurmCluster(install="--install" in argv[2:])
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        cluster.start()
        print(f"cluster up: export SLURM_CONF={cluster.conf}")
        print(cluster.sinfo())
    elif command == "stop":
        cluster.started = list(DAEMONS)  # by hand: stop whatever the pid files record
        cluster.stop()
        print("cluster stopped")
    else:
        print("ready" if cluster.is_ready() else "not running")
        if cluster.conf.exists():
            print(f"SLURM_CONF={cluster.conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

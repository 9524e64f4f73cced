"""Run the local MSM processes in the foreground, like a Procfile runner.

Reads `deploy/Procfile.local` (`name: command`), starts every process whose entry point is
installed, prefixes their output with the name, and on Ctrl-C / SIGTERM stops them all
(SIGTERM, then SIGKILL after a grace period). `--detach` starts them in the background with
pid files under `.local/run/`; `--stop` stops those.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "deploy" / "Procfile.local"
RUN_DIR = ROOT / ".local" / "run" / "services"
LOG_DIR = ROOT / ".local" / "logs"
SECRETS = ROOT / ".local" / "secrets.env"
GRACE_S = 15.0


RUN_ENV = ROOT / "deploy" / "local" / "run.env"
WAIT_S = 90.0


@dataclass(frozen=True)
class Proc:
    name: str
    argv: list[str]
    waits: tuple[str, ...] = ()


def read_procfile(path: Path = PROCFILE) -> list[Proc]:
    """`name: [wait=URL[,URL…]] command`; URL is http://… (answers 2xx) or tcp://host:port."""
    procs = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        argv = shlex.split(os.path.expandvars(command.strip()))
        waits: tuple[str, ...] = ()
        if argv and argv[0].startswith("wait="):
            waits = tuple(argv.pop(0).removeprefix("wait=").split(","))
        exe = ROOT / ".venv" / "bin" / argv[0]
        if exe.exists():
            procs.append(Proc(name.strip(), [str(exe), *argv[1:]], waits))
        elif shutil.which(argv[0]):
            procs.append(Proc(name.strip(), argv, waits))
        else:
            print(f"runner: skipping {name}: {argv[0]} is not installed", file=sys.stderr)
    return procs


def answers(url: str) -> bool:
    if url.startswith("tcp://"):
        host, _, port = url.removeprefix("tcp://").partition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            return False
        return True
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def wait_for(proc: Proc, stop: threading.Event) -> bool:
    deadline = time.monotonic() + WAIT_S
    for url in proc.waits:
        while not answers(url):
            if stop.is_set() or time.monotonic() > deadline:
                print(f"runner: {proc.name}: {url} did not answer within {WAIT_S:.0f}s")
                return False
            stop.wait(0.5)
    return True


def run_env() -> dict[str, str]:
    """Settings only `make run` needs (e.g. localiot calling the provisioner's hook)."""
    lines = RUN_ENV.read_text().splitlines() if RUN_ENV.exists() else []
    pairs = (ln.split("=", 1) for ln in lines if "=" in ln and not ln.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


# A secrets file written before the api's settings were MSM_API_* (read under the new names).
RENAMED_SECRETS = {
    "MSM_ADMIN_EMAIL": "MSM_API_ADMIN_EMAIL",
    "MSM_ADMIN_PASSWORD": "MSM_API_ADMIN_PASSWORD",
}


def ensure_local_secrets() -> dict[str, str]:
    """Generate the local stack's secrets once (never used in production mode)."""
    if not SECRETS.exists():
        SECRETS.parent.mkdir(parents=True, exist_ok=True)
        values = {
            "MSM_API_ADMIN_EMAIL": "admin@msm.local",
            "MSM_API_ADMIN_PASSWORD": secrets.token_urlsafe(12),
            "MSM_HOOK_TOKEN": secrets.token_urlsafe(24),
        }
        SECRETS.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        SECRETS.chmod(0o600)
    pairs = (line.split("=", 1) for line in SECRETS.read_text().splitlines() if "=" in line)
    return {RENAMED_SECRETS.get(k, k): v for k, v in pairs}


def pump(name: str, stream: object, width: int) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:<{width}} | {raw.decode(errors='replace')}")
        sys.stdout.flush()


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def banner(env: dict[str, str], timeout_s: float = 60.0) -> None:
    """Once the API answers, say where it is and how to log in."""
    port = env.get("MSM_API_PORT", "8080")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310 - loopback
                break
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    else:
        print(f"runner: the API did not answer on {base} within {timeout_s:.0f}s (see its output)")
        return
    email, password = env.get("MSM_API_ADMIN_EMAIL", ""), env.get("MSM_API_ADMIN_PASSWORD", "")
    print(
        "\n"
        + (f"  MSM console {base}/\n" if env.get("MSM_API_CONSOLE_DIR") else "")
        + f"  MSM API     {base}/api   (docs: {base}/api/docs)\n"
        f"  log in      curl -s {base}/api/auth/login -H 'Content-Type: application/json' \\\n"
        f'                -d \'{{"email": "{email}", "password": "{password}"}}\'\n'
        f"  credentials {email} / {password}   (kept in .local/secrets.env)\n"
        "  stop        Ctrl-C\n",
        flush=True,
    )


PKI = ROOT / ".local" / "pki"


def identity_env(name: str, env: dict[str, str]) -> dict[str, str]:
    """`env` with the process's own MQTT identity (`.local/pki/<name>.crt`) where it has one:
    least privilege, never one identity shared by every service."""
    cert, key = PKI / f"{name}.crt", PKI / f"{name}.key"
    if not cert.exists():
        return env
    return {**env, "MSM_MQTT_CERT_FILE": str(cert), "MSM_MQTT_KEY_FILE": str(key)}


def foreground(procs: list[Proc], env: dict[str, str]) -> int:
    width = max((len(p.name) for p in procs), default=4)
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        for proc in procs:
            if not wait_for(proc, stop):
                stop.set()
                break
            # Own session: Ctrl-C reaches only the runner, which then drains each service
            # with SIGTERM (their graceful path) instead of interrupting them mid-write.
            p = subprocess.Popen(
                proc.argv,
                env=identity_env(proc.name, env),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
            running.append((proc.name, p))
            threading.Thread(target=pump, args=(proc.name, p.stdout, width), daemon=True).start()
        if not stop.is_set() and any(p.name == "api" for p in procs):
            threading.Thread(target=banner, args=(env,), daemon=True).start()
        while not stop.is_set():
            for name, p in running:
                if p.poll() is not None:
                    print(f"runner: {name} exited with {p.returncode}; stopping everything")
                    stop.set()
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    print("runner: stopping…")
    stop_all([p for _, p in running])
    return 0


def detach(procs: list[Proc], env: dict[str, str]) -> int:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for proc in procs:
        name, argv = proc.name, proc.argv
        if not wait_for(proc, threading.Event()):
            return 1
        pidfile = RUN_DIR / f"{name}.pid"
        if pidfile.exists() and _alive(int(pidfile.read_text())):
            print(f"runner: {name} already running (pid {pidfile.read_text().strip()})")
            continue
        with (LOG_DIR / f"{name}.log").open("ab") as log:
            p = subprocess.Popen(
                argv,
                env=identity_env(name, env),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        pidfile.write_text(str(p.pid))
        print(f"runner: started {name} (pid {p.pid}, log .local/logs/{name}.log)")
    if any(p.name == "api" for p in procs):
        banner(env)
    return 0


def stop_detached() -> int:
    for pidfile in sorted(RUN_DIR.glob("*.pid")):
        pid = int(pidfile.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + GRACE_S
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
            print(f"runner: stopped {pidfile.stem}")
        pidfile.unlink()
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detach", action="store_true")
    parser.add_argument("--stop", action="store_true")
    args = parser.parse_args()
    if args.stop:
        return stop_detached()
    env = {**run_env(), **ensure_local_secrets(), **os.environ}
    procs = read_procfile()
    if not procs:
        print("runner: no processes to start")
        return 0
    return detach(procs, env) if args.detach else foreground(procs, env)


if __name__ == "__main__":
    sys.exit(main())

# JupyterHub configuration for a classroom DEMO of the workbook on ONE machine (`make hub`).
#
#   !!! CLOSED DEMO ONLY !!!  Every learner logs in with the same shared password (PASSWORD below), and anyone
#   who knows it can log in as ANY learner. Every learner's server and kernels run as the user who started the
#   hub (root on the course machines) with no isolation: a learner's code can read and change everything the
#   hub's user can, including other learners' files. Use it on a loopback address or a closed classroom network
#   with people you trust; never expose it to the internet. A real classroom uses a real authenticator and one
#   container per learner (README, "Classroom on JupyterHub", Kubernetes part).
#
# Started by `make hub` (= `.venv/bin/jupyterhub -f hub/jupyterhub_config.py` from the repository root). Each
# setting below can also be given as the environment variable named in it, e.g. `HUB_PORT=9000 make hub`.
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------ what an instructor changes
PORT = int(os.environ.get("HUB_PORT", "8000"))                 # the hub's address: http://127.0.0.1:PORT/
IP = os.environ.get("HUB_IP", "127.0.0.1")                     # "0.0.0.0" to serve a closed classroom network
USERS = [u.strip() for u in os.environ.get("HUB_USERS", "").split(",") if u.strip()]  # empty: any name
PASSWORD = os.environ.get("HUB_PASSWORD", "eleven-papers-demo")  # the shared demo password (8+ characters)
SCALE = os.environ.get("HUB_SCALE", "course")                  # learners' default COURSE_SCALE: smoke|course|full
DATA = os.environ.get("HUB_DATA", os.environ.get("COURSE_DATA_MIRROR", str(REPO.parent / "shared" / "datasets")))
#        ^ the read-only data folder, given to every learner as COURSE_DATA_MIRROR
IDLE_TIMEOUT = int(os.environ.get("HUB_IDLE_TIMEOUT", "3600"))  # seconds without activity before a server stops
THREADS = os.environ.get("HUB_THREADS", "1")                   # CPU threads per learner's kernel
STATE = Path(os.environ.get("HUB_STATE", str(REPO / "build" / "hub")))  # database, secret, learners' homes
# -----------------------------------------------------------------------------------------------------

VENV_BIN = Path(sys.executable).parent          # the .venv that runs the hub: same Python for every learner
PROXY = REPO / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
HOMES = STATE / "homes"
HOMES.mkdir(parents=True, exist_ok=True)
# A hub started in the background inherits an ignored SIGINT, and so would the culler and the servers it starts
# (they would then stop only after the hub's SIGINT-wait-SIGTERM escalation): restore the default first.
signal.signal(signal.SIGINT, signal.default_int_handler)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

# --- the hub and its proxy (internal API ports are free ports, so several hubs can run side by side)
c.JupyterHub.ip = IP
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("HUB_API_PORT", _free_port()))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('HUB_PROXY_API_PORT', _free_port())}"
c.ConfigurableHTTPProxy.command = [str(PROXY) if PROXY.exists() else "configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True   # stopping the hub stops every learner's server (and their kernels)
c.JupyterHub.cleanup_proxy = True

# --- demo authenticator: one shared password (see the warning at the top)
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = PASSWORD
if USERS:
    c.Authenticator.allowed_users = set(USERS)
else:
    c.Authenticator.allow_all = True

# --- one server per learner: a local process (no system users needed), home under STATE/homes/<name>
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.args = ["--ServerApp.terminals_enabled=False", "--MappingKernelManager.default_kernel_name=python3",
                  # a classroom has no need to install extensions or to check for JupyterLab updates online
                  "--LabApp.extension_manager=readonly",
                  "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                  *(["--allow-root"] if os.getuid() == 0 else [])]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/notebooks/00_start_here.ipynb"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "COURSE_SCALE": SCALE,
    "COURSE_DATA_MIRROR": DATA,
    "OMP_NUM_THREADS": THREADS,
    "COURSE_THREADS": THREADS,
    # the workbook's kernel: "python3" of the .venv (the same interpreter as the registered eleven-papers kernel)
    "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    "VIRTUAL_ENV": str(VENV_BIN.parent),
    **{k: os.environ[k] for k in ("COURSE_OFFLINE", "HF_HUB_OFFLINE", "COURSE_DEVICE") if k in os.environ},
}


def copy_notebooks_once(spawner):
    """First login: give the learner their own copy of notebooks/ (later logins keep their edits)."""
    home = HOMES / spawner.user.name
    target = home / "notebooks"
    if not target.exists():
        home.mkdir(parents=True, exist_ok=True)
        partial = home / ".notebooks-copying"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(REPO / "notebooks", partial, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        partial.rename(target)  # atomic: a copy interrupted half-way is redone at the next login
        spawner.log.info("copied the notebooks for %s into %s", spawner.user.name, target)


c.Spawner.pre_spawn_hook = copy_notebooks_once

# --- idle servers are stopped by jupyterhub-idle-culler, run by the hub as a service with just the scopes it needs
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={IDLE_TIMEOUT}",
                f"--cull-every={max(10, min(300, IDLE_TIMEOUT // 2))}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
# A learner's server counts as active while a kernel runs or a browser tab is open and connected.
c.JupyterHub.last_activity_interval = min(300, max(10, IDLE_TIMEOUT // 4))

"""Runs the API under uvicorn, with one worker or several sharing their metrics.

With several workers each is its own process; prometheus-client's multiprocess mode has them
write their metrics to files in one directory, which /metrics sums. Each running instance gets a
directory of its own, named after its main process: a second instance started from the same
checkout (another port) must neither empty the first one's files nor have them added in. The
directories of instances that are no longer running are removed at the next start.
"""

import os
import shutil
import socket
from pathlib import Path

import uvicorn
from loguru import logger
from uvicorn.supervisors import Multiprocess

from churn.api.app import create_app
from churn.api.service import load_service
from churn.errors import ChurnError, OutputError
from churn.settings import Settings


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def instance_directory(root: Path) -> Path:
    """A fresh multiprocess directory for this instance; those of dead instances are removed.

    Raises OutputError when it cannot be made."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        for directory in root.iterdir():
            if directory.is_dir() and (not directory.name.isdigit() or not running(int(directory.name))):
                shutil.rmtree(directory, ignore_errors=True)
        own = root / str(os.getpid())
        shutil.rmtree(own, ignore_errors=True)
        own.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot make the workers' metrics folder in {root}: {exc.strerror}") from None
    return own


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket the workers share, made here rather than by uvicorn: uvicorn's has protocol 0,
    so asyncio in each worker does not recognise it as TCP and never sets TCP_NODELAY on its
    connections, and every answer on a kept-alive connection then waits out the client's
    delayed ACK (measured: 44 ms a request instead of 2)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ChurnError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Raises ChurnError before listening when the model or predictions cannot be served: the
    reason is then one line, where a failure inside uvicorn's start-up would be a traceback."""
    preloaded = None
    if not settings.api_start_unready:
        try:
            preloaded = load_service(settings)
        except ChurnError as exc:
            raise ChurnError(f"cannot start: {exc}") from None
    directory = None
    if workers > 1:
        directory = instance_directory(settings.multiprocess_dir)
        # Read by prometheus-client when each worker imports it, so it must be set before.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    # log_config=None: uvicorn's lines go through churn.logs like every other line.
    options = {"host": host, "port": port, "workers": workers, "access_log": False, "log_config": None}
    try:
        if workers > 1:
            preloaded = None  # each worker process builds its own app and loads its own service
            config = uvicorn.Config("churn.api.app:create_app", factory=True, **options)
            sock = listening_socket(host, port)
            logger.info("listening on http://{}:{} with {} workers (Ctrl-C to stop)", host, port, workers)
            Multiprocess(config, sockets=[sock]).run()
        else:
            # The service loaded above is served, not loaded a second time.
            uvicorn.Server(uvicorn.Config(create_app(settings, preloaded=preloaded), **options)).run()
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

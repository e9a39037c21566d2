"""``melodygan studio``: serve the app on this machine with uvicorn and, if asked, open the page."""

from __future__ import annotations

import ipaddress
import threading
import webbrowser

from melodygan.errors import MelodyganError
from melodygan.studio.app import LOOPBACK_HOSTS, StudioSettings, create_app


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses of the loopback range (127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse an address other machines could reach unless ``allow_remote`` says so.

    Raises:
        MelodyganError: ``host`` is not a loopback address and ``allow_remote`` is False.
    """
    if not is_loopback(host) and not allow_remote:
        raise MelodyganError(f"--host {host} would let other machines use the studio (it has no login); "
                             "add --allow-remote if that is what you want")


def serve(host: str = "127.0.0.1", port: int = 8765, *, open_browser: bool = False, allow_remote: bool = False,
          settings: StudioSettings | None = None, log_level: str = "warning") -> None:
    """Run the studio until interrupted (Ctrl-C); every file it wrote is deleted when it stops."""
    import uvicorn

    check_host(host, allow_remote)
    if not 0 <= port <= 65535:
        raise MelodyganError(f"--port {port} must be 0..65535")
    settings = settings or StudioSettings(warm_up=True)
    if settings.allowed_hosts is None and not allow_remote:
        settings.allowed_hosts = [*LOOPBACK_HOSTS, host]
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if shown in ('0.0.0.0', '[::]') else shown}:{port}/"
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)
    print(f"melodygan studio: {url}  (Ctrl-C stops it; API docs at {url}docs)", flush=True)
    if open_browser:
        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    try:
        server.run()
    except OSError as e:
        raise MelodyganError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None

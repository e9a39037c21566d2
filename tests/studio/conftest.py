"""Fixtures of the studio tests: the app over the suite's tiny checkpoints, through a test client
or served for real by uvicorn on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import warnings

with warnings.catch_warnings():  # starlette's test client warns about its own httpx dependency
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from melodygan.studio.app import StudioSettings, create_app


@pytest.fixture(scope="session")
def studio_settings(ar_checkpoint: Path, gan_checkpoint: Path, harmonizer_checkpoint: Path) -> StudioSettings:
    return StudioSettings(ar_checkpoint=ar_checkpoint, gan_checkpoint=gan_checkpoint,
                          harmonizer_checkpoint=harmonizer_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def client(studio_settings: StudioSettings) -> Iterator[TestClient]:
    with TestClient(create_app(studio_settings)) as c:
        yield c


Run = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def run(client: TestClient) -> Run:
    """``run(path, body=None, **post_kwargs)``: POST a job, wait for it, return its clips (asserting success)."""

    def post(path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        r = client.post(path + "?wait=120", json=body, **kwargs) if body is not None else \
            client.post(path + "?wait=120", **kwargs)
        assert r.status_code == 200, r.text
        job = r.json()
        assert job["status"] == "done", job
        return job["result"]["clips"]

    return post


class LiveServer:
    def __init__(self, settings: StudioSettings) -> None:
        import uvicorn

        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the studio server did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_server(studio_settings: StudioSettings) -> Iterator[LiveServer]:
    with LiveServer(studio_settings) as live:
        yield live


@pytest.fixture
def live_server_with() -> Callable[[StudioSettings], LiveServer]:
    """``with live_server_with(settings) as live:`` a real server with settings of the test's own."""
    return LiveServer

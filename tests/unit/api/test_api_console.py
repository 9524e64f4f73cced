"""The console's files on the API's origin (MSM_API_CONSOLE_DIR): pages, assets, strict CSP, and
the API's own paths left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from msm_api import console, problems
from msm_api.console import ConsoleSettings

INDEX = '<!doctype html><div id="root"></div><script type="module" src="/assets/app.js"></script>'


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app.js").write_text("console.log('msm')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    return tmp_path


def app_with(**settings: Any) -> Any:
    """A Flask app with the API's error answers and the console as create_app registers it."""
    app = Flask("console-test")
    problems.register(app)

    @app.get("/api/openapi.json")
    def openapi() -> dict[str, str]:
        return {"openapi": "3.1.0"}

    console.init_app(app, ConsoleSettings(**settings))
    return app


def test_pages_answer_index_html_with_a_strict_csp(dist: Path) -> None:
    client = app_with(dir=dist).test_client()
    for path in ("/", "/devices/SIM-000001", "/audit"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == "text/html"
        assert resp.get_data(as_text=True) == INDEX
        csp = resp.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "script-src 'self'" in csp
        assert resp.headers["Cache-Control"] == "no-cache"
    asset = client.get("/assets/app.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["Cache-Control"]
    assert client.get("/favicon.svg").get_data(as_text=True) == "<svg/>"
    assert client.get("/assets/missing.js").status_code == 404


def test_api_paths_are_never_the_console(dist: Path) -> None:
    client = app_with(dir=dist).test_client()
    missing = client.get("/api/no-such-thing")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert client.get("/api/openapi.json").get_json()["openapi"].startswith("3.1")
    assert client.get("/healthz").status_code == 404  # not index.html


def test_settings_come_from_the_environment(dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSM_API_CONSOLE_DIR", raising=False)
    assert app_with().test_client().get("/").status_code == 404
    monkeypatch.setenv("MSM_API_CONSOLE_DIR", str(dist))
    assert ConsoleSettings().dir == dist


def test_provisioning_pass_through_refuses_what_it_must_not_forward() -> None:
    client = app_with(provisioner_url="http://127.0.0.1:9").test_client()
    assert client.get("/api/provisioning/x/../../hook").status_code == 404
    assert client.delete("/api/provisioning/allowlist").status_code == 404
    assert client.get("/api/openapi.json").status_code == 200  # the API's own paths pass by
    with pytest.raises(ValueError, match="http"):
        app_with(provisioner_url="file:///etc/passwd")

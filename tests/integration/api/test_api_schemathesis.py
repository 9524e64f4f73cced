"""Schemathesis, every check and every phase, against the running API and its own document.

`schemathesis run --checks all` with the examples, coverage, fuzzing and stateful phases: the
OpenAPI document must describe exactly what the API accepts and answers (statuses, content
types, headers, bodies), since generated clients trust it. The app under test is served over
HTTP on 127.0.0.1 with this test's own database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, add_device
from werkzeug.serving import make_server

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent
MAX_EXAMPLES = 5  # per operation in the fuzzing phase; coverage adds its own boundary cases


@pytest.fixture
def served(make_app: Any, mongo_db: Any) -> Iterator[str]:
    app = make_app()
    add_device(mongo_db, "dev-fuzz")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.mark.timeout(900)  # ~1,500 requests: about 2 minutes on an idle machine
def test_api_conforms_to_its_openapi_under_every_check(served: str, tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("schemathesis")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "MSM_FUZZ_BASE_URL": served,
        "MSM_FUZZ_EMAIL": ADMIN_EMAIL,
        "MSM_FUZZ_PASSWORD": ADMIN_PASSWORD,
    }
    run = subprocess.run(
        [
            str(cli),
            "run",
            f"{served}/api/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "20261203",
            "--workers",
            "1",
            "--suppress-health-check",
            "all",
            "--no-color",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=880,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20_000:]
    # Every phase ran, the stateful one (chains of calls through the document's links) too.
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report or f"⏭  {phase}" in report, report[-5_000:]
    assert "✅ Stateful" in report, report[-5_000:]

"""``hoist serve``'s request log as people read it: one line per request, and no
``UNKNOWN / 400`` line for each hoist client that connects (its TLS probe on a loopback port)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from support.registry_fixtures import free_port

HOIST = str(Path(sys.executable).parent / "hoist")


def test_request_log_has_no_line_for_a_clients_tls_probe(tmp_path: Path) -> None:
    port = free_port()
    host = f"127.0.0.1:{port}"
    env = {**os.environ, "HOIST_CONFIG": str(tmp_path / "hoist.json")}
    env["DOCKER_CONFIG"] = str(tmp_path / "docker")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [HOIST, "serve", "--addr", host, "--root", str(tmp_path / "root"), "--no-ui"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 20
        while b"listening" not in log.read_bytes():
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.1)
        for _ in range(2):  # two clients, each trying https first on this loopback address
            done = subprocess.run(
                [HOIST, "repo", "ls", host], capture_output=True, text=True, env=env, check=False
            )
            assert done.returncode == 0, done.stderr
        time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=20)
    lines = log.read_text().splitlines()
    assert not [line for line in lines if "UNKNOWN" in line]
    assert len([line for line in lines if re.search(r" GET /v2/_catalog 200 ", line)]) == 2

"""The server process: start-up, health, envelope, errors and clean shutdown."""

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_server_health_reports_initialized(ov_server):
    reply = ov_server.request("GET", "sys/health", token=None)

    assert reply.status == 200
    assert reply.json["initialized"] is True
    assert reply.json["sealed"] is False


def test_server_stops_cleanly_on_sigterm(ov_server):
    assert ov_server.stop() == 0

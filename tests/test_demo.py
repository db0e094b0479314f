"""`jwt-wsgi demo` as a user runs it: a real process, a real port, a real HTTP client, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fetch(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_demo_serves_prints_a_working_token_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "jwt_wsgi", "demo", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "curl -i -H" in line:
                break
        text = "".join(lines)
        base = re.search(r"serving a protected app on (http://127\.0\.0\.1:\d+)", text)
        token = re.search(r"TOKEN=(\S+)", text)
        assert base and token, text
        assert fetch(base.group(1) + "/protected")[0] == 401
        assert fetch(base.group(1) + "/protected", token.group(1)) == (200, {"logged_in_as": "alice"})
        assert fetch(base.group(1) + "/admin/stats", token.group(1))[0] == 200
        assert fetch(base.group(1) + "/protected", token.group(1) + "x")[0] == 401
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
        assert "stopped" in out
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_ctrl_c_in_the_middle_of_requests_always_stops_the_demo() -> None:
    """Ctrl-C can arrive while request threads end; it must stop the server every time
    (a KeyboardInterrupt raised inside a weakref callback used to be swallowed, and the
    demo kept running)."""
    import threading

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    for _ in range(4):
        process = subprocess.Popen([sys.executable, "-m", "jwt_wsgi", "demo", "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   env=env)
        try:
            assert process.stdout is not None
            base = None
            while base is None:
                line = process.stdout.readline()
                assert line, "the demo ended before it served"
                found = re.search(r"serving a protected app on (http://127\.0\.0\.1:\d+)", line)
                base = found.group(1) if found else None

            def hammer(url: str = base + "/protected") -> None:
                for _ in range(20):
                    try:
                        fetch(url)
                    except (OSError, ValueError):
                        return  # the server went away mid-burst: expected

            threads = [threading.Thread(target=hammer) for _ in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(0.3)
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=15)
            for thread in threads:
                thread.join(10)
            assert process.returncode == 0
            assert "jwt-wsgi demo: stopped" in out
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

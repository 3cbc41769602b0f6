from __future__ import annotations

import asyncio
import sys

import pytest

from casedesk_runtime.event_loop import run_on


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_runs_the_service_when_installed() -> None:
    assert run_on("uvloop", _loop_module()).startswith("uvloop")


def test_asyncio_runs_it_when_asked() -> None:
    assert run_on("asyncio", _loop_module()).startswith("asyncio")


def test_without_uvloop_asyncio_runs_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert run_on("uvloop", _loop_module()).startswith("asyncio")
    assert "uvloop is not installed" in caplog.text

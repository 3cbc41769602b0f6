"""Each benchmark's yardstick (calibration.machine_grpc_unary_rps): measured when the benchmark
starts and printed under its own name, unless pinned by CASEDESK_BENCH_MACHINE_GRPC_RPS."""

from __future__ import annotations

import pytest

from casedesk_runtime.testing import calibration


def test_measured_for_the_bench_that_asks_and_printed_under_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(calibration.ENV, raising=False)
    measured = iter([4100.4, 3900.6])
    monkeypatch.setattr(calibration, "measure_grpc_unary_rps", lambda: next(measured))
    assert calibration.machine_grpc_unary_rps("case") == 4100.4
    assert calibration.machine_grpc_unary_rps("intake") == 3900.6  # measured again, not kept
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "BENCH case.machine_grpc_unary_rps 4100 calls/s",
        "BENCH intake.machine_grpc_unary_rps 3901 calls/s",
    ]


def test_a_pinned_yardstick_is_used_as_given_and_not_printed_as_a_figure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(calibration.ENV, "5000")

    def never() -> float:
        raise AssertionError("a pinned yardstick is not measured")

    monkeypatch.setattr(calibration, "measure_grpc_unary_rps", never)
    assert calibration.machine_grpc_unary_rps("intake") == 5000.0
    printed = capsys.readouterr()
    assert printed.out == ""
    pinned = "# intake: the yardstick pinned by CASEDESK_BENCH_MACHINE_GRPC_RPS: 5000 calls/s"
    assert printed.err.strip() == pinned

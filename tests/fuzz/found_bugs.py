"""Reproducers of the bugs the fuzzing found (fuzzkit/known_bugs.py), one test each.

Not collected by `make test` (the file name does not start with test_): each test asserts the
behaviour the contract asks for and fails until its bug is fixed. Run them with

    uv run --frozen pytest tests/fuzz/found_bugs.py -q

Once one passes, remove its entry from fuzzkit/known_bugs.py (the fuzz targets then fail on a
regression) and move the test into the tests of the service it covers.
"""

from __future__ import annotations

# No bug is open now: B1 (a request that is no message) is fixed and tested in
# test_undecodable_requests.py, B2-B8 in the tests their docstrings name, B9 (an officer's name
# no tombstone keeps, on the key service) in test_officer_names.py. A reproducer uses
# fuzzkit/reproducing.py for its raw call:
#
#     def test_b9_...(stack: Stack) -> None:
#         outcome = send(stack, stack.case_port, "intake", CASE.methods_by_name["CreateCase"], raw)
#         assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.describe()

"""The command pipeline: commands decided and stored in batches by one thread.

With a thread per command (a pool), each call crossed threads twice and sixteen threads fought for
the interpreter lock while group commit woke each of them in turn; that handing over, not the
work, was a large share of the service's CPU. Here the event loop plans a command (checks its
arguments) and queues it; one command thread takes everything queued, decides each command on
the case as this process last saved it, stores the whole batch in one transaction, and hands all
the results back to the loop at once. The next batch gathers while the database commits.

A command the batch cannot settle on its own — the case is not cached here, the expected version
differs, the decision is a refusal, the batch's transaction refused it — runs on the thread pool
through `CaseApplication.execute`, which reads the stored state, retries on conflicts and finds the
receipt of an earlier attempt: exactly what a command gets without the pipeline. Two commands on
one case never share a batch (the second waits for the next one), so each decides on the state the
other left.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError

from casedesk_case.application.case_application import CaseApplication
from casedesk_case.application.command import Command, Decided
from casedesk_case.application.views import CaseView
from casedesk_case.domain.case import Case

MAX_BATCH = 200


@dataclass
class _Queued:
    command: Command
    future: asyncio.Future[tuple[CaseView, int]]  # the view without comments, comment count
    loop: asyncio.AbstractEventLoop


_STOP = object()


class CommandPipeline:
    def __init__(
        self, app: CaseApplication, executor: Executor, max_batch: int = MAX_BATCH
    ) -> None:
        self._app = app
        self._executor = executor
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def run(self, method: Callable[..., CaseView], *args: Any, **kwargs: Any) -> CaseView:
        """Run an application command method (e.g. `app.change_status`) through the pipeline."""
        command = self._app.plan(method, *args, **kwargs)  # argument errors raise here
        if command.new_citizen is not None:
            # Concurrent creates fetch their citizens' keys together (the key service makes
            # the new ones in one commit); the command thread then finds each one cached.
            await self._app.fetch_key(command.new_citizen)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[CaseView, int]] = loop.create_future()
        self._ensure_started()
        self._queue.put(_Queued(command, future, loop))
        view, comment_count = await future
        if comment_count:
            return await asyncio.to_thread(self._app.with_comments, view, comment_count)
        return view

    def stop(self) -> None:
        """Finish what is queued, then end the command thread (call after the server drained)."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._work, name="case-commands", daemon=True
                    )
                    self._thread.start()

    # -- the command thread -----------------------------------------------------------------

    def _work(self) -> None:
        deferred: list[_Queued] = []
        stopping = False
        while True:
            batch = deferred
            if not batch:
                if stopping:
                    return
                first = self._queue.get()
                if first is _STOP:
                    return
                batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            try:
                deferred = self._process(batch)
            except BaseException as error:  # a bug here must not leave callers waiting forever
                self._hand_back([(item, None, error) for item in batch])
                deferred = []

    def _process(self, batch: list[_Queued]) -> list[_Queued]:
        """Settle a batch; returns the commands left for the next one."""
        later: list[_Queued] = []
        decided: list[tuple[_Queued, Decided]] = []
        busy: set[Any] = set()
        results: list[tuple[_Queued, Any, BaseException | None]] = []
        for item in batch:
            case_id = item.command.case_id
            if case_id is not None:
                if case_id in busy:
                    later.append(item)
                    continue
                busy.add(case_id)
            try:
                decision = self._app.decide_cached(item.command)
            except Exception as error:
                results.append((item, None, error))
                continue
            if decision is None:
                self._run_alone(item)
            else:
                busy.add(decision.case.id)  # a new case, or the case a repeat opened
                decided.append((item, decision))
        outcomes = self._app.save_groups([d.pending for _, d in decided]) if decided else []
        for (item, decision), failure in zip(decided, outcomes, strict=True):
            if failure is None:
                results.append((item, self._finish(decision), None))
            elif isinstance(failure, IntegrityError):
                self._run_alone(item)  # decided on a state another replica has moved on
            else:
                results.append((item, None, failure))
        if results:
            self._hand_back(results)
        return later

    def _finish(self, decision: Decided) -> tuple[CaseView, int]:
        for saved in decision.pending:
            if isinstance(saved, Case):
                self._app.case_cache.put(saved)
        case = decision.case
        return CaseView.of(case), case.comment_count

    def _run_alone(self, item: _Queued) -> None:
        def run() -> None:
            try:
                view = self._app.execute(item.command)
            except BaseException as error:
                self._hand_back([(item, None, error)])
            else:
                self._hand_back([(item, (view, 0), None)])

        self._executor.submit(run)

    @staticmethod
    def _hand_back(results: list[tuple[_Queued, Any, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for result in results:
            by_loop.setdefault(result[0].loop, []).append(result)
        for loop, settled in by_loop.items():
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, settled)


def _settle(results: list[tuple[_Queued, Any, BaseException | None]]) -> None:
    for item, value, error in results:
        if item.future.done():
            continue  # the caller went away (cancelled)
        if error is not None:
            item.future.set_exception(error)
        else:
            item.future.set_result(value)

"""The job runner of --jobs: results in task order, real concurrency, errors handed back."""

from __future__ import annotations

import threading

import pytest

from conformance.jobs import JOB_THREAD_PREFIX, Board, default_jobs, run_all


def test_results_come_back_in_task_order_whatever_finishes_first():
    gates = [threading.Event() for _ in range(4)]

    def task(n: int):
        def run(board: Board, index: int) -> int:
            board.set(index, f"task {n}")
            if n < 3:  # task n finishes only after task n + 1: they finish in reverse order
                assert gates[n + 1].wait(10)
            gates[n].set()
            return n * 10
        return run

    def last(board: Board, index: int) -> int:
        return -1

    tasks = [task(0), task(1), task(2), task(3), last]
    board = Board(len(tasks))
    assert run_all(tasks, 4, board) == [0, 10, 20, 30, -1]
    assert board.done == 5 and board.running == {}


def test_tasks_run_concurrently_on_job_threads():
    barrier = threading.Barrier(3, timeout=10)
    names: list[str] = []

    def task(board: Board, index: int) -> str:
        names.append(threading.current_thread().name)
        barrier.wait()  # only passes when three tasks run at once
        return "ok"

    assert run_all([task] * 3, 3, Board(3)) == ["ok"] * 3
    assert all(n.startswith(JOB_THREAD_PREFIX) for n in names)


def test_one_job_runs_tasks_one_after_another():
    running = []
    peak = []

    def task(board: Board, index: int) -> int:
        running.append(index)
        peak.append(len(running))
        running.remove(index)
        return index

    assert run_all([task] * 5, 1, Board(5)) == [0, 1, 2, 3, 4]
    assert max(peak) == 1


def test_a_task_error_reaches_the_caller_after_the_others_finished():
    finished = []

    def bad(board: Board, index: int) -> None:
        raise ValueError("boom")

    def good(board: Board, index: int) -> None:
        finished.append(index)

    with pytest.raises(ValueError, match="boom"):
        run_all([bad, good, good], 2, Board(3))
    assert sorted(finished) == [1, 2]


def test_board_line_counts_and_names_what_runs():
    board = Board(3)
    board.set(0, "a [classic]")
    board.finish(1)
    assert board.line().startswith("1/3 configurations done") and "a [classic]" in board.line()


def test_default_jobs_within_bounds():
    assert 2 <= default_jobs() <= 4

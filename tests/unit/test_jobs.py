"""The job runner of --jobs: results in task order, real concurrency, errors handed back."""

from __future__ import annotations

import threading

import pytest

from conformance.jobs import JOB_THREAD_PREFIX, Board, default_jobs, duration, run_all


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
    assert 2 <= default_jobs() <= 8
    gib = 1 << 30
    assert default_jobs(cores=2, available=24 * gib) == 6  # three per core
    assert default_jobs(cores=16, available=24 * gib) == 8  # at most 8
    assert default_jobs(cores=2, available=3 * gib) == 3  # what the memory holds
    assert default_jobs(cores=1, available=gib // 2) == 2  # at least 2


def test_board_counts_units_and_estimates_time_left_from_finished_tasks():
    board = Board(4, jobs=2, kinds=["generated", "generated", "fixed", "fixed"])
    board.expect("examples", 0, 3)
    board.expect("examples", 1, 3)
    board.expect("scenarios", 2, 1)
    board.expect("scenarios", 3, 1)
    assert board.seconds_left() is None and "estimating time left" in board.line()
    t0 = board.started
    board.began = {0: t0, 1: t0}
    board.count("examples", 0, 2)
    board.took[0] = 100.0  # a generated configuration took 100 s
    board.done = 1
    board.count("examples", 0, 2, 2)  # it ran 2 examples, not the 3 expected
    assert board.counts() == {"configurations": (1, 4), "examples": (2, 5),
                              "scenarios": (0, 2)}
    # task 1 has run 40 s of its 100; tasks 2 and 3 count as 100 s each (no fixed one
    # finished yet): 60 + 100 + 100 s of work on 2 jobs
    assert board.seconds_left(now=t0 + 40) == pytest.approx(130.0)
    board.took[2] = 10.0
    board.done = 2
    assert board.seconds_left(now=t0 + 40) == pytest.approx((60 + 10) / 2)
    line = board.line()
    assert line.startswith("2/4 configurations, 2/5 examples, 0/2 scenarios done")
    assert "left" in line


def test_board_counts_never_show_more_done_than_expected():
    board = Board(1)
    board.expect("examples", 0, 3)
    board.count("examples", 0, 5)  # more examples than expected (shrinking): total grows
    assert board.counts()["examples"] == (3, 5)


def test_duration_reads_well():
    assert [duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 05 s", "1 h 02 min"]


def test_an_interrupted_run_hands_over_what_finished_and_starts_nothing_more():
    release = threading.Event()
    started: list[int] = []

    def quick(board: Board, index: int) -> str:
        started.append(index)
        return f"done {index}"

    def slow(board: Board, index: int) -> str:
        started.append(index)
        release.wait(10)
        return "late"

    finished: dict[int, str] = {}

    def tick() -> None:  # Ctrl-C arrives in the calling thread once task 0 finished
        if 0 in finished:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_all([quick, slow, quick, quick], 1, Board(4), tick=tick, interval=0.01,
                finished=finished)
    release.set()  # the running task ends after the interruption
    for thread in threading.enumerate():
        if thread.name.startswith(JOB_THREAD_PREFIX):
            thread.join(10)
    assert finished == {0: "done 0"}  # task 1 finished too late to be handed over
    assert started in ([0], [0, 1])  # tasks 2 and 3 never started


def test_finished_receives_every_result_of_a_complete_run():
    finished: dict[int, int] = {}
    assert run_all([lambda b, i: i * 2] * 3, 2, Board(3), finished=finished) == [0, 2, 4]
    assert finished == {0: 0, 1: 2, 2: 4}

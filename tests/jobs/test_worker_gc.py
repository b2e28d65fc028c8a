"""core.worker_gc: a worker process freezes what start-up left alive and collects its young
generation less often; the process running the tests is put back as it was."""

import gc

import dramatiq
import pytest

from core.worker_gc import YOUNG_THRESHOLD, FrozenStartup


@pytest.fixture
def collector_restored():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_booted_worker_process_freezes_start_up_and_raises_the_young_threshold(
    collector_restored,
):
    _, older, oldest = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    start_up = [[] for _ in range(1000)]  # containers alive at boot: frozen with the rest
    FrozenStartup().after_process_boot(dramatiq.get_broker())
    assert gc.get_freeze_count() >= frozen_before + len(start_up)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, older, oldest)


def test_the_broker_runs_it():
    middleware = [type(m).__name__ for m in dramatiq.get_broker().middleware]
    assert "FrozenStartup" in middleware

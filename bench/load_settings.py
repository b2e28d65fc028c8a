"""The project's settings with the benchmark URLs (the API plus the hand-written floor views)."""

from core.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"

"""Gunicorn settings, read from ./gunicorn.conf.py when gunicorn starts in this directory.

Metrics from every worker process go to PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode): emptied when the server starts, a dead worker's live gauges dropped.
"""

import os
import shutil

from core.logs import logging_config

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# The application logs one line per request, with its request id (core/logs.py); gunicorn's
# own lines (start, workers, timeouts) go through the same formatter as the application's.
accesslog = None
_json = os.environ.get("LOG_FORMAT", "json" if os.environ.get("DEBUG") == "0" else "console")
logconfig_dict = logging_config(json=_json == "json", level=os.environ.get("LOG_LEVEL", "INFO"))
logconfig_dict["loggers"]["gunicorn.error"] = {"handlers": ["console"], "propagate": False}


def on_starting(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

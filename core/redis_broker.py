"""Dramatiq's Redis broker with its consumer threads kept alive through a broker outage.

Dramatiq 2.2.1 (``dramatiq/worker.py``): when Redis goes away while a consumer thread releases
a due delayed message, ``handle_delayed_messages`` -> ``broker.enqueue`` raises
``redis.ConnectionError``, which is not a ``BrokerConnectionError``, so ``ConsumerThread.run``
takes its "unexpected error" branch and calls ``close()``; ``close`` re-queues the delay queue's
other messages with ``_RedisConsumer.requeue``, which (unlike ``ack``, ``nack`` and ``__next__``)
does not translate ``redis.ConnectionError`` into ``ConnectionClosed``. ``close`` only catches
``BrokerConnectionError``, so the error escapes the ``except`` block and the thread ends: the
process stays up and never releases a delayed message again. See docs/reminders.md.

The consumer below translates the error the way the other consumer methods do, so ``close``
swallows it and the thread restarts its consumer as it does after any connection error. The
class it extends is private: ``tests/jobs/test_broker_outage.py`` reproduces the thread's death
with the stock consumer and its survival with this one, so an upgrade that changes either fails
there first. ``core.worker_watchdog`` stops the process for any other thread death.
"""

import redis
from dramatiq.brokers import redis as dramatiq_redis
from dramatiq.errors import ConnectionClosed


class RedisConsumer(dramatiq_redis._RedisConsumer):
    def requeue(self, messages) -> None:
        try:
            super().requeue(messages)
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None


class RedisBroker(dramatiq_redis.RedisBroker):
    @property
    def consumer_class(self):
        return RedisConsumer

"""The periodic scheduler behind `manage.py runscheduler`: periodiq's clock, with sends that
outlive a broker outage.

periodiq's own loop lets an exception from a send end the process (``send_actors`` ->
``actor.send_with_options`` -> ``redis.ConnectionError`` when Redis is unreachable at a minute
boundary), and with it every later run of the dispatcher. Here a failed send is retried with
backoff until it goes through or the next run is near; a run given up is harmless, because the
dispatcher catches up everything the missed one would have done.
"""

import logging
import time

import dramatiq
import pendulum
import periodiq

logger = logging.getLogger(__name__)


class PatientScheduler(periodiq.Scheduler):
    FIRST_RETRY_S = 0.5
    MAX_RETRY_S = 5.0
    # Give up a run well before the next one (periodiq's finest period is a minute).
    GIVE_UP_AFTER_S = 45.0

    def send_actors(self, actors, now) -> None:
        for actor in actors:
            self.send_patiently(actor, now)

    def send_patiently(self, actor, now) -> bool:
        """Send the actor's message for the run at ``now``; retry on any broker error."""
        started = time.monotonic()
        delay = self.FIRST_RETRY_S
        scheduled_at = str(now)
        while True:
            try:
                logger.info("Scheduling %s at %s.", actor, scheduled_at)
                actor.send_with_options(scheduled_at=scheduled_at)
                return True
            except Exception as exc:
                if time.monotonic() - started + delay > self.GIVE_UP_AFTER_S:
                    logger.error("Giving up the %s run of %s: %s", now, actor, exc)
                    return False
                logger.warning("Could not send %s (%s); retrying in %.1f s.", actor, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.MAX_RETRY_S)
                # The worker skips a periodic message that starts more than the middleware's
                # skip_delay (30 s) after its scheduled_at: a late send names its own moment.
                scheduled_at = str(pendulum.now())


def run_scheduler() -> None:
    """Schedule the broker's periodic actors until the process is stopped."""
    actors = [a for a in dramatiq.get_broker().actors.values() if "periodic" in a.options]
    if not actors:
        raise RuntimeError("No periodic actor to schedule: import jobs.actors first.")
    periodiq.print_periodic_actors(actors)
    scheduler = PatientScheduler(actors=actors)
    # As periodiq does: started in the last seconds of a minute, begin with the next one.
    second = pendulum.now().second
    if second > 55:
        time.sleep(60 - second)
    scheduler.schedule()
    scheduler.loop()

"""The worker process's garbage collector, set up as the web process's is (core/wsgi.py).

A worker process allocates and frees thousands of short-lived objects per email (model
instances, template contexts, email parts): with the standard threshold (a young-generation
collection every 700 net allocations) the collector walks the young generation about a dozen
times per email, and every full collection walks everything loaded at start-up (Django, the
schema, Anymail, the actors), which lives as long as the process. So, once the process has
booted: what is alive is frozen out of the collector's walks, and young collections come every
50,000 net allocations. Reference counting still frees everything that is not in a cycle at
once; cycles wait a little longer. bench/reminders.py: 3-6% less worker CPU per email.
"""

import gc

from dramatiq.middleware import Middleware

YOUNG_THRESHOLD = 50_000


class FrozenStartup(Middleware):
    def after_process_boot(self, broker) -> None:
        # Emitted by the dramatiq command in each worker process once the broker is imported,
        # and with it Django and its apps (jobs' app imports the actors); never for the
        # embedded worker, which shares the web process (core/wsgi.py freezes that one).
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, older, oldest)

"""Reminders: the database is the source of truth; broker messages only wake a worker up at a
moment, and the worker then claims whatever is due (docs/reminders.md).

States move forward: PENDING -> QUEUED -> SENDING -> SENT | FAILED | CANCELLED. Two moves go
back on purpose and bump ``version``: re-arming (the task moved, so a relative reminder waits
for its new time) and a retry (a transient failure or a stalled worker puts SENDING back to
QUEUED with a later ``due_at``).

One job per module:

- ``selectors``: reads (the API's visible reminders, a batch loaded for its emails).
- ``services``: writes called by the API and by ``tasks.services`` as the task changes.
- ``wakeups``: the one seam to background work: due moments handed, after the commit, to the
  function the jobs app registers at start-up. Nothing in ``tasks`` imports ``jobs``.
- ``claims``: the worker's state transitions, each a conditional UPDATE on (id, version).
- ``delivery``: claim a batch, send each email (composed by the caller), record the outcome.
- ``dispatch``: the periodic dispatcher that queues what comes near and re-queues what was lost.
- ``tracking``: delivery status from the provider's tracking events.
- ``gate``: who may get a reminder email now (a verified address, within the email caps).
"""

"""E-mail delivery of tickets: durable state, exactly-once claims, retries, sweep, resend.

The ``Delivery`` table is the source of truth; Celery messages only carry "look at these rows"
(``tasks.send_deliveries``), so a lost, duplicated or replayed message can neither lose nor
double a ticket. The rules:

1. **Queued in the database first.** Issuing or reissuing a ticket (the ``ticket_issued``
   signal, ``receivers``), ``queue.resend()`` and ``issue_tickets`` insert a ``queued`` row,
   then publish a task after commit. A ticket version has at most one open delivery (a
   partial unique index), so double clicks, receivers and sweeps that race all end on the same row.
2. **Claimed with a conditional UPDATE.** A worker takes rows with
   ``UPDATE ... SET state='sending', claim_token=<its own> WHERE state IN ('queued',
   'in_doubt') AND next_attempt_at <= now``; only one worker's UPDATE can match a row, so two
   workers, a Celery retry and a sweep never send the same delivery. Every later write of the
   worker is conditional on its claim token, so a worker that lost its claim changes nothing.
3. **The attempt is recorded before the message leaves.** The SMTP exchange is driven step by
   step over Django's SMTP connection (one connection per batch): after the server accepts the
   envelope and says "354 go ahead", the worker commits ``attempts + 1`` and ``handed_at``, and
   only then sends the message text and the final dot. Then it commits ``sent`` with the
   server's "250" answer.
4. **Failures are never silent.** A 4xx answer or a dropped connection puts the row back to
   ``queued`` with exponential backoff (``VARCO_DELIVERY_RETRY_BASE_SECONDS`` doubling, capped
   at 15 minutes, at most ``VARCO_DELIVERY_MAX_ATTEMPTS`` tries); a 5xx answer makes it
   ``failed``. Either way ``last_error`` keeps the SMTP server's answer, shown in the API and
   the admin.
5. **The sweep** (``sweep.sweep()``, every ``VARCO_DELIVERY_SWEEP_SECONDS`` through Celery
   beat, which ``python -m worker`` embeds) finds work whose worker or task was lost: rows claimed
   more than ``VARCO_DELIVERY_STALE_SECONDS`` ago that never reached the server go back to
   ``queued``; rows due for that long that nobody claimed are published again; valid tickets
   issued in the last day that have no delivery at all (the process died between the commit
   and the receiver) get one. With the defaults (90 s stale, 30 s sweep) lost work is re-queued
   within 2 minutes.

**The in-doubt rule.** A worker that dies (or loses the connection) after ``handed_at`` was
committed and before ``sent`` was, may or may not have had its message accepted: no protocol
can tell (the "250 OK" and the database write cannot be one atomic step). Such a row is put in
``in_doubt`` by the sweep (once its ``handed_at`` is older than the stale time and twice the SMTP
timeout, so a live worker waiting for a slow server is not overtaken) and **re-sent
automatically with the same Message-ID**, and its ``in_doubt_count`` is incremented. So the
attendee is never left without a ticket; if the first copy had arrived, the second is the
same message (same Message-ID, ticket, code and PDF; only the Date header and MIME
boundaries differ), which mail stores and clients de-duplicate;
and the organiser sees "in doubt" / "possible duplicate" on that ticket in the API and admin.
The window is a few milliseconds per message (the server's "250" plus one database commit),
so this is rare; rows that never reached ``handed_at`` are re-sent without any doubt.

A message is never sent without its PDF (it is rendered before the SMTP exchange starts; a
rendering error is a failed attempt), each attendee gets their own message, and a delivery
whose ticket was revoked or reissued in the meantime is ``cancelled`` instead of sent.

The rooms: ``queue`` (queueing, publishing by task name), ``batch`` (claims and the outcome
of each attempt), ``smtp`` (the SMTP hand-over), ``message`` (the e-mail and its bytes),
``sweep``, ``tasks`` (the Celery tasks), ``receivers`` (the ``ticket_issued`` receiver),
``publisher`` (a registration's task published in a batch, by a thread of the web process).
Reads (latest delivery, progress) are in ``tickets.selectors``.
"""

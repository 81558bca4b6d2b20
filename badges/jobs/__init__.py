"""Print on arrival: durable print jobs, claimed exactly once, never printed twice.

The ``PrintJob`` table is the source of truth; wake-ups (``wakeup``) only make a waiting
station look sooner. The same discipline as the ticket e-mails (``tickets.delivery``):

1. **Queued in the database after the scan commits.** ``receivers`` gets
   ``checkin.signals.scan_admitted`` and runs one INSERT … SELECT (``queue``): the list's
   layout (``ListPrinting``), the station serving the device's gate (``PrintStationGate``,
   one per gate) or else the list's default station; ``ON CONFLICT DO NOTHING`` on the partial
   unique index (ticket, layout) for non-reprints, so a re-entry, a second list with the same
   layout, a replayed upload or two racing receivers queue one badge. The statement runs in a
   thread of the process (``handover``), so the scan's answer waits for no second commit; a
   list that prints nothing costs a set look-up; any error is logged, never raised into the
   scan. An admission whose hand-over was lost (the process died) is backfilled by the sweep.
2. **Claimed with a conditional UPDATE** (``claims.claim``): ``state='claimed', claim_token=
   <new>, attempt+1 WHERE id=… AND state='queued'``; only one claimer's UPDATE can match. A
   station claiming again first returns its own earlier claimed-but-never-handed jobs to the
   queue (it restarted, or the answer to its earlier claim was lost). Every later write is
   conditional on the claim token.
3. **Handed before the bytes leave.** The station reports ``handed`` (committed), then sends
   the badge to the printer, then reports ``printed`` (with the printer's job id) or
   ``failed`` (retried with a doubling delay, at most ``VARCO_PRINT_MAX_ATTEMPTS`` claims).
4. **The sweep** (``sweep``, beat): claimed jobs not handed within
   ``VARCO_PRINT_STALE_SECONDS`` go back to the queue; handed jobs with no answer in that
   time are **in doubt** and are never printed again by themselves: the station resolves
   them when it can prove the outcome (the agent looks for ``varco-<id>-<attempt>`` in the
   CUPS queue's history), else staff answer "did badge X come out?" (``claims.
   resolve_in_doubt``: printed, or queued again; audited).
5. A reprint (a lost badge) is explicit, with a reason, audited (``queue.reprint``); a revoked
   ticket's queued or claimed jobs are cancelled (``receivers``).

Modules: ``queue`` (queueing, reprint, cancel), ``handover``, ``claims`` (the station's side),
``stations`` (pairing, gates, output, list printing, token authentication), ``sweep``,
``wakeup`` (Redis pub/sub or in-process wake-ups), ``selectors`` (reads), ``stream`` (the
browser station's server-sent events), ``receivers``.
"""

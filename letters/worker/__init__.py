"""The worker: the process that consumes the work queue and what it does between messages.

``supervisor`` starts the worker processes and restarts those that die;
``consumer`` handles one message at a time through the delivery pipeline;
``periodic`` is the work the first process does between messages (the events
relay, print dispatch, the print house's receipts, Digipost sync, retention);
``sweep`` and ``recovery`` find letters the broker lost; ``health`` serves
``/healthz``, ``/readyz`` and the metrics. ``letters.messaging`` below it is
the broker adapter (kombu): topology, publishing, the dead-letter queue, the
events relay and tail.
"""

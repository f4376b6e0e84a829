"""The broker adapter (kombu): what the service says to RabbitMQ or the embedded transport.

``topology`` (the queues and exchanges of ``queue/topology.toml``), ``broker``
(connections and publishing), ``dead_letter_queue`` (listing and retrying dead
letters), ``event_relay`` and ``event_tail`` (the letters.event/1 events out
and back), and ``queue_migration`` (the classic retry queues, emptied). The
worker process that consumes the work queue is ``letters.worker``.
"""

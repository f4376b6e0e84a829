"""The broker side of the service.

``topology`` (the queues and exchanges of ``queue/topology.toml``), ``broker``
(connections and publishing), ``consumer`` (the kombu consumer that runs the
delivery pipeline per message), ``periodic`` (work between messages),
``supervisor`` (worker processes), ``recovery`` (start-up recovery on the
embedded transport) and ``dead_letters``.
"""

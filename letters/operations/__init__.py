"""The operations page: what the workers, queues, dead letters and print batches are
doing, read-only; the actions it names stay in the command line."""

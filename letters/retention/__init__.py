"""The end of a letter's time in the ledger: once retention has erased its personal data,
its history and delivery events are put away in the archive (``history_put_away``)."""

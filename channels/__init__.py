"""Delivery channels: one module per provider, all with ``send(letter) -> Receipt``."""

"""From a composed letter to a PDF.

``templates`` (Jinja2 and template versions), ``formatting`` (Babel),
``pdf`` (WeasyPrint with a locked-down fetcher, then pikepdf), ``renderer``
(one letter), ``letter_service`` (validate, compose and render with one
profile) and ``approvals`` (legal's approvals and the gate).
"""

"""Legal review of the templates.

``scenarios`` (realistic sample data), ``build`` (each template rendered and
compared with its approved version), ``diff`` (words and page areas that
changed), ``site`` and ``pages/`` (the static site) and ``server`` (served on
localhost, rebuilt as templates change).
"""

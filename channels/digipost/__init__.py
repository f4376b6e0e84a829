"""Digipost: the debtor's digital mailbox, through Digipost's sender API v8.

``channel`` sends letters and identifies recipients; ``client`` is the signed
HTTP client and the one place Digipost's failures are translated; ``connect``
builds both from the settings (and starts the local ``double`` when there is
no Digipost URL); ``sync`` fetches delivery news into the ledger.
"""

"""A local Digipost that speaks the sender API v8, for tests and the embedded default.

``server`` is what the double does (authentication, identify, messages,
status, events); ``http`` its request handler; ``store`` its mailbox on
disk; ``xml`` its answers; ``schema`` the checks of the messages it takes.
"""

from channels.digipost.double.http import DoubleError, Fault
from channels.digipost.double.server import DEFAULT_RECIPIENTS, DigipostDouble, DoubleConfig

__all__ = ["DEFAULT_RECIPIENTS", "DigipostDouble", "DoubleConfig", "DoubleError", "Fault"]

"""The service's configuration: every ``LETTERS_*`` setting declared once
(``declared``), the units it is written in (``units``), and the settings read
from them (``settings``)."""

from letters.config.declared import DEFAULT_RETRY_DELAYS, SETTINGS, Setting
from letters.config.paths import EXAMPLE_PROFILE, PROJECT_ROOT, TEMPLATES_DIR
from letters.config.settings import (
    DigipostSettings,
    EventSettings,
    PrintSettings,
    ResendSettings,
    S3Settings,
    Settings,
    SweepSettings,
)
from letters.config.units import Rate, delay_label, parse_delays

__all__ = [
    "DEFAULT_RETRY_DELAYS",
    "EXAMPLE_PROFILE",
    "PROJECT_ROOT",
    "SETTINGS",
    "TEMPLATES_DIR",
    "DigipostSettings",
    "EventSettings",
    "PrintSettings",
    "Rate",
    "ResendSettings",
    "S3Settings",
    "Setting",
    "Settings",
    "SweepSettings",
    "delay_label",
    "parse_delays",
]

"""One object that holds what rendering needs for a process: profile and renderer."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from letters.clock import today_in_norway
from letters.config import Settings
from letters.domain.compose import ComposedLetter, check_before_compose, compose
from letters.domain.contract import parse_request
from letters.domain.message_body import BodyLimits
from letters.domain.otp import OneTimePassword
from letters.domain.pepper import load_pepper
from letters.domain.profile import AgencyProfile, load_profile
from letters.domain.rates import load_rates
from letters.rendering.approvals import ApprovalBook
from letters.rendering.fonts import drawable
from letters.rendering.renderer import RenderedLetter, Renderer


class LetterService:
    """Validate, compose and render letters with one agency profile and template folder."""

    def __init__(self, settings: Settings, profile: AgencyProfile | None = None) -> None:
        self.settings = settings
        self.profile = profile or load_profile(settings.agency_profile)
        approvals = ApprovalBook(settings.templates_dir)
        self.renderer = Renderer(
            settings.templates_dir,
            approvals if settings.require_approved_templates else None,
            stencils=settings.stencil,
        )
        # What a request must keep to: the agency's KID rules, the body limits, and only
        # characters the bundled fonts can print.
        self.contract_rules = dataclasses.replace(
            self.profile.contract_rules,
            drawable=drawable(self.renderer.templates.root),
            limits=BodyLimits(settings.max_body_bytes, settings.max_nesting),
            # The packaged baseline only: the worker adds the rows operations approved
            # (letters.delivery.rates).
            rates=load_rates(settings.rates_file, allow_unchecked=settings.allow_unchecked_rates),
        )
        # The secret key of the password hash; a missing one stops the service here.
        self.pepper = load_pepper(settings)

    def render_request(
        self,
        raw: bytes | str | dict[str, Any],
        today: date | None = None,
        password: OneTimePassword | None = None,
    ) -> RenderedLetter:
        """Validate and render one request.

        Raises:
            InvalidRequest, TemplateError, RenderError: the letter cannot be made.
        """
        return self.renderer.render(self.compose_request(raw, today, password))

    def compose_request(
        self,
        raw: bytes | str | dict[str, Any],
        today: date | None = None,
        password: OneTimePassword | None = None,
    ) -> ComposedLetter:
        """Validate a request and add KID, deadline, password and totals to it.

        The order of letters is checked against the earlier letters the request
        reports (``case.earlier_letters``); the worker also checks the ledger's.
        """
        today = today or today_in_norway()
        request = parse_request(raw, self.contract_rules, today)
        rates = self.contract_rules.rates
        leaves_on = request.letter_date or today
        check_before_compose(request, self.profile, rates, leaves_on=leaves_on)
        return compose(request, self.profile, today, password, rates=rates, pepper=self.pepper)

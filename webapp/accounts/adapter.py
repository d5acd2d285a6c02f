"""How allauth sends the site's account mails (verification, password reset)."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib import messages

logger = logging.getLogger(__name__)

NOT_SENT_MESSAGE = (
    "The e-mail could not be sent just now. Please ask for it again in a few minutes."
)


class AccountAdapter(DefaultAccountAdapter):
    """allauth's adapter, except that a mail the mail server does not take is logged
    and reported on the next page instead of failing the request: the account change
    itself is done, and the mail can be asked for again (sign in, or "Re-send")."""

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        try:
            super().send_mail(template_prefix, email, context)
        except (smtplib.SMTPException, OSError) as exc:
            logger.error(
                "account mail not sent",
                extra={
                    "fields": {
                        "template": template_prefix,
                        "error": type(exc).__name__,
                        "smtp_code": getattr(exc, "smtp_code", ""),
                    }
                },
            )
            request = allauth_context.request
            if request is not None:
                messages.error(request, NOT_SENT_MESSAGE)

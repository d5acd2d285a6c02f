"""Account mail through a real SMTP server on 127.0.0.1: USP_EMAIL_URL parsed into the
settings, plain SMTP, STARTTLS with a login, implicit TLS; a server that is down."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import free_port
from usp.config import ConfigError
from webapp.accounts.adapter import NOT_SENT_MESSAGE
from webapp.accounts.models import User
from webapp.accounts.tests.browsing import browser, sign_in, signed_in_user_id, submit
from webapp.accounts.tests.smtp import self_signed_certificate, smtp_server
from webapp.config.env import MailServer, mail_server
from webapp.config.settings.base import email_settings
from webapp.core.tests.django_process import run_django

PASSWORD = "a-Good-password-9"


def send_mail_to(settings: Any, url: str) -> None:
    """Point the settings at the server of `url`, as USP_EMAIL_URL would."""
    for name, value in email_settings(mail_server(url)).items():
        setattr(settings, name, value)


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://mail.example.com", MailServer(host="mail.example.com", port=25)),
        (
            "smtp+starttls://u:p@mail.example.com",
            MailServer(
                host="mail.example.com", port=587, username="u", password="p", starttls=True
            ),
        ),
        (
            "submission://mail.example.com:2525?timeout=3.5",
            MailServer(host="mail.example.com", port=2525, starttls=True, timeout=3.5),
        ),
        (
            "SMTPS://me%40example.com:s%2Fcr%40t@mail.example.com",
            MailServer(
                host="mail.example.com",
                port=465,
                username="me@example.com",
                password="s/cr@t",
                implicit_tls=True,
            ),
        ),
    ],
)
def test_mail_urls_name_the_server_its_port_login_and_kind_of_tls(
    url: str, server: MailServer
) -> None:
    assert mail_server(url) == server


def test_a_mail_server_password_is_not_shown_in_its_repr() -> None:
    server = mail_server("smtps://me:very-secret@mail.example.com")

    assert "very-secret" not in repr(server)


def test_a_mail_url_without_a_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="USP_EMAIL_URL must look like"):
        mail_server("smtp://")


@pytest.mark.django_db
def test_sign_up_sends_the_verification_mail_through_smtp_and_its_link_verifies(
    settings: Any,
) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client = browser()
    with smtp_server() as smtp:
        send_mail_to(settings, f"smtp://127.0.0.1:{smtp.port}")
        signed_up = submit(
            client,
            "/accounts/signup/",
            {"email": "erin@example.com", "password1": PASSWORD, "password2": PASSWORD},
        )

    assert (signed_up.status_code, signed_up["Location"]) == (302, "/accounts/confirm-email/")
    [received] = smtp.inbox.received
    assert received.recipients == ["erin@example.com"]
    assert received.message["From"] == "upload-store-process <noreply@localhost>"
    confirmed = submit(client, received.link(), {})
    assert confirmed.status_code == 302
    signed_in = browser()
    sign_in(signed_in, "erin@example.com", PASSWORD)
    assert signed_in_user_id(signed_in) == str(User.objects.get(email="erin@example.com").pk)


@pytest.mark.django_db
@pytest.mark.parametrize(("scheme", "tls"), [("submission", "starttls"), ("smtps", "implicit")])
# aiosmtpd does not count TLS from the first byte (smtps) as TLS for AUTH, and warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_password_reset_mail_goes_over_tls_with_the_urls_login(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str, tls: str
) -> None:
    certificate = self_signed_certificate(tmp_path)
    # The client verifies the server's certificate against this file only.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    User.objects.create_user("fay", "fay@example.com", PASSWORD)
    with smtp_server(tls=tls, certificate=certificate, credentials=("mailer", "p@ss")) as smtp:
        send_mail_to(settings, f"{scheme}://mailer:p%40ss@127.0.0.1:{smtp.port}")
        response = submit(browser(), "/accounts/password/reset/", {"email": "fay@example.com"})

    assert response.status_code == 302
    assert [(r.recipients, r.login) for r in smtp.inbox.received] == [
        (["fay@example.com"], "mailer")
    ]
    assert "/accounts/password/reset/key/" in smtp.inbox.received[0].link()


@pytest.mark.django_db
def test_a_mail_server_that_is_down_leaves_sign_up_done_and_says_the_mail_was_not_sent(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    send_mail_to(settings, f"smtp://127.0.0.1:{free_port()}?timeout=2")
    client = browser()

    with caplog.at_level(logging.ERROR, logger="webapp.accounts.adapter"):
        signed_up = submit(
            client,
            "/accounts/signup/",
            {"email": "gus@example.com", "password1": PASSWORD, "password2": PASSWORD},
        )
    page = client.get(signed_up["Location"])

    assert (signed_up.status_code, signed_up["Location"]) == (302, "/accounts/confirm-email/")
    assert User.objects.filter(email="gus@example.com").exists()
    assert NOT_SENT_MESSAGE in page.content.decode()
    assert [(r.getMessage(), r.levelname) for r in caplog.records] == [
        ("account mail not sent", "ERROR")
    ]


def test_the_embedded_run_sends_mail_to_the_server_of_usp_email_url(tmp_path: Path) -> None:
    code = (
        "from django.core.mail import send_mail; "
        "send_mail('Hello', 'From the embedded run.', None, ['hal@example.com'])"
    )
    with smtp_server() as smtp:
        result = run_django(
            "webapp.config.settings.local",
            "shell",
            "-c",
            code,
            USP_DATA_DIR=str(tmp_path),
            USP_EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
            USP_EMAIL_FROM="Files <files@example.com>",
        )

    assert result.returncode == 0, result.stderr
    assert [(r.recipients, r.message["From"], r.text.strip()) for r in smtp.inbox.received] == [
        (["hal@example.com"], "Files <files@example.com>", "From the embedded run.")
    ]


@pytest.mark.parametrize(
    ("settings_module", "expected"),
    [
        ("webapp.config.settings.local", "django.core.mail.backends.console.EmailBackend"),
        ("webapp.config.settings.production", "django.core.mail.backends.smtp.EmailBackend"),
    ],
)
def test_without_usp_email_url_mail_is_printed_locally_and_relayed_to_localhost_in_production(
    tmp_path: Path, settings_module: str, expected: str
) -> None:
    code = (
        "from django.conf import settings; "
        "print(settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)"
    )
    result = run_django(
        settings_module,
        "shell",
        "-c",
        code,
        USP_DATA_DIR=str(tmp_path),
        USP_SECRET_KEY="Zq7-long-random-production-secret-for-this-test-only-Hk29_xPw4mN8vR1tB6yC",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [expected, "localhost", "25"]

"""Units behind resumable uploads: signatures, the type policy, settings, checksums, and
the schema the migrations build."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage_service import db, policy
from storage_service.errors import Forbidden, InvalidObject, TypeNotAllowed
from storage_service.partials import ChunkChecksum
from storage_service.settings import Settings, SigningKey, parse_signing_keys
from storage_service.signing import Signer, UploadClaims, from_query, to_query
from usp.config import ConfigError

CLAIMS = UploadClaims("a" * 32, "user-1", 1000, 1_900_000_000)
KEY = SigningKey("k1", b"first secret")
OTHER = SigningKey("k2", b"second secret")


def test_signed_location_verifies_after_a_round_trip_through_its_query() -> None:
    signer = Signer([KEY])
    query = dict(pair.split("=", 1) for pair in to_query(signer.sign(CLAIMS)).split("&"))

    assert signer.verify(from_query(CLAIMS.session_id, query)) == CLAIMS
    assert sorted(query) == ["expires", "kid", "owner", "sig", "size"]


@pytest.mark.parametrize(
    "changed",
    [
        {"session_id": "b" * 32},
        {"owner_id": "user-2"},
        {"max_size": 1001},
        {"expires_at": 1_900_000_001},
    ],
)
def test_any_changed_claim_breaks_the_signature(changed: dict[str, Any]) -> None:
    signer = Signer([KEY])
    signed = signer.sign(CLAIMS)

    tampered = dataclasses.replace(signed, claims=dataclasses.replace(CLAIMS, **changed))

    with pytest.raises(Forbidden, match="signature does not match"):
        signer.verify(tampered)


def test_owner_ids_cannot_be_shifted_into_neighbouring_fields() -> None:
    signer = Signer([KEY])
    signed = signer.sign(UploadClaims("a" * 32, "user-1", 1000, 1_900_000_000))
    shifted = UploadClaims("a" * 32, "user-11", 100, 1_900_000_000)

    with pytest.raises(Forbidden):
        signer.verify(dataclasses.replace(signed, claims=shifted))


def test_every_configured_key_verifies_and_only_the_first_signs() -> None:
    old_signer, rotated = Signer([KEY]), Signer([OTHER, KEY])

    assert rotated.verify(old_signer.sign(CLAIMS)) == CLAIMS
    assert rotated.sign(CLAIMS).key_id == "k2"
    with pytest.raises(Forbidden, match="unknown key"):
        old_signer.verify(rotated.sign(CLAIMS))


@pytest.mark.parametrize(
    "query",
    [{}, {"owner": "u", "size": "x", "expires": "1", "kid": "k1", "sig": "s"}],
    ids=["nothing", "size not a number"],
)
def test_location_without_its_signed_fields_is_forbidden(query: dict[str, str]) -> None:
    with pytest.raises(Forbidden, match="not signed"):
        from_query("a" * 32, query)


@pytest.mark.parametrize(
    ("patterns", "content_type", "allowed"),
    [
        ([], "text/html", True),
        (["image/*"], "image/png", True),
        (["image/*"], "text/plain", False),
        (["application/pdf"], "application/pdf", True),
        (["application/pdf"], "application/pdfx", False),
        (["*/*"], "application/x-empty", True),
        (["*"], "video/mp4", True),
        (["IMAGE/PNG"], "image/png", True),
    ],
)
def test_policy_matches_types_by_exact_name_or_family(
    patterns: list[str], content_type: str, allowed: bool
) -> None:
    assert policy.allows(policy.validate(patterns), content_type) is allowed


def test_policy_refusal_names_the_type() -> None:
    with pytest.raises(TypeNotAllowed) as excinfo:
        policy.require_allowed(["image/*"], "text/html")

    assert (excinfo.value.code, excinfo.value.message) == (
        "type_not_allowed",
        "type_not_allowed: text/html is not allowed",
    )


@pytest.mark.parametrize("pattern", ["image", "image/", "/png", "*/png", "image/**", "a b/c"])
def test_policy_refuses_what_is_not_a_mime_pattern(pattern: str) -> None:
    with pytest.raises(InvalidObject, match="not a MIME type pattern"):
        policy.validate([pattern])


def test_upload_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "USP_DATA_DIR": str(tmp_path),
            "USP_STORAGE_HTTP_HOST": "0.0.0.0",
            "USP_STORAGE_HTTP_PORT": "0",
            "USP_STORAGE_PUBLIC_URL": "https://uploads.example/storage/",
            "USP_UPLOAD_SIGNING_KEYS": "k2:new secret, k1:old:secret",
            "USP_UPLOAD_EXPIRY": "3600",
            "USP_UPLOAD_SWEEP_INTERVAL": "5",
            "USP_CORS_ORIGINS": "https://app.example, http://localhost:3000",
            "USP_DATA_PLANE_TIMEOUT": "15",
            "USP_MAX_UPLOAD_SIZE": "1000",
        }
    )

    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 0)
    assert settings.public_base_url(8123) == "https://uploads.example/storage"
    assert settings.signing_keys == (
        SigningKey("k2", b"new secret"),
        SigningKey("k1", b"old:secret"),
    )
    assert (settings.upload_expiry, settings.upload_sweep_interval) == (3600, 5.0)
    assert settings.cors_origins == ("https://app.example", "http://localhost:3000")
    assert (settings.data_plane_timeout, settings.max_upload_size) == (15.0, 1000)
    assert "secret" not in repr(settings)


def test_upload_settings_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"USP_DATA_DIR": str(tmp_path)})

    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8001)
    assert settings.public_base_url(8001) == "http://127.0.0.1:8001"
    assert [key.key_id for key in settings.signing_keys] == ["dev"]
    assert (settings.upload_expiry, settings.upload_sweep_interval) == (86400, 60.0)
    assert settings.cors_origins == ("http://127.0.0.1:8000", "http://localhost:8000")
    assert (settings.data_plane_timeout, settings.max_upload_size) == (60.0, 5 * 1024**3)


@pytest.mark.parametrize(
    ("host", "url"), [("0.0.0.0", "http://127.0.0.1:9"), ("::1", "http://[::1]:9")]
)
def test_default_public_url_is_reachable_from_this_machine(
    tmp_path: Path, host: str, url: str
) -> None:
    settings = Settings.from_env({"USP_DATA_DIR": str(tmp_path), "USP_STORAGE_HTTP_HOST": host})

    assert settings.public_base_url(9) == url


@pytest.mark.parametrize("value", ["nokey", ":secret", "k1:", "k1:a,k1:b"])
def test_malformed_signing_keys_are_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_signing_keys(value)


def test_chunk_checksum_header_is_parsed_case_insensitively() -> None:
    checksum = ChunkChecksum.parse("SHA1 qvTGHdzF6KLavt4PO0gs2a6pQ00=")

    assert checksum.algorithm == "sha1"
    assert checksum.digest.hex() == "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"


def test_migrations_build_the_schema_the_models_describe(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/schema.sqlite3"
    db.migrate(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            differences = compare_metadata(context, db.Base.metadata)
    finally:
        engine.dispose()

    assert differences == []

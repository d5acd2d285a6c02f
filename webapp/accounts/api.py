"""REST API for the user's own API tokens: list, create (the key shown once), revoke."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts.models import ApiToken
from webapp.accounts.services import api_token_create, api_token_revoke
from webapp.accounts.tokens import EXPIRY_DAYS, expiry_from_days, token_get, token_list, token_state
from webapp.core.errors import InvalidInput
from webapp.core.fields import NAME_TEXT, StringField
from webapp.core.parsers import JSONParser
from webapp.files.api import error_responses


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    state = serializers.SerializerMethodField(help_text="active, expired or revoked")

    class Meta:
        model = ApiToken
        fields: tuple[str, ...] = (
            "id", "name", "prefix", "created_at", "last_used_at", "expires_at", "state"
        )  # fmt: skip
        read_only_fields: tuple[str, ...] = fields

    def get_state(self, token: ApiToken) -> str:
        return token_state(token)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.SerializerMethodField(
        help_text="The key: shown in this answer only, never again."
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "key")
        read_only_fields = fields

    def get_key(self, token: ApiToken) -> str:
        return str(self.context["key"])


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    # Untrimmed, so the length limit and the schema's pattern apply to what was sent;
    # api_token_create trims it.
    name = StringField(max_length=100, trim_whitespace=False, validators=[NAME_TEXT])
    expires_in_days = serializers.ChoiceField(
        choices=list(EXPIRY_DAYS),
        required=False,
        allow_null=True,
        help_text="30, 90 or 365; omitted or null: never expires.",
    )


TOKEN_ID = OpenApiParameter("token_id", OpenApiTypes.INT, OpenApiParameter.PATH)


class TokenListCreateApi(APIView):
    # JSON only: a form cannot say "never expires" (null) for expires_in_days.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="tokens_list",
        summary="Your API tokens (never their keys)",
        responses={200: ApiTokenSerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(ApiTokenSerializer(token_list(user=request.user), many=True).data)

    @extend_schema(
        operation_id="tokens_create",
        summary="Create a named API token; its key is in this answer only",
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenCreatedSerializer, **error_responses(400, 401, 403, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        given = ApiTokenCreateSerializer(data=request.data)
        if not given.is_valid():
            raise InvalidInput(
                "The token request is not valid.", fields=given.errors, code="invalid_input"
            )
        token, key = api_token_create(
            user=request.user,
            name=given.validated_data["name"],
            expires_at=expiry_from_days(given.validated_data.get("expires_in_days")),
        )
        body = ApiTokenCreatedSerializer(token, context={"key": key}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class TokenDetailApi(APIView):
    @extend_schema(
        operation_id="tokens_revoke",
        summary="Revoke one of your API tokens; it stops authenticating at once",
        parameters=[TOKEN_ID],
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, token_id: int) -> Response:
        api_token_revoke(token=token_get(user=request.user, token_id=token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

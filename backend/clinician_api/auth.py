"""POST /api/v1/auth/token/: an API token for username, password and, when the account must give a
second factor, `otp_token` (the authenticator app's 6-digit code or a recovery code). No token is
issued on the password alone to an account that owes a second factor."""
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit.models import AuditChannel
from backend.audit.services import AuditContext
from backend.core.errors import ApplicationError, error_body
from backend.core.serializers import ErrorSerializer
from backend.core.throttling import login_throttle_check
from backend.twofactor.services import second_factor_required, second_factor_verify

from .services import api_token_issue


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp_token = serializers.CharField(
        max_length=32, required=False, allow_blank=True,
        help_text="The 6-digit code of the authenticator app, or a one-time recovery code. Required when the "
                  "account must give a second factor (every account in production).")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")


class ApiTokenCreateView(APIView):
    authentication_classes = []  # the body is the credential; a session must not stand in for it
    permission_classes = []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: ErrorSerializer,
            401: OpenApiResponse(ErrorSerializer, description="`credentials_invalid`, `otp_required` (no "
                                 "otp_token given) or `otp_invalid` (a wrong or already used code)."),
            403: OpenApiResponse(ErrorSerializer, description="`otp_enrolment_required`: the account has no "
                                 "authenticator app yet; log in on the dashboard once to set it up."),
            429: OpenApiResponse(ErrorSerializer, description="`throttled` (failed logins from this address), "
                                 "`login_locked`, or `otp_throttled` (too many wrong codes; see Retry-After)."),
        },
        summary="Issue the clinician's API token (password, then the second factor).",
        auth=[],
    )
    def post(self, request):
        wait = login_throttle_check(request)
        if wait is not None:
            return _error("throttled", f"Too many failed logins from this address. Try again in {wait} seconds.",
                          429, retry_after=wait)
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The Django request: django-axes marks a locked account on it, and its middleware answers 429.
        user = authenticate(request._request, username=body.validated_data["username"],
                            password=body.validated_data["password"])
        if user is None:
            return _error("credentials_invalid", "Wrong username or password.", 401)
        if second_factor_required(user=user):
            code = body.validated_data.get("otp_token", "")
            if not code:
                return _error("otp_required", "This account needs its second factor: send otp_token.", 401)
            try:
                second_factor_verify(user=user, code=code,
                                     context=AuditContext.from_request(request, channel=AuditChannel.API))
            except ApplicationError as error:
                return _error(error.code, error.detail, error.status_code,
                              retry_after=getattr(error, "retry_after", None))
        return Response(TokenSerializer({"token": api_token_issue(user=user)}).data)


def _error(code: str, detail: str, status: int, *, retry_after: int | None = None) -> Response:
    response = Response(error_body(code, detail), status=status)
    if status == 401:
        response["WWW-Authenticate"] = "Token"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response

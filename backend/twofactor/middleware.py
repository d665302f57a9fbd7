"""The gate: a logged-in session that owes a second factor reaches nothing but the steps that give
it (and logout). One check in front of every door that uses the session: dashboard, admin, and the
clinician API with a session login. API tokens are issued only after the second factor
(backend/twofactor/views.py), so token requests need no gate."""
from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse

from backend.core.errors import error_response

from .services import second_factor_required

# Views an unverified session may reach: logging in, giving the code, enrolling, logging out.
OPEN_VIEWS = {
    "dashboard:login", "dashboard:logout", "dashboard:second-factor", "dashboard:second-factor-enrol",
    "admin:logout", "rest_framework:login", "rest_framework:logout",
    "api-token",  # takes its own credentials and code in the body, never the session
}


class SecondFactorMiddleware:
    """After django_otp's OTPMiddleware, which tells whether this session gave its second factor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.view_name in OPEN_VIEWS:
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified() or not second_factor_required(user=user):
            return None
        if request.path.startswith("/api/"):
            return error_response(
                "otp_required", "This session has not given its second factor: finish logging in on the "
                f"dashboard ({reverse('dashboard:second-factor')}).", 403)
        return redirect(f"{reverse('dashboard:second-factor')}?{urlencode({'next': request.get_full_path()})}")

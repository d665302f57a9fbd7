"""Login and logout (Django's auth views with the dashboard's templates; CSRF on, POST-only logout),
then the second factor: the code from the authenticator app (or a recovery code), and the
enrolment of the app at the first login. The gate that sends a session here is
backend/twofactor/middleware.py."""
import django_otp
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from backend.core.errors import ApplicationError
from backend.twofactor.services import (
    second_factor_required,
    second_factor_verify,
    totp_device_confirmed,
    totp_enrolment_confirm,
    totp_enrolment_start,
    totp_secret_text,
)

from ..access import audit_context
from ..forms import SecondFactorForm
from ..qr import qr_svg


class LoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def _next_url(request) -> str:
    """Where to go once the code is given: the page first asked for, if it is on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return "/"


def _verified(request, device):
    request.session.cycle_key()  # a new session id once the login is complete (no session fixation)
    django_otp.login(request, device)


def _refused(form, error: ApplicationError) -> dict:
    """The form shows why the code was refused; a throttled device answers 429 with Retry-After."""
    form.add_error("code", error.detail)
    return {"status": 429, "retry_after": error.retry_after} if error.code == "otp_throttled" else {}


def _page(request, template: str, context: dict, refusal: dict | None = None):
    response = render(request, template, context, status=(refusal or {}).get("status", 200))
    if refusal and "retry_after" in refusal:
        response["Retry-After"] = str(refusal["retry_after"])
    return response


def _no_store(response):
    response["Cache-Control"] = "no-store"  # a secret or codes: keep them out of caches and history
    return response


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request):
    """The second step of every login of an account that has (or must have) an authenticator app."""
    if request.user.is_verified() or not second_factor_required(user=request.user):
        return redirect(_next_url(request))
    if totp_device_confirmed(user=request.user) is None:
        return redirect(f"{request.path}enrol/?{request.GET.urlencode()}")
    form = SecondFactorForm(request.POST or None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            device = second_factor_verify(user=request.user, code=form.cleaned_data["code"],
                                          context=audit_context(request))
        except ApplicationError as error:
            refusal = _refused(form, error)
        else:
            _verified(request, device)
            return redirect(_next_url(request))
    return _page(request, "dashboard/second_factor.html", {"form": form, "next": _next_url(request)}, refusal)


@login_required
@require_http_methods(["GET", "POST"])
def second_factor_enrol(request):
    """Set up the authenticator app: its secret as a QR code and as text, a code to confirm it, then
    the recovery codes, shown once."""
    try:
        device = totp_enrolment_start(user=request.user)
    except ApplicationError:
        return redirect(_next_url(request))  # already set up: the code page (via the gate), or onwards
    form = SecondFactorForm(request.POST or None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = totp_enrolment_confirm(user=request.user, code=form.cleaned_data["code"],
                                                   context=audit_context(request))
        except ApplicationError as error:
            refusal = _refused(form, error)
        else:
            _verified(request, device)
            return _no_store(render(request, "dashboard/second_factor_recovery_codes.html",
                                    {"codes": codes, "next": _next_url(request)}))
    return _no_store(_page(request, "dashboard/second_factor_enrol.html", {
        "form": form, "next": _next_url(request), "qr_svg": qr_svg(device.config_url),
        "secret": totp_secret_text(device=device),
    }, refusal))

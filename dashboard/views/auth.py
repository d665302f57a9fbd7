"""Login and logout: Django's auth views with the dashboard's templates (CSRF on, POST-only logout)."""
from django.contrib.auth import views as auth_views


class LoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass

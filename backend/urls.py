"""URL root: admin, the versioned API and its schema/docs, the patient app, the dashboard."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/auth/", include("rest_framework.urls")),  # session login for the browsable API
    path("api/v1/", include("backend.api_v1")),
    path("app/", include("clients.patient_app.urls")),  # the patients' web app (PWA)
    path("", include("dashboard.urls")),  # the clinicians' dashboard
]

handler400 = "backend.core.views.bad_request"
handler403 = "backend.core.views.permission_denied"
handler404 = "backend.core.views.page_not_found"
handler500 = "backend.core.views.server_error"

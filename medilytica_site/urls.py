from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from . import auth_views
from .health import HealthView, LiveView, ReadyView
from .views import api_not_found, index

auth_patterns = [
    re_path(r"^register/?$", auth_views.RegisterView.as_view(), name="auth-register"),
    re_path(r"^token/?$", auth_views.TokenObtainView.as_view(), name="auth-token"),
    re_path(r"^token/refresh/?$", auth_views.TokenRefreshView.as_view(), name="auth-refresh"),
    re_path(r"^logout/?$", auth_views.LogoutView.as_view(), name="auth-logout"),
    re_path(r"^login/?$", auth_views.SessionLoginView.as_view(), name="auth-login"),
    re_path(r"^me/?$", auth_views.MeView.as_view(), name="auth-me"),
    re_path(r"^ws-ticket/?$", auth_views.WebSocketTicketView.as_view(), name="auth-ws-ticket"),
]

api_patterns = [
    path("auth/", include(auth_patterns)),
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    re_path(r"^health/live/?$", LiveView.as_view(), name="health-live"),
    re_path(r"^health/ready/?$", ReadyView.as_view(), name="health-ready"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(
        r"^redoc/?$",
        SpectacularRedocView.as_view(url_name="schema", template_name="medilytica_site/redoc.html"),
        name="redoc",
    ),
    path("", include("collaboration.urls")),
    path("", include("datasets.urls")),
    path("", include("mlmodels.urls")),
    path("", include("training.urls")),
    re_path(r"^[\s\S]*$", api_not_found),  # any path, one with a line break too
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
    # The web app owns every other path, so a reload on /runs/<id> opens that run.
    re_path(r"^(?!api/|ws/|admin/|static/)[\s\S]*$", index, name="index"),
]

admin.site.site_header = "MediLytica administration"
admin.site.site_title = "MediLytica"

import json

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.views import csrf
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie


@ensure_csrf_cookie  # the app's first write needs the cookie
def index(request):
    """The web app: its Vite entry's script and styles from the build's manifest, for
    `/` and every client route (each deep-links); the page that says how to build it
    when `frontend/dist` does not exist yet."""
    entry = webapp_entry()
    if entry is None:
        return render(request, "index.html", status=503)
    return render(request, "app.html", {"entry": entry})


def webapp_entry() -> dict | None:
    """`{"script", "styles", "preload"}` of the built app's entry, as /static/ URLs."""
    path = settings.WEBAPP_DIST / ".vite" / "manifest.json"
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    if _manifest_cache.get("stamp") != stamp:  # rebuilt while serving (vite build --watch)
        manifest = json.loads(path.read_text())
        chunk = manifest["index.html"]
        static = (
            settings.STATIC_URL
            if settings.STATIC_URL.startswith("/")
            else "/" + settings.STATIC_URL
        )
        _manifest_cache.update(
            stamp=stamp,
            entry={
                "script": static + chunk["file"],
                "styles": [static + css for css in chunk.get("css", [])],
                "preload": [static + manifest[name]["file"] for name in chunk.get("imports", [])],
            },
        )
    return _manifest_cache["entry"]


_manifest_cache: dict = {}


@csrf_exempt  # a POST to an unknown path is a 404, not a CSRF failure; nothing is written
def api_not_found(request):
    """Unknown /api/ paths answer in the API's error format, not Django's HTML page."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: under /api/ the API's error format (as DRF words its own CSRF
    refusals), elsewhere Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": f"CSRF Failed: {reason}", "code": "permission_denied"}, status=403
        )
    return csrf.csrf_failure(request, reason)

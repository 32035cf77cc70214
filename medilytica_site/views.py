from django.http import JsonResponse
from django.shortcuts import render
from django.views import csrf
from django.views.decorators.csrf import csrf_exempt


def index(request):
    return render(request, "index.html")


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

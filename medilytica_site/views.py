from django.http import JsonResponse
from django.shortcuts import render


def index(request):
    return render(request, "index.html")


def api_not_found(request):
    """Unknown /api/ paths answer in the API's error format, not Django's HTML page."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)

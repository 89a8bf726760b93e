"""Site-wide views: home page, health checks, error pages. (Placeholder: being built.)"""

from django.http import HttpResponse


def home(request):
    return HttpResponse("Global Store")


def health_live(request):
    return HttpResponse("ok", content_type="text/plain")


def health_ready(request):
    return HttpResponse("ok", content_type="text/plain")


def page_not_found(request, exception):
    return HttpResponse("not found", status=404)


def server_error(request):
    return HttpResponse("error", status=500)

"""The baseline for small uploads: the least a Django view can do with an upload.

`python -m bench.baseline --port P --media-root DIR --threads T` serves one view,
`PUT /upload/`, that saves the request body with FileSystemStorage, on waitress with T
threads, the way the webapp is served. Settings are made in code; nothing else of the
project is imported.
"""

from __future__ import annotations

import argparse
import logging
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def upload(request: HttpRequest) -> HttpResponse:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    if request.method != "PUT":
        return HttpResponse(status=405)
    name = default_storage.save(f"{uuid.uuid4().hex}.bin", ContentFile(request.body))
    return JsonResponse({"name": name, "size": default_storage.size(name)}, status=201)


def ready(_request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("upload/", upload), path("ready/", ready)]


def configure(media_root: str) -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-baseline-not-secret",  # noqa: S106 - a throw-away benchmark server
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        MEDIA_ROOT=media_root,
        DATABASES={},
        USE_TZ=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--media-root", required=True)
    parser.add_argument("--threads", type=int, required=True)
    options = parser.parse_args(argv)
    configure(options.media_root)

    import django
    import waitress
    from django.core.wsgi import get_wsgi_application

    django.setup()
    # Busy threads are the point of the measurement, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    waitress.serve(
        get_wsgi_application(),
        host="127.0.0.1",
        port=options.port,
        threads=options.threads,
        ident="baseline",
        _quiet=True,
    )


if __name__ == "__main__":
    main()

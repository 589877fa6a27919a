"""(a) The framework floor: a function that answers 200 and does nothing else. Whatever any
webhook function costs, it costs at least this (functions-framework + Flask + gunicorn)."""

import functions_framework


@functions_framework.http
def receive(request):
    return "ok", 200

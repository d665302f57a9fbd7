"""OpenAPI post-processing: the error answers every operation can give, documented once.

Views document their own domain errors (400, 404, 409 ...). These come from the platform instead:
authentication (401, and 403 e.g. for a session without its CSRF token), the request-size guard
(411, 413), the body's media type (415) and a database outage (503). Each has the API's JSON error body.
One comes from the web server itself, before the application runs, and is documented as it is
sent: 414 for a request line (URL and query string) over gunicorn's limit, as an HTML page.
"""
ERROR = {"$ref": "#/components/schemas/Error"}
PLATFORM_ERRORS = {
    "401": "Missing, unknown or revoked credentials.",
    "403": "Not allowed (e.g. a session request without its CSRF token).",
    "411": "A body without Content-Length.",
    "413": "The body is over MAX_REQUEST_BYTES.",
    "415": "A body in a media type this operation does not take.",
    "503": "The database is briefly unavailable; retry after Retry-After seconds.",
}
BODY_METHODS = {"post", "put", "patch"}
REQUEST_LINE_TOO_LONG = {
    "description": "The request line (URL and query string) is over the web server's limit "
                   "(gunicorn: 4,094 bytes). gunicorn answers before the application runs, in HTML.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


def add_platform_error_responses(result, generator, request, public):
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = ["503"]
            if any(requirement for requirement in operation.get("security", [])):  # needs credentials
                codes += ["401", "403"]
            if method in BODY_METHODS:
                codes += ["411", "413", "415"]
            for code in codes:
                operation["responses"].setdefault(code, {
                    "description": PLATFORM_ERRORS[code],
                    "content": {"application/json": {"schema": ERROR}},
                })
            operation["responses"].setdefault("414", REQUEST_LINE_TOO_LONG)
    return result

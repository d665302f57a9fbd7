"""gunicorn's settings file, read from the working directory (/app in the image, the repository root
in the tests) by every gunicorn started there; command-line options override it.

The request line may be up to gunicorn's maximum, above the application's own limit on addresses
(backend.core.middleware.MAX_URI_LENGTH): a long address then gets the application's JSON 414
under /api/ rather than gunicorn's HTML one."""
limit_request_line = 8190

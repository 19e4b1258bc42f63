"""The one TLS context the process's httpx clients verify servers with.

httpx builds a context for every client (and every proxy mount) and each parses the CA bundle
anew: about 0.6 MB of resident memory apiece (measured in-process). A node holds up to three
such clients (python-telegram-bot's two, X's filtered stream), and a client context is only read
once built, so they share this one.
"""

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's own default verification (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), built once."""
    return httpx.create_ssl_context()

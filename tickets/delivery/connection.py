"""The SMTP connection the worker opens: Django's backend, verifying the server against a
chosen CA.

Django's backend verifies the server's certificate against the system's CAs only, and with
a client certificate (``EMAIL_SSL_CERTFILE``) against none at all. Relays inside an
organisation often have a private CA: ``EMAIL_SSL_CAFILE`` names its PEM file, and the
certificate (and host name) is then verified against it, with or without a client
certificate. ``EMAIL_USE_TLS`` (STARTTLS) or ``EMAIL_USE_SSL`` select the TLS mode as usual.
"""

from __future__ import annotations

import ssl

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend
from django.utils.functional import cached_property


class EmailBackend(DjangoSMTPBackend):
    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        # create_default_context: certificate and host name verified, TLS 1.2 at least.
        context = ssl.create_default_context(cafile=getattr(settings, "EMAIL_SSL_CAFILE", None)
                                             or None)
        if self.ssl_certfile or self.ssl_keyfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

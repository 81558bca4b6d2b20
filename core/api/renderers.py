"""The browsable API (HTML view of each endpoint) under the Content-Security-Policy."""

from __future__ import annotations

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's page, without the inline ``<style>`` of its syntax colours (added when pygments is
    installed), which the policy refuses: the colours are not worth allowing inline styles."""

    def get_context(self, data, accepted_media_type, renderer_context) -> dict:
        context = super().get_context(data, accepted_media_type, renderer_context)
        context["code_style"] = None
        return context

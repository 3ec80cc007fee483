"""The web pages' Content-Security-Policy: scripts, styles, images and requests come from
gdlab itself only, no inline script and no ``eval``; the one inline style allowed is a
``<style>`` element carrying this response's nonce (the code editor, CodeMirror, adds its
styles so where a browser cannot adopt a constructed stylesheet).

A result's text is written by the student's code (printed output, error messages): the
pages escape it, and this policy is the second wall should an escape ever be missed.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, g

#: Every directive but the nonce; ``{nonce}`` is filled in per response.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
          "img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csp_nonce() -> str:
    """This response's nonce (made on first use), for the templates.

    Examples
    --------
    >>> from flask import Flask
    >>> with Flask(__name__).app_context():
    ...     csp_nonce() == csp_nonce() and len(csp_nonce()) >= 22
    True
    """
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def policy(nonce: str) -> str:
    """The Content-Security-Policy header's value with ``nonce``.

    Examples
    --------
    >>> "style-src 'self' 'nonce-abc'" in policy("abc")
    True
    """
    return POLICY.format(nonce=nonce)


def _with_policy(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", policy(csp_nonce()))
    return response


def protect(blueprint: Blueprint) -> None:
    """Send the policy with every HTML page of ``blueprint``, and give its templates
    ``csp_nonce()``."""
    blueprint.after_request(_with_policy)
    blueprint.app_context_processor(lambda: {"csp_nonce": csp_nonce})

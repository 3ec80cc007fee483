"""``gdlab instructor-token --reset``: issue a new instructor token when none is configured
(``GDLAB_INSTRUCTOR_TOKEN`` always wins), stored hashed in the database and printed once."""

from __future__ import annotations

import argparse
import sys

from service.cli.common import UsageError, config


def add_commands(commands) -> None:
    """``gdlab instructor-token``."""
    token = commands.add_parser(
        "instructor-token", help="issue a new instructor token (when none is configured)",
        description="Replace the generated instructor token with a new one and print it. "
                    "Has no effect on GDLAB_INSTRUCTOR_TOKEN, which always wins.")
    token.add_argument("--reset", action="store_true", required=True,
                       help="make a new token (the old one stops working)")
    token.set_defaults(handler=token_command)


def token_command(args: argparse.Namespace) -> int:
    """Make, store and print a new instructor token."""
    from service.app import prepare_database
    from service.auth import reset_instructor_token

    settings = config()
    if settings.instructor_token:
        raise UsageError("GDLAB_INSTRUCTOR_TOKEN is set: that is the instructor token")
    db = prepare_database(settings).db
    with db.session() as session:
        token = reset_instructor_token(session)
    print(token)
    print("(restart the service for it to take effect)", file=sys.stderr)
    return 0

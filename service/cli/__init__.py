"""The ``gdlab`` command line, one module per command group.

=============================  ================================================  =============
command                        what it does                                      module
=============================  ================================================  =============
``reference``                  run the reference engine (the course example)     ``reference``
``grade``                      grade a file offline, in the sandbox              ``grade``
``submit``                     send a file to a server, show its grade           ``submit``
``exercises list|show|check``  this installation's exercises                     ``exercises``
``exercises fetch``            a starter and statement from a server             ``submit``
``sandbox-server|-status``     the sandbox runner in a container of its own      ``sandbox``
``serve``, ``worker``          the HTTP service; a grading worker of the queue   ``serve``
``instructor-token``           issue a new instructor token                      ``instructor``
=============================  ================================================  =============

:mod:`service.cli.main` builds the parser; :mod:`service.cli.common` holds what the
commands share (errors, ``NAME=VALUE`` values, configuration, exercises, a grader).
Bad input is one line on stderr and exit status 2, never a traceback.
"""

from service.cli.common import (
    EXIT_USAGE,
    SandboxFailureError,
    UsageError,
    parse_assignment,
    parse_component,
    parse_value,
)
from service.cli.main import build_parser, main

__all__ = ["EXIT_USAGE", "SandboxFailureError", "UsageError", "build_parser", "main",
           "parse_assignment", "parse_component", "parse_value"]

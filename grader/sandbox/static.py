"""Static checks on submitted source: friendly errors before anything runs.

These checks are for the student, not for security (the sandbox is the boundary): a file
that is not UTF-8, too large, does not parse, or has no entry point with the contract's
parameters gets a sentence that says so, with the line and column where one is known.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from grader.sandbox.errors import SourceRejectedError

#: The file name student code carries in tracebacks and messages.
SOURCE_NAME = "submission.py"


@dataclass(frozen=True)
class Contract:
    """How the grader will call the student's entry point.

    Attributes
    ----------
    entry : str
        Function name, e.g. ``update``.
    params : tuple of str
        Positional arguments passed, in order (their names only serve messages).
    keywords : tuple of str
        Keyword arguments passed (the exercise's hyper-parameters, e.g. ``beta1``); the
        function must accept each, by name or through ``**kwargs``.

    Examples
    --------
    >>> UPDATE_RULE.signature()
    'update(params, grad, lr, state, **hyper)'
    """

    entry: str
    params: tuple[str, ...]
    keywords: tuple[str, ...] = ()

    def signature(self) -> str:
        """The signature a student should write."""
        return f"{self.entry}({', '.join((*self.params, '**hyper'))})"


UPDATE_RULE = Contract("update", ("params", "grad", "lr", "state"))


def decode_source(source: bytes | str, max_bytes: int) -> str:
    """Return ``source`` as text if it is UTF-8, within ``max_bytes`` and free of NUL.

    Raises
    ------
    SourceRejectedError
        ``encoding``, ``too-large``, ``nul`` or ``empty``.
    """
    raw = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    if len(raw) > max_bytes:
        raise SourceRejectedError(
            "too-large",
            f"Your code is {len(raw) / 1024:.1f} KiB; the limit is {max_bytes / 1024:g} KiB.",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SourceRejectedError(
            "encoding",
            f"Your file is not valid UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); "
            "save it as UTF-8.",
            line=line,
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise SourceRejectedError("nul", f"Your code contains a NUL character on line {line}.",
                             line=line)
    if not text.strip():
        raise SourceRejectedError("empty", "Your file is empty.")
    return text


def parse_source(text: str) -> ast.Module:
    """Parse ``text`` or raise ``syntax`` with the line, column and Python's message."""
    try:
        return ast.parse(text, filename=SOURCE_NAME)
    except SyntaxError as error:
        line, column = error.lineno, error.offset
        where = f"line {line}" + (f", column {column}" if column else "") if line else "your code"
        raise SourceRejectedError("syntax", f"Syntax error on {where}: {error.msg}.",
                             line=line, column=column) from None
    except (RecursionError, MemoryError, ValueError):
        raise SourceRejectedError(
            "syntax", "Your code is nested too deeply to be parsed.") from None


def check_entry(tree: ast.Module, contract: Contract) -> None:
    """Check that the module defines ``contract.entry`` as a function it can be called as.

    Raises
    ------
    SourceRejectedError
        ``missing-entry`` or ``signature``, pointing at the definition where there is one.
    """
    found: ast.stmt | None = None
    for node in tree.body:  # the last top-level binding wins, as when Python runs it
        defines = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        if (defines and node.name == contract.entry) or _assigns(node, contract.entry):
            found = node
    wanted = contract.signature()
    if found is None:
        raise SourceRejectedError(
            "missing-entry",
            f"Define a function named `{contract.entry}` at the top level of your file: "
            f"def {wanted}:",
        )
    if isinstance(found, ast.AsyncFunctionDef):
        raise SourceRejectedError("signature", f"`{contract.entry}` must be a plain function, not "
                             f"async: def {wanted}:", line=found.lineno)
    if isinstance(found, ast.FunctionDef):
        problem = _signature_problem(found.args, contract)
        if problem:
            raise SourceRejectedError(
                "signature",
                f"`{contract.entry}` on line {found.lineno} {problem}; the grader calls "
                f"{wanted}.",
                line=found.lineno,
            )


def _assigns(node: ast.stmt, name: str) -> bool:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    elif isinstance(node, ast.Import | ast.ImportFrom):
        return any((alias.asname or alias.name.split(".")[0]) == name for alias in node.names)
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def _signature_problem(args: ast.arguments, contract: Contract) -> str | None:
    positional = [*args.posonlyargs, *args.args]
    wanted = len(contract.params)
    if args.vararg is None and len(positional) < wanted:
        return f"takes {len(positional)} positional parameter(s) but is given {wanted}"
    required = len(positional) - len(args.defaults)
    for index in range(wanted, required):
        extra = positional[index]
        if index < len(args.posonlyargs) or extra.arg not in contract.keywords:
            return (f"has a parameter `{extra.arg}` that the grader does not pass "
                    "(give it a default)")
    by_name = {a.arg for a in args.args[max(0, wanted - len(args.posonlyargs)) :]}
    by_name |= {a.arg for a in args.kwonlyargs}
    if args.kwarg is None:
        missing = [k for k in contract.keywords if k not in by_name]
        if missing:
            return (f"does not accept the hyper-parameter `{missing[0]}` "
                    "(add it as a parameter, or accept **hyper)")
    passed = set(contract.keywords)
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if default is None and arg.arg not in passed:
            return f"requires the keyword `{arg.arg}`, which the grader does not pass"
    return None


def check_source(source: bytes | str, contract: Contract, max_bytes: int) -> str:
    """All static checks: encoding, size, syntax, entry point. Returns the source text.

    Examples
    --------
    >>> check_source("def update(p, g, lr, state, **h):\\n    return p - lr * g\\n",
    ...              UPDATE_RULE, 65536)[:10]
    'def update'
    """
    text = decode_source(source, max_bytes)
    check_entry(parse_source(text), contract)
    return text

"""Whose failure is it: the student's (scored: the test's points are lost) or the grader's
(a *grading error*: the test is not scored at all, and the grade is incomplete).

The rule, for an exception raised while a test runs:

* **raised by the submission's own code** (the innermost traceback frame is in one of its
  modules, or a ``SyntaxError`` in one of them): the student's, whatever its type;
* **before any student code ran** in that test's worker (no module of the submission imported,
  no frame of it anywhere in the exception's chain): the grader's, whatever its type;
* **raised inside the library, Python or an installed package** after student code ran: the
  grader's only for an *environment* failure, ``OSError`` (a file missing or unreadable, a
  read-only folder, the disk), ``ImportError`` (a module of the installation) or an unknown codec
  (``LookupError`` itself, not ``KeyError``/``IndexError``); anything else (a shape error in
  TensorFlow on the student's tensors, ...) is the student's.

In the judge (the pytest process, where no student code runs) an exception the worker reported
keeps the worker's verdict; one raised by the judge itself is the grader's when it is an
environment failure (a reference file deleted, a socket to the sandbox closed), else the
student's (an ``AssertionError`` on the student's values, a ``TypeError`` on what it returned).

The worker's flags come from the submission's own process, so a submission can forge them: at
worst it makes its own grade incomplete (a grading error is never points), never raises it.
"""
from __future__ import annotations

import os
import sys
from types import TracebackType

GRADING_ERROR = "grading-error"
ENVIRONMENT = (OSError, ImportError)


def environment(exc: BaseException) -> bool:
    """A failure of the machine or the installation, not of a computation."""
    return isinstance(exc, ENVIRONMENT) or type(exc) is LookupError


def _chain(exc: BaseException) -> list[BaseException]:
    out, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def _frames(tb: TracebackType | None) -> list[str]:
    files = []
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    return files


def in_submission(filename: str | None, submission: str) -> bool:
    """A student module: a file under the submission's folder, except the package's ``__init__.py``
    (which always comes from the stubs)."""
    return bool(filename) and filename.startswith(submission.rstrip("/") + "/") \
        and os.path.basename(filename) != "__init__.py"


def flags(exc: BaseException, submission: str, package: str = "assignment") -> dict[str, bool]:
    """What the worker tells the judge with an error: ``raised_in_submission`` (the innermost frame, or
    the file of a SyntaxError, is a student module), ``student_ran`` (a student module is imported
    or on the stack) and ``environment`` (see ``environment``)."""
    frames = _frames(exc.__traceback__)
    syntax = isinstance(exc, SyntaxError) and in_submission(exc.filename, submission)
    raised = syntax or bool(frames) and in_submission(frames[-1], submission)
    on_stack = any(in_submission(f, submission) for e in _chain(exc) for f in _frames(e.__traceback__))
    imported = any(name.startswith(package + ".") for name in list(sys.modules))
    return {"raised_in_submission": raised, "student_ran": raised or on_stack or imported,
            "environment": environment(exc)}


def grader_fault(info: dict | None) -> bool:
    """Whether an error the worker reported (``flags``) is the grader's; no flags: the student's."""
    if not isinstance(info, dict) or info.get("raised_in_submission") is not False:
        return False
    return info.get("student_ran") is False or info.get("environment") is True


def judge_fault(exc: BaseException) -> bool:
    """Whether an exception that ended a test in the judge is the grader's (see the module doc)."""
    verdict = getattr(exc, "nst_grader_fault", None)     # set on what the worker reported
    if isinstance(verdict, bool):
        return verdict
    return environment(exc)

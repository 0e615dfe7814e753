"""The autograder behind ``nst grade``.

One grading = copy the trusted library and tests into a fresh temp tree for the *judge*
(``workspace``: no student code there), and the submission's ``assignment/*.py`` into a
sandbox (``sandbox``) whose zygote forks one worker per test (``worker``: own PID and mount
namespaces, an allow-list root, no network, a user of its own per submission when root, rlimits;
``rootfs``, ``users``; ``probe`` checks the sandbox once before grading). pytest runs the graded tests in the
judge with the grader's plugin (``plugin``: one JSON line per test); ``impl_module`` there is a
proxy (``remote``) that calls student code in the worker and gets plain data back (``wire``).
The parent (``runner``) enforces a time limit per test and scores from those lines and the
points declared by ``@pytest.mark.graded(points=N, part=P)``; ``blame`` tells a failure of the
grader (a ``grading-error``: not scored, the grade is incomplete) from the student's.
``report`` prints the table and writes the Gradescope JSON, ``batch`` grades a folder of
submissions, ``planted`` runs the self-check, ``integrity`` keeps the sha256 manifest of the tests.
"""

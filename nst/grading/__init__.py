"""The autograder behind ``nst grade``.

One grading = copy the trusted library and tests plus the submission's ``assignment/*.py``
into a fresh temp tree (``workspace``), run pytest there in a child process with the
grader's plugin (``plugin``: one JSON line per test, tamper checks), enforce a time limit
per test from the parent (``runner``), and score from those lines and the points declared
by ``@pytest.mark.graded(points=N, part=P)``. ``report`` prints the table and writes the
Gradescope JSON, ``batch`` grades a folder of submissions, ``planted`` runs the self-check,
``integrity`` keeps the sha256 manifest of the tests.
"""

"""``nst course``: build the student stubs, the releases, a student's submission.

    nst course build-assignment [--check]          assignment/ from solutions/ (--check: exit 1 if stale)
    nst course release student|gradescope -o dist/  the student zip / the Gradescope autograder zip
    nst course submit [--part N] [-o submission_partN.zip] [--run outputs/RUN] [--runs outputs/RUN ...]
    nst course install-submission DIR --into assignment   (used by the autograder's run_autograder)
"""
from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("course", help="course tooling: stubs, releases, submissions",
                       description="Build assignment/ from solutions/, the student and Gradescope releases, "
                                   "and a student's submission.zip.")
    csub = p.add_subparsers(dest="course_command", metavar="ACTION")
    csub.required = True

    def action(name: str, func, **kwargs):
        q = csub.add_parser(name, **kwargs)
        q.add_argument("--root", type=Path, default=Path("."), help="project folder (default: the current one)")
        q.add_argument("--seed", type=int, default=0, help="accepted for uniformity: course commands are deterministic")
        q.set_defaults(func=func)
        return q

    b = action("build-assignment", build_assignment, help="regenerate assignment/ (the stubs) from solutions/")
    b.add_argument("--check", action="store_true", help="write nothing; exit 1 listing the stale files (for CI)")

    r = action("release", release, help="build the student zip or the Gradescope autograder zip")
    r.add_argument("kind", choices=["student", "gradescope"])
    r.add_argument("-o", "--output", type=Path, default=Path("dist"), help="folder for the zip (default dist/)")
    r.add_argument("--part", type=int, help="gradescope: grade only this part (one Gradescope assignment per part)")

    s = action("submit", submit, help="pack your assignment/*.py, final images, loss curves and settings",
               description="Pack your code and your runs into submission_part<N>.zip (--part N; all parts: "
                           "submission.zip): part 1, the latest real run per "
                           "content and style (final.png, settings, loss curves); part 2, each trained model's "
                           "config, training curves and the images stylized with it. Smoke runs (under 50 steps) "
                           "are left out when a real run of the part exists.")
    s.add_argument("-o", "--output", type=Path,
                   help="the zip (default submission_part<N>.zip with --part N, else submission.zip)")
    s.add_argument("--run", action="append", type=Path, metavar="DIR", dest="picked",
                   help="hand in this run for its images instead of the automatic choice (repeatable)")
    s.add_argument("--runs", nargs="+", type=Path, metavar="RUN",
                   help="run folders to include, as they are (default: chosen from outputs/, see above)")
    s.add_argument("--part", type=int, choices=[1, 2, 3],
                   help="hand in only this part's modules and runs (later parts' stubs are left out)")
    s.add_argument("--allow-incomplete", action="store_true",
                   help="submit even though some TODOs still raise NotImplementedError")

    i = action("install-submission", install_submission,
               help="copy a submission's assignment/*.py over the stubs (the autograder does this)")
    i.add_argument("submission", type=Path, help="a folder or zip: flat *.py, assignment/*.py, or a submission.zip")
    i.add_argument("--into", type=Path, default=Path("assignment"), help="assignment folder (default assignment/)")


def build_assignment(args) -> int:
    from nst.course import release, stubs
    from nst.errors import NstError

    solutions, assignment = args.root / "solutions", args.root / "assignment"
    if not solutions.is_dir():
        raise NstError(f"{solutions}: not found (run from the repository root or give --root)")
    if args.check:
        stale = release.stale_report(solutions, assignment)
        for line in stale:
            print(f"stale: {line}")
        if stale:
            print(f"{len(stale)} stale file(s): run `nst course build-assignment`", file=sys.stderr)
            return 1
        print(f"{assignment} is up to date with {solutions}")
        return 0
    changed = stubs.build_assignment(solutions, assignment)
    for path in changed:
        print(f"wrote {path}")
    for line in release.stale_report(solutions, assignment):  # only orphans can remain
        print(f"warning: {line}", file=sys.stderr)
    if not changed:
        print(f"{assignment} is up to date")
    return 0


def release(args) -> int:
    from nst.course import release as releases
    from nst.errors import NstError

    if args.part is not None and args.kind != "gradescope":
        raise NstError("--part applies to the gradescope release only")
    if args.kind == "student":
        built = releases.student_release(args.root, args.output)
    else:
        built = releases.gradescope_release(args.root, args.output, part=args.part)
    for leak in built.leaks:
        print(f"warning: {leak} (students never see the autograder, but the student release will refuse this)",
              file=sys.stderr)
    for part in built.missing:
        print(f"warning: {args.root / part} does not exist; the release has none", file=sys.stderr)
    print(f"{built.path}: {len(built.files)} files")
    return 0


def submit(args) -> int:
    from nst.course.submit import make_submission

    runs = [Path(r) for r in args.runs] if args.runs else None
    made = make_submission(args.root, args.output, runs=runs, allow_incomplete=args.allow_incomplete, part=args.part,
                           picked=args.picked)
    for todo in made.todos:
        print(f"warning: still a TODO: {todo}", file=sys.stderr)
    for note in made.notes:
        print(f"note: {note}", file=sys.stderr)
    for name in made.files:
        print(f"  {name}")
    print(f"{made.path}: {len(made.files)} files; upload it as your submission")
    return 0


def install_submission(args) -> int:
    from nst.course.submit import install_submission as install

    installed, absent = install(args.submission, args.into)
    print(f"installed: {', '.join(installed) or 'nothing'}")
    if absent:
        print(f"not submitted (the stub stays): {', '.join(absent)}")
    return 0

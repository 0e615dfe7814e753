"""``nst grade``: the autograder (the course repository's grading page says more).

    nst grade [--impl assignment|solutions|PATH] [--part 1|2|3|all] [--json results.json] [--timeout 60]
              [--memory 4]   (GiB per sandboxed worker; see nst/grading/sandbox.py)
    nst grade --batch DIR -o scores.csv [--jobs N]
    nst grade --self-check
    nst grade --update-manifest

Exit status 0 when grading happened, whatever the score; 3 when the grading is incomplete (a
test the grader itself failed on, a "grading error": no score is given; with --batch, any
submission); 2 when the grader could not run (tests not matching the manifest, no such
submission, ...); 1 when --self-check fails.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nst.errors import NstError

EXIT_INCOMPLETE = 3     # a grading error: the grader failed on some test, so there is no score


def add_parser(sub) -> None:
    p = sub.add_parser("grade", help="grade student code with the graded tests (the autograder)",
                       description="Run the graded tests on a submission in a fresh tree and score them.")
    p.add_argument("--impl", default="assignment",
                   help="assignment (default), solutions, or a submission folder/zip holding assignment/*.py")
    p.add_argument("--part", choices=["1", "2", "3", "all"], default="all", help="grade one part (default all)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write Gradescope's results.json here")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per test (default 60)")
    p.add_argument("--batch", type=Path, metavar="DIR", help="grade every sub-folder and .zip in DIR")
    p.add_argument("-o", "--output", type=Path, default=Path("scores.csv"),
                   help="--batch: the CSV of scores (default scores.csv); results.json files go beside it "
                        "in <name>_results/<submission>/")
    p.add_argument("--jobs", type=int, help="submissions graded at once (default: the core count)")
    p.add_argument("--memory", type=float, default=4.0, metavar="GIB",
                   help="address-space limit of each sandboxed worker in GiB (default 4)")
    p.add_argument("--self-check", action="store_true",
                   help="solutions score full marks, stubs 0, each planted bug loses its test's points")
    p.add_argument("--update-manifest", action="store_true", help="rewrite tests/manifest.sha256 from tests/")
    p.add_argument("--root", type=Path, help="course repository holding tests/ (default: . or the nst checkout)")
    p.add_argument("--seed", type=int, default=0, help="PYTHONHASHSEED of the test processes (tests seed themselves)")
    p.set_defaults(func=run)


def find_root(given: Path | None) -> Path:
    if given is not None:
        if not (given / "tests").is_dir():
            raise NstError(f"--root {given}: no tests/ folder there")
        return given.resolve()
    import nst

    for candidate in (Path.cwd(), Path(nst.__file__).resolve().parents[1]):
        if (candidate / "tests" / "conftest.py").is_file():
            return candidate
    raise NstError("no course repository here (tests/conftest.py not found): run from it or pass --root")


def submission_path(root: Path, impl: str) -> Path:
    path = root / impl if impl in ("assignment", "solutions") else Path(impl)
    if not path.exists():
        raise NstError(f"--impl {impl}: {path} not found")
    return path


def run(args: argparse.Namespace) -> int:
    from nst.grading import batch, integrity, planted, report, runner, sandbox, workspace

    root = find_root(args.root)
    if args.update_manifest:
        path = integrity.write_manifest(root)
        print(f"wrote {path} ({len(integrity.read_manifest(root))} files)")
        return 0
    if args.timeout <= 0 or args.memory <= 0 or (args.jobs is not None and args.jobs < 1):
        raise NstError("--timeout, --memory and --jobs must be positive")
    part = None if args.part == "all" else int(args.part)
    jobs = args.jobs or (batch.default_jobs() if args.batch or args.self_check else 1)
    hide = [args.batch, args.output.parent if args.batch else None, args.json.parent if args.json else None]
    settings = runner.Settings(timeout=args.timeout, startup_timeout=max(180.0, 2 * args.timeout),
                               threads=batch.threads_per_job(jobs), seed=args.seed,
                               limits=sandbox.Limits(memory_gb=args.memory),
                               hide=tuple(str(Path(h).resolve()) for h in hide if h is not None))
    if args.self_check:
        checks, seconds = planted.self_check(root, part, settings, jobs)
        print(planted.table(checks, seconds))
        return 0 if all(c.ok for c in checks) else 1

    subs = batch.find_submissions(args.batch) if args.batch else None
    path = None if subs else submission_path(root, args.impl)
    modules = workspace.submission_files(path) if path else {}
    course = runner.Course.load(root)
    catalog = runner.select(runner.collect_and_probe(course, settings), part)
    if not catalog:
        raise NstError(f"no graded tests{'' if part is None else f' in part {part}'}")
    if subs:
        results_dir = args.output.parent / f"{args.output.stem}_results"
        grades = batch.grade_all(course, subs, catalog, settings, jobs, results_dir)
        report.write_csv(args.output, grades, catalog)
        for g in grades:
            note = report.ungraded_line(g) if not g.complete else (g.notes[0] if g.notes else "")
            print(f"{g.submission}: {batch.outcome(g)}" + (f"  ({note})" if note else ""))
        print(f"wrote {args.output} and {results_dir}/<submission>/results.json ({len(grades)} submissions)")
        bad = sum(not g.complete for g in grades)
        if bad:
            print(f"grading error: {bad} submission(s) could not be graded completely (status grading-error "
                  f"in {args.output}); regrade them", file=sys.stderr)
        return EXIT_INCOMPLETE if bad else 0
    print(f"grading {path} ({len(catalog)} graded tests, {settings.timeout:g} s each at most)...",
          file=sys.stderr, flush=True)
    grade = runner.grade(course, path.name, modules, catalog, settings)
    print(report.table(grade))
    if args.json:
        report.write_json(args.json, grade)
        print(f"wrote {args.json}")
    return 0 if grade.complete else EXIT_INCOMPLETE

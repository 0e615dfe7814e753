"""Root conftest: registers ``--impl`` (pytest reads options only from the rootdir's conftest)."""
import os


def pytest_addoption(parser):
    parser.addoption("--impl", choices=["assignment", "solutions"],
                     default=os.environ.get("NST_IMPL", "assignment"),
                     help="student code to test: the stubs a student fills (default) or the reference")

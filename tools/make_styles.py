"""Paint the project's own style images: ``python tools/make_styles.py [--seed N] [--dest styles/] ...``.

The painters live in the installed package (``nst.samples.paintings``, which documents them), so
``nst data setup`` works without this checkout; this script is the same command by its old path.
"""
import sys

from nst.samples.paintings import main

if __name__ == "__main__":
    sys.exit(main())

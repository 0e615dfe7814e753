"""Export scikit-image's public-domain / CC0 photographs: ``python tools/export_content.py [--dest content/] ...``.

The exporter lives in the installed package (``nst.samples.photos``, which documents the photos and
their licences), so ``nst data setup`` works without this checkout; this script is the same command
by its old path.
"""
import sys

from nst.samples.photos import main

if __name__ == "__main__":
    sys.exit(main())

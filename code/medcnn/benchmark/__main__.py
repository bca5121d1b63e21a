"""``python -m medcnn.benchmark [options]``: the same as ``python -m medcnn bench [options]``.

The command line itself is :mod:`medcnn.cli`; this entry point only forwards to it, so
``medcnn.benchmark.cli`` never imports ``medcnn.cli`` (no import circle).
"""

import sys

from medcnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))

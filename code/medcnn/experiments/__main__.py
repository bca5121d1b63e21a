"""``python -m medcnn.experiments study|study-merge …``: the same as ``python -m medcnn`` (see :mod:`medcnn.experiments.cli`).

The command line itself is :mod:`medcnn.cli`; this entry point only forwards to it, so
``medcnn.experiments.cli`` never imports ``medcnn.cli`` (no import circle).
"""

import sys

from medcnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``python -m medcnn``: the command line (see :mod:`medcnn.cli`)."""

from medcnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

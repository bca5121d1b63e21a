"""``python -m medcnn.experiments study|study-merge …`` (see :mod:`medcnn.experiments.cli`)."""

from medcnn.experiments.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

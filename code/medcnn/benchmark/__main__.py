"""``python -m medcnn.benchmark [options]``: the same as ``python -m medcnn bench [options]``."""

from medcnn.benchmark.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

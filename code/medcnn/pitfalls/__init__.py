"""Pitfalls made measurable: synthetic data in which a known flaw is planted on purpose.

- :mod:`medcnn.pitfalls.shortcut`: a hospital marker that travels with one class
  (shortcut learning; DeGrave et al. 2021);
- :mod:`medcnn.pitfalls.leakage`: brain-MRI slices that share a patient signature
  (patient leakage under a slice-level split; Yagis et al. 2021);
- :mod:`medcnn.pitfalls.models`: the small CNN both labs train, and its training loop.

Each generator is seeded, so the effect each lab measures is the same on every build.
"""

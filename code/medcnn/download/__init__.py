"""Getting the datasets: URL downloads (pooch), Kaggle downloads (kagglehub) and safe unpacking.

- :mod:`medcnn.download.fetch`: :func:`~medcnn.download.fetch.fetch_url` and
  :func:`~medcnn.download.fetch.fetch_kaggle`, which turn every network failure
  into a :class:`~medcnn.errors.DownloadError` that says how to place the files by hand;
- :mod:`medcnn.download.archives`: :func:`~medcnn.download.archives.extract_zip`,
  which refuses members that would land outside the target folder and unpacks into a
  temporary folder renamed into place only when complete.

Nothing is imported here; use the submodules.
"""

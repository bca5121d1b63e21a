"""Images: decode each file once to RGB uint8 (:mod:`medcnn.images.decode`) and cache it.

Nothing is imported here; use the submodules, e.g.
``from medcnn.images.decode import read_image``.
"""

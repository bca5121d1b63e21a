"""medcnn: classifying medical images with convolutional networks.

The package behind the course. Data flows one way::

    download -> index -> split -> image cache -> batches -> model -> train -> evaluate -> report

Nothing happens at import time: submodules (and Keras) are imported when used.
"""

__version__ = "0.1.0"

"""Transfer learning made measurable on a CPU: a source task, a pretrained network, a few-label target.

ImageNet weights cannot be downloaded where the course is built and tested, so
the course pretrains its own small network once and ships the weights:

- :mod:`medcnn.transfer.sources`: the source tasks, generated and seeded: 24
  classes of shapes and textures (related to the target), and 24 classes of
  smooth brightness ramps (unrelated: the control);
- :mod:`medcnn.transfer.lesions`: the target task, synthetic MRI-like slices
  with no lesion, a solid lesion, a ring-enhancing lesion or a striated one;
- :mod:`medcnn.transfer.network`: the small CNN with batch normalisation, in two
  halves (the first frozen when fine-tuning) and a global-average-pooling or
  Flatten head;
- :mod:`medcnn.transfer.pretrained`: pretraining (``python -m medcnn.transfer.pretrained``
  re-creates the shipped weights) and loading the shipped weights with their record;
- :mod:`medcnn.transfer.few_labels`: the experiment: from scratch, frozen features and
  a new head, fine-tuned, for N labelled images per class over seeds;
- :mod:`medcnn.transfer.figures`: its chart, and the first layer's filters.

Everything is seeded, and the experiment runs in seconds to minutes on a CPU.
"""

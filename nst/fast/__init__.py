"""Part 2 library: Johnson et al. fast style transfer (training, stylizing, export).

``data`` (training photos, tf.data), ``train`` (the loop), ``model`` (weights on disk),
``stylize`` (images, folders, video), ``export`` (SavedModel, TFLite). The network and the
loss are the student code in ``solutions/`` / ``assignment/`` ``transformer_net`` and ``fast_style``.
"""

"""nst: neural style transfer for teaching and for art, on TensorFlow 2.

Importing it changes nothing in the process: the commands, the notebooks and the student's pytest
set TensorFlow up through :func:`nst.runtime.quiet_tensorflow` before TensorFlow is imported.
"""
__version__ = "0.1.0"

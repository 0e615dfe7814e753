"""nst: neural style transfer for teaching and for art, on TensorFlow 2."""
import os

# TensorFlow's C++ start-up chatter hides the messages users need to read.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# oneDNN off on x86 CPUs without AVX512, where its convolutions fall off a cliff near a million pixels.
from nst import onednn as _onednn  # noqa: E402

_onednn.choose()

__version__ = "0.1.0"

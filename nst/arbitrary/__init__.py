"""Part 3: arbitrary style transfer (Ghiasi et al. 2017) — networks, data, training, inference.

The student's pieces (conditional instance norm, style prediction head, loss) come from
``solutions/arbitrary.py`` or ``assignment/arbitrary.py`` (``nst.impl.load("arbitrary")``).
"""

"""The coursework: data (``data``), architectures as data (``models``), training and evaluation
(``training``, ``evaluation``), experiments (``experiments``), figures (``plots``), the from-scratch
network (``backprop``), the training-history frame (``history``) and the prose computed from results
by topic (``prose``; ``analysis`` and ``reports`` keep the old names during the transition).
"""

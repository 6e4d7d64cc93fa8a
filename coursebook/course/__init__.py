"""The coursework: data (``data``), architectures as data (``models``), training and evaluation
(``training``, ``evaluation``), experiments (``experiments``), figures (``plots``), the from-scratch
network (``backprop``) and the prose computed from results (``analysis``, ``reports``).
"""

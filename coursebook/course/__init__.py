"""The coursework: data (``data``), architectures as data (``models``), experiment arms (``arms``),
training and evaluation (``training``, ``evaluation``, ``learned``), experiments and their results
(``experiments``, ``results``, ``history``), figures (``plots``), the from-scratch network
(``backprop``), and the page text computed from results (``answers``, ``code``, ``prose``).
"""

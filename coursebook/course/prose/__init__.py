"""Sentences computed from results, by topic (the Answer section's claims are ``course.answers``).

Every number a sentence shows is rounded once (:mod:`.numbers`), and every comparative word is
decided from the rounded numbers it shows, so prose can never contradict its own figures. Names
put into Markdown are escaped (:func:`.numbers.md`).

- :mod:`.confusion`: the most confused class pairs;
- :mod:`.parameter_counts`: how a parameter count changes between two architectures;
- :mod:`.backprop_checks`: the hand-written gradients against references, the descent verdict;
- :mod:`.dataset`: what a chapter trains on.
"""

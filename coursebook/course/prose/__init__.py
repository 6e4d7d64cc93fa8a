"""Sentences computed from results, by topic.

Every number a sentence shows is rounded once (:mod:`.numbers`), and every comparative word is
decided from the rounded numbers it shows, so prose can never contradict its own figures. Names
put into Markdown are escaped (:func:`.numbers.md`).

- :mod:`.comparison`: two variants on one metric, with Welch's test for run-to-run noise;
- :mod:`.overfitting`: where validation loss is lowest and whether it rose after;
- :mod:`.learning_speed`: accuracy after epoch 1, epochs to a threshold, time per epoch;
- :mod:`.confusion`: the most confused class pairs;
- :mod:`.parameters`: how a parameter count changes between two architectures;
- :mod:`.backprop_checks`: the hand-written gradients against references, the descent verdict;
- :mod:`.dataset`: what a chapter trains on.
"""

"""Sampling weights over a hierarchy of buckets: the algorithm (:mod:`.tree`) and the rule
entry points for the detection images and the restoration clips (:mod:`.jobs`)."""

"""Source quality: a small classifier of degraded sources, trained here, scored on five crops.

- :mod:`.config`: the ``quality`` config section;
- :mod:`.classes`: the classes and the degradations that make their training samples;
- :mod:`.model`: the network;
- :mod:`.train`: sampling frames and training (rule ``train_quality_classifier``);
- :mod:`.score`: five crops (or one resize) of a full-resolution frame -> P(clean);
- :mod:`.evaluate`: clip-level scores against the demo world's degraded scenes.
"""

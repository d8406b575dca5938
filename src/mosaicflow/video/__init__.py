"""Video decoding, near-duplicate dropping (mpdecimate), scene cuts and the ``frames`` stage.

Submodules import PyAV/OpenCV at the top; this package module imports nothing heavy.
"""

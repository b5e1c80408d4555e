"""Proof under faults: commands that turn the hub's promises into figures anyone can reproduce.

``python -m proof chaos``: real processes, injected faults; counts lost and duplicate effects.
``python -m proof fuzz``: hostile and malformed requests over HTTP; counts 5xx, echoes, memory.
``python -m proof scan``: the data folder, the broker, logs and temp files searched for the
fictional personal data a run sent, in several encodings.

Like ``bench/``, this package runs from the repository's folder and is not installed.
"""

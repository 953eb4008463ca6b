"""The paper's section VII experiments, regenerated from a seed (not imported by the service).

- :mod:`.generator`  the section VII instance generator and its documented readings
- :mod:`.runner`     the data of figures 2 to 5
- :mod:`.plots`      the figures (matplotlib, the optional ``plots`` extra, imported lazily)
- :mod:`.cli`        ``main(argv)``: ``python -m app.experiments`` / ``dsct experiments``
- :mod:`.summary`    the paper's headline numbers recomputed from the CSVs
- :mod:`.reach`      how far ``exact`` proves optimality within a time limit
"""

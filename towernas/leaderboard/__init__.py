"""The static HTML leaderboard (``python -m towernas.report --html OUT RUN…``): any mix of retrain, rank,
cascade and search run directories rendered into ``OUT/index.html`` plus PNG figures. No server, no network:
the CSS and the sort script are inline.

- ``kinds``: what a run directory holds (told from its files), one-line errors otherwise;
- ``collect``: run files and JSONL logs into rows and curves;
- ``views``: the tables as data (columns, cells and their sort values); ``html``: escaping and markup;
- ``plots``: the figures (recall vs FLOPs with the Pareto front, training curves, search progress, supernet loss);
- ``sections``, ``site``: the page, written atomically (a temp directory next to ``OUT``, then a rename).
"""

from towernas.leaderboard.site import Site, build_site

__all__ = ["Site", "build_site"]

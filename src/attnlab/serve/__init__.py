"""The attention explorer: `attnlab serve RUN [RUN ...]` (app.py) over explain() (explain.py).

See docs/explorer.md for the page, the API and the explain() contract every task can implement.
"""

"""Documents for print and for spreadsheets: plain, already translated data in, file bytes out.

Like ``bot.charts``, nothing here reads the database or translates: the flows gather and word
what a document says (``bot.flows.report``); these modules lay it out. Every builder is
synchronous and CPU-bound: run it off the event loop (a ``Chart`` given as a message's document
is rendered after the commit, in a worker thread).
"""

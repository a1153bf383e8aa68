"""The in-memory recommendation engine: history in, ranked and explained items out.

``engine`` (Engine), ``schemas`` (request / response types), ``catalog`` (per-item arrays computed
once), ``context`` (context rule table), ``contrib`` and ``explain`` (why an item was recommended),
``group`` (watch parties), ``discovery`` (trending, hidden gems, search, onboarding). No database,
no HTTP: the caller passes the user's current ``UserState``.
"""

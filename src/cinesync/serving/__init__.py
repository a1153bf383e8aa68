"""The live service: an in-memory ``Engine`` ("history in, ranked items out") plus the
lifecycle, settings and HTTP layers around it.

Modules: ``state`` (UserState, the user's current history), ``schemas_engine`` (request and
response types), ``engine`` (Engine), ``context`` (context rule table), ``diversity`` (MMR),
``explain`` (why an item was recommended), ``group`` (watch parties), ``discovery``
(trending, hidden gems, search, onboarding), ``catalog`` (per-item arrays precomputed once).
"""

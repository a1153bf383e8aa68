"""HTTP routers of the CineSync API, one file per area (see ``cinesync.serving.http.app``)."""

"""Data files shipped with the dashboard (see README.md here for sources and licences)."""

"""Build-time helpers of the published rulebook (used by ``docs/gen_pages.py``; not part of the site)."""

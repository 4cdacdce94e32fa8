"""Privacy operations run on demand, outside the daily schedule: key rotation today,
erasure next (docs/privacy.md). Their checks live in ad_assets/defs/privacy.py."""

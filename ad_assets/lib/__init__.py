"""What the definitions in ad_assets/defs/ share: partitions and windows, the contract
check and the hand-off of check results, materialization metadata, outage handling."""

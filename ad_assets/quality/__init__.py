"""Check results over time, kept in the lake beside the data they judge: `results` writes
every asset check's result to the Delta table `quality/check_results` and reads the
latest back; `report` renders them for `adlake quality` and the run summary."""

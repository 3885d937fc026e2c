"""The timekeeping plugin: time entries, timers, timesheets, approval and cost rates."""

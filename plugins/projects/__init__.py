"""The projects plugin: projects, phases, tasks, milestones and the portfolio."""

"""The help desk plugin: request types, intake, tiers, SLA, escalation and ownership."""

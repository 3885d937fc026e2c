"""The reports plugin: KPIs, resource load, charts and CSV export."""

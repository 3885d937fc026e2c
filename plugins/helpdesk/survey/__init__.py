"""Satisfaction survey after resolution (see plugins/helpdesk/plugin.py PARTS)."""

"""Outbound e-mail to requesters through an outbox (see plugins/helpdesk/plugin.py PARTS)."""

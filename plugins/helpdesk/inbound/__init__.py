"""Inbound e-mail: SMTP listener and IMAP polling (see plugins/helpdesk/plugin.py PARTS)."""

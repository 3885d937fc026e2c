"""Whether a mail's sender is authenticated: the trusted server's ``Authentication-Results``.

Anyone can write any ``From`` address. Only the site's own receiving mail
server can tell whether the mail really comes from the sender's domain (SPF,
DKIM, DMARC), and it says so in an ``Authentication-Results`` header (RFC 8601)
that it puts on top of the mail. So exactly one header counts: the top-most
one, and only if its authserv-id is the ``trusted_authserv_id`` setting (the
server must remove headers claiming its id from incoming mail, as Postfix's
OpenDMARC and rspamd do). It authenticates the sender when it says
``dmarc=pass`` for the From domain, or ``dkim=pass`` with a signing domain
(``header.d``) aligned with the From domain (the same, or a parent of it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^([a-z0-9-]+)\s*=\s*([a-z]+)(.*)$", re.DOTALL)
_PROPERTY = re.compile(r"([a-z]+\.[a-z0-9_.-]+)\s*=\s*\"?([^\s\";]+)\"?")


@dataclass(frozen=True)
class Verdict:
    """Whether the sender is authenticated, and what the record says of it."""

    authenticated: bool
    why: str


def verdict(results: tuple[str, ...], sender: str, trusted: str) -> Verdict:
    """Judge the ``Authentication-Results`` headers ``results`` (top-most first) for the
    From address ``sender``, trusting only authserv-id ``trusted``."""
    if not trusted:
        return Verdict(False, "no trusted_authserv_id is set: no mail is authenticated")
    if not results:
        return Verdict(False, "no Authentication-Results header")
    top = " ".join(_COMMENT.sub(" ", results[0]).split()).lower()
    parts = [part.strip() for part in top.split(";")]
    authserv = parts[0].split(" ")[0] if parts[0] else ""
    if authserv != trusted:
        return Verdict(False, f"the top-most Authentication-Results is by {authserv[:60]!r}, "
                              f"not the trusted {trusted!r}")  # fmt: skip
    domain = sender.rpartition("@")[2]
    aligned = ""
    for part in parts[1:]:
        found = _RESULT.match(part)
        if found is None:
            continue
        method, outcome, rest = found.groups()
        props = dict(_PROPERTY.findall(rest))
        if method == "dmarc" and outcome == "pass" and props.get("header.from", domain) == domain:
            return Verdict(True, f"dmarc=pass for {domain} ({trusted})")
        signer = props.get("header.d", "")
        if method == "dkim" and outcome == "pass" and _aligned(signer, domain) and not aligned:
            aligned = f"dkim=pass, d={signer} aligned ({trusted})"
    if aligned:
        return Verdict(True, aligned)
    return Verdict(False, f"{trusted} found no dmarc=pass or aligned dkim=pass for {domain}")


def _aligned(signer: str, domain: str) -> bool:
    """Relaxed alignment: the signing domain is the From domain or a parent domain of it."""
    return bool(signer) and "." in signer and (domain == signer or domain.endswith("." + signer))

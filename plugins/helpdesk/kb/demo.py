"""The demo department's knowledge base: a dozen articles, most public, some for staff only.

Loaded after the help desk's own demo data (its categories and staff), found
again by title, so loading twice adds nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.demo import get_or_create
from engine.model import Person, utcnow
from plugins.helpdesk.kb.models import Article
from plugins.helpdesk.models import Category

AUTHOR = "diego.santos@example.org"

# title, category slug, visibility, body
ARTICLES: tuple[tuple[str, str, str, str], ...] = (
    ("External screen stays black after docking", "hardware", "public",
     "If the external screen stays black when you dock your laptop:\n\n"
     "1. Undock, wait ten seconds, and dock again.\n"
     "2. Press **Windows + P** and choose *Extend*.\n"
     "3. Check that the dock's power supply light is on; without power the dock passes no "
     "video.\n\nStill black? Report a problem and mention the dock's model."),
    ("Reset your VPN token", "network", "public",
     "Your VPN token expires every 90 days.\n\n"
     "1. Open the self-service page at <https://vpn.example.org/token>.\n"
     "2. Sign in with your usual password.\n3. Choose **Reset token** and scan the new code "
     "with the authenticator app.\n\nThe old token stops working at once."),
    ("Wi-Fi keeps dropping in the meeting rooms", "network", "public",
     "Meeting rooms use the *Example-Guest* and *Example-Corp* networks. Forget "
     "*Example-Guest* on your laptop so that it stays on *Example-Corp*, then turn Wi-Fi off "
     "and on again."),
    ("Printer shows a paper jam but there is no paper inside", "hardware", "public",
     "Open the rear door and the toner drawer, check for torn scraps, then turn the printer "
     "off for thirty seconds. A jam message that survives a restart needs a technician: report "
     "a problem with the printer's asset tag."),
    ("Outlook asks for the password again and again", "software", "public",
     "1. Quit Outlook.\n2. Open *Credential Manager* and remove every entry named "
     "`MicrosoftOffice`.\n3. Start Outlook and sign in once.\n\nIf the prompt returns, your "
     "password may have expired: change it first."),
    ("Request access to a shared folder", "access", "public",
     "Use **Request access** in the portal, name the folder's path (for example "
     "`\\\\files\\finance\\2026`) and why you need it. The folder's owner approves it; access "
     "works within an hour of approval."),
    ("Change your password", "access", "public",
     "Press **Ctrl + Alt + Del** and choose *Change a password*. The new password needs 14 "
     "characters. Phones and tablets ask for it again afterwards."),
    ("Teams calls have no sound", "software", "public",
     "In Teams open *Settings → Devices* and pick your headset as speaker and microphone. "
     "Unplug and plug the headset back in if it is not listed."),
    ("Install software from the company portal", "software", "public",
     "Open **Company Portal**, search for the application and choose *Install*. Software that "
     "is not listed there needs a service request."),
    ("Dock firmware update procedure", "hardware", "internal",
     "For desktop support only. Download the firmware from the vendor share, run the updater "
     "with the dock connected by USB-C **and** power, and never undock during the update. "
     "Record the dock's new firmware version on the asset."),
    ("VPN concentrator failover", "network", "internal",
     "Network experts only. When the primary concentrator fails, switch the DNS record "
     "`vpn.example.org` to the secondary and announce it in the status channel. Tokens are "
     "replicated; sessions are not."),
    ("Unlock an account locked by too many sign-in attempts", "access", "internal",
     "Check the sign-in log for the source of the attempts first: an old phone with a stale "
     "password locks the account again within minutes. Unlock in the directory console and "
     "ask the requester to update their phone."),
)  # fmt: skip


def load(session: Session) -> None:
    """Add the demo articles that are missing, published, written by desktop support's lead."""
    author = session.scalar(select(Person.id).filter_by(email=AUTHOR))
    categories = dict(session.execute(select(Category.slug, Category.id)).all())
    for title, category, visibility, body in ARTICLES:
        get_or_create(
            session,
            Article,
            title=title,
            defaults={
                "body": body, "category_id": categories.get(category), "visibility": visibility,
                "status": "published", "published_at": utcnow(), "author_id": author,
                "updated_by_id": author,
            },
        )  # fmt: skip

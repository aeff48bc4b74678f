"""Auto-replies: a template per category and language, rendered into an .eml file.

Nothing is sent over the network: the message is built with the standard `email` package
and written to the outbox folder ($CRM_OUTBOX, default: `outbox` beside the database file)
for whatever mail relay the team uses to pick up.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmcli.core.errors import OperationalError

if TYPE_CHECKING:  # the email package costs ~15 ms at start-up: imported when a reply is built
    from email.message import EmailMessage

DEFAULT_TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "default": {
            "subject": "Re: {subject} [ticket #{ticket_id}]",
            "body": (
                "Dear {name},\n\n"
                "Thank you for contacting us. We have received your request "
                '"{subject}" and opened ticket #{ticket_id}.\n'
                "Our team will get back to you by {due}.\n\n"
                "Please keep the ticket number in the subject line when you reply.\n\n"
                "Customer Service"
            ),
        },
    },
    "zh": {
        "default": {
            "subject": "回复：{subject}【工单 #{ticket_id}】",
            "body": (
                "{name}，您好：\n\n"
                "感谢您联系我们。我们已收到您的请求“{subject}”，工单号为 #{ticket_id}。\n"
                "我们将在 {due} 之前给您答复。\n\n"
                "回复时请保留邮件主题中的工单号。\n\n"
                "客户服务部"
            ),
        },
    },
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_CJK = re.compile(r"[\u3400-\u9fff]")


def language_for(setting: str, *texts: str | None) -> str:
    """'zh' or 'en': the configured language, or (auto) zh when the ticket has Chinese text."""
    if setting in ("zh", "en"):
        return setting
    return "zh" if any(t and _CJK.search(t) for t in texts) else "en"


def pick_template(
    overrides: dict[str, dict[str, dict[str, str]]], language: str, category: str | None
) -> dict[str, str]:
    """Config template for (language, category), else (language, default), else built-in."""
    for source in (overrides, DEFAULT_TEMPLATES):
        per_lang = source.get(language, {})
        for key in (category, "default"):
            if key and key in per_lang:
                base = dict(DEFAULT_TEMPLATES[language]["default"])
                base.update(per_lang[key])
                return base
    return DEFAULT_TEMPLATES[language]["default"]


def render(template: str, fields: dict[str, Any]) -> str:
    """Fill {name}-style placeholders; unknown ones stay as written (no format-string tricks)."""

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(fields[key]) if key in fields and fields[key] is not None else match.group(0)

    return _PLACEHOLDER.sub(sub, template)


def build_message(
    sender: str,
    recipient: str | None,
    subject: str,
    body: str,
    ticket_id: int,
    sent_at: Any,
) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    msg = EmailMessage()
    # Header values are one line: a CR/LF in a ticket subject or a name would start a new
    # header (Bcc: ...) or make the email package refuse the message.
    sender, subject = _one_line(sender), _one_line(subject)
    recipient = _one_line(recipient) if recipient else recipient
    msg["From"] = sender
    if recipient:
        msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = format_datetime(sent_at)
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "localhost"
    msg["Message-ID"] = make_msgid(idstring=f"ticket{ticket_id}", domain=domain)
    msg["X-CRM-Ticket"] = str(ticket_id)
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(body)
    return msg


def _one_line(text: str) -> str:
    import re

    return re.sub(r"[\r\n\x00-\x1f\x7f]+", " ", text).strip()


def outbox_dir(db_path: Path | None) -> Path:
    """$CRM_OUTBOX, else `outbox` beside the database file."""
    env = os.environ.get("CRM_OUTBOX")
    if env:
        return Path(env).expanduser()
    if db_path is None:
        return Path.cwd() / "outbox"
    return db_path.parent / "outbox"


def write_eml(folder: Path, name: str, msg: EmailMessage) -> Path:
    """Write the message atomically as a 0600 file (it names the customer); returns its path."""
    from crmcli.core.files import write_file

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OperationalError(f"cannot write the auto-reply to {folder}: {exc.strerror}") from exc
    write_file(folder / name, bytes(msg))
    return folder / name

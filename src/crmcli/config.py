"""Where the database lives, the time zone, the acting user and the clock.

Everything that depends on the environment is read here, so the rest of the code can be
tested by setting environment variables (CRM_DB, CRM_TZ, CRM_ACTOR, CRM_NOW, CRM_MASK).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from pathlib import Path

APP_NAME = "crmcli"
DB_FILENAME = "crm.db"


def default_db_path() -> Path:
    """The default database file: in the user data directory (platformdirs)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / DB_FILENAME


def resolve_db_path(option: str | Path | None) -> Path:
    """--db > CRM_DB > the default file in the user data directory."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get("CRM_DB")
    if env:
        return Path(env).expanduser()
    return default_db_path()


def resolve_actor(option: str | None) -> str:
    """--actor > CRM_ACTOR > the login name."""
    if option:
        return option
    env = os.environ.get("CRM_ACTOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def local_zone() -> tzinfo:
    """The configured time zone: CRM_TZ (an IANA name such as Asia/Shanghai) or the system's."""
    return _zone_for(os.environ.get("CRM_TZ") or "", os.environ.get("TZ") or "")


@lru_cache(maxsize=8)
def _zone_for(name: str, tz_env: str) -> tzinfo:
    # The stdlib's zoneinfo first: dateutil.tz costs ~15 ms at start-up, and `crm comm log`
    # runs thousands of times from shell loops. dateutil stays the fallback for POSIX TZ
    # strings ("CST-8") that zoneinfo does not read.
    from zoneinfo import ZoneInfo

    if name:
        try:
            return ZoneInfo(name)
        except (ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError, caught below
            pass
        except KeyError:
            pass
        from dateutil import tz as dateutil_tz

        zone = dateutil_tz.gettz(name)
        if zone is None:
            from crmcli.errors import InvalidInput

            raise InvalidInput(f"unknown time zone in CRM_TZ: {name!r}")
        return zone
    if not tz_env:
        try:
            with open("/etc/localtime", "rb") as fh:
                return ZoneInfo.from_file(fh, key="localtime")
        except (OSError, ValueError):
            pass
    from dateutil import tz as dateutil_tz

    return dateutil_tz.tzlocal()


def mask_default() -> bool:
    """CRM_MASK=1 makes masking the default for exports and reports."""
    return os.environ.get("CRM_MASK", "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Clock:
    """The source of "now". `--as-of` / CRM_NOW pin it so reports are reproducible."""

    fixed: datetime | None = None

    def now(self) -> datetime:
        if self.fixed is not None:
            return self.fixed
        return datetime.now(UTC)


_clock = Clock()


def set_now(value: datetime | None) -> None:
    """Pin the clock (an aware datetime), or unpin it with None."""
    _clock.fixed = value.astimezone(UTC) if value is not None else None


def now() -> datetime:
    """The current time as an aware UTC datetime, honouring --as-of and CRM_NOW."""
    if _clock.fixed is not None:
        return _clock.fixed
    env = os.environ.get("CRM_NOW")
    if env:
        return _parse_crm_now(env, os.environ.get("CRM_TZ", ""))
    return datetime.now(UTC)


_crm_now_cache: dict[tuple[str, str], datetime] = {}


def _parse_crm_now(env: str, zone: str) -> datetime:
    """CRM_NOW parsed once per (value, zone): imports call now() for every row."""
    key = (env, zone)
    if key not in _crm_now_cache:
        from crmcli.validate import parse_datetime

        _crm_now_cache[key] = parse_datetime(env, field="CRM_NOW", base=datetime.now(UTC))
    return _crm_now_cache[key]


def now_iso() -> str:
    """Now as the stored form: UTC ISO-8601 with seconds and a Z-less +00:00 offset."""
    from crmcli.validate import to_iso

    return to_iso(now())


@dataclass
class Settings:
    """Global options resolved once per invocation (cli.py's callback fills it)."""

    db_path: Path | None = None
    format: str | None = None
    actor: str | None = None
    quiet: bool = False
    extra: dict[str, object] = field(default_factory=dict)


settings = Settings()


def config_path() -> Path:
    """The optional TOML config file: $CRM_CONFIG, else config.toml in the user config dir."""
    env = os.environ.get("CRM_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def load_config() -> dict[str, object]:
    """The parsed config file ({} when there is none). Sections: [tickets.*], ..."""
    import tomllib

    from crmcli.errors import InvalidInput

    path = config_path()
    if not path.exists():
        return {}
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc}") from None

"""Where the database lives, who is acting, the masking default and the settings file.

Everything about the environment except time is read here (CRM_DB, CRM_ACTOR, CRM_MASK,
CRM_CONFIG), so the rest of the code is tested by setting environment variables. Time
zone and "now" live in crmcli.core.clock.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

APP_NAME = "crmcli"
DB_FILENAME = "crm.db"


def user_dir(kind: str) -> Path:
    """The user "config" or "data" directory of crmcli, as platformdirs names it
    (user_config_dir / user_data_dir). On Linux its XDG rule is written out here, without
    importing platformdirs: commands run thousands of times from shell loops."""
    if sys.platform.startswith("linux"):
        variable, default = {
            "config": ("XDG_CONFIG_HOME", "~/.config"),
            "data": ("XDG_DATA_HOME", "~/.local/share"),
        }[kind]
        base = os.environ.get(variable, "").strip() or os.path.expanduser(default)
        return Path(base) / APP_NAME
    import platformdirs

    finder = platformdirs.user_config_dir if kind == "config" else platformdirs.user_data_dir
    return Path(finder(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    """The default database file: in the user data directory (platformdirs' rule)."""
    return user_dir("data") / DB_FILENAME


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
    import getpass  # ~5 ms; most writes name the actor through $CRM_ACTOR or --actor

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def mask_default() -> bool:
    """CRM_MASK=1 makes masking the default for exports and reports."""
    return os.environ.get("CRM_MASK", "").strip().lower() in {"1", "true", "yes", "on"}


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
    return user_dir("config") / "config.toml"


def load_config() -> dict[str, object]:
    """The parsed config file ({} when there is none). Sections: [tickets.*], ..."""
    path = config_path()
    if not path.exists():
        return {}
    import tomllib

    from crmcli.core.errors import InvalidInput

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc}") from None

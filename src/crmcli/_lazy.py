"""Lazy loading of the command groups (start-up speed).

`crm customer show 1` imports the customer group's modules only, so a simple command does
not pay for the imports of every other group. A group's own commands are built lazily too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, MutableMapping
from functools import partial
from typing import Any

_GROUPS: dict[str, str] = {}
_ROOT_COMMANDS: dict[str, tuple[str, str]] = {}


def _import(module: str) -> Any:
    # The import statement machinery (not importlib.import_module), so that
    # `python -X importtime` lists these modules too.
    __import__(module)
    return sys.modules[module]


def _load_group(name: str, rich_markup_mode: Any, pretty_exceptions_short: bool) -> Any:
    """Import one group's modules and build its click group, as `add_typer` would.

    The group's own commands are built lazily too: turning a command into a click command
    inspects its signature and annotations (~10 ms each), so `crm customer show` builds
    `show` only, not the dozen other customer commands.
    """
    from typer.main import get_command_name, get_group_from_info
    from typer.models import TyperInfo

    sub_app = _import(_GROUPS[name]).app
    infos = list(sub_app.registered_commands)
    sub_app.registered_commands = []
    try:
        group = get_group_from_info(
            TyperInfo(sub_app, name=name),
            pretty_exceptions_short=pretty_exceptions_short,
            rich_markup_mode=rich_markup_mode,
            suggest_commands=True,
        )
    finally:
        sub_app.registered_commands = infos
    loaders = {
        info.name or get_command_name(info.callback.__name__): partial(  # type: ignore[union-attr]
            _build_command,
            info,
            pretty_exceptions_short=pretty_exceptions_short,
            rich_markup_mode=rich_markup_mode,
        )
        for info in infos
    }
    from crmcli.commands.options import add_global_options

    for nested in group.commands.values():  # sub-groups (add_typer) are built eagerly
        add_global_options(nested)
    group.commands = LazyCommands(group.commands, loaders)
    return group


def _load_root_command(name: str, rich_markup_mode: Any, pretty_exceptions_short: bool) -> Any:
    from typer.models import CommandInfo

    module, function = _ROOT_COMMANDS[name]
    callback = getattr(_import(module), function)
    return _build_command(
        CommandInfo(name=name, callback=callback),
        pretty_exceptions_short=pretty_exceptions_short,
        rich_markup_mode=rich_markup_mode,
    )


def _build_command(info: Any, **kwargs: Any) -> Any:
    """A click command from its typer info, with every global option it does not declare
    itself (see commands.options.add_global_options)."""
    from typer.main import get_command_from_info

    from crmcli.commands.options import add_global_options

    return add_global_options(get_command_from_info(info, **kwargs))


class LazyCommands(MutableMapping[str, Any]):
    """The root group's sub-commands, each built on first access.

    Looking one name up (what running a command does) loads that group alone; iterating
    the items (help, completion, the help-text test) loads them all. Keys never load.
    """

    def __init__(self, loaded: MutableMapping[str, Any], loaders: dict[str, Any]) -> None:
        self._loaded = dict(loaded)
        self._loaders = loaders

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in self._loaders:
                raise KeyError(name)
            self._loaded[name] = self._loaders[name]()
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        found = self._loaded.pop(name, None) is not None
        found = self._loaders.pop(name, None) is not None or found
        if not found:
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        yield from self._loaders
        yield from (n for n in self._loaded if n not in self._loaders)

    def __len__(self) -> int:
        return len(set(self._loaders) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in self._loaders or name in self._loaded


def register(groups: dict[str, str], root_commands: dict[str, tuple[str, str]]) -> None:
    """Register every group and root command (each loaded on first use)."""
    _GROUPS.clear()
    _GROUPS.update(groups)
    _ROOT_COMMANDS.clear()
    _ROOT_COMMANDS.update(root_commands)
    _lazy_loaders.clear()
    for name in groups:
        _lazy_loaders[name] = partial(_load_group, name)
    for name in root_commands:
        _lazy_loaders[name] = partial(_load_root_command, name)


_lazy_loaders: dict[str, Any] = {}


def loaders(rich_markup_mode: Any, pretty_exceptions_short: bool) -> dict[str, Any]:
    """One loader per registered name, for the root group's LazyCommands."""
    return {
        name: partial(load, rich_markup_mode, pretty_exceptions_short)
        for name, load in _lazy_loaders.items()
    }

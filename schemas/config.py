"""Configuration conventions every settings class shares (``OMNITRAIL_*`` variables, optional TOML).

Lives in ``schemas`` because connectors, the pipeline and the shell all define settings
classes, and ``schemas`` is the one package all of them may import. Every class is
validated once at start-up; unknown ``OMNITRAIL_*`` variables are rejected with a message
naming them, because a typo in a deployment should fail loudly rather than silently fall
back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from schemas.errors import FatalError

ENV_PREFIX = "OMNITRAIL_"
_S = TypeVar("_S", bound=BaseSettings)
#: Not a setting of any class: it names the TOML file the classes read.
CONFIG_FILE_VAR = "OMNITRAIL_CONFIG"


def _config_file() -> Path | None:
    value = os.environ.get(CONFIG_FILE_VAR)
    return Path(value) if value else None


class OmnitrailSettings(BaseSettings):
    """Base of every settings class: env prefix, no unknown keys, optional TOML section."""

    # hide_input_in_errors: a validation error's text never quotes the values given (secrets, tokens), wherever
    # it is printed; load() reports the variable and the reason only.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", case_sensitive=False, hide_input_in_errors=True
    )
    #: Section of the TOML file this class reads (``None``: the top level).
    toml_section: ClassVar[str | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            table_header = () if cls.toml_section is None else (cls.toml_section,)
            sources.append(_SectionTomlSource(settings_cls, path, table_header))
        return tuple(sources)


class _SectionTomlSource(TomlConfigSettingsSource):
    """TOML source reading only the class's own table and only its own keys."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, header: tuple[str, ...]) -> None:
        super().__init__(settings_cls, toml_file=path)
        data: Any = self.toml_data
        for part in header:
            data = data.get(part, {})
        fields = set(settings_cls.model_fields)
        self.toml_data = {k: v for k, v in data.items() if k in fields}
        self.init_kwargs = self.toml_data


def known_env_vars(classes: list[type[BaseSettings]]) -> set[str]:
    names = {CONFIG_FILE_VAR}
    for cls in classes:
        prefix = str(cls.model_config.get("env_prefix", ""))
        names.update(f"{prefix}{field}".upper() for field in cls.model_fields)
    return names


def reject_unknown_env(classes: list[type[BaseSettings]], environ: dict[str, str] | None = None) -> None:
    environ = dict(os.environ) if environ is None else environ
    known = known_env_vars(classes)
    unknown = sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
    if unknown:
        raise FatalError(
            f"unknown setting(s): {', '.join(unknown)}. "
            "Check the spelling against the configuration reference in README.md."
        )


def load(cls: type[_S]) -> _S:
    """Instantiate a settings class; a validation error becomes one FatalError naming the variables."""
    try:
        return cls()
    except SettingsError as exc:  # a JSON setting that is not JSON; the message names the field, not the value
        raise FatalError(f"invalid configuration: {exc}") from None
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        problems = "; ".join(
            f"{prefix}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise FatalError(f"invalid configuration: {problems}") from None

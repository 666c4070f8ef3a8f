"""Feed profiles from YAML files, one per feed, with errors that name the file, the field and the
problem (``profiles/wfm.yaml: endpoint.auth.password: Field required``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from streamvane.errors import ConfigError
from streamvane.feeds.profile import FeedProfile


class ProfileError(ConfigError):
    """One or more profile files are invalid; ``problems`` lists one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def profile_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ProfileError([f"{directory}: not a directory"])
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_profile(path: Path) -> FeedProfile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError([f"{path}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ProfileError([f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ProfileError([f"{path}: expected a mapping of profile fields at the top level"])
    try:
        return FeedProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(
            [
                f"{path}: {'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}"
                for err in exc.errors(include_url=False)
            ]
        ) from None


def load_profiles(paths: Iterable[Path]) -> tuple[FeedProfile, ...]:
    """Every file's profile; all problems of all files are reported together, plus duplicate ids."""
    problems: list[str] = []
    profiles: list[FeedProfile] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            profile = load_profile(path)
        except ProfileError as exc:
            problems.extend(exc.problems)
            continue
        if profile.id in seen:
            problems.append(f"{path}: id: {profile.id!r} is already used by {seen[profile.id]}")
            continue
        seen[profile.id] = path
        profiles.append(profile)
    if problems:
        raise ProfileError(problems)
    return tuple(profiles)


def load_profiles_dir(directory: Path) -> tuple[FeedProfile, ...]:
    return load_profiles(profile_files(directory))

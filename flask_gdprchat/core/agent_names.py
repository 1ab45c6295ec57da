"""How team members are named where visitors and exports see them.

An agent's display name is sealed under the agent's own key (see
:mod:`flask_gdprchat.core.sealing`), so SQL cannot pick it: histories, the
privacy center and exports ask here, by agent id, and get the display name
opened, else the first name the row keeps after an erasure.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from flask_gdprchat.core import sealing
from flask_gdprchat.core.models import Agent
from flask_gdprchat.core.state import session

_DISPLAY_NAME = sealing.field(Agent, "display_name")


def public_names(agent_ids: Iterable[int | None]) -> dict[int, str]:
    """The name visitors see for each of these agents (unknown ids are left out)."""
    wanted = {i for i in agent_ids if i is not None}
    if not wanted:
        return {}
    rows = session().execute(
        select(Agent.id, Agent.first_name, Agent.display_name, Agent.display_name_sealed)
        .where(Agent.id.in_(wanted))
    ).all()
    names = {}
    for row in rows:
        shown = sealing.open_value(sealing.existing_agent_key(row.id), _DISPLAY_NAME, row.id,
                                   row.display_name_sealed, row.display_name)
        names[row.id] = shown or row.first_name
    return names


__all__ = ["public_names"]

"""The dashboard's screens. Each one names the permission it needs.

- Overview: any of ``team``, ``settings``, ``user_data``.
- Team members: ``team``. Only admins may grant admin or change an admin, and
  a non-admin grants only permissions it holds itself.
- Widget, Retention and Campaigns: ``settings``.
- Contacts, Consent records, Requests and Audit log: ``user_data``.

Lists show no personal data beyond what the screen's task needs: contacts show
their name and e-mail to agents holding ``user_data`` (to find and open one);
consent records name the contact as the console does; requests and the audit
log name a subject by its keyed reference only. Screens built on these classes
live in their own modules (``campaigns``, ``contacts``, ``subject_requests``,
``audit_log``, ``ropa``, ``saved_replies``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import abort, flash, has_request_context, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.helpers import get_form_data
from flask_babel import force_locale
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.local import LocalProxy

from flask_gdprchat.admin.forms import (
    PERMISSION_NAMES,
    AdminSecureForm,
    AgentCreateForm,
    AgentEditForm,
    RetentionForm,
    SettingsForm,
    WidgetForm,
)
from flask_gdprchat.core import access, audit
from flask_gdprchat.core.agent_i18n import (
    _a,
    agent_language,
    agent_locale,
    agent_ngettext,
    agent_page_context,
    lazy_agent_gettext,
)
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.config import DEFAULTS, PERMISSIONS
from flask_gdprchat.core.identity import get_current_agent
from flask_gdprchat.core.masking import KINDS as MASK_KINDS
from flask_gdprchat.core.models import (
    MAX_ROW_ID,
    Agent,
    AuditEvent,
    Campaign,
    ConsentRecord,
    Contact,
    SavedReply,
    SubjectRequest,
    row_id,
)
from flask_gdprchat.core.settings import save_settings, setting
from flask_gdprchat.core.state import session
from flask_gdprchat.team.agents import (
    TeamError,
    create_agent,
    delete_agent,
    sign_out_everywhere,
    update_agent,
)


class _AppDb:
    """What Flask-Admin's SQLAlchemy views take as ``db``: its ``session`` is the
    current app's, found per request, so one set of view classes serves any app."""

    session: Any = LocalProxy(session)


_db = _AppDb()


def _actor() -> str:
    agent = get_current_agent()
    return f"agent:{agent.id}" if agent else "system"


def _badge(text: str, kind: str = "") -> Markup:
    # Only our own fixed words and dates go in badges, never visitor text.
    css = f"gdprchat-badge gdprchat-badge-{kind}" if kind else "gdprchat-badge"
    return Markup('<span class="{}">{}</span>').format(css, text)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


class AgentAccess:
    """Access by the signed-in agent's permissions, decided in :mod:`access`; the
    agent's language (:mod:`flask_gdprchat.core.agent_i18n`) on every screen.

    Our words come from the agents' catalog; Flask-Admin's own ("Save", "Cancel")
    from Flask-Babel's ``admin`` domain, which reads Flask-Babel's locale: each
    screen runs with it forced to the agent's language, so both agree, while the
    host's locale selection (and the visitors' pages) stay untouched.
    """

    #: The screen opens for an agent holding any of these.
    permissions: tuple[str, ...] = ()

    def is_accessible(self) -> bool:
        agent = get_current_agent()
        return any(access.agent_can(agent, p) for p in self.permissions)

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if get_current_agent() is None:
            return redirect(url_for("gdprchat.auth.login", next=request.full_path))
        abort(403, description=_a("Your team role does not include this screen."))

    def _run_view(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with force_locale(agent_locale()):
            return super()._run_view(fn, *args, **kwargs)  # type: ignore[misc]

    def render(self, template: str, **kwargs: Any) -> Any:
        """Flask-Admin's render, with ``_a``, ``lang`` and ``controller_name`` as the
        agent pages have them (see :func:`agent_page_context`)."""
        return super().render(template, **{**agent_page_context(), **kwargs})  # type: ignore[misc]

    def get_url(self, endpoint: str, **kwargs: Any) -> str:
        """Links between screens keep a ``?lang=`` the agent chose."""
        chosen = agent_language(request.args.get("lang")) if has_request_context() else None
        if chosen and "lang" not in kwargs and not endpoint.endswith("static"):
            kwargs["lang"] = chosen
        return str(super().get_url(endpoint, **kwargs))  # type: ignore[misc]

    def current_agent_name(self) -> str:
        agent = get_current_agent()
        return agent.public_name if agent else ""


class DashboardIndexView(AgentAccess, AdminIndexView):
    """The overview: what needs attention, and the way to each screen."""

    permissions = ("team", "settings", "user_data")

    @expose("/")
    def index(self) -> Any:
        if not self.is_accessible():
            return self.inaccessible_callback("index")
        agent = get_current_agent()
        facts: dict[str, Any] = {}
        db = session()
        if access.agent_can(agent, "user_data"):
            now = utcnow()
            open_requests = select(func.count()).select_from(SubjectRequest).where(
                SubjectRequest.status == "open"
            )
            facts["open_requests"] = db.scalar(open_requests)
            facts["overdue_requests"] = db.scalar(open_requests.where(SubjectRequest.due_at < now))
            facts["contacts"] = db.scalar(select(func.count()).select_from(Contact))
            facts["chain"] = audit.verify_chain()
        if access.agent_can(agent, "team"):
            facts["team"] = db.scalar(select(func.count()).select_from(Agent).where(
                Agent.deleted_at.is_(None), Agent.is_active.is_(True)))
        if access.agent_can(agent, "settings"):
            facts["retention"] = {
                "anonymous": setting("ANONYMOUS_RETENTION_DAYS"),
                "identified": setting("IDENTIFIED_RETENTION_DAYS"),
                "grace": setting("RESTRICTED_GRACE_DAYS"),
            }
            facts["campaigns"] = db.scalar(select(func.count()).select_from(Campaign).where(
                Campaign.is_active.is_(True)))
        return self.render("gdprchat_admin/index.html", facts=facts)


class GuardedModelView(AgentAccess, ModelView):
    """A model screen: CSRF on every form, delete and action; no details page."""

    form_base_class = AdminSecureForm
    can_view_details = False
    can_export = False
    page_size = 50
    column_display_actions = True
    list_template = "gdprchat_admin/list.html"
    create_template = "gdprchat_admin/create.html"
    edit_template = "gdprchat_admin/edit.html"
    #: The search field's label (when the screen has ``column_searchable_list``).
    search_label: Any = lazy_agent_gettext("Search")
    #: The words of the list's "create" button.
    create_label: Any = lazy_agent_gettext("Add")
    #: What a row's Delete button asks before it deletes.
    delete_confirmation: Any = lazy_agent_gettext("Delete this record for good?")

    def row_title(self, row: Any) -> str:
        """How a row is named to screen readers ("Select Spring news", "Edit ...")."""
        return _a("row %(id)s", id=self.get_pk_value(row))

    def row_links(self, row: Any) -> list[tuple[str, str]]:
        """Extra ``(words, url)`` buttons in a row, before Edit and Delete."""
        return []

    def __init__(self, model: type, *, name: Any, endpoint: str, url: str) -> None:
        super().__init__(model, _db, name=name, endpoint=endpoint, url=url)
        # Flask-Admin unwraps only a real Flask-SQLAlchemy object; hand it the
        # per-request session proxy directly.
        self.session = _db.session

    def get_list(self, page: int | None, *args: Any, **kwargs: Any) -> Any:
        # ?page=10**30 is a page past the last row, not an offset the database refuses.
        size = kwargs.get("page_size") or self.page_size
        if page and size and page * size > MAX_ROW_ID:
            page = MAX_ROW_ID // size
        return super().get_list(page, *args, **kwargs)


def _selected_ids(ids: Iterable[str]) -> list[int]:
    """The row ids a list action was asked for (any that no row can have dropped)."""
    return [i for i in map(row_id, ids) if i is not None]


class ReadOnlyView(GuardedModelView):
    can_create = False
    can_edit = False
    can_delete = False
    column_display_actions = False


# -- team ---------------------------------------------------------------------------------


def _role(view: Any, context: Any, agent: Agent, name: str) -> Any:
    if agent.is_deleted:
        return ""
    if agent.is_admin:
        return _badge(_a("Admin"))
    return ", ".join(str(PERMISSION_NAMES[p]) for p in PERMISSIONS if p in agent.permission_set) or "—"


def _status(view: Any, context: Any, agent: Agent, name: str) -> Any:
    if agent.is_deleted:
        return _badge(_a("Deleted %(date)s", date=_when(agent.deleted_at)[:10]), "danger")
    return _badge(_a("Active"), "ok") if agent.is_active else _badge(_a("Disabled"), "warn")


class TeamView(GuardedModelView):
    """Team members: create, change permissions, disable, delete (erase)."""

    permissions = ("team",)
    column_list = ("public_name", "full_name", "email", "role", "status", "created_at")
    column_labels = {"public_name": lazy_agent_gettext("Visitors see"),
                     "full_name": lazy_agent_gettext("Full name"),
                     "email": lazy_agent_gettext("E-mail"), "role": lazy_agent_gettext("Role"),
                     "status": lazy_agent_gettext("Status"), "created_at": lazy_agent_gettext("Added")}
    column_formatters = {"role": _role, "status": _status,
                         "created_at": lambda v, c, m, n: _when(m.created_at)}
    column_default_sort = ("id", False)
    # Names and addresses are sealed: the database cannot order by them.
    column_sortable_list = ("created_at",)
    column_searchable_list = ()
    list_template = "gdprchat_admin/team_list.html"
    create_label = lazy_agent_gettext("Add a team member")
    delete_confirmation = lazy_agent_gettext(
        "Delete this team member? Their e-mail, full name, photo and login are erased for "
        "good; their messages keep their first name.")

    def row_title(self, row: Agent) -> str:
        return row.public_name or _a("team member %(id)s", id=row.id)

    def get_create_form(self) -> Any:
        return AgentCreateForm

    def get_edit_form(self) -> Any:
        return AgentEditForm

    def edit_form(self, obj: Any = None) -> Any:
        # The model keeps permissions as one string; the form wants a list.
        return self._edit_form_class(get_form_data(), data={
            "permissions": sorted(obj.permission_set) if obj else [],
            "is_admin": bool(obj and obj.is_admin),
            "is_active": bool(obj and obj.is_active),
            "display_name": obj.display_name if obj else "",
        })

    def _check_grant(self, permissions: Iterable[str], admin: bool, target: Agent | None) -> None:
        """Admins grant anything; others only rights they hold, and never touch admins."""
        me = get_current_agent()
        if me is None or me.is_admin:
            return
        if admin or (target is not None and target.is_admin):
            raise TeamError(_a("only an admin can make or change an admin"))
        extra = sorted(set(permissions) - me.permission_set)
        if extra:
            raise TeamError(_a("you cannot grant a permission you do not hold: %(names)s",
                               names=", ".join(extra)))

    def create_model(self, form: Any) -> Any:
        try:
            self._check_grant(form.permissions.data or [], form.is_admin.data, None)
            agent = create_agent(
                form.email.data, form.full_name.data, form.password.data,
                permissions=form.permissions.data or [], admin=form.is_admin.data,
                actor=_actor(), display_name=(form.display_name.data or "").strip() or None,
            )
            session().commit()
        except TeamError as exc:
            session().rollback()
            flash(_a("The team member was not added: %(reason)s.", reason=exc), "error")
            return False
        return agent

    def update_model(self, form: Any, model: Agent) -> bool:
        try:
            self._check_grant(form.permissions.data or [], form.is_admin.data, model)
            update_agent(model.id, permissions=form.permissions.data or [],
                         admin=form.is_admin.data, active=form.is_active.data, actor=_actor(),
                         display_name=(form.display_name.data or "").strip() or None)
        except TeamError as exc:
            session().rollback()
            flash(_a("Nothing was changed: %(reason)s.", reason=exc), "error")
            return False
        return True

    def _each(self, agents: Iterable[Agent], change: Callable[[Agent], object], failed: Any) -> int:
        """Apply ``change`` to each agent this admin may change; say which were refused."""
        done = 0
        for agent in list(agents):
            try:
                self._check_grant([], False, agent)
                change(agent)
                done += 1
            except TeamError as exc:
                session().rollback()
                flash(_a("Team member %(id)s was not %(what)s: %(reason)s.", id=agent.id,
                         what=failed, reason=exc), "error")
        return done

    def _erase(self, agents: Iterable[Agent], *, purge: bool) -> int:
        return self._each(
            agents, lambda agent: delete_agent(agent.id, purge=purge, actor=_actor()),
            _a("deleted"),
        )

    def delete_model(self, model: Agent) -> bool:
        return self._erase([model], purge=False) == 1

    def _selected(self, ids: Iterable[str]) -> list[Agent]:
        return list(session().scalars(select(Agent).where(Agent.id.in_(_selected_ids(ids)))))

    @action("delete", lazy_agent_gettext("Delete (keep first name on messages)"),
            lazy_agent_gettext("Delete the selected team members? Their e-mail, full name, "
                               "photo and login are erased for good; their messages keep "
                               "their first name."))
    def action_delete(self, ids: Iterable[str]) -> None:
        done = self._erase(self._selected(ids), purge=False)
        if done:
            flash(agent_ngettext("%(num)s team member deleted.",
                                 "%(num)s team members deleted.", done), "success")

    @action("purge", lazy_agent_gettext("Delete completely (first name too)"),
            lazy_agent_gettext("Delete the selected team members completely? Their messages "
                               "will show 'Former agent' instead of their first name."))
    def action_purge(self, ids: Iterable[str]) -> None:
        done = self._erase(self._selected(ids), purge=True)
        if done:
            flash(agent_ngettext("%(num)s team member deleted completely.",
                                 "%(num)s team members deleted completely.", done), "success")

    @action("disable", lazy_agent_gettext("Disable"),
            lazy_agent_gettext("Disable the selected team members? They are signed out at once."))
    def action_disable(self, ids: Iterable[str]) -> None:
        done = self._each(
            self._selected(ids),
            lambda agent: update_agent(agent.id, active=False, actor=_actor()),
            _a("disabled"),
        )
        if done:
            flash(agent_ngettext("%(num)s team member disabled.",
                                 "%(num)s team members disabled.", done), "success")

    @action("sign_out", lazy_agent_gettext("Sign out everywhere"),
            lazy_agent_gettext("Sign the selected team members out on every device? They can "
                               "sign in again."))
    def action_sign_out(self, ids: Iterable[str]) -> None:
        done = self._each(
            self._selected(ids),
            lambda agent: sign_out_everywhere(agent.id, actor=_actor()),
            _a("signed out"),
        )
        if done:
            flash(agent_ngettext("%(num)s team member signed out everywhere.",
                                 "%(num)s team members signed out everywhere.", done), "success")


# -- settings -----------------------------------------------------------------------------


class SettingsView(AgentAccess, BaseView):
    """A settings page: the values in force, saved over the config at run time."""

    permissions = ("settings",)
    form_class: type[SettingsForm] = SettingsForm
    intro: Any = ""

    def _current(self) -> dict[str, Any]:
        form = self.form_class(meta={"csrf": False})
        return {key: setting(key) for key in form.setting_values()}

    @expose("/", methods=("GET", "POST"))
    def index(self) -> Any:
        if request.method == "POST":
            form = self.form_class()
            if form.validate():
                values = form.check_settings()
                if values is not None:
                    agent = get_current_agent()
                    changed = save_settings(values, agent_id=agent.id if agent else None)
                    flash(agent_ngettext(
                        "Saved: %(num)s setting changed. It applies from now on.",
                        "Saved: %(num)s settings changed. They apply from now on.",
                        len(changed)) if changed else _a("Nothing changed."), "success")
                    return redirect(self.get_url(".index"))
            else:
                form.check_settings()
            status = 400
        else:
            form = self.form_class(data=self.form_class.initial(self._current()))
            status = 200
        return self.render("gdprchat_admin/settings.html", form=form, intro=self.intro), status


class WidgetSettingsView(SettingsView):
    form_class = WidgetForm
    intro = lazy_agent_gettext("What visitors see before they chat: the pre-chat form, the "
                               "consent wording and the widget's look.")
    #: The page shows the chat window beside the form, redrawn as the admin types.
    shows_preview = True

    # The preview's defaults are the visitors' built-in texts, shown as visitors see them.
    def default_title(self) -> str:
        return "Chat with us"

    def default_consent(self) -> str:
        """The built-in consent wording (the preview's fallback), from the one default."""
        return str(DEFAULTS["CONSENT_TEXT"])

    def retention_days(self) -> Any:
        """What ``%(days)s`` in a consent wording stands for (anonymous retention)."""
        return setting("ANONYMOUS_RETENTION_DAYS")


class RetentionSettingsView(SettingsView):
    form_class = RetentionForm
    intro = lazy_agent_gettext("How long conversations are kept. The purge applies these "
                               "periods on its next run, and the privacy page states them "
                               "at once.")

    def masks_in_force(self) -> str:
        """Which masks ``GDPRCHAT_MASK_PATTERNS`` turns on, in words (set in the config)."""
        names = {"card": _a("card numbers (Luhn-valid)"), "iban": _a("IBANs (mod-97-valid)")}
        on = [names[kind] for kind in MASK_KINDS if kind in setting("MASK_PATTERNS")]
        if not on:
            return _a("Masking is off: messages are stored as typed "
                      "(GDPRCHAT_MASK_PATTERNS = []).")
        return _a("Masked in every message before it is stored or relayed: %(kinds)s, keeping "
                  "the last four characters.", kinds=_a(" and ").join(on))


def build_views(prefix: str, *, own: bool) -> list[BaseView]:
    """Fresh instances of every screen, with endpoints starting with ``prefix``."""

    def where(name: str) -> dict[str, str]:
        # On a host's Admin, URLs stay readable: /admin/gdprchat-team/ and so on.
        return {"endpoint": prefix + name, "url": name if own else f"gdprchat-{name}"}

    # Imported here: those screens build on this module's AgentAccess.
    from flask_gdprchat.admin.audit_log import AuditLogView
    from flask_gdprchat.admin.campaigns import CampaignsView
    from flask_gdprchat.admin.contacts import ConsentRecordsView, ContactsView
    from flask_gdprchat.admin.ropa import RecordOfProcessingView
    from flask_gdprchat.admin.saved_replies import SavedRepliesView
    from flask_gdprchat.admin.subject_requests import SubjectRequestsView

    return [
        TeamView(Agent, name=lazy_agent_gettext("Team members"), **where("team")),
        WidgetSettingsView(name=lazy_agent_gettext("Widget"), **where("widget")),
        RetentionSettingsView(name=lazy_agent_gettext("Retention"), **where("retention")),
        RecordOfProcessingView(name=lazy_agent_gettext("Record of processing"), **where("ropa")),
        CampaignsView(Campaign, name=lazy_agent_gettext("Campaigns"), **where("campaigns")),
        SavedRepliesView(SavedReply, name=lazy_agent_gettext("Saved replies"), **where("saved-replies")),
        ContactsView(Contact, name=lazy_agent_gettext("Contacts"), **where("contacts")),
        ConsentRecordsView(ConsentRecord, name=lazy_agent_gettext("Consent records"), **where("consents")),
        SubjectRequestsView(SubjectRequest, name=lazy_agent_gettext("Requests"), **where("requests")),
        AuditLogView(AuditEvent, name=lazy_agent_gettext("Audit log"), **where("audit")),
    ]

/* flask-gdprchat agent console: keeps the inbox, the open conversation and the contact
 * panel live over the /gdprchat socket, and runs the agent's workflow (filters,
 * assignment, resolve/reopen, saved replies, alerts, shortcuts).
 * Visitor text is only ever set as textContent. */
(function () {
  "use strict";
  var root = document.getElementById("gdprchat-console");
  if (!root || typeof window.io !== "function") { return; }

  var ME = Number(root.dataset.agentId);
  var CAN_EDIT = root.dataset.canEdit === "true";
  var initial = JSON.parse(document.getElementById("gdprchat-initial").textContent);
  // The page's words in the agent's language, keyed by their English (the server fills the
  // block from the agents' catalog with every word this file marks with _a).
  var wordsBlock = document.getElementById("gdprchat-console-words");
  var WORDS = wordsBlock ? JSON.parse(wordsBlock.textContent) : {};
  /** A word of the console in the agent's language, its %(name)s placeholders filled.
   * Babel's extractor does not see an _a() written inside another's arguments: give the
   * inner word a variable of its own first. */
  function _a(msgid, values) {
    var text = WORDS[msgid] || msgid;
    if (!values) { return text; }
    return text.replace(/%\((\w+)\)s/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }
  // Times in the page's language; the browser's own region of it when it has one (de-AT, en-GB).
  var LANG = document.documentElement.lang || "en";
  var LOCALES = (navigator.languages || []).filter(function (tag) {
    return tag.split("-")[0].toLowerCase() === LANG;
  }).concat([LANG]);
  /** Consecutive messages of one author closer than this share one name and time. */
  var GROUP_GAP_MS = 5 * 60 * 1000;
  var PHONE = window.matchMedia("(max-width: 700px)");
  var DRAWER = window.matchMedia("(max-width: 1100px)");

  function $(id) { return document.getElementById(id); }
  var list = $("gdprchat-inbox-list");
  var emptyList = $("gdprchat-empty-list");
  var thread = {
    empty: $("gdprchat-thread-empty"), main: $("gdprchat-thread-main"),
    avatar: $("gdprchat-thread-avatar"), title: $("gdprchat-thread-title"), sub: $("gdprchat-thread-sub"),
    restricted: $("gdprchat-restricted"), statusBadge: $("gdprchat-status-badge"),
    assign: $("gdprchat-assign"), resolve: $("gdprchat-resolve"),
    messages: $("gdprchat-messages"), typing: $("gdprchat-typing"),
    form: $("gdprchat-reply"), text: $("gdprchat-reply-text"), note: $("gdprchat-reply-note"),
    offlineBadge: $("gdprchat-offline-badge"), emailNote: $("gdprchat-email-note"), send: $("gdprchat-reply-send")
  };
  var LIVE_PLACEHOLDER = thread.text.placeholder;
  var SEND_WORD = thread.send.textContent;
  var panel = $("gdprchat-contact-panel");
  var panelBody = $("gdprchat-contact-body");
  var scrim = $("gdprchat-scrim");
  var conn = $("gdprchat-conn");
  var unreadTotal = $("gdprchat-unread-total");
  var search = $("gdprchat-filter");
  var toasts = $("gdprchat-toasts");
  var confirmDialog = $("gdprchat-confirm");
  var helpDialog = $("gdprchat-help");

  var team = {};
  (initial.team || []).forEach(function (member) { team[member.id] = member; });
  var selected = root.dataset.selected ? Number(root.dataset.selected) : null;
  var current = { status: "open", assignee: null, label: "", offline: false, email: "" };
  var canReply = false;
  var canWork = root.dataset.canWork === "true";
  var presence = initial.presence || "online";
  var rendered = {};
  var typingTimer = null;
  var lastTypingSent = 0;
  var filterName = "all";

  // -- small helpers -------------------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  /** What a refused socket call says, or that the server did not answer. */
  function failure(ack) { return (ack && ack.error) || _a("no answer from the server"); }
  function urlFor(template, id) { return template.replace(/\/0(?=[./?]|$)/, "/" + id); }
  /** The inbox's address with one conversation open (keeping a ?lang= the agent chose). */
  function conversationHref(id) {
    var url = new URL(root.dataset.inboxUrl, location.href);
    url.searchParams.set("conversation", String(id));
    return url.pathname + url.search;
  }
  function stored(key, fallback) {
    try { var value = window.localStorage.getItem("gdprchat-console-" + key); return value === null ? fallback : value; }
    catch (e) { return fallback; }
  }
  function store(key, value) {
    try { window.localStorage.setItem("gdprchat-console-" + key, value); } catch (e) { /* private mode */ }
  }
  function setAvatar(node, avatar) {
    node.textContent = avatar ? avatar.initials : "";
    if (avatar) { node.style.setProperty("--gc-hue", String(avatar.hue)); }
  }
  function memberName(id) {
    if (!id) { return ""; }
    if (id === ME) { return _a("Mine"); }
    return team[id] ? team[id].name : _a("A colleague");
  }

  // One set of formats for every time on the page: the agent's own zone, the page's language.
  var formats = {
    time: new Intl.DateTimeFormat(LOCALES, { hour: "numeric", minute: "2-digit" }),
    full: new Intl.DateTimeFormat(LOCALES, { dateStyle: "medium", timeStyle: "short" }),
    date: new Intl.DateTimeFormat(LOCALES, { dateStyle: "medium" }),
    day: new Intl.DateTimeFormat(LOCALES, { weekday: "long", day: "numeric", month: "long" }),
    short: new Intl.DateTimeFormat(LOCALES, { day: "numeric", month: "short" })
  };
  function dayKey(when) { return when.getFullYear() + "-" + when.getMonth() + "-" + when.getDate(); }
  function dayLabel(when) {
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(when) === dayKey(today)) { return _a("Today"); }
    if (dayKey(when) === dayKey(yesterday)) { return _a("Yesterday"); }
    return when.getFullYear() === today.getFullYear() ? formats.day.format(when) : formats.date.format(when);
  }
  function listTime(iso) {
    if (!iso) { return ""; }
    var when = new Date(iso);
    var seconds = (Date.now() - when) / 1000;
    if (seconds < 60) { return _a("now"); }
    if (seconds < 3600) { return _a("%(num)s min", { num: Math.floor(seconds / 60) }); }
    if (dayKey(when) === dayKey(new Date())) { return formats.time.format(when); }
    return formats.short.format(when);
  }
  function refreshTimes() {
    list.querySelectorAll(".gdprchat-inbox-time").forEach(function (node) {
      var iso = node.getAttribute("datetime");
      node.textContent = listTime(iso);
      if (iso) { node.title = formats.full.format(new Date(iso)); }
    });
  }
  function localiseTimes(scope) {
    scope.querySelectorAll("time[datetime]").forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when)) { return; }
      node.textContent = node.dataset.format === "date" ? formats.date.format(when) : formats.full.format(when);
    });
  }

  // -- toasts --------------------------------------------------------------------------------
  function toast(text, kind) {
    var note = el("p", "gdprchat-toast" + (kind === "error" ? " gdprchat-toast-error" : ""), text);
    note.setAttribute("role", kind === "error" ? "alert" : "status");
    note.title = _a("Dismiss");
    note.addEventListener("click", function () { note.remove(); });
    toasts.appendChild(note);
    var keep = PHONE.matches ? 2 : 3;
    while (toasts.children.length > keep) { toasts.firstElementChild.remove(); }
    setTimeout(function () { note.remove(); }, kind === "error" ? 9000 : 5000);
  }
  // The page's own flash messages (after a sign-in, say) become toasts too.
  document.querySelectorAll(".gdprchat-flashes .gdprchat-flash").forEach(function (flash) {
    toast(flash.textContent, /error/.test(flash.className) ? "error" : "ok");
  });
  document.querySelectorAll(".gdprchat-flashes").forEach(function (box) { box.remove(); });

  // -- panes: which one shows ---------------------------------------------------------------
  function setView(view) { root.dataset.view = view; }
  function contactShown() {
    return PHONE.matches ? root.dataset.view === "contact" : root.dataset.contactOpen === "true";
  }
  function openContact() {
    if (!selected) { return; }
    if (PHONE.matches) {
      history.pushState({ conversation: selected, contact: true }, "", location.pathname + location.search + "#contact");
      setView("contact");
    } else if (DRAWER.matches) {
      root.dataset.contactOpen = "true";
      scrim.hidden = false;
    }
    $("gdprchat-contact-toggle").setAttribute("aria-expanded", "true");
    var first = panel.querySelector("#gdprchat-contact-close");
    if (first && (PHONE.matches || DRAWER.matches)) { first.focus(); }
  }
  function closeContact(fromHistory) {
    var wasShown = contactShown();
    root.dataset.contactOpen = "false";
    scrim.hidden = true;
    $("gdprchat-contact-toggle").setAttribute("aria-expanded", "false");
    if (root.dataset.view === "contact") {
      if (!fromHistory && history.state && history.state.contact) { history.back(); return; }
      setView(selected ? "thread" : "list");
    }
    if (wasShown && selected) { $("gdprchat-contact-toggle").focus(); }
  }
  $("gdprchat-contact-toggle").addEventListener("click", function () {
    if (contactShown()) { closeContact(); } else { openContact(); }
  });
  $("gdprchat-contact-close").addEventListener("click", function () { closeContact(); });
  scrim.addEventListener("click", function () { closeContact(); });
  $("gdprchat-back").addEventListener("click", function () {
    if (history.state && history.state.conversation) { history.back(); return; }
    history.replaceState({}, "", root.dataset.inboxUrl);
    closeThread();
  });

  // -- inbox ---------------------------------------------------------------------------------
  function rowFor(id) { return list.querySelector('[data-conversation-id="' + id + '"]'); }
  function rows() { return Array.prototype.slice.call(list.querySelectorAll(".gdprchat-inbox-item")); }

  function makeRow(summary) {
    var item = el("li", "gdprchat-inbox-item");
    item.dataset.conversationId = String(summary.conversation_id);
    item.dataset.status = summary.status || "open";
    item.dataset.assignee = summary.assignee_id ? String(summary.assignee_id) : "";
    if (summary.offline) { item.dataset.offline = "true"; }
    var link = el("a");
    link.href = conversationHref(summary.conversation_id);
    var avatar = el("span", "gdprchat-avatar-sm");
    avatar.setAttribute("aria-hidden", "true");
    setAvatar(avatar, summary.avatar);
    var text = el("span", "gdprchat-inbox-text");
    var top = el("span", "gdprchat-inbox-top");
    top.appendChild(el("span", "gdprchat-inbox-name", summary.contact_label || summary.contact_name || _a("Visitor")));
    var email = el("span", "gdprchat-inbox-email", _a("E-mail"));
    email.title = _a("Left while nobody was online: answer by e-mail");
    email.hidden = !summary.offline;
    top.appendChild(email);
    var time = el("time", "gdprchat-inbox-time");
    time.setAttribute("datetime", summary.last_activity_at || "");
    top.appendChild(time);
    var bottom = el("span", "gdprchat-inbox-bottom");
    bottom.appendChild(el("span", "gdprchat-inbox-preview", summary.preview || _a("New conversation")));
    var chip = el("span", "gdprchat-inbox-assignee");
    chip.hidden = true;
    bottom.appendChild(chip);
    var unread = el("span", "gdprchat-unread", summary.unread_count || 0);
    if (summary.unread_count) { item.classList.add("gdprchat-has-unread"); }
    unread.hidden = !summary.unread_count;
    bottom.appendChild(unread);
    text.appendChild(top); text.appendChild(bottom);
    link.appendChild(avatar); link.appendChild(text);
    item.appendChild(link);
    showAssignee(item);
    return item;
  }

  function showAssignee(row) {
    var chip = row.querySelector(".gdprchat-inbox-assignee");
    var id = Number(row.dataset.assignee) || null;
    chip.textContent = memberName(id);
    chip.hidden = !id;
    chip.title = !id ? "" : id === ME ? _a("Assigned to you") : _a("Assigned to %(name)s", { name: memberName(id) });
  }

  function bump(id, fields) {
    var row = rowFor(id);
    if (!row) { return null; }
    if (fields.preview !== undefined) { row.querySelector(".gdprchat-inbox-preview").textContent = fields.preview; }
    if (fields.at) { row.querySelector(".gdprchat-inbox-time").setAttribute("datetime", fields.at); }
    if (fields.unread !== undefined) { setUnread(row, fields.unread); }
    list.prepend(row);
    refreshTimes();
    return row;
  }

  function setUnread(row, count) {
    var badge = row.querySelector(".gdprchat-unread");
    badge.textContent = String(count);
    badge.hidden = !count;
    row.classList.toggle("gdprchat-has-unread", !!count);
    updateUnreadTotal();
  }
  function unreadOf(row) { return Number(row.querySelector(".gdprchat-unread").textContent) || 0; }
  var baseTitle = document.title.replace(/^\(\d+\) /, "");
  function updateUnreadTotal() {
    var total = 0;
    rows().forEach(function (row) { total += unreadOf(row); });
    unreadTotal.textContent = String(total);
    unreadTotal.hidden = total === 0;
    document.title = (total ? "(" + total + ") " : "") + baseTitle;
  }

  var FILTERS = {
    mine: function (row) { return row.dataset.status !== "resolved" && Number(row.dataset.assignee) === ME; },
    unassigned: function (row) { return row.dataset.status !== "resolved" && !row.dataset.assignee; },
    all: function (row) { return row.dataset.status !== "resolved"; },
    resolved: function (row) { return row.dataset.status === "resolved"; }
  };
  function applyFilter() {
    var needle = search.value.trim().toLowerCase();
    var counts = { mine: 0, unassigned: 0, all: 0, resolved: 0 };
    var shown = 0;
    rows().forEach(function (row) {
      Object.keys(FILTERS).forEach(function (name) { if (FILTERS[name](row)) { counts[name] += 1; } });
      var visible = FILTERS[filterName](row) && (!needle || row.textContent.toLowerCase().indexOf(needle) !== -1);
      row.hidden = !visible;
      if (visible) { shown += 1; }
    });
    document.querySelectorAll(".gdprchat-tab-count").forEach(function (node) {
      node.textContent = counts[node.dataset.count] ? String(counts[node.dataset.count]) : "";
    });
    emptyList.hidden = shown > 0;
    emptyList.textContent = rows().length === 0
      ? _a("No conversations yet. New chats appear here as soon as a visitor starts one.")
      : needle ? _a("Nothing matches your search.") : {
        mine: _a("Nothing assigned to you is open."), unassigned: _a("Every open conversation has someone on it."),
        all: _a("No open conversations. Well done!"), resolved: _a("No resolved conversations yet.")
      }[filterName];
  }
  function setFilter(name) {
    filterName = FILTERS[name] ? name : "all";
    store("filter", filterName);
    document.querySelectorAll(".gdprchat-tab").forEach(function (tab) {
      tab.setAttribute("aria-selected", tab.dataset.filter === filterName ? "true" : "false");
    });
    applyFilter();
  }
  document.querySelectorAll(".gdprchat-tab").forEach(function (tab) {
    tab.addEventListener("click", function () { setFilter(tab.dataset.filter); });
  });
  search.addEventListener("input", applyFilter);

  list.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) { return; }
    event.preventDefault();
    select(Number(link.closest(".gdprchat-inbox-item").dataset.conversationId), true);
  });

  // -- the open conversation -----------------------------------------------------------------
  function select(id, push) {
    selected = id;
    root.dataset.selected = String(id);
    list.querySelectorAll(".gdprchat-selected").forEach(function (row) { row.classList.remove("gdprchat-selected"); });
    var row = rowFor(id);
    if (row) {
      row.classList.add("gdprchat-selected");
      setUnread(row, 0);
      current.label = row.querySelector(".gdprchat-inbox-name").textContent;
      applyUpdate({ id: id, status: row.dataset.status, assignee_id: Number(row.dataset.assignee) || null });
    }
    if (push) { history.pushState({ conversation: id }, "", conversationHref(id)); }
    setView("thread");
    root.dataset.contactOpen = "false";
    scrim.hidden = true;
    thread.empty.hidden = true;
    thread.main.hidden = false;
    thread.messages.textContent = "";
    thread.typing.textContent = "";
    thread.note.hidden = true;
    if (!row || row.dataset.offline !== "true") { setOffline(false, ""); }
    closeSaved();
    rendered = {};
    fetch(urlFor(root.dataset.jsonUrl, id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.redirected) { location.reload(); return null; }
        if (!response.ok) { throw new Error("not found"); }
        return response.json();
      })
      .then(function (data) {
        if (!data || selected !== id) { return; }
        current.label = data.contact.label;
        thread.title.textContent = data.contact.label;
        setAvatar(thread.avatar, data.contact.avatar);
        thread.sub.textContent = data.contact.email || (data.contact.identified ? _a("Identified visitor") : _a("Anonymous visitor"));
        thread.restricted.hidden = !data.contact.restricted;
        canWork = data.can_work;
        applyUpdate({ id: id, status: data.conversation.status, assignee_id: data.conversation.assignee_id });
        setOffline(!!data.conversation.offline, data.contact.email);
        setCanReply(data.can_reply, data.contact.restricted);
        data.messages.forEach(renderMessage);
        regroup();
        scrollDown();
      })
      .catch(function () { closeThread(_a("This conversation is no longer available.")); });
    if (socket.connected) { socket.emit("join", { conversation_id: id }); }
    reloadPanel();
    if (push && !PHONE.matches) { thread.text.focus(); }
    if (row) { row.scrollIntoView({ block: "nearest" }); }
  }

  function setCanReply(allowed, restricted) {
    canReply = allowed;
    thread.text.disabled = !allowed;
    thread.form.querySelector("button").disabled = !allowed;
    thread.note.hidden = allowed;
    thread.note.textContent = restricted
      ? _a("This contact asked to restrict processing of their data: replies are paused.")
      : _a("You cannot reply here: your account lacks the 'send messages' permission.");
  }

  /** A message left while nobody was online: the reply goes by e-mail, and the agent is told. */
  function setOffline(offline, email) {
    current.offline = offline;
    current.email = email || "";
    thread.offlineBadge.hidden = !offline;
    thread.emailNote.hidden = !offline;
    var to = email || _a("the visitor");
    thread.emailNote.textContent = offline
      ? _a("Left while nobody was online. Your reply is sent by e-mail to %(email)s, in the language they wrote in.",
        { email: to })
      : "";
    thread.text.placeholder = offline ? _a("Reply by e-mail… Enter sends, Shift+Enter adds a line") : LIVE_PLACEHOLDER;
    thread.send.textContent = offline ? _a("Send e-mail") : SEND_WORD;
  }

  function closeThread(message) {
    selected = null;
    root.dataset.selected = "";
    list.querySelectorAll(".gdprchat-selected").forEach(function (row) { row.classList.remove("gdprchat-selected"); });
    thread.main.hidden = true;
    thread.empty.hidden = false;
    root.dataset.contactOpen = "false";
    scrim.hidden = true;
    setView("list");
    if (message) { thread.empty.querySelector("p").textContent = message; }
    panelBody.textContent = "";
    panelBody.appendChild(el("p", "gdprchat-muted gdprchat-contact-none", _a("The contact's details show here.")));
  }

  // -- status and assignment -----------------------------------------------------------------
  function fillAssign(assignee) {
    var select = thread.assign;
    select.textContent = "";
    var none = el("option", null, _a("Unassigned"));
    none.value = "";
    select.appendChild(none);
    var ids = Object.keys(team).map(Number);
    if (ids.indexOf(ME) !== -1) {
      var mine = el("option", null, _a("Me (%(name)s)", { name: team[ME].name }));
      mine.value = String(ME);
      select.appendChild(mine);
    }
    ids.forEach(function (id) {
      if (id === ME) { return; }
      var option = el("option", null, team[id].presence === "away"
        ? _a("%(name)s · away", { name: team[id].name }) : team[id].name);
      option.value = String(id);
      select.appendChild(option);
    });
    if (assignee && !team[assignee]) {
      var other = el("option", null, _a("A colleague"));
      other.value = String(assignee);
      select.appendChild(other);
    }
    select.value = assignee ? String(assignee) : "";
  }

  /** Apply a conversation_updated body to its inbox row and, when open, to the thread. */
  function applyUpdate(update) {
    var row = rowFor(update.id);
    if (row) {
      row.dataset.status = update.status;
      row.dataset.assignee = update.assignee_id ? String(update.assignee_id) : "";
      showAssignee(row);
      applyFilter();
    }
    if (update.id !== selected) { return; }
    current.status = update.status;
    current.assignee = update.assignee_id || null;
    thread.statusBadge.hidden = update.status !== "resolved";
    thread.resolve.textContent = update.status === "resolved" ? _a("Reopen") : _a("Resolve");
    thread.resolve.disabled = !canWork;
    thread.assign.disabled = !canWork;
    fillAssign(current.assignee);
  }

  function toggleResolved() {
    if (!selected || !canWork) { return; }
    var id = selected;
    var event = current.status === "resolved" ? "reopen" : "resolve";
    thread.resolve.disabled = true;
    socket.emit(event, { conversation_id: id }, function (ack) {
      thread.resolve.disabled = !canWork;
      if (ack && ack.ok) {
        applyUpdate(ack.conversation);
        toast(event === "resolve" ? _a("Resolved: a new visitor message reopens it.") : _a("Reopened."));
      } else {
        toast(_a("Not changed: %(error)s", { error: failure(ack) }), "error");
      }
    });
  }
  thread.resolve.addEventListener("click", toggleResolved);

  thread.assign.addEventListener("change", function () {
    if (!selected) { return; }
    var id = selected;
    var choice = thread.assign.value ? Number(thread.assign.value) : null;
    socket.emit("assign", { conversation_id: id, agent_id: choice }, function (ack) {
      if (ack && ack.ok) {
        applyUpdate(ack.conversation);
        toast(!choice ? _a("Back in the shared inbox.") : choice === ME ? _a("Assigned to you.")
          : _a("Assigned to %(name)s.", { name: memberName(choice) }));
      } else {
        fillAssign(current.assignee);
        toast(_a("Not assigned: %(error)s", { error: failure(ack) }), "error");
      }
    });
  });

  // -- messages --------------------------------------------------------------------------------
  function authorKey(message) {
    return message.author === "agent" ? "agent:" + (message.agent_id || 0) : message.author;
  }

  function renderMessage(message) {
    if (message.conversation_id !== selected || rendered[message.id]) { return; }
    var node = el("div", "gdprchat-cmsg gdprchat-cmsg-" + message.author);
    node.dataset.id = String(message.id);
    node.dataset.key = authorKey(message);
    node.dataset.at = message.created_at;
    var when = new Date(message.created_at);
    var bubble = el("div", "gdprchat-cbubble", message.text);
    bubble.title = formats.full.format(when);
    if (message.author !== "system") {
      var meta = el("div", "gdprchat-cmeta");
      // The contact's label, not the stored fallback: "Visitor 12" tells visitors apart.
      meta.appendChild(el("span", "gdprchat-cauthor", message.author === "visitor" ? current.label : message.author_name));
      var time = el("time", null, formats.time.format(when));
      time.setAttribute("datetime", message.created_at);
      time.title = formats.full.format(when);
      meta.appendChild(time);
      node.appendChild(meta);
    }
    var row = el("div", "gdprchat-crow");
    row.appendChild(bubble);
    if (message.author === "agent" && message.agent_id === ME && CAN_EDIT) {
      node.tabIndex = 0;  // a tap or Tab reveals its Edit button
      var edit = el("button", "gdprchat-edit-button", _a("Edit"));
      edit.type = "button";
      edit.setAttribute("aria-label", _a("Edit this message"));
      edit.addEventListener("click", function () { startEdit(node, message.id); });
      row.appendChild(edit);
    }
    node.appendChild(row);
    var edited = el("span", "gdprchat-edited", _a("edited"));
    edited.hidden = !message.edited_at;
    node.appendChild(edited);
    rendered[message.id] = node;
    var after = null;
    var nodes = thread.messages.querySelectorAll(".gdprchat-cmsg");
    for (var i = nodes.length - 1; i >= 0; i--) {
      if (Number(nodes[i].dataset.id) < message.id) { after = nodes[i]; break; }
    }
    if (after) { after.after(node); } else { thread.messages.prepend(node); }
  }

  /** Name and time once per group; a divider where the day changes. */
  function regroup() {
    var previous = null;
    thread.messages.querySelectorAll(".gdprchat-cmsg").forEach(function (node) {
      var when = new Date(node.dataset.at);
      var day = dayKey(when);
      var newDay = !previous || dayKey(new Date(previous.dataset.at)) !== day;
      var before = node.previousElementSibling;
      var divider = before && before.classList.contains("gdprchat-day") ? before : null;
      if (newDay && !divider) {
        divider = el("div", "gdprchat-day", dayLabel(when));
        node.before(divider);
      } else if (!newDay && divider) {
        divider.remove();
      } else if (divider) {
        divider.textContent = dayLabel(when);
      }
      var follows = !newDay && previous && previous.dataset.key === node.dataset.key &&
        node.dataset.key !== "system" && when - new Date(previous.dataset.at) < GROUP_GAP_MS;
      node.classList.toggle("gdprchat-cmsg-cont", !!follows);
      node.classList.toggle("gdprchat-cmsg-first", !follows);
      previous = node;
    });
  }

  function startEdit(node, id) {
    var bubble = node.querySelector(".gdprchat-cbubble");
    if (node.querySelector(".gdprchat-edit-form")) { return; }
    var form = el("form", "gdprchat-edit-form");
    var area = el("textarea");
    area.value = bubble.textContent;
    area.setAttribute("aria-label", _a("Edit message"));
    var save = el("button", "gdprchat-button gdprchat-button-primary gdprchat-button-small", _a("Save"));
    save.type = "submit";
    var cancel = el("button", "gdprchat-button gdprchat-button-small", _a("Cancel"));
    cancel.type = "button";
    form.appendChild(area); form.appendChild(save); form.appendChild(cancel);
    node.querySelector(".gdprchat-crow").hidden = true;
    node.appendChild(form);
    area.focus();
    function done() { form.remove(); node.querySelector(".gdprchat-crow").hidden = false; }
    cancel.addEventListener("click", done);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      socket.emit("edit_message", { message_id: id, text: area.value }, function (ack) {
        if (ack && ack.ok) { applyEdit(ack.message); done(); }
        else { toast(_a("Not saved: %(error)s", { error: failure(ack) }), "error"); }
      });
    });
  }

  function applyEdit(edit) {
    var node = rendered[edit.id];
    if (!node) { return; }
    node.querySelector(".gdprchat-cbubble").textContent = edit.text;
    node.querySelector(".gdprchat-edited").hidden = false;
  }

  function showNote(text) { thread.note.textContent = text; thread.note.hidden = false; }
  function scrollDown() { thread.messages.scrollTop = thread.messages.scrollHeight; }

  thread.form.addEventListener("submit", function (event) { event.preventDefault(); sendReply(); });
  thread.text.addEventListener("keydown", function (event) {
    if (savedKeys(event)) { return; }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendReply(); }
  });
  thread.text.addEventListener("input", function () {
    updateSaved();
    var now = Date.now();
    if (!selected || now - lastTypingSent < 2000) { return; }
    lastTypingSent = now;
    socket.emit("typing", { conversation_id: selected });
  });

  function sendReply() {
    var text = thread.text.value;
    if (!text.trim() || !selected || !canReply) { return; }
    thread.text.value = "";
    thread.note.hidden = true;
    var clientId = "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    socket.emit("send_message", { conversation_id: selected, text: text, client_msg_id: clientId }, function (ack) {
      if (ack && ack.ok) {
        onMessage(ack.message);
        var to = current.email || _a("the visitor");
        if (ack.emailed === true) { toast(_a("Sent by e-mail to %(email)s.", { email: to })); }
        else if (ack.emailed === false) { toast(_a("Saved. The mail server did not answer: the e-mail goes out on the next try."), "error"); }
        return;
      }
      thread.text.value = text;
      showNote(_a("Not sent: %(error)s", { error: failure(ack) }));
    });
  }

  // -- saved replies: "/" in the reply box ---------------------------------------------------
  var saved = { box: $("gdprchat-saved"), list: $("gdprchat-saved-list"), items: null, loadedAt: 0,
    shown: [], active: 0, query: null };

  function loadSaved() {
    if (saved.items && Date.now() - saved.loadedAt < 60000) { return Promise.resolve(saved.items); }
    return fetch(root.dataset.savedRepliesUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { saved_replies: [] }; })
      .then(function (data) { saved.items = data.saved_replies || []; saved.loadedAt = Date.now(); return saved.items; })
      .catch(function () { return saved.items || []; });
  }
  /** The "/word" just before the caret, at the start of the text or after a space. */
  function slashQuery() {
    var before = thread.text.value.slice(0, thread.text.selectionStart);
    var match = /(^|\s)\/([\w-]*)$/.exec(before);
    return match ? match[2].toLowerCase() : null;
  }
  function updateSaved() {
    var query = slashQuery();
    if (query === null) { closeSaved(); return; }
    saved.query = query;
    loadSaved().then(function (items) {
      if (saved.query !== query || slashQuery() !== query) { return; }
      saved.shown = items.filter(function (item) {
        return item.shortcut.indexOf(query) === 0 || (query && (item.title + " " + item.text).toLowerCase().indexOf(query) !== -1);
      }).slice(0, 8);
      saved.active = 0;
      drawSaved();
    });
  }
  function drawSaved() {
    saved.list.textContent = "";
    if (!saved.shown.length) {
      saved.list.appendChild(el("li", "gdprchat-saved-none", saved.items && saved.items.length
        ? _a("No saved reply starts with /%(query)s", { query: saved.query })
        : _a("No saved replies yet: add them in the dashboard.")));
    }
    saved.shown.forEach(function (item, index) {
      var option = el("li");
      option.id = "gdprchat-saved-" + item.id;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", index === saved.active ? "true" : "false");
      var key = el("span", "gdprchat-saved-key", "/" + item.shortcut);
      if (item.title) { key.appendChild(el("span", null, item.title)); }
      option.appendChild(key);
      option.appendChild(el("span", "gdprchat-saved-text", item.text));
      // mousedown, not click: the reply box keeps its focus and caret.
      option.addEventListener("mousedown", function (event) { event.preventDefault(); chooseSaved(item); });
      saved.list.appendChild(option);
    });
    saved.box.hidden = false;
    var active = saved.shown[saved.active];
    if (active) { thread.text.setAttribute("aria-activedescendant", "gdprchat-saved-" + active.id); }
    var activeNode = saved.list.querySelector('[aria-selected="true"]');
    if (activeNode) { activeNode.scrollIntoView({ block: "nearest" }); }
  }
  function closeSaved() {
    saved.box.hidden = true;
    saved.query = null;
    thread.text.removeAttribute("aria-activedescendant");
  }
  function chooseSaved(item) {
    var caret = thread.text.selectionStart;
    var before = thread.text.value.slice(0, caret).replace(/\/[\w-]*$/, "");
    var after = thread.text.value.slice(caret);
    thread.text.value = before + item.text + after;
    var at = before.length + item.text.length;
    thread.text.setSelectionRange(at, at);
    closeSaved();
    thread.text.focus();
  }
  /** Keys while the list is open; true when the key was for the list. */
  function savedKeys(event) {
    if (saved.box.hidden) { return false; }
    if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); closeSaved(); return true; }
    if (!saved.shown.length) { return false; }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      saved.active = (saved.active + step + saved.shown.length) % saved.shown.length;
      drawSaved();
      return true;
    }
    if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
      event.preventDefault();
      chooseSaved(saved.shown[saved.active]);
      return true;
    }
    return false;
  }
  thread.text.addEventListener("blur", function () { setTimeout(closeSaved, 100); });

  // -- the contact panel -----------------------------------------------------------------------
  function reloadPanel() {
    var id = selected;
    if (!id) { return Promise.resolve(); }
    return fetch(urlFor(root.dataset.panelUrl, id), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || selected !== id) { return; }
        // Server-rendered by our own template (autoescaped), so its forms keep their CSRF fields.
        panelBody.innerHTML = html;
        localiseTimes(panelBody);
        document.dispatchEvent(new CustomEvent("gdprchat:panel-loaded", { detail: { conversationId: id, panel: panelBody } }));
      });
  }

  var pendingConfirm = null;
  panelBody.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") { return; }
    event.preventDefault();
    if (form.dataset.gdprchatConfirm) {
      $("gdprchat-confirm-text").textContent = form.dataset.gdprchatConfirm;
      pendingConfirm = form;
      confirmDialog.returnValue = "";
      confirmDialog.showModal();
      return;
    }
    sendForm(form);
  });
  confirmDialog.addEventListener("close", function () {
    var form = pendingConfirm;
    pendingConfirm = null;
    if (form && confirmDialog.returnValue === "confirm") { sendForm(form); }
  });

  /** Send a panel form in the background: the agent stays where they are. */
  function sendForm(form) {
    var id = selected;
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().catch(function () {
          return { ok: false, error: _a("The server answered %(status)s.", { status: response.status }) };
        });
      })
      .then(function (data) {
        buttons.forEach(function (button) { button.disabled = false; });
        if (!data.ok) { toast(data.error || _a("That did not work."), "error"); return; }
        toast(data.message || _a("Done."));
        if (data.erased) {
          var row = rowFor(id);
          if (row) { row.remove(); applyFilter(); updateUnreadTotal(); }
          if (selected === id) { closeThread(_a("That conversation was deleted.")); }
        } else if (selected === id) {
          reloadPanel();
          if (data.fields && data.fields.length) { refreshContact(id); }
        }
      })
      .catch(function () {
        buttons.forEach(function (button) { button.disabled = false; });
        toast(_a("No answer from the server. Try again."), "error");
      });
  }

  /** After a correction: the new name and e-mail in the header and the inbox. */
  function refreshContact(id) {
    fetch(urlFor(root.dataset.jsonUrl, id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || selected !== id) { return; }
        current.label = data.contact.label;
        thread.title.textContent = data.contact.label;
        setAvatar(thread.avatar, data.contact.avatar);
        thread.sub.textContent = data.contact.email || (data.contact.identified ? _a("Identified visitor") : _a("Anonymous visitor"));
        thread.messages.querySelectorAll(".gdprchat-cmsg-visitor .gdprchat-cauthor").forEach(function (node) {
          node.textContent = data.contact.label;
        });
        var row = rowFor(id);
        if (row) {
          row.querySelector(".gdprchat-inbox-name").textContent = data.contact.label;
          setAvatar(row.querySelector(".gdprchat-avatar-sm"), data.contact.avatar);
        }
      });
  }

  // -- alerts: sound, desktop notifications, the title ------------------------------------------
  var sound = $("gdprchat-sound");
  sound.checked = stored("sound", "on") === "on";
  sound.addEventListener("change", function () { store("sound", sound.checked ? "on" : "off"); if (sound.checked) { beep(); } });
  var audio = null;
  function unlockAudio() {
    // Browsers start audio only after a gesture: make the context on the first one.
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) { audio = new Context(); }
    if (audio && audio.state === "suspended") { audio.resume(); }
  }
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });
  /** A short two-note chime, made on the spot (no sound file to load). */
  function beep() {
    if (!sound.checked || !audio) { return; }
    var start = audio.currentTime + 0.01;
    [880, 1320].forEach(function (pitch, index) {
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      var at = start + index * 0.12;
      tone.type = "sine";
      tone.frequency.value = pitch;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.22);
      tone.connect(gain);
      gain.connect(audio.destination);
      tone.start(at);
      tone.stop(at + 0.25);
    });
  }

  var notifySupported = "Notification" in window;
  var notifyButton = $("gdprchat-notify-button");
  var offer = $("gdprchat-notify-offer");
  function showNotifyState() {
    var permission = notifySupported ? Notification.permission : "unsupported";
    notifyButton.disabled = permission !== "default";
    notifyButton.textContent = {
      granted: _a("Desktop notifications are on"), denied: _a("Desktop notifications are blocked in this browser"),
      unsupported: _a("This browser has no desktop notifications"), "default": _a("Turn on desktop notifications")
    }[permission];
    // Offered once, and asked only when the agent clicks: never on page load.
    offer.hidden = permission !== "default" || stored("notify-offer", "") !== "";
  }
  function askNotify() {
    store("notify-offer", "asked");
    if (!notifySupported || Notification.permission !== "default") { showNotifyState(); return; }
    var asked = Notification.requestPermission(showNotifyState);
    if (asked && asked.then) { asked.then(showNotifyState); }
  }
  notifyButton.addEventListener("click", askNotify);
  $("gdprchat-notify-yes").addEventListener("click", askNotify);
  $("gdprchat-notify-no").addEventListener("click", function () { store("notify-offer", "dismissed"); showNotifyState(); });

  function alertFor(id, title, body) {
    if (presence === "away") { return; }
    var row = rowFor(id);
    var owner = row ? Number(row.dataset.assignee) || null : null;
    if (owner && owner !== ME) { return; }  // a colleague's conversation
    var looking = document.visibilityState === "visible" && document.hasFocus();
    if (looking && id === selected) { return; }
    beep();
    if (looking || !notifySupported || Notification.permission !== "granted") { return; }
    var note = new Notification(title, { body: body.slice(0, 140), tag: "gdprchat-" + id });
    note.onclick = function () { window.focus(); select(id, true); note.close(); };
  }

  // -- the agent's menu: presence and alerts -------------------------------------------------
  var meButton = $("gdprchat-me-button");
  var meMenu = $("gdprchat-me-menu");
  function toggleMenu(open) {
    meMenu.hidden = !open;
    meButton.setAttribute("aria-expanded", open ? "true" : "false");
  }
  meButton.addEventListener("click", function () { toggleMenu(meMenu.hidden); });
  document.addEventListener("click", function (event) {
    if (!meMenu.hidden && !$("gdprchat-me").contains(event.target)) { toggleMenu(false); }
  });
  function showPresence() {
    $("gdprchat-presence-dot").dataset.presence = socket.connected ? presence : "offline";
    $("gdprchat-presence-label").textContent = presence === "online" ? _a("Online") : _a("Away");
    document.querySelectorAll('input[name="gdprchat-presence"]').forEach(function (radio) {
      radio.checked = radio.value === presence;
    });
  }
  document.querySelectorAll('input[name="gdprchat-presence"]').forEach(function (radio) {
    radio.addEventListener("change", function () {
      var wanted = radio.value;
      socket.emit("set_status", { status: wanted }, function (ack) {
        if (ack && ack.ok) { presence = ack.status; toast(presence === "online" ? _a("You are online.") : _a("You are away: no alerts.")); }
        else { toast(_a("Status not changed: %(error)s", { error: failure(ack) }), "error"); }
        showPresence();
      });
    });
  });
  $("gdprchat-help-button").addEventListener("click", function () { toggleMenu(false); helpDialog.showModal(); });

  // -- keyboard --------------------------------------------------------------------------------
  function typingIn(target) {
    if (!target || !target.tagName) { return false; }
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") { return true; }
    return target.tagName === "INPUT" && !/^(checkbox|radio|button|submit|reset)$/i.test(target.type);
  }
  function stepConversation(direction) {
    var visible = rows().filter(function (row) { return !row.hidden; });
    if (!visible.length) { return; }
    var index = visible.indexOf(rowFor(selected));
    var next = index === -1 ? (direction > 0 ? 0 : visible.length - 1)
      : Math.min(Math.max(index + direction, 0), visible.length - 1);
    if (visible[next] !== rowFor(selected)) { select(Number(visible[next].dataset.conversationId), true); }
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || confirmDialog.open || helpDialog.open) { return; }
    if (event.altKey && !event.ctrlKey && !event.metaKey) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        stepConversation(event.key === "ArrowDown" ? 1 : -1);
      } else if (event.code === "KeyE") {
        event.preventDefault();
        toggleResolved();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey) { return; }
    if (event.key === "Escape") {
      if (!meMenu.hidden) { toggleMenu(false); meButton.focus(); return; }
      if (contactShown() && (PHONE.matches || DRAWER.matches)) { closeContact(); return; }
      if (typingIn(event.target)) { event.target.blur(); }
      return;
    }
    if (typingIn(event.target)) { return; }
    var key = event.key.toLowerCase();
    if (key === "j" || key === "k") { event.preventDefault(); stepConversation(key === "j" ? 1 : -1); }
    else if (key === "r" && selected && !thread.text.disabled) { event.preventDefault(); thread.text.focus(); }
    else if (key === "e") { event.preventDefault(); toggleResolved(); }
    else if (key === "i" && selected) { event.preventDefault(); if (contactShown()) { closeContact(); } else { openContact(); } }
    else if (event.key === "?") { event.preventDefault(); helpDialog.showModal(); }
  });

  // -- live events ---------------------------------------------------------------------------
  var socket = window.io("/gdprchat", { reconnectionDelayMax: 10000 });

  function onMessage(message) {
    var id = message.conversation_id;
    var open = id === selected;
    var row = rowFor(id);
    var fresh = !rendered[message.id];
    var preview = message.text;
    if (message.author === "agent") { preview = (message.agent_id === ME ? _a("You") : message.author_name) + ": " + message.text; }
    var unread = row ? unreadOf(row) : 0;
    if (message.author === "visitor" && !open && fresh) { unread += 1; }
    if (message.author === "agent" || open) { unread = 0; }
    bump(id, { preview: preview.slice(0, 120), at: message.created_at, unread: unread });
    if (open) {
      renderMessage(message);
      if (fresh) { regroup(); scrollDown(); }
      if (message.author === "visitor") {
        thread.typing.textContent = "";
        socket.emit("read", { conversation_id: id });
      }
    }
    if (message.author === "visitor" && fresh) {
      var name = row ? row.querySelector(".gdprchat-inbox-name").textContent : _a("A visitor");
      alertFor(id, _a("New message from %(name)s", { name: name }), message.text);
    }
  }

  socket.on("connect", function () {
    conn.textContent = _a("Live");
    conn.title = _a("Connected: messages arrive as they are sent");
    conn.className = "gdprchat-conn gdprchat-conn-on";
    showPresence();
    if (selected) { socket.emit("join", { conversation_id: selected }); }
  });
  socket.on("disconnect", function () {
    conn.textContent = _a("Reconnecting…");
    conn.className = "gdprchat-conn gdprchat-conn-off";
    showPresence();
  });
  socket.on("connect_error", function (error) {
    conn.textContent = _a("Offline");
    conn.className = "gdprchat-conn gdprchat-conn-off";
    if (error && /sign in/.test(error.message || "")) { location.reload(); }
  });
  socket.on("message", onMessage);
  socket.on("notice", function (notice) {
    onMessage({ id: notice.id, conversation_id: notice.conversation_id, author: "system", author_name: "",
      text: notice.text, created_at: notice.created_at });
  });
  socket.on("message_edited", applyEdit);
  socket.on("conversation_updated", applyUpdate);
  socket.on("conversation_started", function (summary) {
    if (rowFor(summary.conversation_id)) { return; }
    list.prepend(makeRow(summary));
    refreshTimes();
    applyFilter();
    updateUnreadTotal();
    var who = summary.contact_label || _a("A visitor");
    alertFor(summary.conversation_id,
      summary.offline ? _a("New message to answer by e-mail") : _a("New conversation"),
      summary.offline ? _a("%(name)s left a message.", { name: who }) : _a("%(name)s started a chat.", { name: who }));
  });
  socket.on("typing", function (data) {
    if (data.author !== "visitor" || data.conversation_id !== selected) { return; }
    thread.typing.textContent = _a("%(name)s is typing…", { name: current.label });
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { thread.typing.textContent = ""; }, 3500);
  });
  socket.on("conversation_erased", function (data) {
    var row = rowFor(data.conversation_id);
    if (row) { row.remove(); applyFilter(); updateUnreadTotal(); }
    if (data.conversation_id === selected) { closeThread(_a("That conversation was deleted.")); }
  });

  window.addEventListener("popstate", function () {
    var id = Number(new URLSearchParams(location.search).get("conversation")) || null;
    if (!id) { closeThread(); return; }
    if (id !== selected) { select(id, false); }
    if (location.hash === "#contact" && PHONE.matches) { setView("contact"); }
    else { closeContact(true); setView("thread"); }
  });
  // Crossing a breakpoint: the drawer and the phone's panes do not carry over.
  function onResize() {
    root.dataset.contactOpen = "false";
    scrim.hidden = true;
    if (!PHONE.matches && root.dataset.view === "contact") { setView("thread"); }
  }
  PHONE.addEventListener("change", onResize);
  DRAWER.addEventListener("change", onResize);

  // Hooks for the contact actions (subject-rights forms) in the panel.
  window.gdprchatConsole = {
    conversationId: function () { return selected; },
    reloadPanel: reloadPanel,
    reloadConversation: function () { if (selected) { select(selected, false); } },
    toast: toast
  };

  rows().forEach(showAssignee);
  setFilter(stored("filter", "all"));
  refreshTimes();
  updateUnreadTotal();
  showNotifyState();
  showPresence();
  localiseTimes(panelBody);
  setInterval(refreshTimes, 30000);
  if (initial.summary) { current.label = initial.summary.contact_label; }
  if (initial.conversation_id) {
    canReply = initial.can_reply;
    select(initial.conversation_id, false);
  }
})();

/* flask-gdprchat agent console: keeps the inbox, the open conversation and the contact
 * panel live over the /gdprchat socket. Visitor text is only ever set as textContent. */
(function () {
  "use strict";
  var root = document.getElementById("gdprchat-console");
  if (!root || typeof window.io !== "function") { return; }

  var ME = Number(root.dataset.agentId);
  var CAN_EDIT = root.dataset.canEdit === "true";
  var list = document.getElementById("gdprchat-inbox-list");
  var emptyList = document.getElementById("gdprchat-empty-list");
  var thread = {
    empty: document.getElementById("gdprchat-thread-empty"),
    main: document.getElementById("gdprchat-thread-main"),
    title: document.getElementById("gdprchat-thread-title"),
    sub: document.getElementById("gdprchat-thread-sub"),
    restricted: document.getElementById("gdprchat-restricted"),
    messages: document.getElementById("gdprchat-messages"),
    typing: document.getElementById("gdprchat-typing"),
    form: document.getElementById("gdprchat-reply"),
    text: document.getElementById("gdprchat-reply-text"),
    note: document.getElementById("gdprchat-reply-note")
  };
  var panel = document.getElementById("gdprchat-contact-panel");
  var conn = document.getElementById("gdprchat-conn");
  var unreadTotal = document.getElementById("gdprchat-unread-total");
  var filter = document.getElementById("gdprchat-filter");

  var selected = root.dataset.selected ? Number(root.dataset.selected) : null;
  var canReply = false;
  var rendered = {};
  var typingTimer = null;
  var lastTypingSent = 0;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function urlFor(template, id) { return template.replace(/\/0(?=[./]|$)/, "/" + id); }
  function timeLabel(iso) {
    if (!iso) { return ""; }
    var when = new Date(iso);
    var now = new Date();
    var seconds = (now - when) / 1000;
    if (seconds < 60) { return "now"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + "m"; }
    if (when.toDateString() === now.toDateString()) {
      return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
    return when.toLocaleDateString([], { day: "numeric", month: "short" });
  }
  function refreshTimes() {
    list.querySelectorAll(".gdprchat-inbox-time").forEach(function (node) {
      node.textContent = timeLabel(node.getAttribute("datetime"));
    });
  }

  // -- inbox -------------------------------------------------------------------------------
  function rowFor(id) { return list.querySelector('[data-conversation-id="' + id + '"]'); }

  function makeRow(summary) {
    var item = el("li", "gdprchat-inbox-item");
    item.dataset.conversationId = String(summary.conversation_id);
    var link = el("a");
    link.href = root.dataset.inboxUrl + "?conversation=" + summary.conversation_id;
    var avatar = el("span", "gdprchat-avatar-sm", (summary.contact_name || "V").charAt(0).toUpperCase());
    avatar.setAttribute("aria-hidden", "true");
    var text = el("span", "gdprchat-inbox-text");
    var top = el("span", "gdprchat-inbox-top");
    top.appendChild(el("span", "gdprchat-inbox-name", summary.contact_name || "Visitor"));
    var time = el("time", "gdprchat-inbox-time");
    time.setAttribute("datetime", summary.last_activity_at || "");
    top.appendChild(time);
    var bottom = el("span", "gdprchat-inbox-bottom");
    bottom.appendChild(el("span", "gdprchat-inbox-preview", summary.preview || "New conversation"));
    var unread = el("span", "gdprchat-unread", summary.unread_count || 0);
    unread.hidden = !summary.unread_count;
    bottom.appendChild(unread);
    text.appendChild(top); text.appendChild(bottom);
    link.appendChild(avatar); link.appendChild(text);
    item.appendChild(link);
    return item;
  }

  function bump(id, fields) {
    var row = rowFor(id);
    if (!row) { return null; }
    if (fields.preview !== undefined) {
      row.querySelector(".gdprchat-inbox-preview").textContent = fields.preview;
    }
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
  function updateUnreadTotal() {
    var total = 0;
    list.querySelectorAll(".gdprchat-inbox-item").forEach(function (row) { total += unreadOf(row); });
    unreadTotal.textContent = String(total);
    unreadTotal.hidden = total === 0;
    document.title = (total ? "(" + total + ") " : "") + document.title.replace(/^\(\d+\) /, "");
  }
  function updateEmpty() { emptyList.hidden = !!list.querySelector(".gdprchat-inbox-item"); }

  list.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) { return; }
    var row = link.closest(".gdprchat-inbox-item");
    event.preventDefault();
    select(Number(row.dataset.conversationId), true);
  });

  filter.addEventListener("input", function () {
    var needle = filter.value.trim().toLowerCase();
    list.querySelectorAll(".gdprchat-inbox-item").forEach(function (row) {
      row.hidden = needle && row.textContent.toLowerCase().indexOf(needle) === -1;
    });
  });

  // -- the open conversation -----------------------------------------------------------------
  function select(id, push) {
    selected = id;
    list.querySelectorAll(".gdprchat-selected").forEach(function (row) { row.classList.remove("gdprchat-selected"); });
    var row = rowFor(id);
    if (row) { row.classList.add("gdprchat-selected"); setUnread(row, 0); }
    if (push) { history.pushState({ conversation: id }, "", root.dataset.inboxUrl + "?conversation=" + id); }
    thread.empty.hidden = true;
    thread.main.hidden = false;
    thread.messages.textContent = "";
    thread.typing.textContent = "";
    thread.note.hidden = true;
    rendered = {};
    fetch(urlFor(root.dataset.jsonUrl, id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.redirected) { location.reload(); return null; }
        if (!response.ok) { throw new Error("not found"); }
        return response.json();
      })
      .then(function (data) {
        if (!data || selected !== id) { return; }
        thread.title.textContent = data.contact.name || "Visitor";
        thread.sub.textContent = data.contact.email || (data.contact.identified ? "Identified visitor" : "Anonymous visitor");
        thread.restricted.hidden = !data.contact.restricted;
        setCanReply(data.can_reply, data.contact.restricted);
        data.messages.forEach(renderMessage);
        scrollDown();
      })
      .catch(function () { closeThread("This conversation is no longer available."); });
    if (socket.connected) { socket.emit("join", { conversation_id: id }); }
    reloadPanel();
    if (!push) { return; }
    thread.text.focus();
  }

  function setCanReply(allowed, restricted) {
    canReply = allowed;
    thread.text.disabled = !allowed;
    thread.form.querySelector("button").disabled = !allowed;
    thread.note.hidden = allowed;
    thread.note.textContent = restricted
      ? "This contact asked to restrict processing of their data: replies are paused."
      : "You cannot reply here: your account lacks the 'send messages' permission.";
  }

  function closeThread(message) {
    selected = null;
    thread.main.hidden = true;
    thread.empty.hidden = false;
    if (message) { thread.empty.querySelector("p").textContent = message; }
    panel.textContent = "";
    panel.appendChild(el("p", "gdprchat-muted gdprchat-contact-none", "The contact's details show here."));
  }

  function reloadPanel() {
    var id = selected;
    if (!id) { return Promise.resolve(); }
    return fetch(urlFor(root.dataset.panelUrl, id), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || selected !== id) { return; }
        // Server-rendered by our own template (autoescaped), so its forms keep their CSRF fields.
        panel.innerHTML = html;
        document.dispatchEvent(new CustomEvent("gdprchat:panel-loaded", { detail: { conversationId: id, panel: panel } }));
      });
  }

  function renderMessage(message) {
    if (message.conversation_id !== selected) { return; }
    var existing = rendered[message.id];
    if (existing) { return; }
    var node;
    if (message.author === "system") {
      node = el("div", "gdprchat-cmsg gdprchat-cmsg-system");
      node.appendChild(el("div", "gdprchat-cbubble", message.text));
    } else {
      node = el("div", "gdprchat-cmsg gdprchat-cmsg-" + message.author);
      var meta = el("div", "gdprchat-cmeta");
      meta.appendChild(el("span", "gdprchat-cauthor", message.author_name));
      var time = el("time", null, new Date(message.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
      time.setAttribute("datetime", message.created_at);
      meta.appendChild(time);
      var edited = el("span", "gdprchat-edited", "edited");
      edited.hidden = !message.edited_at;
      meta.appendChild(edited);
      if (message.author === "agent" && message.agent_id === ME && CAN_EDIT) {
        var edit = el("button", "gdprchat-edit-button", "Edit");
        edit.type = "button";
        edit.setAttribute("aria-label", "Edit this message");
        edit.addEventListener("click", function () { startEdit(node, message.id); });
        meta.appendChild(edit);
      }
      node.appendChild(meta);
      node.appendChild(el("div", "gdprchat-cbubble", message.text));
    }
    node.dataset.id = String(message.id);
    rendered[message.id] = node;
    var after = null;
    for (var i = thread.messages.children.length - 1; i >= 0; i--) {
      if (Number(thread.messages.children[i].dataset.id) < message.id) { after = thread.messages.children[i]; break; }
    }
    if (after) { after.after(node); } else { thread.messages.prepend(node); }
  }

  function startEdit(node, id) {
    var bubble = node.querySelector(".gdprchat-cbubble");
    if (node.querySelector(".gdprchat-edit-form")) { return; }
    var form = el("form", "gdprchat-edit-form");
    var area = el("textarea");
    area.value = bubble.textContent;
    area.setAttribute("aria-label", "Edit message");
    var save = el("button", "gdprchat-button gdprchat-button-primary gdprchat-button-small", "Save");
    save.type = "submit";
    var cancel = el("button", "gdprchat-button gdprchat-button-small", "Cancel");
    cancel.type = "button";
    form.appendChild(area); form.appendChild(save); form.appendChild(cancel);
    bubble.hidden = true;
    node.appendChild(form);
    area.focus();
    cancel.addEventListener("click", function () { form.remove(); bubble.hidden = false; });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      socket.emit("edit_message", { message_id: id, text: area.value }, function (ack) {
        if (ack && ack.ok) { applyEdit(ack.message); form.remove(); bubble.hidden = false; }
        else { showNote((ack && ack.error) || "Not saved"); }
      });
    });
  }

  function applyEdit(edit) {
    var node = rendered[edit.id];
    if (!node) { return; }
    node.querySelector(".gdprchat-cbubble").textContent = edit.text;
    var flag = node.querySelector(".gdprchat-edited");
    if (flag) { flag.hidden = false; }
  }

  function showNote(text) { thread.note.textContent = text; thread.note.hidden = false; }
  function scrollDown() { thread.messages.scrollTop = thread.messages.scrollHeight; }

  thread.form.addEventListener("submit", function (event) { event.preventDefault(); sendReply(); });
  thread.text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendReply(); }
  });
  thread.text.addEventListener("input", function () {
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
    socket.emit("send_message", { conversation_id: selected, text: text }, function (ack) {
      if (ack && ack.ok) { onMessage(ack.message); return; }
      thread.text.value = text;
      showNote("Not sent: " + ((ack && ack.error) || "no answer from the server"));
    });
  }

  // -- live events ---------------------------------------------------------------------------
  var socket = window.io("/gdprchat", { reconnectionDelayMax: 10000 });

  function onMessage(message) {
    var id = message.conversation_id;
    var open = id === selected;
    var preview = (message.author === "agent" ? "You: " : "") + message.text;
    if (message.author === "agent" && message.agent_id !== ME) { preview = message.author_name + ": " + message.text; }
    var row = rowFor(id);
    var unread = row ? unreadOf(row) : 0;
    if (message.author === "visitor" && !open && !rendered[message.id]) { unread += 1; }
    if (message.author === "agent" || open) { unread = 0; }
    bump(id, { preview: preview.slice(0, 120), at: message.created_at, unread: unread });
    if (open) {
      var fresh = !rendered[message.id];
      renderMessage(message);
      if (fresh) { scrollDown(); }
      if (message.author === "visitor") {
        thread.typing.textContent = "";
        socket.emit("read", { conversation_id: id });
      }
    }
  }

  socket.on("connect", function () {
    conn.textContent = "online";
    conn.className = "gdprchat-conn gdprchat-conn-on";
    if (selected) { socket.emit("join", { conversation_id: selected }); }
  });
  socket.on("disconnect", function () {
    conn.textContent = "reconnecting…";
    conn.className = "gdprchat-conn gdprchat-conn-off";
  });
  socket.on("connect_error", function (error) {
    conn.textContent = "offline";
    conn.className = "gdprchat-conn gdprchat-conn-off";
    if (error && /sign in/.test(error.message || "")) { location.reload(); }
  });
  socket.on("message", onMessage);
  socket.on("notice", function (notice) {
    onMessage({ id: notice.id, conversation_id: notice.conversation_id, author: "system", author_name: "",
      text: notice.text, created_at: notice.created_at });
  });
  socket.on("message_edited", applyEdit);
  socket.on("conversation_started", function (summary) {
    if (!rowFor(summary.conversation_id)) {
      list.prepend(makeRow(summary));
      updateEmpty();
      refreshTimes();
      updateUnreadTotal();
    }
  });
  socket.on("typing", function (data) {
    if (data.author !== "visitor") { return; }
    if (data.conversation_id === selected) {
      thread.typing.textContent = (thread.title.textContent || "Visitor") + " is typing…";
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { thread.typing.textContent = ""; }, 3500);
    }
  });
  socket.on("conversation_erased", function (data) {
    var row = rowFor(data.conversation_id);
    if (row) { row.remove(); updateEmpty(); updateUnreadTotal(); }
    if (data.conversation_id === selected) { closeThread("That conversation was deleted."); }
  });

  window.addEventListener("popstate", function () {
    var id = new URLSearchParams(location.search).get("conversation");
    if (id) { select(Number(id), false); } else { closeThread(); }
  });

  // Hooks for the contact actions (subject-rights forms) in the panel.
  window.gdprchatConsole = {
    conversationId: function () { return selected; },
    reloadPanel: reloadPanel,
    reloadConversation: function () { if (selected) { select(selected, false); } }
  };

  refreshTimes();
  updateUnreadTotal();
  setInterval(refreshTimes, 30000);
  var initial = JSON.parse(document.getElementById("gdprchat-initial").textContent);
  if (initial.conversation_id) {
    canReply = initial.can_reply;
    select(initial.conversation_id, false);
  }
})();

/* flask-gdprchat widget. Lives in a Shadow DOM: host CSS cannot reach in, ours cannot leak out.
 * Before the visitor consents it stores nothing in the browser and sends nothing about them. */
(function () {
  "use strict";
  var SETTINGS = {{ settings|tojson }};
  // Every word the widget shows, in this script's language (SETTINGS.lang), from the
  // catalog; %(name)s placeholders are filled in by fmt() below.
  var T = {{ {
    "fields": {"name": _("Name"), "email": _("E-mail"), "company": _("Company"), "phone": _("Phone")},
    "optional": _("(optional)"),
    "isRequired": _("%(field)s is required."),
    "replyTime": _("We usually reply in a few minutes"),
    "closeChat": _("Close chat"),
    "reconnecting": _("Connection lost. Reconnecting…"),
    "conversation": _("Conversation"),
    "yourMessage": _("Your message"),
    "placeholder": _("Write a message…"),
    "sendMessage": _("Send message"),
    "privacyPolicy": _("Privacy policy"),
    "openChat": _("Open chat: %(title)s"),
    "minimise": _("Minimise chat"),
    "policyVersion": _("Privacy policy (version %(version)s)"),
    "startAChat": _("Start a chat"),
    "startChat": _("Start chat"),
    "nothingStored": _("Nothing is stored until you start the chat."),
    "acceptToStart": _("Please accept the privacy policy to start the chat."),
    "couldNotStart": _("The chat could not start. Try again."),
    "noConnection": _("No connection. Check your network and try again."),
    "policyChanged": _("Our privacy policy has changed. Please read and accept version %(version)s to continue the chat."),
    "continue": _("Continue"),
    "acceptToContinue": _("Please accept the privacy policy to continue."),
    "tryAgain": _("Please try again."),
    "typing": _("%(name)s is typing…"),
    "agent": _("Agent"),
    "deleted": _("This conversation has been deleted."),
    "maskedIban": _("Bank account number hidden for your safety: we never store payment details."),
    "maskedCard": _("Card number hidden for your safety: we never store payment details."),
    "maskedBoth": _("Card and bank account numbers hidden for your safety: we never store payment details."),
    "notSent": _("Not sent: %(error)s"),
    "notSentReason": _("not sent")
  }|tojson }};
{% raw %}
  if (window.__gdprchatWidget) { return; }
  var script = document.currentScript;
  var ORIGIN = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var IDENTIFIED = !!(script && script.getAttribute("data-gdprchat-identified") === "1");
  // Speak the host page's language (its <html lang>), else the browser's: loaded
  // without ?lang=, the script fetches itself once in that language if it differs.
  var WANTED = pickLanguage();
  if (WANTED && WANTED !== SETTINGS.lang && script && script.src && !/[?&]lang=/.test(script.src)) {
    var again = document.createElement("script");
    again.src = script.src + (script.src.indexOf("?") < 0 ? "?" : "&") + "lang=" + encodeURIComponent(WANTED);
    again.defer = true;
    if (IDENTIFIED) { again.setAttribute("data-gdprchat-identified", "1"); }
    document.head.appendChild(again);
    return;
  }
  var STORE_KEY = "gdprchat-visitor";
  var FIELD_LABELS = T.fields;
  var FIELD_TYPES = { name: "text", email: "email", company: "text", phone: "tel" };
  var FIELD_AUTOCOMPLETE = { name: "name", email: "email", company: "organization", phone: "tel" };

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".gdprchat-root{--c:" + SETTINGS.color + ";font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#1b2333;position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;flex-direction:column;align-items:flex-end;gap:14px}",
    ".gdprchat-launcher{width:60px;height:60px;border-radius:50%;border:0;background:var(--c);color:#fff;cursor:pointer;box-shadow:0 6px 24px rgba(16,24,40,.25);display:grid;place-items:center;position:relative;transition:transform .15s}",
    ".gdprchat-launcher:hover{transform:scale(1.05)}",
    ".gdprchat-launcher:focus-visible,.gdprchat-btn:focus-visible,.gdprchat-icon-btn:focus-visible{outline:3px solid #93b4ff;outline-offset:2px}",
    ".gdprchat-launcher svg{width:28px;height:28px}",
    ".gdprchat-badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#e11d48;color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center;border:2px solid #fff}",
    ".gdprchat-panel{width:370px;height:min(600px,calc(100vh - 110px));background:#fff;border-radius:16px;box-shadow:0 12px 48px rgba(16,24,40,.28);display:flex;flex-direction:column;overflow:hidden}",
    ".gdprchat-panel[hidden],[hidden]{display:none!important}",
    ".gdprchat-head{background:var(--c);color:#fff;padding:18px 18px 16px;display:flex;align-items:flex-start;gap:12px}",
    ".gdprchat-avatar{width:38px;height:38px;border-radius:50%;background:rgba(255,255,255,.22);display:grid;place-items:center;flex:none}",
    ".gdprchat-avatar svg{width:20px;height:20px}",
    ".gdprchat-head-text{flex:1;min-width:0}",
    ".gdprchat-title{font-size:16px;font-weight:700;margin:0}",
    ".gdprchat-sub{font-size:12.5px;opacity:.88;margin:2px 0 0;display:flex;align-items:center;gap:6px}",
    ".gdprchat-dot{width:8px;height:8px;border-radius:50%;background:#4ade80;display:inline-block}",
    ".gdprchat-dot.gdprchat-off{background:#fbbf24}",
    ".gdprchat-icon-btn{background:transparent;border:0;color:inherit;cursor:pointer;width:32px;height:32px;border-radius:8px;display:grid;place-items:center}",
    ".gdprchat-icon-btn:hover{background:rgba(255,255,255,.18)}",
    ".gdprchat-body{flex:1;overflow-y:auto;padding:16px;background:#f7f8fb}",
    ".gdprchat-greeting{background:#fff;border:1px solid #e6e9f0;border-radius:14px 14px 14px 4px;padding:10px 13px;margin:0 0 14px;max-width:90%}",
    ".gdprchat-form{display:flex;flex-direction:column;gap:10px}",
    ".gdprchat-field{display:flex;flex-direction:column;gap:4px;font-weight:600;font-size:12.5px;color:#475467}",
    ".gdprchat-field input{font:inherit;font-size:14px;font-weight:400;color:#1b2333;padding:9px 11px;border:1px solid #d0d5dd;border-radius:9px;background:#fff;width:100%}",
    ".gdprchat-field input:focus,.gdprchat-composer textarea:focus{outline:2px solid var(--c);outline-offset:-1px;border-color:transparent}",
    ".gdprchat-field input[aria-invalid=true]{border-color:#dc2626}",
    ".gdprchat-req{color:#dc2626}",
    ".gdprchat-check{display:flex;gap:9px;align-items:flex-start;font-size:13px;color:#344054;background:#fff;border:1px solid #e6e9f0;border-radius:10px;padding:10px 11px;cursor:pointer}",
    ".gdprchat-check input{margin:2px 0 0;width:16px;height:16px;flex:none;accent-color:var(--c)}",
    ".gdprchat-check a{color:var(--c);font-weight:600}",
    ".gdprchat-check-opt{border-style:dashed}",
    ".gdprchat-error{background:#fdecec;color:#b42318;border-radius:9px;padding:8px 11px;font-size:13px;margin:0}",
    ".gdprchat-btn{font:inherit;font-weight:700;border:0;border-radius:10px;padding:11px 14px;background:var(--c);color:#fff;cursor:pointer;width:100%}",
    ".gdprchat-btn:disabled{opacity:.6;cursor:progress}",
    ".gdprchat-fine{font-size:11.5px;color:#667085;margin:2px 0 0;text-align:center}",
    ".gdprchat-log{display:flex;flex-direction:column;gap:6px}",
    ".gdprchat-msg{max-width:80%;display:flex;flex-direction:column}",
    ".gdprchat-msg-visitor{align-self:flex-end;align-items:flex-end}",
    ".gdprchat-msg-agent{align-self:flex-start}",
    ".gdprchat-bubble{padding:8px 12px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}",
    ".gdprchat-msg-visitor .gdprchat-bubble{background:var(--c);color:#fff;border-bottom-right-radius:5px}",
    ".gdprchat-msg-agent .gdprchat-bubble{background:#fff;border:1px solid #e6e9f0;border-bottom-left-radius:5px}",
    ".gdprchat-meta{font-size:11px;color:#8a94a6;margin:2px 6px 4px}",
    ".gdprchat-msg-system{align-self:center;max-width:92%;text-align:center;font-size:12.5px;color:#475467;background:#eef2ff;border-radius:10px;padding:7px 11px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".gdprchat-typing{font-size:12px;color:#667085;padding:4px 2px;min-height:22px}",
    ".gdprchat-status{font-size:12px;color:#a15c00;background:#fff4e0;padding:6px 16px;margin:0}",
    ".gdprchat-composer{display:flex;gap:8px;align-items:flex-end;padding:10px 12px;border-top:1px solid #eaecf0;background:#fff}",
    ".gdprchat-composer textarea{flex:1;font:inherit;resize:none;border:1px solid #d0d5dd;border-radius:12px;padding:9px 12px;max-height:120px;min-height:40px;color:#1b2333}",
    ".gdprchat-send{width:40px;height:40px;border-radius:50%;border:0;background:var(--c);color:#fff;cursor:pointer;display:grid;place-items:center;flex:none}",
    ".gdprchat-send svg{width:18px;height:18px}",
    ".gdprchat-foot{font-size:11px;color:#98a2b3;text-align:center;padding:0 12px 8px;background:#fff}",
    ".gdprchat-foot a{color:inherit}",
    ".gdprchat-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.gdprchat-root{right:12px;bottom:12px}.gdprchat-root.gdprchat-open{inset:0;right:0;bottom:0;gap:0}",
    ".gdprchat-open .gdprchat-panel{width:100vw;height:100%;border-radius:0;box-shadow:none}.gdprchat-open .gdprchat-launcher{display:none}",
    /* 16px stops phones from zooming into a focused field. */
    ".gdprchat-field input,.gdprchat-composer textarea{font-size:16px}}"
  ].join("\n");

  var ICON_CHAT = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/></svg>';
  var ICON_CLOSE = '<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>';
  var ICON_DOWN = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M6 9l6 6 6-6"/></svg>';
  var ICON_SEND = '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M3.4 20.4l17.4-7.5a1 1 0 0 0 0-1.8L3.4 3.6a1 1 0 0 0-1.4 1.1L4 11l9 1-9 1-2 6.3a1 1 0 0 0 1.4 1.1z"/></svg>';

  function pickLanguage() {
    var tags = [document.documentElement.getAttribute("lang")].concat(
      navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
    for (var i = 0; i < tags.length; i++) {
      var primary = String(tags[i] || "").split(/[-_]/)[0].toLowerCase();
      if (primary && SETTINGS.languages.indexOf(primary) !== -1) { return primary; }
    }
    return null;
  }
  // "%(name)s" placeholders of a translated string, filled in as text.
  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  // -- tiny DOM helpers: text always goes in as text, never as markup ---------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function svg(node, markup) { node.innerHTML = markup; return node; } // our own constant icons only

  // -- browser storage: read freely, written only after consent --------------------------
  function loadSaved() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      var saved = raw ? JSON.parse(raw) : null;
      return saved && saved.token && saved.conversation_id ? saved : null;
    } catch (e) { return null; }
  }
  function save(value) {
    try { window.localStorage.setItem(STORE_KEY, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function forget() {
    try { window.localStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
  }

  function api(method, path, body, token) {
    var headers = { "Accept": "application/json" };
    if (body) { headers["Content-Type"] = "application/json"; }
    if (token) { headers["Authorization"] = "Bearer " + token; }
    // ?lang= so that error messages come back in the widget's language.
    var url = ORIGIN + SETTINGS.api + path + (path.indexOf("?") < 0 ? "?" : "&") + "lang=" + SETTINGS.lang;
    return fetch(url, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin", cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }

  var ioLoading = null;
  function loadSocketClient() {
    if (ioLoading) { return ioLoading; }
    ioLoading = new Promise(function (resolve, reject) {
      var previous = window.io;
      var tag = document.createElement("script");
      tag.src = ORIGIN + SETTINGS.vendor;
      tag.async = true;
      tag.onload = function () {
        var client = window.io;
        // Give the host page its own `io` back, if it had one.
        if (previous === undefined) { try { delete window.io; } catch (e) { window.io = undefined; } }
        else { window.io = previous; }
        resolve(client);
      };
      tag.onerror = function () { ioLoading = null; reject(new Error("chat client failed to load")); };
      document.head.appendChild(tag);
    });
    return ioLoading;
  }

  // -- the widget ---------------------------------------------------------------------------
  function Widget() {
    this.saved = loadSaved();
    this.socket = null;
    this.rendered = {};
    this.unread = 0;
    this.lastTypingSent = 0;
    this.typingTimer = null;
    this.build();
    if (this.saved) { this.resume(); } else { this.showPrechat(); }
  }

  Widget.prototype.build = function () {
    var self = this;
    var host = document.createElement("div");
    host.id = "gdprchat-widget-host";
    host.setAttribute("data-gdprchat", "");
    this.shadow = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent = CSS;
    this.shadow.appendChild(style);

    var root = this.root = el("div", "gdprchat-root");
    root.id = "gdprchat-root";
    var panel = this.panel = el("section", "gdprchat-panel");
    panel.id = "gdprchat-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", SETTINGS.title);

    var head = el("header", "gdprchat-head");
    head.appendChild(svg(el("div", "gdprchat-avatar"), ICON_CHAT));
    var headText = el("div", "gdprchat-head-text");
    var title = el("h2", "gdprchat-title", SETTINGS.title);
    title.id = "gdprchat-title";
    var sub = el("p", "gdprchat-sub");
    this.dot = el("span", "gdprchat-dot");
    this.subText = el("span", null, T.replyTime);
    sub.appendChild(this.dot); sub.appendChild(this.subText);
    headText.appendChild(title); headText.appendChild(sub);
    var close = svg(el("button", "gdprchat-icon-btn"), ICON_CLOSE);
    close.type = "button";
    close.setAttribute("aria-label", T.closeChat);
    close.addEventListener("click", function () { self.close(); });
    head.appendChild(headText); head.appendChild(close);
    panel.appendChild(head);

    this.status = el("p", "gdprchat-status", T.reconnecting);
    this.status.hidden = true;
    this.status.setAttribute("role", "status");
    panel.appendChild(this.status);

    this.body = el("div", "gdprchat-body");
    panel.appendChild(this.body);

    // The conversation view.
    this.chatView = el("div");
    this.chatView.hidden = true;
    this.log = el("div", "gdprchat-log");
    this.log.id = "gdprchat-log";
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-label", T.conversation);
    this.chatView.appendChild(el("p", "gdprchat-greeting", SETTINGS.greeting));
    this.chatView.appendChild(this.log);
    this.typing = el("div", "gdprchat-typing");
    this.typing.setAttribute("aria-live", "polite");
    this.chatView.appendChild(this.typing);
    this.body.appendChild(this.chatView);

    this.formView = el("div");
    this.body.appendChild(this.formView);

    var composer = this.composer = el("form", "gdprchat-composer");
    composer.hidden = true;
    var label = el("label", "gdprchat-sr", T.yourMessage);
    label.setAttribute("for", "gdprchat-input");
    var input = this.input = el("textarea");
    input.id = "gdprchat-input";
    input.rows = 1;
    input.maxLength = SETTINGS.maxLength;
    input.placeholder = T.placeholder;
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.send();
      }
    });
    input.addEventListener("input", function () { self.sendTyping(); self.autosize(); });
    var send = svg(el("button", "gdprchat-send"), ICON_SEND);
    send.type = "submit";
    send.setAttribute("aria-label", T.sendMessage);
    composer.appendChild(label); composer.appendChild(input); composer.appendChild(send);
    composer.addEventListener("submit", function (event) { event.preventDefault(); self.send(); });
    panel.appendChild(composer);

    var foot = el("div", "gdprchat-foot");
    var policy = el("a", null, T.privacyPolicy);
    policy.href = SETTINGS.policyUrl;
    policy.target = "_blank";
    policy.rel = "noopener";
    foot.appendChild(policy);
    panel.appendChild(foot);

    var launcher = this.launcher = svg(el("button", "gdprchat-launcher"), ICON_CHAT);
    launcher.id = "gdprchat-launcher";
    launcher.type = "button";
    launcher.setAttribute("aria-label", fmt(T.openChat, { title: SETTINGS.title }));
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "gdprchat-panel");
    this.badge = el("span", "gdprchat-badge");
    this.badge.hidden = true;
    this.badge.setAttribute("aria-hidden", "true");
    launcher.appendChild(this.badge);
    launcher.addEventListener("click", function () { self.toggle(); });

    root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !self.panel.hidden) { self.close(); }
    });
    root.appendChild(panel);
    root.appendChild(launcher);
    this.shadow.appendChild(root);
    document.body.appendChild(host);
  };

  Widget.prototype.toggle = function () { if (this.panel.hidden) { this.open(); } else { this.close(); } };
  Widget.prototype.open = function () {
    this.panel.hidden = false;
    this.root.classList.add("gdprchat-open");
    this.launcher.setAttribute("aria-expanded", "true");
    svg(this.launcher, ICON_DOWN).appendChild(this.badge);
    this.launcher.setAttribute("aria-label", T.minimise);
    this.setUnread(0);
    var focus = this.composer.hidden ? this.formView.querySelector("input") : this.input;
    if (focus) { focus.focus({ preventScroll: true }); }
    // The form reads from its top; a conversation from its newest message.
    if (this.composer.hidden) { this.body.scrollTop = 0; } else { this.scrollDown(); }
  };
  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.root.classList.remove("gdprchat-open");
    this.launcher.setAttribute("aria-expanded", "false");
    svg(this.launcher, ICON_CHAT).appendChild(this.badge);
    this.launcher.setAttribute("aria-label", fmt(T.openChat, { title: SETTINGS.title }));
    this.launcher.focus();
  };
  Widget.prototype.setUnread = function (count) {
    this.unread = count;
    this.badge.textContent = String(count);
    this.badge.hidden = count === 0;
  };

  // -- consent --------------------------------------------------------------------------------
  Widget.prototype.consentBoxes = function (form) {
    var consent = el("label", "gdprchat-check");
    var box = el("input");
    box.type = "checkbox";
    box.name = "consent";
    box.id = "gdprchat-consent";
    box.required = true;
    box.setAttribute("aria-required", "true");
    var text = el("span", null, SETTINGS.consentText + " ");
    var link = el("a", null, fmt(T.policyVersion, { version: SETTINGS.policyVersion }));
    link.href = SETTINGS.policyUrl;
    link.target = "_blank";
    link.rel = "noopener";
    text.appendChild(link);
    consent.appendChild(box); consent.appendChild(text);
    form.appendChild(consent);

    var marketing = el("label", "gdprchat-check gdprchat-check-opt");
    var mbox = el("input");
    mbox.type = "checkbox";
    mbox.name = "marketing_consent";
    mbox.id = "gdprchat-marketing";
    marketing.appendChild(mbox);
    marketing.appendChild(el("span", null, SETTINGS.marketingText));
    form.appendChild(marketing);
    return { consent: box, marketing: mbox };
  };

  Widget.prototype.errorBox = function (form) {
    var error = el("p", "gdprchat-error");
    error.id = "gdprchat-error";
    error.hidden = true;
    error.setAttribute("role", "alert");
    form.appendChild(error);
    return error;
  };

  Widget.prototype.showPrechat = function () {
    var self = this;
    this.formView.textContent = "";
    this.chatView.hidden = true;
    this.composer.hidden = true;
    this.formView.hidden = false;
    this.formView.appendChild(el("p", "gdprchat-greeting", SETTINGS.greeting));
    var form = el("form", "gdprchat-form");
    form.id = "gdprchat-prechat";
    form.noValidate = true;
    form.setAttribute("aria-label", T.startAChat);
    var inputs = {};
    if (!IDENTIFIED) {
      SETTINGS.fields.forEach(function (name) {
        var required = SETTINGS.required.indexOf(name) !== -1;
        var field = el("label", "gdprchat-field");
        var caption = el("span", null, FIELD_LABELS[name]);
        if (required) {
          var star = el("span", "gdprchat-req", " *");
          star.setAttribute("aria-hidden", "true");
          caption.appendChild(star);
        } else {
          caption.appendChild(document.createTextNode(" " + T.optional));
        }
        var input = el("input");
        input.type = FIELD_TYPES[name];
        input.name = name;
        input.id = "gdprchat-field-" + name;
        input.autocomplete = FIELD_AUTOCOMPLETE[name];
        input.maxLength = name === "phone" ? 64 : 255;
        if (required) { input.required = true; input.setAttribute("aria-required", "true"); }
        field.appendChild(caption); field.appendChild(input);
        form.appendChild(field);
        inputs[name] = input;
      });
    }
    var boxes = this.consentBoxes(form);
    var error = this.errorBox(form);
    var submit = el("button", "gdprchat-btn", T.startChat);
    submit.type = "submit";
    form.appendChild(submit);
    form.appendChild(el("p", "gdprchat-fine", T.nothingStored));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      Object.keys(inputs).forEach(function (key) { inputs[key].removeAttribute("aria-invalid"); });
      if (!boxes.consent.checked) {
        self.showError(error, T.acceptToStart, boxes.consent);
        return;
      }
      var missing = Object.keys(inputs).filter(function (key) {
        return inputs[key].required && !inputs[key].value.trim();
      });
      if (missing.length) {
        inputs[missing[0]].setAttribute("aria-invalid", "true");
        self.showError(error, fmt(T.isRequired, { field: FIELD_LABELS[missing[0]] }), inputs[missing[0]]);
        return;
      }
      var body = { consent: true, marketing_consent: boxes.marketing.checked, policy_version: SETTINGS.policyVersion,
        locale: SETTINGS.lang };
      Object.keys(inputs).forEach(function (key) {
        if (inputs[key].value.trim()) { body[key] = inputs[key].value.trim(); }
      });
      submit.disabled = true;
      api("POST", "/conversations", body).then(function (result) {
        submit.disabled = false;
        if (result.status !== 201) {
          var field = result.data.field;
          if (field && inputs[field]) { inputs[field].setAttribute("aria-invalid", "true"); }
          self.showError(error, result.data.error || T.couldNotStart,
            field && inputs[field] ? inputs[field] : null);
          return;
        }
        // Consent given: only now does anything go into the browser's storage.
        self.saved = { conversation_id: result.data.conversation_id, token: result.data.visitor_token,
          policy_version: result.data.policy_version };
        save(self.saved);
        self.showChat([]);
        self.connect();
      }, function () {
        submit.disabled = false;
        self.showError(error, T.noConnection);
      });
    });
    this.formView.appendChild(form);
  };

  Widget.prototype.showReconsent = function () {
    var self = this;
    this.formView.textContent = "";
    this.formView.hidden = false;
    this.composer.hidden = true;
    var form = el("form", "gdprchat-form");
    form.id = "gdprchat-reconsent";
    form.noValidate = true;
    form.appendChild(el("p", "gdprchat-greeting",
      fmt(T.policyChanged, { version: SETTINGS.policyVersion })));
    var boxes = this.consentBoxes(form);
    var error = this.errorBox(form);
    var submit = el("button", "gdprchat-btn", T["continue"]);
    submit.type = "submit";
    form.appendChild(submit);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!boxes.consent.checked) {
        self.showError(error, T.acceptToContinue, boxes.consent);
        return;
      }
      api("POST", "/conversations/" + self.saved.conversation_id + "/consent",
        { consent: true, marketing_consent: boxes.marketing.checked, policy_version: SETTINGS.policyVersion,
          locale: SETTINGS.lang },
        self.saved.token).then(function (result) {
        if (!result.ok) { self.showError(error, result.data.error || T.tryAgain); return; }
        self.saved.policy_version = result.data.policy_version;
        save(self.saved);
        self.formView.hidden = true;
        self.composer.hidden = false;
        if (self.socket) { self.socket.disconnect(); self.socket = null; }
        self.connect();
      });
    });
    this.formView.appendChild(form);
  };

  Widget.prototype.showError = function (box, message, focus) {
    box.textContent = message;
    box.hidden = false;
    if (focus) { focus.focus(); }
  };

  // -- conversation ---------------------------------------------------------------------------
  Widget.prototype.resume = function () {
    var self = this;
    api("GET", "/conversations/" + this.saved.conversation_id + "/messages", null, this.saved.token)
      .then(function (result) {
        if (result.status === 404 || result.status === 403) { self.ended(); return; }
        if (!result.ok) { self.showChat([]); return; }
        self.showChat(result.data.messages || []);
        if (result.data.consent_required) { self.showReconsent(); return; }
        self.connect();
      }, function () { self.showChat([]); self.connect(); });
  };

  Widget.prototype.ended = function (notice) {
    forget();
    this.saved = null;
    if (this.socket) { this.socket.disconnect(); this.socket = null; }
    this.rendered = {};
    this.log.textContent = "";
    this.showPrechat();
    if (notice) { this.formView.insertBefore(el("p", "gdprchat-msg-system", notice), this.formView.firstChild); }
  };

  Widget.prototype.showChat = function (messages) {
    this.formView.hidden = true;
    this.chatView.hidden = false;
    this.composer.hidden = false;
    var self = this;
    messages.forEach(function (message) { self.render(message); });
    if (!this.panel.hidden) { this.input.focus(); }
    this.scrollDown();
  };

  Widget.prototype.connect = function () {
    var self = this;
    loadSocketClient().then(function (io) {
      if (!self.saved || self.socket) { return; }
      var socket = self.socket = io(ORIGIN + SETTINGS.namespace, {
        path: SETTINGS.socketPath,
        auth: { visitor_token: self.saved.token },
        query: { lang: SETTINGS.lang },  // refusals come back in the widget's language
        reconnection: true,
        reconnectionDelayMax: 10000
      });
      socket.on("connect", function () {
        self.setOnline(true);
        if (socket.recovered === false && self.hadConnected) { self.catchUp(); }
        self.hadConnected = true;
      });
      socket.on("disconnect", function () { self.setOnline(false); });
      socket.on("connect_error", function (error) {
        if (error && /visitor token/.test(error.message || "")) { self.ended(); return; }
        self.setOnline(false);
      });
      socket.on("message", function (message) { self.receive(message); });
      socket.on("notice", function (notice) {
        self.receive({ id: notice.id, author: "system", text: notice.text, created_at: notice.created_at,
          conversation_id: notice.conversation_id });
      });
      socket.on("message_edited", function (edit) {
        var node = self.rendered[edit.id];
        if (node) { node.querySelector(".gdprchat-bubble").textContent = edit.text; }
      });
      socket.on("typing", function (data) {
        if (data.author !== "agent") { return; }
        self.typing.textContent = fmt(T.typing, { name: data.author_name || T.agent });
        clearTimeout(self.typingTimer);
        self.typingTimer = setTimeout(function () { self.typing.textContent = ""; }, 3500);
      });
      socket.on("conversation_erased", function () {
        self.ended(T.deleted);
      });
      if (self.sendWhenReady) { self.sendWhenReady = false; self.send(); }
    }, function () { self.setOnline(false); });
  };

  Widget.prototype.catchUp = function () {
    var self = this;
    if (!this.saved) { return; }
    api("GET", "/conversations/" + this.saved.conversation_id + "/messages", null, this.saved.token)
      .then(function (result) {
        if (result.ok) { (result.data.messages || []).forEach(function (m) { self.render(m); }); }
      });
  };

  Widget.prototype.setOnline = function (online) {
    this.status.hidden = online;
    this.dot.classList.toggle("gdprchat-off", !online);
  };

  Widget.prototype.receive = function (message) {
    if (!this.saved || message.conversation_id !== this.saved.conversation_id) { return; }
    var isNew = !this.rendered[message.id];
    this.render(message);
    if (message.author === "agent") { this.typing.textContent = ""; }
    if (isNew && message.author !== "visitor" && this.panel.hidden) { this.setUnread(this.unread + 1); }
  };

  Widget.prototype.render = function (message) {
    if (this.rendered[message.id]) { return; }
    var node;
    if (message.author === "system") {
      node = el("div", "gdprchat-msg-system", message.text);
    } else {
      node = el("div", "gdprchat-msg gdprchat-msg-" + (message.author === "visitor" ? "visitor" : "agent"));
      if (message.author !== "visitor") { node.appendChild(el("span", "gdprchat-meta", message.author_name || T.agent)); }
      node.appendChild(el("div", "gdprchat-bubble", message.text));
      var when = message.created_at ? new Date(message.created_at) : new Date();
      var meta = el("time", "gdprchat-meta", when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
      meta.dateTime = message.created_at || "";
      node.appendChild(meta);
    }
    node.setAttribute("data-id", String(message.id));
    this.rendered[message.id] = node;
    // Keep order by id, whatever order the history and live events arrive in.
    var after = null;
    var children = this.log.children;
    for (var i = children.length - 1; i >= 0; i--) {
      if (Number(children[i].getAttribute("data-id")) < message.id) { after = children[i]; break; }
    }
    if (after) { after.after(node); } else { this.log.prepend(node); }
    this.scrollDown();
  };

  Widget.prototype.scrollDown = function () { this.body.scrollTop = this.body.scrollHeight; };
  Widget.prototype.autosize = function () {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight, 120) + "px";
  };

  Widget.prototype.send = function () {
    var self = this;
    var text = this.input.value;
    if (!text.trim() || !this.saved) { return; }
    // The client script may still be loading: send as soon as the socket exists
    // (socket.io itself buffers until the connection is up).
    if (!this.socket) { this.sendWhenReady = true; return; }
    this.input.value = "";
    this.autosize();
    this.socket.emit("send_message", { conversation_id: this.saved.conversation_id, text: text }, function (ack) {
      if (ack && ack.ok) {
        self.render(ack.message);
        // Tell the visitor why their number now shows as bullets (only they see this note).
        var masked = ack.message.masked || [], node = self.rendered[ack.message.id];
        if (masked.length && node && !node.querySelector(".gdprchat-masked")) {
          var note = masked.indexOf("card") < 0 ? T.maskedIban : masked.indexOf("iban") < 0 ? T.maskedCard : T.maskedBoth;
          node.appendChild(el("span", "gdprchat-meta gdprchat-masked", note));
        }
        return;
      }
      var error = (ack && ack.error) || T.notSentReason;
      if (/^consent_required/.test(error)) { self.input.value = text; self.showReconsent(); return; }
      self.log.appendChild(el("div", "gdprchat-msg-system", fmt(T.notSent, { error: error })));
      self.input.value = text;
      self.scrollDown();
    });
  };

  Widget.prototype.sendTyping = function () {
    var now = Date.now();
    if (!this.socket || !this.saved || now - this.lastTypingSent < 2000) { return; }
    this.lastTypingSent = now;
    this.socket.emit("typing", { conversation_id: this.saved.conversation_id });
  };

  function start() { window.__gdprchatWidget = new Widget(); }
  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
{% endraw %}
})();

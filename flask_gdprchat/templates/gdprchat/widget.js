/* flask-gdprchat widget. Lives in a Shadow DOM: host CSS cannot reach in, ours cannot leak out.
 * Before the visitor consents it stores nothing in the browser and sends nothing about them:
 * it only asks whether someone can answer now. */
(function () {
  "use strict";
  var SETTINGS = {{ settings|tojson }};
  // Every word the widget shows, in this script's language (SETTINGS.lang), from the
  // catalog; %(name)s placeholders are filled in by fmt() below.
  var T = {{ {
    "fields": {"name": _("Name"), "email": _("E-mail"), "company": _("Company"), "phone": _("Phone")},
    "optional": _("(optional)"),
    "isRequired": _("%(field)s is required."),
    "enterEmail": _("Enter your e-mail address, so that we can answer you."),
    "badEmail": _("Enter an e-mail address like name@example.com."),
    "badPhone": _("Enter a phone number, digits only."),
    "writeMessage": _("Write your message."),
    "online": _("Someone can answer now"),
    "offline": _("Nobody is online right now"),
    "backAt": _("back %(when)s"),
    "closeChat": _("Close chat"),
    "reconnecting": _("Connection lost. Reconnecting…"),
    "conversation": _("Conversation"),
    "yourMessage": _("Your message"),
    "placeholder": _("Write a message…"),
    "sendMessage": _("Send message"),
    "sending": _("Sending…"),
    "privacyPolicy": _("Privacy policy"),
    "openChat": _("Open chat: %(title)s"),
    "minimise": _("Minimise chat"),
    "startAChat": _("Start a chat"),
    "startChat": _("Start chat"),
    "nothingStored": _("Nothing is stored until you start the chat."),
    "leaveAMessage": _("Leave a message"),
    "leaveMessage": _("Nobody can answer live just now. Leave a message and we will answer you by e-mail."),
    "nothingStoredOffline": _("Nothing is stored until you send your message."),
    "sent": _("Thank you! We will answer you by e-mail at %(email)s."),
    "anotherMessage": _("Write another message"),
    "couldNotSend": _("The message could not be sent. Try again."),
    "acceptToStart": _("Please accept the privacy policy to start the chat."),
    "acceptToSend": _("Please accept the privacy policy to send your message."),
    "couldNotStart": _("The chat could not start. Try again."),
    "noConnection": _("No connection. Check your network and try again."),
    "policyChanged": _("Our privacy policy has changed. Please read and accept it to continue the chat."),
    "continue": _("Continue"),
    "acceptToContinue": _("Please accept the privacy policy to continue."),
    "tryAgain": _("Please try again."),
    "typing": _("%(name)s is typing…"),
    "agent": _("Agent"),
    "deleted": _("This conversation has been deleted."),
    "startOver": _("Start a new chat"),
    "maskedIban": _("Bank account number hidden for your safety: we never store payment details."),
    "maskedCard": _("Card number hidden for your safety: we never store payment details."),
    "maskedBoth": _("Card and bank account numbers hidden for your safety: we never store payment details."),
    "notSent": _("Not sent: %(error)s"),
    "notSentReason": _("not sent"),
    "counter": _("%(count)s of %(max)s characters"),
    "tooLong": _("Your message is too long: %(count)s characters, and the limit is %(max)s. Please shorten it.")
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
  // The same shapes the server accepts, checked here first so a mistake is said at once.
  var EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  var PHONE_RE = /^\+?[0-9][0-9 ()./-]{2,40}$/;
  // The panel fills a phone's screen: there it is modal and keeps Tab inside.
  var PHONE = window.matchMedia("(max-width: 480px)");
  // The counter appears once a message is this close to the limit.
  var COUNTER_FROM = 0.9;
  var AVAILABILITY_EVERY_MS = 60000;

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".gdprchat-root{--c:" + SETTINGS.color + ";font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#1b2333;position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;flex-direction:column;align-items:flex-end;gap:14px}",
    ".gdprchat-launcher{width:60px;height:60px;border-radius:50%;border:0;background:var(--c);color:#fff;cursor:pointer;box-shadow:0 6px 24px rgba(16,24,40,.25);display:grid;place-items:center;position:relative;transition:transform .15s}",
    ".gdprchat-launcher:hover{transform:scale(1.05)}",
    ".gdprchat-launcher:focus-visible,.gdprchat-btn:focus-visible,.gdprchat-icon-btn:focus-visible,.gdprchat-send:focus-visible,.gdprchat-log:focus-visible,.gdprchat-foot a:focus-visible,.gdprchat-check a:focus-visible{outline:3px solid #93b4ff;outline-offset:2px}",
    ".gdprchat-launcher svg{width:28px;height:28px}",
    ".gdprchat-badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#e11d48;color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center;border:2px solid #fff}",
    ".gdprchat-panel{width:370px;height:min(600px,calc(100vh - 110px));background:#fff;border-radius:16px;box-shadow:0 12px 48px rgba(16,24,40,.28);display:flex;flex-direction:column;overflow:hidden}",
    ".gdprchat-panel[hidden],[hidden]{display:none!important}",
    ".gdprchat-head{background:var(--c);color:#fff;padding:18px 18px 16px;display:flex;align-items:flex-start;gap:12px;flex:none}",
    ".gdprchat-avatar{width:38px;height:38px;border-radius:50%;background:rgba(255,255,255,.22);display:grid;place-items:center;flex:none}",
    ".gdprchat-avatar svg{width:20px;height:20px}",
    ".gdprchat-head-text{flex:1;min-width:0}",
    ".gdprchat-title{font-size:16px;font-weight:700;margin:0}",
    ".gdprchat-sub{font-size:12.5px;margin:2px 0 0;display:flex;align-items:center;gap:6px}",
    ".gdprchat-dot{width:8px;height:8px;border-radius:50%;background:#cbd5e1;display:inline-block;flex:none}",
    ".gdprchat-dot-on{background:#4ade80}",
    ".gdprchat-icon-btn{background:transparent;border:0;color:inherit;cursor:pointer;width:32px;height:32px;border-radius:8px;display:grid;place-items:center;flex:none}",
    ".gdprchat-icon-btn:hover{background:rgba(255,255,255,.18)}",
    ".gdprchat-body{flex:1;min-height:0;overflow-y:auto;padding:16px;background:#f7f8fb}",
    /* A form scrolls inside, its button stays in view below it. */
    ".gdprchat-body-form{overflow:hidden;padding:0;display:flex;flex-direction:column}",
    ".gdprchat-body-form .gdprchat-formview{flex:1;min-height:0;display:flex;flex-direction:column}",
    ".gdprchat-form{flex:1;min-height:0;display:flex;flex-direction:column;margin:0}",
    ".gdprchat-form-fields{flex:1;min-height:0;overflow-y:auto;padding:16px;display:flex;flex-direction:column;gap:10px}",
    ".gdprchat-actions{flex:none;padding:10px 16px 8px;background:#fff;border-top:1px solid #eaecf0;display:flex;flex-direction:column;gap:6px}",
    ".gdprchat-greeting{background:#fff;border:1px solid #e6e9f0;border-radius:14px 14px 14px 4px;padding:10px 13px;margin:0 0 14px;max-width:90%}",
    ".gdprchat-form-fields .gdprchat-greeting{margin:0 0 4px}",
    ".gdprchat-notice{background:#eef2ff;color:#1b2333;border-radius:12px;padding:12px 14px;margin:0;font-size:14px}",
    ".gdprchat-notice:focus{outline:none}",
    ".gdprchat-field{display:flex;flex-direction:column;gap:4px;font-weight:600;font-size:12.5px;color:#475467}",
    ".gdprchat-field input,.gdprchat-field textarea{font:inherit;font-size:14px;font-weight:400;color:#1b2333;padding:9px 11px;border:1px solid #d0d5dd;border-radius:9px;background:#fff;width:100%}",
    ".gdprchat-field textarea{min-height:96px;resize:vertical}",
    ".gdprchat-field input:focus,.gdprchat-field textarea:focus,.gdprchat-composer textarea:focus{outline:2px solid var(--c);outline-offset:-1px;border-color:transparent}",
    ".gdprchat-field [aria-invalid=true]{border-color:#dc2626}",
    ".gdprchat-field-error{margin:-5px 0 2px;color:#b42318;font-weight:500;font-size:12.5px}",
    ".gdprchat-req{color:#b42318}",
    ".gdprchat-check{display:flex;gap:9px;align-items:flex-start;font-size:13px;color:#344054;background:#fff;border:1px solid #e6e9f0;border-radius:10px;padding:10px 11px;cursor:pointer}",
    ".gdprchat-check input{margin:2px 0 0;width:16px;height:16px;flex:none;accent-color:var(--c)}",
    ".gdprchat-check a{color:var(--c);font-weight:600}",
    ".gdprchat-check-opt{border-style:dashed}",
    ".gdprchat-error{background:#fdecec;color:#b42318;border-radius:9px;padding:8px 11px;font-size:13px;margin:0}",
    ".gdprchat-btn{font:inherit;font-weight:700;border:0;border-radius:10px;padding:11px 14px;background:var(--c);color:#fff;cursor:pointer;width:100%}",
    ".gdprchat-btn:disabled{cursor:progress}",
    ".gdprchat-fine{font-size:11.5px;color:#5d6778;margin:0;text-align:center}",
    ".gdprchat-log{display:flex;flex-direction:column;gap:6px;border-radius:8px}",
    ".gdprchat-msg{max-width:80%;display:flex;flex-direction:column}",
    ".gdprchat-msg-visitor{align-self:flex-end;align-items:flex-end}",
    ".gdprchat-msg-agent{align-self:flex-start}",
    ".gdprchat-bubble{padding:8px 12px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}",
    ".gdprchat-msg-visitor .gdprchat-bubble{background:var(--c);color:#fff;border-bottom-right-radius:5px}",
    ".gdprchat-msg-agent .gdprchat-bubble{background:#fff;border:1px solid #e6e9f0;border-bottom-left-radius:5px}",
    ".gdprchat-meta{font-size:11px;color:#5b6576;margin:2px 6px 4px}",
    ".gdprchat-msg-system{align-self:center;max-width:92%;text-align:center;font-size:12.5px;color:#475467;background:#eef2ff;border-radius:10px;padding:7px 11px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".gdprchat-typing{font-size:12px;color:#5b6576;padding:4px 2px;min-height:22px}",
    ".gdprchat-status{font-size:12px;color:#8a4b00;background:#fff4e0;padding:6px 16px;margin:0;flex:none}",
    ".gdprchat-counter{font-size:12px;color:#475467;background:#fff;padding:6px 14px 0;margin:0;text-align:right;border-top:1px solid #eaecf0;flex:none}",
    ".gdprchat-counter+.gdprchat-composer{border-top:0}",
    ".gdprchat-form-fields .gdprchat-counter{background:none;border:0;padding:0}",
    ".gdprchat-counter-over{color:#b42318;font-weight:600;text-align:left}",
    ".gdprchat-composer{display:flex;gap:8px;align-items:flex-end;padding:10px 12px;border-top:1px solid #eaecf0;background:#fff;flex:none}",
    ".gdprchat-composer textarea{flex:1;font:inherit;resize:none;border:1px solid #d0d5dd;border-radius:12px;padding:9px 12px;max-height:120px;min-height:40px;color:#1b2333}",
    ".gdprchat-composer textarea[aria-invalid=true]{border-color:#dc2626}",
    ".gdprchat-field [aria-invalid=true]:focus,.gdprchat-composer textarea[aria-invalid=true]:focus{outline-color:#dc2626}",
    ".gdprchat-send{width:40px;height:40px;border-radius:50%;border:0;background:var(--c);color:#fff;cursor:pointer;display:grid;place-items:center;flex:none}",
    ".gdprchat-send svg{width:18px;height:18px}",
    ".gdprchat-foot{font-size:11px;color:#5d6778;text-align:center;padding:0 12px 8px;background:#fff;flex:none}",
    ".gdprchat-foot a{color:inherit}",
    ".gdprchat-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.gdprchat-root{right:12px;bottom:12px}.gdprchat-root.gdprchat-open{inset:0;right:0;bottom:0;gap:0}",
    ".gdprchat-open .gdprchat-panel{width:100vw;height:100%;border-radius:0;box-shadow:none}.gdprchat-open .gdprchat-launcher{display:none}",
    /* 16px stops phones from zooming into a focused field. */
    ".gdprchat-field input,.gdprchat-field textarea,.gdprchat-composer textarea{font-size:16px}}"
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
  function number(value) {
    try { return Number(value).toLocaleString(SETTINGS.lang); } catch (e) { return String(value); }
  }
  // Characters as the server counts them (code points: an emoji is one).
  function length(text) { return Array.from(text).length; }
  // The sender's own id for a message, the same on every retry of it.
  function newMessageId() {
    var crypto = window.crypto;
    if (crypto && typeof crypto.randomUUID === "function") {
      try { return crypto.randomUUID(); } catch (e) { /* not a secure context */ }
    }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function when(iso) {
    var moment = new Date(iso);
    if (isNaN(moment)) { return null; }
    try {
      return new Intl.DateTimeFormat(SETTINGS.lang, { weekday: "short", hour: "2-digit", minute: "2-digit" }).format(moment);
    } catch (e) { return moment.toLocaleString(); }
  }

  // -- tiny DOM helpers: text always goes in as text, never as markup ---------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function svg(node, markup) { node.innerHTML = markup; return node; } // our own constant icons only
  function button(cls, text, type) {
    var node = el("button", cls, text);
    node.type = type || "button";
    return node;
  }

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
    // Messages sent but not yet acknowledged, by their client id: sent again, with
    // the same id, whenever the socket (re)connects; the server stores each once.
    this.pending = {};
    this.unread = 0;
    this.lastTypingSent = 0;
    this.typingTimer = null;
    this.availability = null;
    this.checkedAt = 0;
    this.build();
    if (this.saved) { this.resume(); } else { this.showStart(); }
    this.checkAvailability();
  }

  Widget.prototype.build = function () {
    var self = this;
    var host = document.createElement("div");
    host.id = "gdprchat-widget-host";
    host.setAttribute("data-gdprchat", "");
    this.host = host;
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
    panel.setAttribute("aria-labelledby", "gdprchat-title");

    // A plain element, not <header>: the host page has the one banner landmark.
    var head = el("div", "gdprchat-head");
    head.appendChild(svg(el("div", "gdprchat-avatar"), ICON_CHAT));
    var headText = el("div", "gdprchat-head-text");
    var title = el("h2", "gdprchat-title", SETTINGS.title);
    title.id = "gdprchat-title";
    var sub = this.sub = el("p", "gdprchat-sub");
    sub.id = "gdprchat-availability";
    sub.hidden = true;
    this.dot = el("span", "gdprchat-dot");
    this.dot.setAttribute("aria-hidden", "true");
    this.subText = el("span");
    sub.appendChild(this.dot); sub.appendChild(this.subText);
    headText.appendChild(title); headText.appendChild(sub);
    var close = this.closeButton = svg(el("button", "gdprchat-icon-btn"), ICON_CLOSE);
    close.type = "button";
    close.id = "gdprchat-close";
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
    // Focusable, so a keyboard can scroll the conversation.
    this.log.tabIndex = 0;
    this.chatView.appendChild(el("p", "gdprchat-greeting", SETTINGS.greeting));
    this.chatView.appendChild(this.log);
    this.typing = el("div", "gdprchat-typing");
    this.typing.setAttribute("aria-live", "polite");
    this.chatView.appendChild(this.typing);
    this.body.appendChild(this.chatView);

    // The forms: start a chat, leave a message, and what follows them.
    this.formView = el("div", "gdprchat-formview");
    this.body.appendChild(this.formView);

    this.counter = el("p", "gdprchat-counter");
    this.counter.id = "gdprchat-counter";
    this.counter.hidden = true;
    panel.appendChild(this.counter);

    var composer = this.composer = el("form", "gdprchat-composer");
    composer.hidden = true;
    var label = el("label", "gdprchat-sr", T.yourMessage);
    label.setAttribute("for", "gdprchat-input");
    var input = this.input = el("textarea");
    input.id = "gdprchat-input";
    input.rows = 1;
    // No maxLength: a paste is never cut short in silence; the counter says what is too much.
    input.placeholder = T.placeholder;
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.send();
      }
    });
    input.addEventListener("input", function () {
      self.sendTyping();
      self.autosize();
      self.updateCounter(input, self.counter);
    });
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
      if (self.panel.hidden) { return; }
      if (event.key === "Escape") { event.preventDefault(); self.close(); return; }
      if (event.key === "Tab" && PHONE.matches) { self.keepTabInside(event); }
    });
    // On a phone the open panel covers the page: focus that lands behind it comes back.
    document.addEventListener("focusin", function (event) {
      if (!self.panel.hidden && PHONE.matches && event.target !== host) { self.focusFirst(); }
    });
    root.appendChild(panel);
    root.appendChild(launcher);
    this.shadow.appendChild(root);
    document.body.appendChild(host);
  };

  // -- opening, closing, focus ----------------------------------------------------------------
  Widget.prototype.toggle = function () { if (this.panel.hidden) { this.open(); } else { this.close(); } };
  Widget.prototype.open = function () {
    var self = this;
    this.panel.hidden = false;
    this.root.classList.add("gdprchat-open");
    if (PHONE.matches) { this.panel.setAttribute("aria-modal", "true"); } else { this.panel.removeAttribute("aria-modal"); }
    this.launcher.setAttribute("aria-expanded", "true");
    svg(this.launcher, ICON_DOWN).appendChild(this.badge);
    this.launcher.setAttribute("aria-label", T.minimise);
    this.setUnread(0);
    if (Date.now() - this.checkedAt > AVAILABILITY_EVERY_MS / 2) { this.checkAvailability(); }
    clearInterval(this.poll);
    this.poll = setInterval(function () { self.checkAvailability(); }, AVAILABILITY_EVERY_MS);
    this.focusStart();
    // A conversation reads from its newest message.
    if (!this.composer.hidden) { this.scrollDown(); }
  };
  Widget.prototype.close = function () {
    clearInterval(this.poll);
    this.panel.hidden = true;
    this.root.classList.remove("gdprchat-open");
    this.launcher.setAttribute("aria-expanded", "false");
    svg(this.launcher, ICON_CHAT).appendChild(this.badge);
    this.launcher.setAttribute("aria-label", fmt(T.openChat, { title: SETTINGS.title }));
    this.launcher.focus();
  };
  Widget.prototype.focusStart = function () {
    var target = this.composer.hidden
      ? this.formView.querySelector("[data-gdprchat-focus], input, textarea, button")
      : this.input;
    if (target) { target.focus({ preventScroll: true }); }
  };
  // What Tab can reach inside the open panel, in order.
  Widget.prototype.focusables = function () {
    var nodes = this.panel.querySelectorAll("a[href], button, input, textarea, select, [tabindex]");
    return Array.prototype.filter.call(nodes, function (node) {
      return !node.disabled && node.tabIndex >= 0 && node.getClientRects().length > 0;
    });
  };
  Widget.prototype.focusFirst = function () {
    var items = this.focusables();
    if (items.length) { items[0].focus(); }
  };
  // Tab past the last control comes round to the first (the close button), and back.
  Widget.prototype.keepTabInside = function (event) {
    var items = this.focusables();
    if (!items.length) { return; }
    var index = items.indexOf(this.shadow.activeElement);
    if (event.shiftKey && index <= 0) {
      event.preventDefault();
      items[items.length - 1].focus();
    } else if (!event.shiftKey && (index === -1 || index === items.length - 1)) {
      event.preventDefault();
      items[0].focus();
    }
  };
  Widget.prototype.setUnread = function (count) {
    this.unread = count;
    this.badge.textContent = String(count);
    this.badge.hidden = count === 0;
  };

  // -- who can answer now -------------------------------------------------------------------
  Widget.prototype.checkAvailability = function () {
    var self = this;
    this.checkedAt = Date.now();
    return api("GET", "/availability").then(function (result) {
      if (result.ok) { self.showAvailability(result.data); }
    }, function () { /* no network: keep what is shown */ });
  };
  Widget.prototype.showAvailability = function (data) {
    this.availability = data;
    var online = !!data.online;
    this.dot.classList.toggle("gdprchat-dot-on", online);
    var text = online ? T.online : T.offline;
    var back = !online && data.next_open ? when(data.next_open) : null;
    if (back) { text += " · " + fmt(T.backAt, { when: back }); }
    this.subText.textContent = text;
    this.sub.hidden = false;
    // A form nobody has touched yet follows: a chat when someone is here, a message when not.
    var wanted = online ? "prechat" : "offline";
    if (!this.saved && !this.formView.hidden && !this.formDirty && this.formKind !== wanted &&
        (this.formKind === "prechat" || this.formKind === "offline")) {
      this.showStart();
    }
  };
  Widget.prototype.showStart = function () {
    if (this.availability && !this.availability.online) { this.showOffline(); } else { this.showPrechat(); }
  };

  // -- forms ----------------------------------------------------------------------------------
  // A form whose fields scroll and whose button stays in view under them.
  Widget.prototype.formShell = function (id, label, kind) {
    var self = this;
    this.formView.textContent = "";
    this.chatView.hidden = true;
    this.composer.hidden = true;
    this.counter.hidden = true;
    this.formView.hidden = false;
    this.body.classList.add("gdprchat-body-form");
    this.formKind = kind;
    this.formDirty = false;
    var form = el("form", "gdprchat-form");
    form.id = id;
    form.noValidate = true;
    if (label) { form.setAttribute("aria-label", label); }
    var fields = el("div", "gdprchat-form-fields");
    var actions = el("div", "gdprchat-actions");
    form.appendChild(fields);
    form.appendChild(actions);
    form.addEventListener("input", function () { self.formDirty = true; });
    this.formView.appendChild(form);
    return { form: form, fields: fields, actions: actions };
  };

  Widget.prototype.field = function (container, name, required) {
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
    input.maxLength = name === "phone" ? 64 : name === "email" ? 320 : 255;
    if (required) { input.required = true; input.setAttribute("aria-required", "true"); }
    field.appendChild(caption); field.appendChild(input);
    container.appendChild(field);
    container.appendChild(this.fieldNote(input));
    return input;
  };

  Widget.prototype.messageField = function (container) {
    var self = this;
    var field = el("label", "gdprchat-field");
    var caption = el("span", null, T.yourMessage);
    var star = el("span", "gdprchat-req", " *");
    star.setAttribute("aria-hidden", "true");
    caption.appendChild(star);
    var area = el("textarea");
    area.name = "text";
    area.id = "gdprchat-field-text";
    area.rows = 4;
    area.required = true;
    area.setAttribute("aria-required", "true");
    field.appendChild(caption); field.appendChild(area);
    container.appendChild(field);
    var counter = el("p", "gdprchat-counter");
    counter.id = "gdprchat-field-text-counter";
    counter.hidden = true;
    container.appendChild(counter);
    container.appendChild(this.fieldNote(area));
    area.addEventListener("input", function () { self.updateCounter(area, counter); });
    area.counter = counter;
    return area;
  };

  // The place under a field where what is wrong with it is said.
  Widget.prototype.fieldNote = function (input) {
    var note = el("p", "gdprchat-field-error");
    note.id = input.id + "-error";
    note.hidden = true;
    return note;
  };
  Widget.prototype.fieldError = function (input, message) {
    var note = this.shadow.getElementById(input.id + "-error");
    note.textContent = message;
    note.hidden = false;
    input.setAttribute("aria-invalid", "true");
    var described = [note.id];
    if (input.counter && !input.counter.hidden) { described.push(input.counter.id); }
    input.setAttribute("aria-describedby", described.join(" "));
  };
  Widget.prototype.clearErrors = function (form, box) {
    Array.prototype.forEach.call(form.querySelectorAll(".gdprchat-field-error"), function (note) {
      note.hidden = true;
      note.textContent = "";
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    box.hidden = true;
  };
  // Check each field before anything is sent; say what is wrong under each one.
  Widget.prototype.checkFields = function (inputs) {
    var self = this;
    var first = null;
    Object.keys(inputs).forEach(function (name) {
      var input = inputs[name];
      var value = input.value.trim();
      var message = null;
      if (!value && input.required) {
        message = name === "email" && inputs.text ? T.enterEmail
          : name === "text" ? T.writeMessage : fmt(T.isRequired, { field: FIELD_LABELS[name] });
      } else if (value && name === "email" && !EMAIL_RE.test(value)) {
        message = T.badEmail;
      } else if (value && name === "phone" && !PHONE_RE.test(value)) {
        message = T.badPhone;
      } else if (name === "text" && length(input.value) > SETTINGS.maxLength) {
        message = fmt(T.tooLong, { count: number(length(input.value)), max: number(SETTINGS.maxLength) });
      }
      if (message) {
        self.fieldError(input, message);
        first = first || input;
      }
    });
    if (first) { first.focus(); }
    return !first;
  };
  // A refusal from the server: under the field it names, else in the form's error box.
  Widget.prototype.serverError = function (result, inputs, box, consentBox, fallback) {
    var self = this;
    var data = result.data || {};
    var fields = data.fields || {};
    var first = null;
    Object.keys(inputs).forEach(function (name) {
      var messages = fields[name];
      if (messages && messages.length) {
        self.fieldError(inputs[name], String(messages[0]));
        first = first || inputs[name];
      }
    });
    if (first) { first.focus(); return; }
    if (data.field === "consent") {
      this.showError(box, fields.consent && fields.consent.length ? String(fields.consent[0]) : fallback, consentBox);
    } else if (data.field) {
      this.showError(box, fallback);  // a field the visitor cannot fix (the page is out of date)
    } else {
      this.showError(box, data.error || fallback);
    }
  };

  // -- consent --------------------------------------------------------------------------------
  // One line: what the data is for and how long it is kept, then the policy link. The
  // server records that same line, in this language, with the consent.
  Widget.prototype.consentBoxes = function (container) {
    var consent = el("label", "gdprchat-check");
    var box = el("input");
    box.type = "checkbox";
    box.name = "consent";
    box.id = "gdprchat-consent";
    box.required = true;
    box.setAttribute("aria-required", "true");
    var text = el("span", null, SETTINGS.consentText + " ");
    text.id = "gdprchat-consent-text";
    var link = el("a", null, SETTINGS.policyLinkText);
    link.href = SETTINGS.policyUrl;
    link.target = "_blank";
    link.rel = "noopener";
    text.appendChild(link);
    consent.appendChild(box); consent.appendChild(text);
    container.appendChild(consent);

    var marketing = el("label", "gdprchat-check gdprchat-check-opt");
    var mbox = el("input");
    mbox.type = "checkbox";
    mbox.name = "marketing_consent";
    mbox.id = "gdprchat-marketing";
    marketing.appendChild(mbox);
    marketing.appendChild(el("span", null, SETTINGS.marketingText));
    container.appendChild(marketing);
    return { consent: box, marketing: mbox };
  };

  Widget.prototype.errorBox = function (container) {
    var error = el("p", "gdprchat-error");
    error.id = "gdprchat-error";
    error.hidden = true;
    error.setAttribute("role", "alert");
    container.appendChild(error);
    return error;
  };

  Widget.prototype.consentBody = function (boxes) {
    return { consent: true, marketing_consent: boxes.marketing.checked, policy_version: SETTINGS.policyVersion,
      locale: SETTINGS.lang };
  };

  Widget.prototype.showPrechat = function () {
    var self = this;
    var shell = this.formShell("gdprchat-prechat", T.startAChat, "prechat");
    shell.fields.appendChild(el("p", "gdprchat-greeting", SETTINGS.greeting));
    var inputs = {};
    if (!IDENTIFIED) {
      SETTINGS.fields.forEach(function (name) {
        inputs[name] = self.field(shell.fields, name, SETTINGS.required.indexOf(name) !== -1);
      });
    }
    var boxes = this.consentBoxes(shell.fields);
    var error = this.errorBox(shell.actions);
    var submit = button("gdprchat-btn", T.startChat, "submit");
    shell.actions.appendChild(submit);
    shell.actions.appendChild(el("p", "gdprchat-fine", T.nothingStored));
    shell.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.clearErrors(shell.form, error);
      if (!self.checkFields(inputs)) { return; }
      if (!boxes.consent.checked) { self.showError(error, T.acceptToStart, boxes.consent); return; }
      var body = self.consentBody(boxes);
      Object.keys(inputs).forEach(function (key) {
        if (inputs[key].value.trim()) { body[key] = inputs[key].value.trim(); }
      });
      submit.disabled = true;
      api("POST", "/conversations", body).then(function (result) {
        submit.disabled = false;
        if (result.status !== 201) {
          self.serverError(result, inputs, error, boxes.consent, T.couldNotStart);
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
  };

  // Nobody can answer now: a message with an address, answered by e-mail. Nothing goes
  // into the browser's storage: the answer arrives in the visitor's mailbox.
  Widget.prototype.showOffline = function () {
    var self = this;
    var shell = this.formShell("gdprchat-offline", T.leaveAMessage, "offline");
    shell.fields.appendChild(el("p", "gdprchat-greeting", T.leaveMessage));
    var inputs = {};
    // A visitor the host site signed in is not asked their name again.
    if (!IDENTIFIED && SETTINGS.fields.indexOf("name") !== -1) { inputs.name = this.field(shell.fields, "name", false); }
    inputs.email = this.field(shell.fields, "email", true);
    inputs.text = this.messageField(shell.fields);
    var boxes = this.consentBoxes(shell.fields);
    var error = this.errorBox(shell.actions);
    var submit = button("gdprchat-btn", T.sendMessage, "submit");
    shell.actions.appendChild(submit);
    shell.actions.appendChild(el("p", "gdprchat-fine", T.nothingStoredOffline));
    shell.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.clearErrors(shell.form, error);
      if (!self.checkFields(inputs)) { return; }
      if (!boxes.consent.checked) { self.showError(error, T.acceptToSend, boxes.consent); return; }
      var body = self.consentBody(boxes);
      body.email = inputs.email.value.trim();
      body.text = inputs.text.value;
      if (inputs.name && inputs.name.value.trim()) { body.name = inputs.name.value.trim(); }
      submit.disabled = true;
      api("POST", "/offline-messages", body).then(function (result) {
        submit.disabled = false;
        if (result.status !== 201) {
          self.serverError(result, inputs, error, boxes.consent, T.couldNotSend);
          return;
        }
        self.showSent(result.data.email || body.email);
      }, function () {
        submit.disabled = false;
        self.showError(error, T.noConnection);
      });
    });
  };

  Widget.prototype.showNotice = function (id, kind, text, action) {
    var self = this;
    var shell = this.formShell(id, null, kind);
    var notice = el("p", "gdprchat-notice", text);
    notice.id = id + "-notice";
    notice.setAttribute("role", "status");
    notice.tabIndex = -1;
    notice.setAttribute("data-gdprchat-focus", "");
    shell.fields.appendChild(notice);
    var again = button("gdprchat-btn", action, "submit");
    shell.actions.appendChild(again);
    shell.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.showStart();
      self.focusStart();
    });
    shell.fields.scrollTop = 0;
    if (!this.panel.hidden) { notice.focus({ preventScroll: true }); }
    return notice;
  };

  Widget.prototype.showSent = function (email) {
    this.showNotice("gdprchat-sent", "sent", fmt(T.sent, { email: email }), T.anotherMessage);
  };

  Widget.prototype.showReconsent = function () {
    var self = this;
    var shell = this.formShell("gdprchat-reconsent", null, "reconsent");
    shell.fields.appendChild(el("p", "gdprchat-greeting", T.policyChanged));
    var boxes = this.consentBoxes(shell.fields);
    var error = this.errorBox(shell.actions);
    var submit = button("gdprchat-btn", T["continue"], "submit");
    shell.actions.appendChild(submit);
    shell.form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!boxes.consent.checked) {
        self.showError(error, T.acceptToContinue, boxes.consent);
        return;
      }
      api("POST", "/conversations/" + self.saved.conversation_id + "/consent", self.consentBody(boxes),
        self.saved.token).then(function (result) {
        if (!result.ok) { self.showError(error, result.data.error || T.tryAgain); return; }
        self.saved.policy_version = result.data.policy_version;
        save(self.saved);
        self.showChat([]);
        self.stopSocket();
        self.connect();
      });
    });
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
        if (result.status === 404 || result.status === 403) { self.ended(T.deleted); return; }
        if (!result.ok) { self.showChat([]); return; }
        self.showChat(result.data.messages || []);
        if (result.data.consent_required) { self.showReconsent(); return; }
        self.connect();
      }, function () { self.showChat([]); self.connect(); });
  };

  // The conversation is gone (erased, or purged): stop for good and say so, in view,
  // with a way to start again. Nothing of it stays in the browser.
  Widget.prototype.ended = function (notice) {
    forget();
    this.saved = null;
    this.pending = {};
    this.stopSocket();
    this.status.hidden = true;
    this.rendered = {};
    this.log.textContent = "";
    this.typing.textContent = "";
    if (notice) { this.showNotice("gdprchat-ended", "ended", notice, T.startOver); } else { this.showStart(); }
  };

  Widget.prototype.stopSocket = function () {
    var socket = this.socket;
    this.socket = null;
    if (!socket) { return; }
    socket.off();  // no "disconnect" handler left to show "Reconnecting…"
    socket.disconnect();  // and no reconnection
  };

  Widget.prototype.showChat = function (messages) {
    this.formView.hidden = true;
    this.formView.textContent = "";
    this.formKind = null;
    this.body.classList.remove("gdprchat-body-form");
    this.chatView.hidden = false;
    this.composer.hidden = false;
    var self = this;
    messages.forEach(function (message) { self.render(message); });
    this.updateCounter(this.input, this.counter);
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
        self.flushPending();
      });
      socket.on("disconnect", function () { self.setOnline(false); });
      socket.on("connect_error", function (error) {
        if (error && /visitor token/.test(error.message || "")) { self.ended(T.deleted); return; }
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
      var moment = message.created_at ? new Date(message.created_at) : new Date();
      var meta = el("time", "gdprchat-meta", moment.toLocaleTimeString(SETTINGS.lang, { hour: "2-digit", minute: "2-digit" }));
      meta.dateTime = message.created_at || "";
      node.appendChild(meta);
    }
    node.setAttribute("data-id", String(message.id));
    this.rendered[message.id] = node;
    // Keep order by id, whatever order the history and live events arrive in
    // (messages still being sent stay last).
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

  // Near the limit, a counter; past it, the counter says by how much (and sending is refused).
  Widget.prototype.updateCounter = function (input, counter) {
    var count = length(input.value);
    var max = SETTINGS.maxLength;
    var over = count > max;
    counter.hidden = count < max * COUNTER_FROM;
    counter.classList.toggle("gdprchat-counter-over", over);
    counter.textContent = over ? fmt(T.tooLong, { count: number(count), max: number(max) })
      : fmt(T.counter, { count: number(count), max: number(max) });
    if (counter.hidden) {
      counter.removeAttribute("role");
      if (input.getAttribute("aria-describedby") === counter.id) { input.removeAttribute("aria-describedby"); }
    } else if (!input.getAttribute("aria-invalid")) {
      input.setAttribute("aria-describedby", counter.id);
    }
    if (!over && input === this.input) { input.removeAttribute("aria-invalid"); }
    return over;
  };

  Widget.prototype.send = function () {
    var text = this.input.value;
    if (!text.trim() || !this.saved) { return; }
    if (this.updateCounter(this.input, this.counter)) {
      // Refused here, said out loud, and the text stays for the visitor to shorten.
      this.counter.setAttribute("role", "alert");
      this.input.setAttribute("aria-invalid", "true");
      return;
    }
    var id = newMessageId();
    this.input.value = "";
    this.autosize();
    this.updateCounter(this.input, this.counter);
    var node = el("div", "gdprchat-msg gdprchat-msg-visitor gdprchat-msg-pending");
    node.appendChild(el("div", "gdprchat-bubble", text));
    node.appendChild(el("span", "gdprchat-meta", T.sending));
    node.setAttribute("data-id", "Infinity");
    node.setAttribute("data-client-id", id);
    this.log.appendChild(node);
    this.scrollDown();
    this.pending[id] = { text: text, node: node };
    this.emitPending(id);
  };

  // Send one waiting message now if the socket is up (else when it comes up).
  Widget.prototype.emitPending = function (id) {
    var self = this;
    var item = this.pending[id];
    if (!item || !this.saved || !this.socket || !this.socket.connected) { return; }
    this.socket.emit("send_message", { conversation_id: this.saved.conversation_id, text: item.text,
      client_msg_id: id }, function (ack) { self.acked(id, ack); });
  };
  Widget.prototype.flushPending = function () {
    var self = this;
    Object.keys(this.pending).forEach(function (id) { self.emitPending(id); });
  };

  Widget.prototype.acked = function (id, ack) {
    var item = this.pending[id];
    if (ack && ack.ok) {
      delete this.pending[id];
      if (item) { item.node.remove(); }
      this.render(ack.message);
      // Tell the visitor why their number now shows as bullets (only they see this note).
      var masked = ack.message.masked || [], node = this.rendered[ack.message.id];
      if (masked.length && node && !node.querySelector(".gdprchat-masked")) {
        var note = masked.indexOf("card") < 0 ? T.maskedIban : masked.indexOf("iban") < 0 ? T.maskedCard : T.maskedBoth;
        node.appendChild(el("span", "gdprchat-meta gdprchat-masked", note));
      }
      return;
    }
    if (!item) { return; }
    delete this.pending[id];
    item.node.remove();
    var error = (ack && ack.error) || T.notSentReason;
    if (/^consent_required/.test(error)) { this.input.value = item.text; this.showReconsent(); return; }
    this.log.appendChild(el("div", "gdprchat-msg-system", fmt(T.notSent, { error: error })));
    this.input.value = item.text;
    this.updateCounter(this.input, this.counter);
    this.scrollDown();
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

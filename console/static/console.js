// Omnitrail console: progressive enhancement of the server-rendered page.
// Everything goes through the documented /api/v1 routes with the session cookie; every
// state change carries the CSRF token from the page. Text is always inserted as text
// (textContent), never as HTML: message bodies are the customers', not ours.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const LABELS = {email: "Email", sms: "SMS", mms: "MMS", whatsapp: "WhatsApp", telegram: "Telegram",
    messenger: "Messenger", instagram: "Instagram", livechat: "Chat", voice: "Call", other: "Note",
    phone: "Phone", external: "ID", whatsapp_user_id: "WhatsApp ID", whatsapp_username: "WhatsApp user"};
  const timeFmt = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});
  const exactFmt = new Intl.DateTimeFormat(undefined, {dateStyle: "full", timeStyle: "long"});
  const relFmt = new Intl.RelativeTimeFormat(undefined, {numeric: "auto"});
  const isAdmin = document.querySelector('meta[name="role"]').content === "admin";
  const meId = document.querySelector('meta[name="me-id"]').content; // the signed-in account (a token's fingerprint)
  const state = {contact: null, items: [], cursor: null, loading: false, done: false, source: null, seq: 0, home: null};
  const CONVERSATIONAL = new Set(["message", "call"]);

  // "3 minutes ago", "yesterday", then a date; the exact time on hover (title) and for assistive technology.
  function relative(iso) {
    const seconds = (new Date(iso) - Date.now()) / 1000;
    const abs = Math.abs(seconds);
    if (abs < 45) return "just now";
    for (const [unit, size, upto] of [["minute", 60, 3600], ["hour", 3600, 86400], ["day", 86400, 7 * 86400]]) {
      if (abs < upto) return relFmt.format(Math.round(seconds / size), unit);
    }
    return timeFmt.format(new Date(iso));
  }
  const when = (iso) => el("time", {dateTime: iso, title: exactFmt.format(new Date(iso)), textContent: relative(iso), className: "when"});
  setInterval(() => document.querySelectorAll("time.when").forEach((t) => { t.textContent = relative(t.dateTime); }), 60_000);
  const partyName = (party) => party?.display_name || party?.identifiers?.[0]?.value || null;
  // Who sent it, as people call them: the party's name; for a party without one that is the open contact, her name.
  function senderName(item) {
    if (item.sender?.display_name) return item.sender.display_name;
    const mine = new Set((state.contact?.identifiers || []).map((i) => `${i.kind}:${i.value}`));
    if (state.contact?.display_name && (item.sender?.identifiers || []).some((i) => mine.has(`${i.kind}:${i.value}`))) return state.contact.display_name;
    return item.sender_display || partyName(item.sender);
  }

  // An attachment: its label, and once the media stage kept it, a thumbnail, a player or a download link
  // from short-lived signed URLs the API hands out (asked for when the entry is drawn).
  function attachment(item, a, n) {
    const size = a.media?.size ?? a.size;
    const li = el("li", {className: "attachment", textContent: `📎 ${a.name || "attachment"}${a.content_type ? ` (${a.content_type})` : ""}${size != null ? ` · ${Math.ceil(size / 1024)} KB` : ""}`});
    if (a.media?.state === "failed") li.append(el("span", {className: "muted", textContent: ` · not kept: ${a.media.reason || "unknown reason"}`}));
    if (a.media?.state !== "stored") return li;
    api(`/api/v1/interactions/${item.interaction_id}/attachments/${n}`).then((r) => r.json()).then((m) => {
      if (m.kind === "image" && m.thumbnail_url) {
        // No thumbnail (an image too large to draw, or unreadable: 404): no broken image, the download stays.
        const link = el("a", {href: m.url, target: "_blank", rel: "noopener noreferrer"},
          el("img", {className: "thumbnail", src: m.thumbnail_url, alt: m.name,
            onerror: () => link.replaceWith(el("span", {className: "muted", textContent: "no preview · "}))}));
        li.prepend(link);
      } else if (m.kind === "audio") li.append(el("audio", {controls: true, preload: "none", src: m.url}));
      else if (m.kind === "video") li.append(el("video", {controls: true, preload: "none", src: m.url, className: "video"}));
      li.append(" ", el("a", {href: m.url, download: m.name, className: "download", textContent: "Download"}));
    }).catch(() => li.append(el("span", {className: "muted", textContent: " · content unavailable"})));
    return li;
  }

  async function api(path, options = {}) {
    const headers = {Accept: "application/json", ...(options.headers || {})};
    if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {...options, headers, credentials: "same-origin",
      body: options.body === undefined ? undefined : JSON.stringify(options.body)});
    if (response.status === 401) { location.reload(); throw new Error("signed out"); }
    if (!response.ok) {
      let detail = response.statusText;
      try { const body = await response.json(); detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail); } catch (e) { /* not JSON */ }
      const error = new Error(`${response.status}: ${detail}`); error.status = response.status; throw error;
    }
    return response;
  }
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    for (const child of children) if (child != null) node.append(child);
    return node;
  };
  const badge = (kind) => el("span", {className: `badge ch-${kind}`, textContent: LABELS[kind] || kind});
  const say = (id, text) => { $(id).textContent = text; };

  // ---- search as you type ----
  let searchTimer = 0;
  const search = $("search"), results = $("results");
  search.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 200); });
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch(); });
  search.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && results.firstElementChild) { e.preventDefault(); results.querySelector("button").focus(); }
  });
  results.addEventListener("keydown", (e) => {
    const buttons = [...results.querySelectorAll("button")];
    const i = buttons.indexOf(document.activeElement);
    if (e.key === "ArrowDown" && i < buttons.length - 1) { e.preventDefault(); buttons[i + 1].focus(); }
    if (e.key === "ArrowUp") { e.preventDefault(); (i > 0 ? buttons[i - 1] : search).focus(); }
    if (e.key === "Escape") { results.replaceChildren(); search.focus(); }
  });
  async function runSearch() {
    const q = search.value.trim();
    const seq = ++state.seq;
    if (!q) { results.replaceChildren(); return; }
    try {
      const page = await (await api(`/api/v1/contacts?q=${encodeURIComponent(q)}`)).json();
      if (seq !== state.seq) return; // a newer keystroke won
      results.replaceChildren(...page.items.map((c) => el("li", {},
        el("button", {type: "button", className: "result", onclick: () => { results.replaceChildren(); openContact(c.contact_id); }},
          el("strong", {textContent: c.display_name || "(no name)"}), " ",
          ...c.identifiers.slice(0, 3).map((i) => el("span", {className: "muted"}, badge(i.kind), " ", i.value, " "))))));
      if (!page.items.length) results.replaceChildren(el("li", {className: "muted", textContent: "No contact found."}));
    } catch (e) { say("status", `Search failed: ${e.message}`); }
  }

  // ---- home: open work across every contact ----
  async function showHome() {
    state.contact = null;
    if (state.source) { state.source.close(); state.source = null; }
    $("contact").hidden = true; $("home").hidden = false;
    document.title = "Open work · Omnitrail console";
    await loadHome();
    if (!state.home) {
      state.home = new EventSource("/api/v1/events");
      let timer = 0;
      const refresh = () => { clearTimeout(timer); timer = setTimeout(() => { if (!$("home").hidden) loadHome(); }, 500); };
      for (const type of ["interaction.added", "interaction.updated", "contact.merged", "contact.erased"]) state.home.addEventListener(type, refresh);
      // Connected (first time or again): what was published before the stream followed it came as no event.
      state.home.addEventListener("open", refresh);
      setInterval(() => { if (!$("home").hidden) loadHome(); }, 60_000); // suggestions open with time, too
    }
  }
  const assigneeChip = (assignee, mine) => assignee
    ? el("span", {className: `chip${mine ? " mine" : ""}`, textContent: mine ? "yours" : `assigned to ${assignee}`})
    : el("span", {className: "chip unassigned", textContent: "unassigned"});
  async function loadHome() {
    let inbox;
    try { inbox = await (await api("/api/v1/inbox?limit=50")).json(); }
    catch (e) { say("status", `Could not load the open work: ${e.message}`); return; }
    say("waiting-count", `(${inbox.conversations.length})`);
    say("open-count", `(${inbox.suggestions.length})`);
    $("waiting").replaceChildren(...(inbox.conversations.length ? inbox.conversations.map((c) => el("li", {},
      el("a", {className: "work", href: `#contact=${c.contact_id}`},
        el("span", {className: "work-head"}, badge(c.channel), " ",
          el("strong", {textContent: c.display_name || c.sender_display || "(no name)"}), " ", when(c.occurred_at)),
        c.subject ? el("span", {className: "work-subject", textContent: c.subject}) : null,
        el("span", {className: "work-preview", textContent: c.preview || "(no text)"}),
        el("span", {className: "work-foot"}, assigneeChip(c.assignee, c.mine)))))
      : [el("li", {className: "muted", textContent: "Every conversation has its answer."})]));
    $("open-suggestions").replaceChildren(...(inbox.suggestions.length ? inbox.suggestions.map(homeSuggestion)
      : [el("li", {className: "muted", textContent: "No open suggestions."})]));
  }
  // A suggestion links to its contact; a possible duplicate is one item naming both contacts, each a link.
  function homeSuggestion(s) {
    const head = el("span", {className: "work-head"}, el("strong", {textContent: s.title}), " ", when(s.opened_at));
    const foot = el("span", {className: "work-foot"}, assigneeChip(s.assignee, s.mine));
    if (!s.other_contact) {
      return el("li", {}, el("a", {className: "work", href: `#contact=${s.contact_id}`}, head,
        el("span", {className: "work-subject", textContent: s.label || s.display_name || "(no name)"}),
        el("span", {className: "work-preview", textContent: s.reason}), foot));
    }
    return el("li", {}, el("div", {className: "work pair"}, head,
      el("span", {className: "work-subject"}, contactLink(s.contact_id, s.label || s.display_name || "(no name)"), " and ",
        contactLink(s.other_contact.contact_id, s.other_contact.label)),
      el("span", {className: "work-preview"}, ...reasonNodes(s, false)), foot));
  }
  const contactLink = (id, label) => el("a", {href: `#contact=${id}`, className: "contact-link", textContent: label});
  // The reason, naming the other contact of a possible duplicate (the reason has its id): by a link to its page,
  // or as text where the item links both already.
  function reasonNodes(s, linked = true) {
    if (!s.other_contact) return [s.reason];
    const link = linked ? contactLink(s.other_contact.contact_id, s.other_contact.label) : s.other_contact.label;
    const at = s.reason.indexOf(s.other_contact.contact_id);
    if (at < 0) return [s.reason, " Other contact: ", link];
    return [s.reason.slice(0, at), link, s.reason.slice(at + s.other_contact.contact_id.length)];
  }
  // The staff accounts a suggestion can be assigned to; none in a deployment without staff accounts (free text then).
  let colleagues = null;
  const staffAccounts = () => colleagues ??= api("/api/v1/staff").then((r) => r.json()).then((b) => b.items).catch(() => []);

  // ---- contact view ----
  async function openContact(id) {
    if (location.hash !== `#contact=${id}`) history.pushState(null, "", `#contact=${id}`);
    let contact;
    try { contact = await (await api(`/api/v1/contacts/${id}`)).json(); }
    catch (e) { say("status", `Could not open the contact: ${e.message}`); return; }
    state.contact = contact;
    $("home").hidden = true; $("contact").hidden = false;
    say("status", "");
    $("contact-name").textContent = contact.display_name || "(no name)";
    document.title = `${contact.display_name || "Contact"} · Omnitrail console`;
    $("identifiers").replaceChildren(...contact.identifiers.map((i) => el("li", {}, badge(i.kind), " ", el("span", {className: "id-value", textContent: i.value}))));
    renderAttributes(contact.attributes);
    loadSummary(contact.contact_id);
    loadConsent(contact.contact_id);
    loadSuggestions(contact.contact_id);
    await reloadTimeline();
    listen(contact.contact_id);
    $("contact-name").setAttribute("tabindex", "-1");
  }
  async function loadSummary(id) {
    try {
      const summary = await (await api(`/api/v1/contacts/${id}/summary`)).json();
      if (state.contact?.contact_id !== id) return;
      if (!state.contact.display_name && summary.identifiers.length) $("contact-name").textContent = summary.identifiers[0].display;
      $("identifiers").replaceChildren(...summary.identifiers.map((i) => el("li", {}, badge(i.kind), " ",
        el("span", {className: "id-value", textContent: i.display, title: i.display !== i.value ? i.value : ""}))));
      const seen = [];
      if (summary.first_seen) seen.push(el("dt", {textContent: "First seen"}), el("dd", {}, when(summary.first_seen)));
      if (summary.last_seen) seen.push(el("dt", {textContent: "Last seen"}), el("dd", {}, when(summary.last_seen)));
      $("seen").replaceChildren(...seen);
      $("channels").replaceChildren(...summary.channels.map((c) => el("li", {}, badge(c.channel), " ",
        el("span", {textContent: `${c.interactions} · last `}), when(c.last_at))));
    } catch (e) { /* the contact itself is shown; the summary is extra */ }
  }
  function renderAttributes(attributes) {
    const entries = attributes && typeof attributes === "object" ? Object.entries(attributes) : [];
    $("attributes-box").hidden = !entries.length;
    $("attributes").replaceChildren(...entries.flatMap(([k, v]) => [el("dt", {textContent: k}),
      el("dd", {textContent: typeof v === "string" ? v : JSON.stringify(v)})]));
  }
  async function loadConsent(id) {
    const box = $("consent");
    box.replaceChildren(el("h2", {textContent: "Consent"}), el("p", {className: "muted", textContent: "Nothing recorded."}));
    try {
      const consent = await (await api(`/api/v1/contacts/${id}/consents`)).json();
      const current = Object.entries(consent.current || {});
      if (!current.length) return;
      box.replaceChildren(el("h2", {textContent: "Consent"}),
        el("dl", {className: "facts"}, ...current.flatMap(([purpose, granted]) => [el("dt", {textContent: purpose}),
          el("dd", {textContent: granted ? "granted" : "withheld"})])));
    } catch (e) { /* consent not readable (e.g. not configured): nothing to show */ }
  }
  async function loadSuggestions(id) {
    const box = $("suggestions");
    try {
      const [list, accounts] = await Promise.all([api(`/api/v1/contacts/${id}/suggestions`).then((r) => r.json()), staffAccounts()]);
      if (state.contact?.contact_id !== id) return;
      box.hidden = !list.items.length;
      say("about-hint", list.items.length ? `· ${list.items.length} open suggestion${list.items.length > 1 ? "s" : ""}` : "");
      $("suggestion-list").replaceChildren(...list.items.map((s) => suggestion(s, accounts)));
    } catch (e) { box.hidden = true; }
  }

  function suggestion(s, accounts) {
    const act = (path, field, input, shown) => async (e) => {
      e.preventDefault();
      const value = input.value.trim();
      try {
        await api(`/api/v1/suggestions/${s.suggestion_id}/${path}`, {method: "POST", body: {[field]: value}});
        say("status", path === "assign" ? `Assigned to ${shown ? shown() : value}.` : "Suggestion closed.");
        loadSuggestions(state.contact.contact_id);
      } catch (err) { say("status", `Could not ${path}: ${err.message}`); }
    };
    // With staff accounts, pick one (by account id); without, type who (free text).
    const who = accounts.length
      ? el("select", {required: true, ariaLabel: "Assign to colleague"}, el("option", {value: "", textContent: "Colleague…"}),
        ...accounts.map((a) => el("option", {value: a.id, textContent: a.name, selected: a.id === s.assignee_id})))
      : el("input", {required: true, maxLength: 200, placeholder: "Colleague", ariaLabel: "Assign to colleague"});
    const assignField = accounts.length ? "assignee_id" : "assignee";
    const chosen = () => who.selectedOptions ? who.selectedOptions[0].textContent : who.value.trim();
    const mine = (s.assignee_id || s.assignee) === meId;
    const outcome = el("input", {required: true, maxLength: 2000, placeholder: "What was done", ariaLabel: "Outcome"});
    return el("li", {}, el("strong", {textContent: s.title}), " ", el("span", {className: "reason"}, ...reasonNodes(s)),
      s.assignee ? el("span", {className: "assignee", textContent: mine ? " · assigned to you" : ` · assigned to ${s.assignee}`}) : null,
      el("details", {className: "handle"}, el("summary", {textContent: "Handle"}),
        mine ? null : el("button", {type: "button", textContent: "Assign to me",
          onclick: act("assign", accounts.some((a) => a.id === meId) ? "assignee_id" : "assignee", {value: meId}, () => "you")}),
        el("form", {className: "row", onsubmit: act("assign", assignField, who, chosen)}, who, el("button", {type: "submit", textContent: "Assign"})),
        el("form", {className: "row", onsubmit: act("close", "outcome", outcome)}, outcome, el("button", {type: "submit", textContent: "Close"}))));
  }

  // ---- timeline: filters, infinite scroll, threads ----
  function filterQuery() {
    const params = new URLSearchParams({limit: "30"});
    if ($("f-channel").value) params.append("channel", $("f-channel").value);
    if ($("f-direction").value) params.set("direction", $("f-direction").value);
    if ($("f-q").value.trim()) params.set("q", $("f-q").value.trim());
    return params;
  }
  let filterTimer = 0;
  $("filters").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(reloadTimeline, 250); });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); reloadTimeline(); });
  async function reloadTimeline() {
    state.items = []; state.cursor = null; state.done = false;
    renderTimeline();
    await loadMore();
  }
  async function loadMore() {
    if (!state.contact || state.loading || state.done) return;
    state.loading = true;
    say("more", "Loading…");
    const params = filterQuery();
    if (state.cursor) params.set("cursor", state.cursor);
    const contactId = state.contact.contact_id;
    try {
      const page = await (await api(`/api/v1/contacts/${contactId}/timeline?${params}`)).json();
      if (state.contact.contact_id !== contactId) return;
      add(page.items);
      state.cursor = page.next_cursor; state.done = !page.next_cursor;
      say("more", state.done ? (state.items.length ? "Beginning of the history." : "Nothing here.") : "");
    } catch (e) { say("more", `Could not load the timeline: ${e.message}`); }
    finally { state.loading = false; }
  }
  new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); }).observe($("more"));

  function add(items, fresh = false) {
    const known = new Map(state.items.map((i) => [i.interaction_id, i]));
    for (const item of items) {
      if (fresh) item._fresh = true;
      known.set(item.interaction_id, {...known.get(item.interaction_id), ...item});
    }
    state.items = [...known.values()].sort((a, b) => (a.occurred_at < b.occurred_at ? 1 : -1));
    renderTimeline();
  }
  function threads() {
    const groups = new Map();
    for (const item of state.items) {
      const key = item.thread_key || `single:${item.interaction_id}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(item); // items are newest first, so groups come most recent first
    }
    return [...groups.values()].map((newestFirst) => newestFirst.slice().reverse()); // a conversation reads oldest to newest
  }
  function threadHead(entries) {
    const channels = [...new Set(entries.filter((e) => e.kind !== "note").map((e) => e.channel))];
    const subject = entries.find((e) => e.subject)?.subject;
    const customers = [...new Set(entries.filter((e) => e.direction === "inbound" && e.kind !== "note").map(senderName).filter(Boolean))];
    const talk = entries.filter((e) => CONVERSATIONAL.has(e.kind));
    const last = talk[talk.length - 1];
    const waiting = last?.direction === "inbound" && !last.closing; // a closing "thanks" asks for nothing
    const status = !last ? null : waiting ? "Waiting for our reply" : last.closing ? "Closed by the customer" : "Answered";
    const title = subject || (channels.length ? `${channels.map((c) => LABELS[c] || c).join(", ")} conversation` : "Notes");
    return el("div", {className: "thread-head"},
      el("div", {className: "thread-title"}, ...(channels.length ? channels : ["other"]).map(badge), " ",
        el("h2", {className: "thread-subject", textContent: title})),
      el("div", {className: "thread-facts"},
        customers.length ? el("span", {textContent: `With ${customers.join(", ")}`}) : null,
        el("span", {textContent: `${entries.length} ${entries.length === 1 ? "entry" : "entries"}`}),
        status ? el("span", {className: `state ${waiting ? "waiting" : "answered"}`, textContent: status}) : null));
  }
  function renderTimeline() {
    $("timeline").replaceChildren(...threads().map((entries) => {
      const subject = topic(entries.find((e) => e.subject)?.subject);
      return el("li", {className: "thread"}, threadHead(entries),
        el("ol", {className: "entries"}, ...entries.map((e) => entry(e, subject))));
    }));
  }
  // A subject without its reply and forward prefixes (Re:, Fwd:, RES:, ENC:, RV:), to tell when it changed.
  const topic = (subject) => (subject || "").replace(/^\s*((re|fwd?|res|enc|rv|aw|tr)\s*:\s*)+/i, "").trim();
  function entry(item, threadSubject = "") {
    const side = item.kind === "note" ? "note" : item.direction;
    const who = item.kind === "note" ? `Note${item.metadata?.author ? ` by ${item.metadata.author}` : ""}`
      : item.direction === "inbound" ? (senderName(item) || (item.metadata?.sender_unknown ? "Unknown sender" : "Customer")) : `Us${item.sender?.display_name ? ` · ${item.sender.display_name}` : ""}`;
    const node = el("li", {className: `entry bubble ${side} kind-${item.kind}${item._fresh ? " fresh" : ""}`,
      tabIndex: 0, ariaLabel: `${who}, ${LABELS[item.channel] || item.channel}, ${exactFmt.format(new Date(item.occurred_at))}`});
    node.dataset.id = item.interaction_id;
    const meta = el("div", {className: "meta"}, el("span", {className: "sender", textContent: who}), " ", when(item.occurred_at));
    if (item.delivery_status) meta.append(el("span", {className: "delivery", textContent: item.delivery_status}));
    node.append(meta);
    if (item.subject && topic(item.subject) !== threadSubject) node.append(el("div", {className: "subject", textContent: item.subject}));
    if (item.quoted_text) {
      // A reply: what was written now, the quoted history (and the formatted email) on demand.
      node.append(el("p", {className: "text", textContent: item.text || ""}),
        el("details", {className: "quoted"}, el("summary", {textContent: "Show quoted text"}),
          el("pre", {className: "text", textContent: item.quoted_text})));
      if (item.html) node.append(el("details", {className: "formatted"},
        el("summary", {textContent: "Show formatted email"}), emailFrame(item)));
    } else if (item.html) node.append(emailFrame(item)); else if (item.text) node.append(el("p", {className: "text", textContent: item.text}));
    const repairs = item.metadata?.parse_warnings;
    if (repairs?.length) node.append(el("div", {className: "muted repairs", textContent: `Repaired while reading: ${repairs.join("; ")}`}));
    if (item.call) node.append(el("div", {className: "call", textContent:
      `Call${item.call.status ? ` ${item.call.status}` : ""}${item.call.duration_seconds != null ? ` · ${Math.floor(item.call.duration_seconds / 60)} min ${item.call.duration_seconds % 60} s` : ""}`}));
    // Media: the attachments of the message (thumbnails, players, downloads).
    if (item.attachments?.length) node.append(el("ul", {className: "attachments media"}, ...item.attachments.map((a, n) => attachment(item, a, n))));
    if (item.metadata?.unsupported) node.append(el("p", {className: "unsupported muted", textContent: "Content not supported by the provider"}));
    if (item.location) node.append(place(item.location));
    if (item.contact_cards?.length) node.append(el("ul", {className: "cards"}, ...item.contact_cards.map((c) =>
      el("li", {textContent: `👤 ${[c.name, c.organization, ...(c.phones || []), ...(c.emails || [])].filter(Boolean).join(" · ") || "contact card"}`}))));
    const reactions = Object.entries(item.metadata?.reactions || {}).filter(([, r]) => r?.emoji);
    if (reactions.length) node.append(el("div", {className: "reactions"}, ...reactions.map(([side, r]) =>
      el("span", {className: "reaction", title: side === "us" ? "our reaction" : "customer's reaction", textContent: r.emoji}))));
    const noteButton = el("button", {type: "button", className: "link", textContent: "Add internal note",
      onclick: () => openNote(item.interaction_id, node)});
    node.append(noteButton);
    return node;
  }
  function place(location) {
    // A plain link to a map: nothing is loaded from the map's site until the viewer follows it.
    const {latitude: lat, longitude: lon} = location;
    const label = [location.name, location.address].filter(Boolean).join(", ") || `${lat}, ${lon}`;
    return el("p", {className: "location"}, "📍 ", el("a", {href: `https://www.openstreetmap.org/?mlat=${encodeURIComponent(lat)}&mlon=${encodeURIComponent(lon)}#map=17/${encodeURIComponent(lat)}/${encodeURIComponent(lon)}`,
      target: "_blank", rel: "noopener noreferrer", textContent: label}));
  }
  function emailFrame(item) {
    const base = `/api/v1/interactions/${item.interaction_id}/html`;
    // No allow-scripts, no allow-same-origin: the message runs in an opaque origin with no script.
    const frame = el("iframe", {className: "email", title: item.subject || "Email", src: base, loading: "lazy"});
    frame.setAttribute("sandbox", "");
    frame.setAttribute("referrerpolicy", "no-referrer");
    const images = el("button", {type: "button", className: "link", textContent: "Load images",
      onclick: () => { frame.src = `${base}?images=true`; images.remove(); }});
    return el("div", {className: "email-box"}, frame, images);
  }

  // ---- notes ----
  const noteForm = $("note-form");
  let noteAbout = null;
  $("note-open").addEventListener("click", () => openNote(null, null));
  $("note-cancel").addEventListener("click", closeNote);
  function openNote(about, anchor) {
    noteAbout = about;
    (anchor || $("note-open").parentElement).after(noteForm);
    noteForm.hidden = false; $("note-open").setAttribute("aria-expanded", "true");
    $("note-text").focus();
  }
  function closeNote() { noteForm.hidden = true; $("note-open").setAttribute("aria-expanded", "false"); $("note-text").value = ""; }
  noteForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("note-text").value.trim();
    if (!text || !state.contact) return;
    try {
      await api(`/api/v1/contacts/${state.contact.contact_id}/notes`, {method: "POST",
        body: {note_id: crypto.randomUUID(), text, about: noteAbout}});
      closeNote();
      say("status", "Note saved; it appears in the timeline in a moment.");
    } catch (err) { say("status", `The note was not saved: ${err.message}`); }
  });

  // ---- live ----
  let newestTimer = 0;
  function refreshNewest() {
    clearTimeout(newestTimer);
    newestTimer = setTimeout(async () => {
      const contactId = state.contact?.contact_id;
      if (!contactId) return;
      const params = filterQuery(); params.set("limit", "10");
      try {
        const page = await (await api(`/api/v1/contacts/${contactId}/timeline?${params}`)).json();
        if (state.contact?.contact_id === contactId) add(page.items.map((i) => ({...i, _fresh: state.items.find((k) => k.interaction_id === i.interaction_id)?._fresh})));
      } catch (e) { /* the live copy stays */ }
    }, 300);
  }
  function listen(id) {
    if (state.source) state.source.close();
    state.source = new EventSource(`/api/v1/contacts/${id}/events`);
    const onInteraction = (e) => {
      const event = JSON.parse(e.data);
      const item = event.interaction;
      if (!item || state.contact?.contact_id !== id) return;
      if (item.status) { // a status, an edit or a reaction changes the entry it targets; no entry of its own
        const target = state.items.find((i) => i.interaction_id === item.status.target_interaction_id);
        if (!target) return;
        if (item.kind === "status" && item.status.status) target.delivery_status = item.status.status;
        if (item.kind === "edit") target.text = item.text;
        if (item.kind === "reaction") {
          const side = item.direction === "inbound" ? "customer" : "us";
          target.metadata = {...target.metadata, reactions: {...target.metadata?.reactions, [side]: {emoji: item.text || null, at: item.occurred_at}}};
        }
        renderTimeline();
        return;
      }
      const f = filterQuery();
      if (f.get("channel") && f.get("channel") !== item.channel) return;
      if (f.get("direction") && f.get("direction") !== item.direction) return;
      if (f.get("q")) return; // the server decides full-text matches: reload to see them
      add([{...item, contact_id: id}], true);
      say("status", "New activity.");
      refreshNewest(); // the server's reading of it (sender as people write it, a closing "thanks")
    };
    state.source.addEventListener("interaction.added", onInteraction);
    state.source.addEventListener("interaction.updated", onInteraction);
    state.source.addEventListener("interaction.redacted", onInteraction); // an erased person taken out
    // Connected (first time or again): what was published before the stream followed it came as no event.
    state.source.addEventListener("open", refreshNewest);
  }

  // ---- admin actions: on the page for admins only (the API decides who may, whatever the page shows) ----
  const adminStatus = (text) => say("admin-status", text);
  if (isAdmin) {
  document.querySelectorAll("[data-admin]").forEach((b) => b.addEventListener("click", () => admin(b.dataset.admin)));
  async function admin(action) {
    const id = state.contact?.contact_id;
    if (!id) return;
    try {
      if (action === "merge") { $("merge-box").hidden = false; $("merge-other").focus(); return; }
      if (action === "unmerge") {
        await api(`/api/v1/contacts/${id}/unmerge`, {method: "POST", body: {}});
        adminStatus("Unmerged."); return openContact(id);
      }
      if (action === "export") {
        const blob = await (await api(`/api/v1/contacts/${id}/export`)).blob();
        const link = el("a", {href: URL.createObjectURL(blob), download: `contact-${id}.json`});
        document.body.append(link); link.click(); link.remove();
        adminStatus("Export downloaded."); return;
      }
      if (action === "audit") {
        const page = await (await api(`/api/v1/audit?contact_id=${id}&limit=50`)).json();
        $("audit-box").replaceChildren(...page.items.map((a) => el("li", {textContent:
          `${timeFmt.format(new Date(a.at))} · ${a.actor} (${a.role}, ${a.via}) · ${a.action}`})));
        $("audit-box").hidden = false;
        adminStatus(`${page.items.length} recent accesses.`); return;
      }
      if (action === "erase") {
        if (!confirm("Erase this contact and everything about them? This cannot be undone.")) return;
        await api(`/api/v1/contacts/${id}`, {method: "DELETE"});
        adminStatus("Erased."); $("contact").hidden = true; return;
      }
    } catch (e) { adminStatus(`${action} refused: ${e.message}`); }
  }
  let mergeOther = null;
  $("merge-preview").addEventListener("click", async () => {
    try {
      const other = await (await api(`/api/v1/contacts/${encodeURIComponent($("merge-other").value.trim())}`)).json();
      const ids = new Map([...state.contact.identifiers, ...other.identifiers].map((i) => [`${i.kind}:${i.value}`, i]));
      mergeOther = other;
      $("merge-result").replaceChildren(el("p", {textContent: `Result: ${state.contact.display_name || other.display_name || "(no name)"}, ${ids.size} identifiers:`}),
        el("ul", {}, ...[...ids.values()].map((i) => el("li", {}, badge(i.kind), " ", i.value))));
      $("merge-confirm").disabled = false;
    } catch (e) { adminStatus(`Preview failed: ${e.message}`); }
  });
  $("merge-confirm").addEventListener("click", async () => {
    try {
      await api(`/api/v1/contacts/${state.contact.contact_id}/merge`, {method: "POST", body: {contact_id: mergeOther.contact_id}});
      adminStatus("Merged."); openContact(state.contact.contact_id);
    } catch (e) { adminStatus(`merge refused: ${e.message}`); }
  });
  }

  // ---- start: the contact the address names, else the open work ----
  const fromHash = () => /contact=([0-9a-f-]{36})/.exec(location.hash)?.[1];
  const route = () => { const id = fromHash(); if (id) { if (id !== state.contact?.contact_id) openContact(id); } else showHome(); };
  window.addEventListener("hashchange", route);
  window.addEventListener("popstate", route);
  $("back-home").addEventListener("click", (e) => { e.preventDefault(); history.pushState(null, "", "#"); showHome(); });
  // Wide screens show the sidebar and filters open; on a phone they start collapsed, so the conversation is on the first screen.
  const wide = matchMedia("(min-width: 900px)");
  const openWide = () => document.querySelectorAll("details[data-open-wide]").forEach((d) => { d.open = wide.matches; });
  openWide(); wide.addEventListener("change", openWide);
  route();
  if (search.value) runSearch();
  search.focus();
})();

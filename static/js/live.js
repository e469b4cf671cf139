// Live pages.
(function () {
  "use strict";

  // A message in the page, read out by screen readers: a refused action, access that ended.
  function notify(text) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.querySelector("[data-notice-text]").textContent = text;
    box.hidden = false;
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-notice-close]")) document.getElementById("notice").hidden = true;
  });

  // A refused htmx action (403, 404, 413, 500 ...) says why in the page, not only in the console: the error
  // pages mark their message with data-message.
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    let text = "";
    if ((xhr.getResponseHeader("Content-Type") || "").startsWith("text/html")) {
      const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const found = page.querySelector("[data-message]") || page.querySelector("main h1");
      text = found ? found.textContent.trim() : "";
    } else {
      text = xhr.responseText.trim().slice(0, 300);
    }
    notify(text || `The server refused that (${xhr.status}).`);
  });
  document.addEventListener("htmx:sendError", () => notify("The server could not be reached; try again in a moment."));

  function stopPlaying() {
    document.querySelectorAll("audio, video").forEach((media) => media.pause());
    document.dispatchEvent(new CustomEvent("soundforge:stop"));
  }

  // When the server loses Redis for a moment it closes a page's socket with 4012, "open me again". The htmx
  // ws extension reopens by itself only after 1006, 1011, 1012 and 1013, and a server may not send 1012; so
  // this reopens after 4012, after a short random pause (pages do not all come back at once). The new socket
  // is sent the current fragments, so the page catches up with what it missed. 4404: this person's access to
  // the track ended (a share or link revoked, a link expired, the track deleted); 4401: the session logged
  // out. Neither reopens.
  const ENDED = {
    4404: "Your access to this track ended.",
    4401: "You are logged out: this page no longer updates.",
  };
  document.addEventListener("htmx:wsClose", (event) => {
    const code = event.detail.event.code;
    if (code === 4012) {
      setTimeout(() => event.detail.socketWrapper.reconnect(), 500 + Math.random() * 1500);
    } else if (ENDED[code]) {
      stopPlaying();
      document.querySelector("main").classList.add("ended", "read-only", "no-downloads");
      notify(ENDED[code]);
    }
  });

  // What this person may do changed (a role up or down, a link with downloads gone): fetch the parts of the
  // page that depend on it (views/track.py: track_controls) and swap them in by id.
  async function refreshControls(uuid) {
    const response = await fetch(`/tracks/${uuid}/controls/`, { headers: { "HX-Request": "true" } });
    if (!response.ok) return;
    const parts = document.createElement("template");
    parts.innerHTML = await response.text();
    const where = focusSpot();
    for (const fresh of Array.from(parts.content.children)) {
      const old = fresh.id && document.getElementById(fresh.id);
      if (old) {
        old.replaceWith(fresh);
        htmx.process(fresh);
      }
    }
    const rights = document.querySelector("[data-rights]");
    const main = document.querySelector("main");
    main.classList.toggle("read-only", rights.dataset.canEdit !== "1");
    main.classList.toggle("no-downloads", rights.dataset.canDownload !== "1");
    restoreFocus(where);
  }

  // Focus stays where it was when the part of the page holding it is swapped (a push, an htmx reply, the
  // controls fetched again): the same element by id, else the same control of the same panel (its place
  // among the panel's controls). A new share link takes the focus on purpose.
  const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";
  let spot = null;

  function focusSpot() {
    const active = document.activeElement;
    if (!active || active === document.body) return null;
    if (active.id) return { id: active.id };
    const holder = active.parentElement && active.parentElement.closest("[id]");
    return holder ? { holder: holder.id, index: Array.from(holder.querySelectorAll(FOCUSABLE)).indexOf(active) } : null;
  }

  function restoreFocus(where) {
    const active = document.activeElement;
    if (!where || (active && active !== document.body && active.isConnected)) return;
    let target = where.id ? document.getElementById(where.id) : null;
    const holder = where.holder && document.getElementById(where.holder);
    if (!target && holder) target = holder.querySelectorAll(FOCUSABLE)[where.index] || holder;
    if (!target) return;
    if (!target.matches(FOCUSABLE)) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }

  // A push keeps what a person was choosing: a form field they changed (the render's format, a cue's name
  // being typed) keeps their value when its panel is swapped, unless the server changed what it shows.
  const FIELDS = "form input[name], form select[name], form textarea[name]";

  // A field's state as a string: what the person has in it now, or (``drawn``) what the server rendered.
  function state(field, drawn) {
    if (field.type === "checkbox" || field.type === "radio") return String(drawn ? field.defaultChecked : field.checked);
    if (field.tagName === "SELECT") {
      return Array.from(field.options).filter((o) => (drawn ? o.defaultSelected : o.selected)).map((o) => o.value).join();
    }
    return drawn ? field.defaultValue : field.value;
  }

  function changed(field) {
    return field.type !== "hidden" && state(field, false) !== state(field, true);
  }

  function fieldPlace(field) {
    const holder = field.closest("[id]");
    return holder && { holder: holder.id, index: Array.from(holder.querySelectorAll(FIELDS)).indexOf(field) };
  }

  function unsent() {
    return Array.from(document.querySelectorAll(FIELDS)).filter(changed).map((field) => ({
      place: fieldPlace(field), name: field.name, drawn: state(field, true), value: state(field, false),
    })).filter((kept) => kept.place);
  }

  function keepUnsent(kept) {
    for (const { place, name, drawn, value } of kept) {
      const holder = document.getElementById(place.holder);
      const field = holder && holder.querySelectorAll(FIELDS)[place.index];
      if (!field || field.name !== name || state(field, true) !== drawn) continue;
      if (field.type === "checkbox" || field.type === "radio") field.checked = value === "true"; else field.value = value;
    }
  }

  let kept = [];
  document.addEventListener("htmx:wsBeforeMessage", () => { spot = focusSpot(); kept = unsent(); });
  document.addEventListener("htmx:beforeSwap", () => { spot = focusSpot(); });
  document.addEventListener("htmx:afterSettle", (event) => {
    const link = event.target.querySelector && event.target.querySelector("li.new input[readonly]");
    if (link) link.focus();
    else restoreFocus(spot);
  });

  // The access notice (templates/tracks/access_notice.html), swapped in by id like any push: data-changed
  // says this person's rights changed.
  document.addEventListener("htmx:wsAfterMessage", () => {
    const notice = document.querySelector("[id^='access-'][data-changed]");
    if (notice) {
      delete notice.dataset.changed;
      refreshControls(notice.id.slice("access-".length));
    }
    keepUnsent(kept);
    kept = [];
    restoreFocus(spot);
    carryTitle();
    announceJobs();
  });

  // The track's name, pushed in its title panel, in the tab's title and the player's name too.
  function carryTitle() {
    const panel = document.querySelector("[id^='title-panel-'][data-title]");
    if (!panel || document.title === `${panel.dataset.title} · SoundForge`) return;
    document.title = `${panel.dataset.title} · SoundForge`;
    const player = document.getElementById("player");
    if (player) player.setAttribute("aria-label", `Play ${panel.dataset.title}`);
  }

  // Jobs, told to screen readers (a polite live region): each change of status at once ("Analysis:
  // Succeeded"), a new stage or progress at most every STAGE_EVERY_MS, so a separation's hundred updates
  // are not read out one by one.
  const STAGE_EVERY_MS = 10000;
  const heard = new Map();
  let lastStageAt = 0;

  function announceJobs() {
    const said = [];
    let stageNews = false;
    document.querySelectorAll(".job-panel").forEach((panel) => {
      const name = panel.querySelector("h2") ? panel.querySelector("h2").firstChild.textContent.trim() : "Job";
      const badge = panel.querySelector(".badge");
      const stage = panel.querySelector(".stage");
      const status = badge ? badge.textContent.trim() : "";
      const detail = stage ? stage.textContent.trim() : "";
      const before = heard.get(panel.id) || { status: "", detail: "" };
      if (before.status && status !== before.status) {
        said.push(`${name}: ${status}${detail ? ", " + detail : ""}`);
      } else if (before.status && detail !== before.detail) {
        stageNews = true;
        said.push(`${name}: ${detail}`);
      }
      heard.set(panel.id, { status, detail });
    });
    if (!said.length) return;
    const now = Date.now();
    if (stageNews && said.length === 1 && now - lastStageAt < STAGE_EVERY_MS) return;
    if (stageNews) lastStageAt = now;
    document.getElementById("announcer").textContent = said.join(". ");
  }
  document.addEventListener("DOMContentLoaded", announceJobs);

  // A fold (details[data-fold]: sharing, activity) stays as this browser left it, on every track's page.
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("details[data-fold]").forEach((fold) => {
      const key = `soundforge:fold:${fold.dataset.fold}`;
      try { if (localStorage.getItem(key) === "open") fold.open = true; } catch (error) { /* storage refused */ }
      fold.addEventListener("toggle", () => {
        try { localStorage.setItem(key, fold.open ? "open" : "closed"); } catch (error) { /* storage refused */ }
      });
    });
  });
})();

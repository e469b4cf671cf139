// The library's list is searched, filtered, sorted and paged by the server (tracks/catalog.py): the form
// (#library-filters) asks for the list with htmx as its fields change, and the server swaps it and keeps the
// choice in the address. What stays here: when the socket says the library's version changed
// (#library-changed: a track came or went), fetch the list again as it is shown, as many rows as are loaded.
(function () {
  "use strict";
  const marker = document.getElementById("library-changed");
  if (!marker || !window.htmx) return;
  let shown = marker.dataset.version;

  function refetch() {
    const list = document.getElementById("track-list");
    if (!list) return;
    const rows = Math.max(list.querySelectorAll("#track-rows > .row").length,
                          list.querySelectorAll("#shared-rows > .row").length);
    const query = new URLSearchParams(list.dataset.query || "");
    query.set("shown", String(Math.min(Math.max(rows, 50), 200)));
    htmx.ajax("GET", `${location.pathname}?${query}`, { source: list });
  }

  // The socket swaps the marker in anew (out of band, by id): watch the page for it.
  new MutationObserver(() => {
    const now = document.getElementById("library-changed");
    if (now && now.dataset.version !== shown) {
      shown = now.dataset.version;
      refetch();
    }
  }).observe(document.querySelector("main"), { childList: true, subtree: true });
})();

// Choosing songs to act on at once (#bulk-form, views/library.py: library_bulk). The choice is kept here, not
// in the checkboxes: rows are swapped as their jobs move and the list is fetched again as the library
// changes, and each new row is ticked again from it. Shift-click ticks a range; "Choose all N matching"
// sends the list's search and filters instead of the rows, so songs not loaded yet are chosen too.
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const chosen = new Set();
  let everything = false;
  let everythingQuery = null;
  let last = null;
  const count = form.querySelector("[data-bulk-count]");
  const chooseAll = form.querySelector("[data-choose-all]");
  const result = () => document.getElementById("bulk-result");
  const boxes = () => Array.from(document.querySelectorAll("#track-list .pick input[name=track]"));
  const list = () => document.getElementById("track-list");

  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function show() {
    const total = Number((list() && list().dataset.total) || 0);
    const n = everything ? total : chosen.size;
    form.hidden = n === 0;
    // Text set only when it differs: setting it is a change the observer below would see again.
    setText(count, everything ? `All ${total} matching songs chosen` : `${n} song${n === 1 ? "" : "s"} chosen`);
    chooseAll.hidden = everything || total <= n;
    setText(chooseAll.querySelector("[data-total]"), String(total));
    for (const box of boxes()) {
      box.checked = everything || chosen.has(box.value);
      box.closest(".row").classList.toggle("chosen", box.checked);
    }
  }

  document.addEventListener("click", (event) => {
    const box = event.target.closest && event.target.closest("#track-list .pick input[name=track]");
    if (!box) return;
    const all = boxes();
    if (everything) {  // unticking one of all: the rows shown, less that one
      everything = false;
      all.forEach((b) => chosen.add(b.value));
    }
    const range = event.shiftKey && last && all.includes(last)
      ? all.slice(Math.min(all.indexOf(last), all.indexOf(box)), Math.max(all.indexOf(last), all.indexOf(box)) + 1)
      : [box];
    for (const b of range) box.checked ? chosen.add(b.value) : chosen.delete(b.value);
    last = box;
    show();
  });
  chooseAll.addEventListener("click", () => {
    everything = true;
    everythingQuery = list() ? list().dataset.query || "" : "";
    show();
  });
  form.querySelector("[data-choose-none]").addEventListener("click", () => {
    everything = false;
    chosen.clear();
    show();
  });

  // Rows swapped or the list fetched again: tick what is chosen; a new search ends "all matching".
  new MutationObserver(() => {
    if (everything && list() && (list().dataset.query || "") !== everythingQuery) everything = false;
    show();
  }).observe(document.querySelector("main"), { childList: true, subtree: true });

  form.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (!button) return;
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    form.querySelector("input[name=all]").value = everything ? "1" : "";
    form.querySelector("input[name=query]").value = everything ? everythingQuery : "";
    const extra = form.querySelector("[data-extra]");
    extra.replaceChildren();
    const ticked = new Set(boxes().filter((b) => b.checked).map((b) => b.value));
    for (const uuid of everything ? [] : chosen) {  // chosen, but not among the rows shown now
      if (ticked.has(uuid)) continue;
      const input = document.createElement("input");
      Object.assign(input, { type: "hidden", name: "track", value: uuid });
      extra.append(input);
    }
    if (button.hasAttribute("data-download")) return;  // a file: the browser saves it, the page stays
    event.preventDefault();
    const body = new FormData(form, button);
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    // Not form.action: the buttons named "action" shadow that property.
    fetch(form.getAttribute("action"), { method: "POST", body, headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then((response) => response.text())
      .then((html) => {
        result().outerHTML = html;
        if (button.value === "delete") {
          everything = false;
          chosen.clear();
        }
      })
      .catch(() => { result().textContent = "Could not reach the server; nothing was done."; })
      .finally(() => {
        form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
        show();
      });
  });
  show();
})();

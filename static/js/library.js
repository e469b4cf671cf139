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

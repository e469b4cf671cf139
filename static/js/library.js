// Sort and filter the library by title, date, BPM and key (Camelot order, as DJs mix), in the page: rows
// carry their figures as data attributes, so rows the server pushes live are sorted and filtered as they
// arrive. The choice is kept in the address (?sort=bpm&key=A+minor&bpm_min=90&bpm_max=130).
(function () {
  "use strict";
  const list = document.getElementById("track-list");
  if (!list) return;
  const controls = {
    sort: document.getElementById("library-sort"),
    key: document.getElementById("library-key"),
    bpm_min: document.getElementById("library-bpm-min"),
    bpm_max: document.getElementById("library-bpm-max"),
  };
  let applying = false;

  function camelotRank(code) {
    const match = /^(\d+)([AB])$/.exec(code || "");
    return match ? parseInt(match[1], 10) * 2 + (match[2] === "B" ? 1 : 0) : Infinity;
  }

  const orders = {
    new: (a, b) => (b.dataset.created || "").localeCompare(a.dataset.created || ""),
    title: (a, b) => (a.dataset.title || "").localeCompare(b.dataset.title || ""),
    bpm: (a, b) => (parseFloat(a.dataset.bpm) || Infinity) - (parseFloat(b.dataset.bpm) || Infinity),
    key: (a, b) => camelotRank(a.dataset.camelot) - camelotRank(b.dataset.camelot),
  };

  function keyOptions(rows) {
    const keys = Array.from(new Set(rows.map((r) => r.dataset.key).filter(Boolean)));
    keys.sort((a, b) => {
      const ra = rows.find((r) => r.dataset.key === a), rb = rows.find((r) => r.dataset.key === b);
      return camelotRank(ra.dataset.camelot) - camelotRank(rb.dataset.camelot);
    });
    const chosen = controls.key.value;
    controls.key.replaceChildren(new Option("any", ""), ...keys.map((k) => {
      const row = rows.find((r) => r.dataset.key === k);
      return new Option(`${k} (${row.dataset.camelot})`, k);
    }));
    if (chosen && !keys.includes(chosen)) controls.key.append(new Option(chosen, chosen));
    controls.key.value = chosen;
  }

  function apply() {
    if (applying) return;
    applying = true;
    const rows = Array.from(document.querySelectorAll("#track-list .row"));
    keyOptions(rows);
    const min = parseFloat(controls.bpm_min.value), max = parseFloat(controls.bpm_max.value);
    for (const row of rows) {
      const bpm = parseFloat(row.dataset.bpm);
      const visible = (!controls.key.value || row.dataset.key === controls.key.value)
        && (isNaN(min) || bpm >= min) && (isNaN(max) || bpm <= max);
      row.hidden = !visible;
    }
    document.querySelectorAll("#track-list .rows").forEach((container) => {
      const sorted = Array.from(container.children).sort(orders[controls.sort.value] || orders.new);
      sorted.forEach((row) => container.appendChild(row));
    });
    const query = new URLSearchParams();
    for (const [name, control] of Object.entries(controls)) {
      if (control.value && !(name === "sort" && control.value === "new")) query.set(name, control.value);
    }
    history.replaceState(null, "", query.toString() ? `?${query}` : location.pathname);
    // Let the mutations this caused pass before listening again.
    setTimeout(() => { applying = false; }, 0);
  }

  const initial = new URLSearchParams(location.search);
  for (const [name, control] of Object.entries(controls)) {
    if (!initial.has(name)) continue;
    if (name === "key") control.append(new Option(initial.get(name), initial.get(name)));
    control.value = initial.get(name);
  }
  Object.values(controls).forEach((control) => control.addEventListener("input", apply));
  // Rows pushed by the server or inserted by an upload are sorted and filtered as they arrive.
  new MutationObserver(apply).observe(document.querySelector("main"), { childList: true, subtree: true });
  apply();
})();

// A crate's page: its songs move by dragging or with their Move buttons (the keyboard's way; without this
// script each posts the order it makes), the new order kept on the server at once (every entry once, as
// JSON); "Play in order" plays the songs one after the other, each at the speed agreed for it. A viewer's page
// has no order to keep (no data-order-url) and no Move buttons.
(function () {
  "use strict";
  const crate = document.getElementById("crate");
  const list = crate && crate.querySelector("ol.entries");
  if (!list) return;
  const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  const editable = !!crate.dataset.orderUrl;

  function entries() { return Array.from(list.querySelectorAll("li.entry")); }

  function renumber() {
    entries().forEach((li, n, all) => {
      li.querySelector(".place").textContent = String(n + 1);
      li.querySelector('[data-move="-1"]').disabled = n === 0;
      li.querySelector('[data-move="1"]').disabled = n === all.length - 1;
    });
  }

  function save() {
    renumber();
    const order = entries().map((li) => Number(li.dataset.entry));
    fetch(crate.dataset.orderUrl, { method: "POST", credentials: "same-origin", body: JSON.stringify(order),
                                    headers: { ...headers, "Content-Type": "application/json" } })
      .then((response) => { if (!response.ok) location.reload(); }, () => location.reload());
  }

  // Keyboard and touch: the Move buttons.
  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-move]");
    if (!button || !editable) return;
    event.preventDefault();
    const li = button.closest("li.entry");
    const other = button.dataset.move === "-1" ? li.previousElementSibling : li.nextElementSibling;
    if (!other) return;
    if (button.dataset.move === "-1") list.insertBefore(li, other); else list.insertBefore(other, li);
    save();
    button.disabled ? li.querySelector("[data-move]:not(:disabled)")?.focus() : button.focus();
  });

  // Pointers: drag a song to its new place.
  let dragged = null;
  list.addEventListener("dragstart", (event) => {
    dragged = editable ? event.target.closest("li.entry") : null;
    if (dragged) { dragged.classList.add("dragging"); event.dataTransfer.effectAllowed = "move"; }
  });
  list.addEventListener("dragover", (event) => {
    if (!dragged) return;
    event.preventDefault();
    const over = event.target.closest("li.entry");
    if (!over || over === dragged) return;
    const box = over.getBoundingClientRect();
    list.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? over.nextElementSibling : over);
  });
  list.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged = null;
    save();
  });

  // Play in order: each song's original (or, for the crate's owner, what its page plays) after the other.
  const play = crate.querySelector("[data-play-all]");
  const line = crate.querySelector("[data-player]");
  if (!play || !line) return;
  const audio = line.querySelector("audio");
  let at = -1;
  function next(n) {
    const songs = entries();
    if (n >= songs.length) { line.querySelector("[data-now]").textContent = "The end."; at = -1; return; }
    at = n;
    songs.forEach((li, i) => li.classList.toggle("playing", i === n));
    line.querySelector("[data-now]").textContent = `${n + 1}. ${songs[n].dataset.title}`;
    const rate = Number(songs[n].dataset.rate) || 1;  // the speed agreed for it
    audio.defaultPlaybackRate = rate;  // what a new source starts at
    audio.src = songs[n].dataset.src;
    audio.preservesPitch = true;
    audio.playbackRate = rate;
    audio.play().catch(() => {});
  }
  play.addEventListener("click", () => { line.hidden = false; next(0); });
  audio.addEventListener("ended", () => { if (at >= 0) next(at + 1); });
})();

// Chords and sections follow the playhead: the chord sounding now (large), the next one, the section and the
// bar, from the analysis the follow panel carries (its JSON, swapped live with the panel). The position is
// the mixer's while it plays or waits, else the song player's. The chords read as the mixer's transpose makes
// them sound, and say so; the chord chart's link opens it transposed alike. Also the chart's Print button.
(function () {
  "use strict";

  let source = null;  // the JSON element last read, and what it said
  let data = null;
  const shown = {};
  let chartShift = null;  // the transpose the note and the chart link say

  function read() {
    const element = document.getElementById("follow-data");
    if (element !== source) {
      source = element;
      data = element ? JSON.parse(element.textContent) : null;
      for (const key in shown) delete shown[key];
      chartShift = null;  // a new panel: its note and link as the server drew them
    }
    return data;
  }

  function position() {
    const mixer = window.SoundForgeMixer;
    if (mixer) {
      for (const engine of mixer.engines.values()) {
        if (engine.playing || engine.waiting || engine.offset > 0) return engine.position();
      }
    }
    const player = document.getElementById("player");
    return player ? player.currentTime : 0;
  }

  // The last entry of rows (sorted by their first value) that starts at or before t; -1 before the first.
  function at(rows, t) {
    let lo = 0, hi = rows.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (rows[mid][0] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  }

  function set(name, text) {
    if (shown[name] === text) return;
    shown[name] = text;
    const element = document.querySelector("[data-follow] [data-" + name + "]");
    if (element) element.textContent = text;
  }

  // The mixer's transpose (semitones): the chords read as they sound, and the chart opens transposed too.
  function semitones() {
    const mixer = window.SoundForgeMixer;
    if (mixer) for (const engine of mixer.engines.values()) return engine.semitones || 0;
    return 0;
  }

  const ROOTS = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

  // A chord as the page spells it (charts.py: "F#m", "G7", "N.C.") moved by some semitones.
  function transpose(text, shift) {
    const found = /^([A-G]#?)(.*)$/.exec(text);
    if (!shift || !found || ROOTS.indexOf(found[1]) < 0) return text;
    return ROOTS[(((ROOTS.indexOf(found[1]) + shift) % 12) + 12) % 12] + found[2];
  }

  function showShift(shift) {
    if (shift === chartShift) return;
    chartShift = shift;
    const note = document.querySelector("[data-follow] [data-transposed]");
    if (note) {
      note.hidden = !shift;
      note.textContent = shift ? `(transposed ${shift > 0 ? "+" : "\u2212"}${Math.abs(shift)})` : "";
    }
    const link = document.querySelector("[data-follow] [data-chart-link]");
    if (link) {
      const url = new URL(link.href, location.href);
      if (shift) url.searchParams.set("transpose", String(shift)); else url.searchParams.delete("transpose");
      link.href = url.pathname + url.search;
    }
  }

  function frame() {
    const follow = read();
    if (follow) {
      const shift = semitones();
      showShift(shift);
      const t = position();
      const i = Math.max(0, at(follow.chords, t));
      const now = follow.chords[i] ? transpose(follow.chords[i][2], shift) : "–";
      let next = "–";
      for (let j = i + 1; j < follow.chords.length; j++) {
        const name = transpose(follow.chords[j][2], shift);
        if (name !== now) { next = name; break; }
      }
      const bar = at(follow.bars, t);
      const section = at(follow.sections, t);
      set("now-chord", now);
      set("next-chord", next);
      set("now-bar", bar >= 0 ? String(follow.bars[bar][1]) : "–");
      set("now-section", section >= 0 && t < follow.sections[section][1] ? follow.sections[section][2] || "–" : "–");
    }
    requestAnimationFrame(frame);
  }

  // How tall the sticky chords are, for what stays in view under them (the mixer's transport, app.css).
  const resized = window.ResizeObserver ? new ResizeObserver(() => measure()) : null;
  let measured = null;

  function measure() {
    const panel = document.querySelector(".follow-panel");
    if (resized && panel !== measured) {  // a push swapped the panel for a new one
      if (measured) resized.unobserve(measured);
      if (panel) resized.observe(panel);
      measured = panel;
    }
    const height = panel ? panel.getBoundingClientRect().height : 0;
    document.documentElement.style.setProperty("--follow-height", `${Math.round(height)}px`);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.addEventListener("htmx:wsAfterMessage", measure);
    measure();
    document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
    requestAnimationFrame(frame);
  });
  // For the mixer and the timeline: where the song is, its sections, the transpose and a chord moved by it.
  window.SoundForgeFollow = { position, at, semitones, transpose, sections: () => (read() || { sections: [] }).sections };
})();

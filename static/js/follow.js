// Chords and sections follow the playhead: the chord sounding now (large), the next one, the section and the
// bar, from the analysis the follow panel carries (its JSON, swapped live with the panel). The position is
// the mixer's while it plays or waits, else the song player's. Also the chord chart's Print button.
(function () {
  "use strict";

  let source = null;  // the JSON element last read, and what it said
  let data = null;
  const shown = {};

  function read() {
    const element = document.getElementById("follow-data");
    if (element !== source) {
      source = element;
      data = element ? JSON.parse(element.textContent) : null;
      for (const key in shown) delete shown[key];
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

  function frame() {
    const follow = read();
    if (follow) {
      const t = position();
      const i = Math.max(0, at(follow.chords, t));
      const now = follow.chords[i] ? follow.chords[i][2] : "–";
      let next = "–";
      for (let j = i + 1; j < follow.chords.length; j++) {
        if (follow.chords[j][2] !== now) { next = follow.chords[j][2]; break; }
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

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
    requestAnimationFrame(frame);
  });
  window.SoundForgeFollow = { position, sections: () => (read() || { sections: [] }).sections };
})();

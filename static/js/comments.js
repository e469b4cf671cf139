// Timed comments and cues: a moment picked on the timeline (static/js/timeline.js) or the comments' or cues'
// own lane is the one the next comment or cue is pinned to, and a comment's or cue's time seeks the player and
// the stem mixer there.
(function () {
  "use strict";

  function duration() {
    const panel = document.querySelector(".comments[data-duration]");
    return panel ? parseFloat(panel.dataset.duration) : 0;
  }

  // The moment goes to the comment box and to the new cue's time.
  function pick(seconds) {
    const at = Math.max(0, Math.min(duration(), seconds));
    const input = document.querySelector("[data-comment-at]");
    if (input) input.value = at.toFixed(1);
    const cue = document.querySelector("[data-cue-at]");
    if (cue) cue.value = at.toFixed(2);
  }

  document.addEventListener("click", (event) => {
    const wave = event.target.closest(".chart.timeline");
    if (wave && !event.target.closest("a")) {
      const box = wave.getBoundingClientRect();
      pick(((event.clientX - box.left) / box.width) * duration());
    }
    const seek = event.target.closest("[data-seek-to]");
    if (seek) {
      const at = parseFloat(seek.dataset.seekTo);
      const audio = document.querySelector("audio");
      if (audio) audio.currentTime = at;
      const mixers = window.SoundForgeMixer ? Array.from(window.SoundForgeMixer.engines.values()) : [];
      mixers.forEach((engine) => engine.seek(at));
      pick(at);
    }
  });

  // A comment that went through leaves an empty box for the next (in a script: the page's CSP allows no eval).
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.target.closest && event.target.closest(".comment-form");
    if (form && event.detail.successful) form.querySelector("textarea").value = "";
  });

  document.addEventListener("soundforge:pick", (event) => pick(event.detail.at));

  // Pausing the player also picks its position.
  document.addEventListener("pause", (event) => {
    if (event.target.matches && event.target.matches("audio")) pick(event.target.currentTime);
  }, true);
})();

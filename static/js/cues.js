// Cue points on every waveform of the track page (the analysis picture and each stem's): a line in the cue's
// colour at its time, drawn again whenever the cues panel or a waveform arrives (a push, a swap).
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";

  function draw() {
    const panel = document.querySelector(".cues[data-duration]");
    const duration = panel ? parseFloat(panel.dataset.duration) : 0;
    if (!duration) return;
    const cues = Array.from(panel.querySelectorAll("[data-cue-time]")).map((item) => ({
      at: parseFloat(item.dataset.cueTime), colour: item.dataset.cueColour,
    }));
    document.querySelectorAll(".chart.wave, .stem-wave").forEach((svg) => {
      svg.querySelectorAll(".cue-line").forEach((line) => line.remove());
      const box = svg.viewBox.baseVal;
      if (!box || !box.width) return;
      for (const cue of cues) {
        const x = box.x + (cue.at / duration) * box.width;
        const line = document.createElementNS(SVG, "line");
        line.setAttribute("class", "cue-line");
        line.setAttribute("x1", x); line.setAttribute("x2", x);
        line.setAttribute("y1", box.y); line.setAttribute("y2", box.y + box.height);
        line.style.stroke = cue.colour;
        svg.appendChild(line);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:load", draw);
})();

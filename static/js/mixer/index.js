// The stem mixer on the track page: one engine per separation (engine.js), its panel's controls
// (controls.js), bound again whenever a push swaps the panel, so the music keeps playing and the controls
// show where they were. A page's scripts reach the engines through window.SoundForgeMixer.
import { controls } from "./controls.js";
import { Engine } from "./engine.js";
import { agree } from "./practice.js";

Object.assign(Engine.prototype, controls);
const engines = new Map();

function bindAll(scope) {
  const roots = scope.matches && scope.matches("[data-mixer]") ? [scope] : scope.querySelectorAll("[data-mixer]");
  roots.forEach((root) => {
    if (root.dataset.bound) return;
    root.dataset.bound = "1";
    let engine = engines.get(root.id);
    if (!engine) { engine = new Engine(root); engines.set(root.id, engine); }
    engine.bind(root);
  });
  // A mixer no longer on the page (a newer separation replaced it) stops playing.
  for (const [id, engine] of engines) {
    if (!document.getElementById(id)) {
      engine.pause();
      if (engine.ctx) engine.ctx.close();
      engines.delete(id);
    }
  }
}

document.addEventListener("keydown", (event) => {
  const root = document.querySelector("[data-mixer]");
  const engine = root && engines.get(root.id);
  if (engine) engine.key(event);
});
document.addEventListener("htmx:load", (event) => bindAll(event.detail.elt));
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-agree]");
  if (!button) return;
  const root = document.querySelector("[data-mixer]");
  agree(root && engines.get(root.id), button);
});
// Access to the track ended (static/js/live.js): silence.
document.addEventListener("soundforge:stop", () => engines.forEach((engine) => engine.pause()));
document.addEventListener("DOMContentLoaded", () => bindAll(document));
window.SoundForgeMixer = { engines };

// The mixer's panel: its controls bound to the engine (the page's markup may be swapped by a push at any
// time: a fresh panel is bound again and shows where the engine is), and what it shows of the engine.
import { sections } from "./engine.js";
import { remember } from "./practice.js";
import { clock, decibels, megabytes, panned } from "./words.js";

export const controls = {
  showProgress() {
    const audio = this.audioStems();
    const received = audio.reduce((n, s) => n + s.received, 0);
    const total = audio.reduce((n, s) => n + s.total, 0);
    const whole = audio.every((s) => s.full);
    const bar = this.root && this.root.querySelector("[data-mixer-progress]");
    if (bar) {
      bar.hidden = whole;
      bar.value = total ? received / total : 0;
    }
    if (whole) { this.status(this.waiting ? "Loading…" : ""); return; }
    const what = this.lossless ? "lossless stems" : "stems";
    this.status(total ? `Loading ${what}: ${Math.floor((100 * received) / total)} % of ${megabytes(total)}`
      + (this.playing ? " (playing from what has arrived)" : "") : `Loading ${what}…`);
  },

  status(text) {
    const line = this.root && this.root.querySelector("[data-mixer-status]");
    if (line) line.textContent = text || line.dataset.help;
  },

  renderPosition() {
    if (!this.root) return;
    const at = this.position();
    const time = this.root.querySelector("[data-time]");
    if (time) time.textContent = clock(at);
    const seek = this.root.querySelector("[data-seek]");
    if (seek && document.activeElement !== seek) seek.value = at;
  },

  render() {
    if (!this.root) return;
    const play = this.root.querySelector('[data-action="play"]');
    if (play) play.textContent = this.playing || this.waiting ? "Pause" : "Play";
    for (const stem of this.stems) {
      const strip = this.root.querySelector('[data-stem="' + CSS.escape(stem.name) + '"]');
      if (!strip) continue;
      strip.querySelector('[data-action="mute"]').setAttribute("aria-pressed", String(stem.mute));
      strip.querySelector('[data-action="solo"]').setAttribute("aria-pressed", String(stem.solo));
      const gain = strip.querySelector("[data-gain]");
      gain.value = stem.gain;
      gain.setAttribute("aria-valuetext", decibels(stem.gain));
      const pan = strip.querySelector("[data-pan]");
      pan.value = stem.pan;
      pan.setAttribute("aria-valuetext", panned(stem.pan));
      strip.classList.toggle("silent", !this.audible(stem));
    }
    const clickOn = this.root.querySelector("[data-click-on]");
    if (clickOn && this.click) clickOn.checked = this.audible(this.click);
    const download = this.root.querySelector("[data-mix-download]");
    if (download) download.href = this.mixHref();
    this.renderLoop();
    this.renderTempo();
    this.renderPosition();
    remember(this);
  },

  // "124 → 99 BPM, A minor → G minor": what the song has become.
  renderTempo() {
    if (!this.root) return;
    const { rate, semitones: shift } = this.pendingTempo || this;  // a change waiting for the stretcher shows
    const percent = Math.round(rate * 100);
    const slider = this.root.querySelector("[data-rate]");
    if (slider) { slider.value = percent; slider.setAttribute("aria-valuetext", percent + " %"); }
    const output = this.root.querySelector("[data-rate-text]");
    if (output) output.textContent = percent + " %";
    const semitones = this.root.querySelector("[data-semitones]");
    if (semitones && document.activeElement !== semitones) semitones.value = shift;
    const reset = this.root.querySelector('[data-action="tempo-reset"]');
    if (reset) reset.hidden = rate === 1 && shift === 0;
    const parts = [];
    if (this.tempo && rate !== 1) {
      parts.push(`${Math.round(this.tempo)} \u2192 ${Math.round(this.tempo * rate)} BPM`);
    }
    if (this.keys.length === 25 && shift) parts.push(`${this.keys[12]} \u2192 ${this.keys[12 + shift]}`);
    else if (shift) parts.push(`${shift > 0 ? "+" : "\u2212"}${Math.abs(shift)} semitones`);
    // As recorded: what the song is ("100 BPM, A minor"), where the analysis knows it.
    if (!parts.length && this.tempo) parts.push(`${Math.round(this.tempo)} BPM`);
    if (!shift && this.keys.length === 25) parts.push(this.keys[12]);
    const text = this.root.querySelector("[data-tempo-text]");
    if (text) text.textContent = parts.join(", ");
    remember(this);
  },

  // Keyboard: space play/pause, arrows seek 5 s, digits mute (with Shift: solo) stem n, 0 resets. Space on
  // a focused button presses that button (mute, solo, play), as buttons do everywhere else.
  key(event) {
    const target = event.target;
    if (target.matches("input[type=text], input[type=email], input[type=number], textarea, select, button, a")) return;
    if (target.closest("form") && !target.closest("[data-mixer]")) return;
    const digit = /^Digit([0-9])$/.exec(event.code);
    if (event.code === "Space") {
      event.preventDefault();
      this.playing || this.waiting ? this.pause() : this.start();
    } else if ((event.code === "ArrowLeft" || event.code === "ArrowRight") && !target.matches("input[type=range]")) {
      event.preventDefault();
      this.seek(this.position() + (event.code === "ArrowLeft" ? -5 : 5));
    } else if (digit && digit[1] === "0") {
      this.stems.forEach((s) => { s.mute = !!s.beats; s.solo = false; s.gain = s.beats ? 0.6 : 1; s.pan = 0; });
      this.apply();
    } else if (digit) {
      const stem = this.stems[parseInt(digit[1], 10) - 1];
      if (!stem) return;
      if (event.shiftKey) stem.solo = !stem.solo; else stem.mute = !stem.mute;
      this.apply();
    }
  },

  // The loop in words beside the transport (the timeline draws it), its bars ready to export.
  renderLoop(loop = this.loop) {
    if (!this.root) return;
    const text = this.root.querySelector("[data-loop-text]");
    if (text) text.textContent = loop ? `Looping ${clock(loop.start)}\u2013${clock(loop.end)}` : "";
    const clear = this.root.querySelector('[data-action="loop-clear"]');
    if (clear) clear.hidden = !loop;
    const choice = this.root.querySelector("[data-loop-section]");
    if (choice && !loop) choice.value = "";
    // The loop's bars, ready to export.
    const first = this.root.querySelector("[data-export-first]");
    if (loop && first && this.click) {
      const downbeats = [...this.click.downbeats].sort((a, b) => a - b);
      const bar = Math.max(1, downbeats.filter((d) => d <= loop.start + 0.001).length);
      first.value = bar;
      this.root.querySelector("[data-export-last]").value = Math.max(bar, downbeats.filter((d) => d < loop.end - 0.001).length);
    }
  },

  // A control of the mixer's (a select or a checkbox): shows the engine's setting, changes it.
  bindSetting(root, selector, property, value, change) {
    const control = root.querySelector(selector);
    if (!control) return;
    control[property] = value;
    control.addEventListener("change", (e) => change(e.target[property]));
  },

  bind(root) {
    this.root = root;
    // The newest analysis's BPM and key at -12 to +12 semitones, to say what they become.
    this.tempo = parseFloat(root.dataset.tempo) || 0;
    this.keys = root.dataset.keys ? root.dataset.keys.split(",") : [];
    this.syncClick(root);
    const line = root.querySelector("[data-mixer-status]");
    if (line) line.dataset.help = line.textContent;
    root.querySelector('[data-action="play"]').addEventListener("click", () => {
      this.playing || this.waiting ? this.pause() : this.start();
    });
    root.querySelector("[data-seek]").addEventListener("input", (e) => this.seek(parseFloat(e.target.value)));
    this.bindSetting(root, "[data-snap]", "value", this.snap, (value) => { this.snap = value; });
    const choice = root.querySelector("[data-loop-section]");
    if (choice) {
      for (const [start, end, title] of sections()) {
        choice.add(new Option(`${title || "section"} (${clock(start)}\u2013${clock(end)})`, `${start},${end}`));
      }
      if (this.loop) choice.value = `${this.loop.start},${this.loop.end}`;  // a swapped panel shows the loop's section
      if (choice.selectedIndex < 0) choice.value = "";
      choice.addEventListener("change", (e) => {
        const [start, end] = e.target.value.split(",").map(parseFloat);
        if (e.target.value) this.setLoop(start, end); else this.setLoop(0, 0);
      });
    }
    const clear = root.querySelector('[data-action="loop-clear"]');
    if (clear) clear.addEventListener("click", () => this.setLoop(0, 0));
    this.bindSetting(root, "[data-count-in]", "checked", this.countIn, (on) => { this.countIn = on; remember(this); });
    this.bindSetting(root, "[data-click-on]", "checked", !!this.click && this.audible(this.click), (on) => {
      this.click.mute = !on;
      this.click.solo = false;
      this.apply();
    });
    this.bindSetting(root, "[data-lossless]", "checked", this.lossless, (on) => this.setLossless(on));
    const rate = root.querySelector("[data-rate]");
    if (rate) rate.addEventListener("input", (e) => this.setTempo(parseInt(e.target.value, 10) / 100, this.semitones));
    const semitones = root.querySelector("[data-semitones]");
    if (semitones) semitones.addEventListener("input", (e) => {
      if (e.target.value !== "" && e.target.value !== "-") this.setTempo(this.rate, parseInt(e.target.value, 10));
    });
    // A hand or the focus on speed or transpose: a change is coming, the stretcher gets ready for it.
    for (const control of [rate, semitones]) {
      for (const type of ["pointerenter", "focus", "touchstart"]) {
        if (control) control.addEventListener(type, () => this.prepareStretch(), { passive: true });
      }
    }
    // An exported mix sounds as the mixer does: its levels go with the form.
    const exporter = root.querySelector("[data-loop-export]");
    if (exporter) exporter.addEventListener("formdata", (e) => {
      if (e.formData.get("what") !== "mix") return;
      for (const [name, value] of new URLSearchParams(this.mixHref().split("?")[1])) e.formData.set(name, value);
    });
    // A render is the mix as it plays: levels, speed and pitch, and the loop if one is set.
    const render = root.querySelector("[data-render-form]");
    if (render) render.addEventListener("formdata", (e) => {
      for (const [name, value] of new URLSearchParams(this.mixHref().split("?")[1])) e.formData.set(name, value);
      e.formData.set("rate", this.rate.toFixed(2));
      e.formData.set("semitones", String(this.semitones));
      if (this.loop) { e.formData.set("start", this.loop.start.toFixed(3)); e.formData.set("end", this.loop.end.toFixed(3)); }
    });
    const reset = root.querySelector('[data-action="tempo-reset"]');
    if (reset) reset.addEventListener("click", () => this.setTempo(1, 0));
    for (const stem of this.stems) {
      const strip = root.querySelector('[data-stem="' + CSS.escape(stem.name) + '"]');
      if (!strip) continue;
      strip.querySelector('[data-action="mute"]').addEventListener("click", () => { stem.mute = !stem.mute; this.apply(); });
      strip.querySelector('[data-action="solo"]').addEventListener("click", () => { stem.solo = !stem.solo; this.apply(); });
      strip.querySelector("[data-gain]").addEventListener("input", (e) => { stem.gain = parseFloat(e.target.value); this.apply(); });
      strip.querySelector("[data-pan]").addEventListener("input", (e) => { stem.pan = parseFloat(e.target.value); this.apply(); });
    }
    this.render();
  },
};

// The song on one time axis, as a DAW's arrangement view shows it: bar numbers, sections as labelled blocks,
// the chords in bar boxes, the waveform with its beat grid, cues and comment markers, then a lane per stem
// (its waveform, its notes once transcribed), with the loop and the playhead across them all. It zooms (the
// buttons, Ctrl/⌘+wheel, a pinch; from the whole song down to two bars) and scrolls (the wheel sideways,
// its slider); a click seeks, a drag loops (snapped as the mixer's "Snap to" says), keys do both.
//
// Drawn on a canvas from what the page carries: the analysis panel's JSON (#timeline-data), the stems
// panel's lanes (#lanes-data), the cues' and comments' lists; drawn again when a push swaps any of them.
// The view (where and how far it is zoomed) outlives a swap. Playback is the mixer's (static/js/mixer/)
// where the song has stems, else the song player's.
import { medianGap } from "./mixer/click.js";
import { clock } from "./mixer/words.js";

const ROWS = { ruler: 15, sections: 22, chords: 26, wave: 54, lane: 30 };
const MIN_LINE_PX = 6;  // beat and bar lines no closer than this
const MIN_BARS = 2;     // the closest zoom
const DRAG_PX = 6;      // a pointer moved less than this clicked
const SECTION_COLOURS = ["#5aa9ff", "#e8c35a", "#7ed39b", "#b07cff", "#ff8a65", "#4dd0e1"];
const FONT = "12px system-ui, sans-serif";

const state = { view: null };  // the view outlives a swapped panel (one track a page)
let t = null;  // the timeline on the page: its elements, its data, what was drawn

function follow() {
  return window.SoundForgeFollow;
}

function engine() {
  const mixer = window.SoundForgeMixer;
  return mixer ? mixer.engines.values().next().value || null : null;
}

function position() {
  return follow() ? follow().position() : 0;
}

// A JSON element's data, read once per element (a push of any panel binds again; only a swapped element is
// read again).
const parsed = new WeakMap();

function json(id) {
  const element = document.getElementById(id);
  if (!element) return null;
  if (!parsed.has(element)) parsed.set(element, JSON.parse(element.textContent));
  return parsed.get(element);
}

function rows(lanes) {
  const list = [];
  let y = 0;
  const add = (kind, h, extra) => { list.push({ kind, y, h, ...extra }); y += h; };
  add("ruler", ROWS.ruler);
  if (t.data.sections.length) add("sections", ROWS.sections);
  if (t.data.chords.length) add("chords", ROWS.chords);
  add("wave", ROWS.wave);
  for (const lane of lanes) add("lane", lane.notes.length ? ROWS.lane + 16 : ROWS.lane, { lane });
  return { list, height: y };
}

// -- the view --------------------------------------------------------------------------------------------

function duration() {
  return t.data.duration;
}

function minSpan() {
  return Math.min(duration(), Math.max(1, MIN_BARS * (medianGap(t.data.downbeats) ?? 2)));
}

function setView(start, span) {
  span = Math.max(minSpan(), Math.min(duration(), span));
  start = Math.max(0, Math.min(duration() - span, start));
  state.view = { start, span };
  t.dirty = true;
  describeView();
}

function zoom(factor, anchor) {
  const { start, span } = state.view;
  const next = Math.max(minSpan(), Math.min(duration(), span / factor));
  const at = anchor === undefined ? Math.min(Math.max(position(), start), start + span) : anchor;
  setView(at - (at - start) * (next / span), next);
}

function x(time) {
  return ((time - state.view.start) / state.view.span) * t.width;
}

function timeAt(px) {
  return Math.max(0, Math.min(duration(), state.view.start + (px / t.width) * state.view.span));
}

// "bars 5–8 · 0:09–0:19" or "the whole song": what the view shows, in words (and the scroll slider).
function describeView() {
  const { start, span } = state.view;
  const whole = span >= duration() - 0.01;
  const bars = t.data.bars.filter(([at]) => at >= start - 0.01 && at < start + span - 0.01);
  const text = whole ? "the whole song" : (bars.length ? `bars ${bars[0][1]}\u2013${bars[bars.length - 1][1]} \u00b7 ` : "")
    + `${clock(start)}\u2013${clock(start + span)}`;
  const label = t.root.querySelector("[data-timeline-view]");
  if (label) label.textContent = text;
  const scroll = t.root.querySelector("[data-timeline-scroll]");
  if (scroll) {
    scroll.hidden = whole;
    scroll.value = whole ? 0 : Math.round((start / (duration() - span)) * 1000);
    scroll.setAttribute("aria-valuetext", text);
  }
}

// -- drawing -----------------------------------------------------------------------------------------------

function lineAt(g, px, top, height, colour, width) {
  g.fillStyle = colour;
  g.fillRect(Math.round(px - width / 2), top, width, height);
}

// A waveform from per-slice max and min in hundredths (the server's outline, or a stem's own: finePeaks),
// one column per pixel.
function drawWave(g, peaks, row, colour) {
  const [hi, lo] = peaks;
  if (!hi.length) return;
  const mid = row.y + row.h / 2, half = row.h / 2 - 2, perSlice = peaks.perSlice || duration() / hi.length;
  g.fillStyle = colour;
  for (let px = 0; px < t.width; px++) {
    const a = Math.floor(timeAt(px) / perSlice), b = Math.max(a, Math.floor(timeAt(px + 1) / perSlice));
    let top = -Infinity, bottom = Infinity;
    for (let i = a; i <= b && i < hi.length; i++) { top = Math.max(top, hi[i]); bottom = Math.min(bottom, lo[i]); }
    if (top === -Infinity) continue;
    const y0 = mid - (top / 100) * half, y1 = mid - (bottom / 100) * half;
    g.fillRect(px, y0, 1, Math.max(1, y1 - y0));
  }
}

// Boxes with names where they fit: sections and chords. Returns the names written in their boxes.
function drawBoxes(g, row, runs, fill, text) {
  const written = [];
  g.font = FONT;
  g.textBaseline = "middle";
  for (const run of runs) {
    const [start, end, name] = run;
    if (end < state.view.start || start > state.view.start + state.view.span) continue;
    const left = Math.max(0, x(start)), right = Math.min(t.width, x(end));
    g.fillStyle = fill(run);
    g.fillRect(left, row.y + 1, Math.max(1, right - left - 1), row.h - 2);
    const label = text(run);
    if (label && g.measureText(label).width + 8 <= right - left) {
      g.fillStyle = run.dark ? "#0d1015" : "#e6e9ef";
      g.fillText(label, left + 4, row.y + row.h / 2);
      written.push(label);
    }
  }
  return written;
}

function drawGrid(g, top, height, strong) {
  const scale = t.width / state.view.span;
  const inView = (p) => p >= state.view.start && p <= state.view.start + state.view.span;
  t.data.beats.forEach((b, i) => {
    if (t.downbeats.has(b) || !inView(b) || (i && (b - t.data.beats[i - 1]) * scale < MIN_LINE_PX)) return;
    lineAt(g, x(b), top, height, strong ? "rgba(255, 122, 89, .55)" : "rgba(255, 122, 89, .22)", 1);
  });
  t.data.downbeats.forEach((d, i) => {
    if (!inView(d) || (i && (d - t.data.downbeats[i - 1]) * scale < MIN_LINE_PX)) return;
    lineAt(g, x(d), top, height, strong ? "rgba(255, 255, 255, .8)" : "rgba(255, 255, 255, .25)", strong ? 2 : 1);
  });
}

function drawRuler(g, row) {
  const spacing = (medianGap(t.data.downbeats) ?? 2) * (t.width / state.view.span);
  let every = 1;
  while (every * spacing < 32 && every < 4096) every *= 2;
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "middle";
  g.fillStyle = "#9aa3b2";
  if (!t.data.bars.length) {  // no bars: seconds
    const step = [1, 2, 5, 10, 15, 30, 60, 120].find((s) => s * (t.width / state.view.span) >= 48) || 300;
    for (let s = Math.ceil(state.view.start / step) * step; s <= state.view.start + state.view.span; s += step) {
      g.fillText(clock(s), x(s) + 3, row.y + row.h / 2);
    }
    return;
  }
  for (const [at, number] of t.data.bars) {
    if (number % every || at < state.view.start - 1 || at > state.view.start + state.view.span) continue;
    lineAt(g, x(at), row.y + row.h - 5, 5, "#9aa3b2", 1);
    g.fillText(String(number), x(at) + 3, row.y + row.h / 2);
  }
}

function marks() {
  const cues = Array.from(document.querySelectorAll(".cues [data-cue-time]")).map((item) => ({
    at: parseFloat(item.dataset.cueTime), colour: item.dataset.cueColour,
  }));
  const comments = Array.from(document.querySelectorAll(".comments [data-comment-at]")).map((item) => parseFloat(item.dataset.commentAt));
  return { cues, comments };
}

// A stem's outline from its whole decoded buffer once the mixer has it: a hundred slices a second, so a lane
// zoomed to two bars is as sharp as the screen (the server's outline has a thousand slices a song), at the
// height the server's outline gives the stem's loudest slice (the stems' common scale).
const fine = new WeakMap();

function finePeaks(lane) {
  const mixer = engine();
  const stem = mixer && mixer.stems.find((s) => s.name === lane.name && !s.beats);
  if (!stem || !stem.full || !stem.buffer) return null;
  if (!fine.has(stem.buffer)) fine.set(stem.buffer, outlineOf(stem.buffer, Math.max(0, ...lane.peaks[0])));
  return fine.get(stem.buffer);
}

function outlineOf(buffer, height) {
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
  const step = Math.max(1, Math.round(buffer.sampleRate / 100)), slices = Math.ceil(buffer.length / step);
  const hi = new Float32Array(slices), lo = new Float32Array(slices);
  let peak = 1e-9;
  for (let i = 0; i < slices; i++) {
    let top = -Infinity, bottom = Infinity;
    for (let j = i * step, end = Math.min(buffer.length, j + step); j < end; j++) {
      let v = 0;
      for (const data of channels) v += data[j];
      v /= channels.length;
      if (v > top) top = v;
      if (v < bottom) bottom = v;
    }
    hi[i] = top; lo[i] = bottom;
    peak = Math.max(peak, top, -bottom);
  }
  const scale = height / peak;
  for (let i = 0; i < slices; i++) { hi[i] *= scale; lo[i] *= scale; }
  return Object.assign([hi, lo], { perSlice: step / buffer.sampleRate });
}

function audible(name) {
  const mixer = engine();
  const stem = mixer && mixer.stems.find((s) => s.name === name);
  return !stem || mixer.audible(stem);
}

// Everything but the playhead and the loop, drawn again only when it changes.
function drawBase() {
  const g = t.base.getContext("2d");
  g.setTransform(t.ratio, 0, 0, t.ratio, 0, 0);
  g.fillStyle = "#0d1015";
  g.fillRect(0, 0, t.width, t.height);
  const drawn = { chords: [], sections: [], cues: 0, comments: 0, lanes: [] };
  const shift = follow() ? follow().semitones() : 0;
  const named = (text) => (follow() && shift ? follow().transpose(text, shift) : text);
  for (const row of t.rows) {
    if (row.kind === "ruler") drawRuler(g, row);
    if (row.kind === "sections") {
      drawn.sections = drawBoxes(g, row, t.data.sections.map((s) => Object.assign([...s], { dark: true })),
                                 (s) => SECTION_COLOURS[s[3] % SECTION_COLOURS.length], (s) => s[2]);
    }
    if (row.kind === "chords") {
      drawn.chords = drawBoxes(g, row, t.data.chords, (c) => (c[3] < 0 ? "#12161c" : `hsl(${c[3] * 30} 45% 28%)`),
                               (c) => named(c[2]));
    }
    if (row.kind === "wave") {
      drawWave(g, t.data.peaks, row, "rgba(90, 169, 255, .85)");
      drawGrid(g, row.y, row.h, true);
    }
    if (row.kind === "lane") {
      const on = audible(row.lane.name);
      g.fillStyle = "#151a22";
      g.fillRect(0, row.y + 1, t.width, row.h - 2);
      drawGrid(g, row.y, row.h, false);
      const notes = row.lane.notes;
      const waveRow = notes.length ? { y: row.y, h: ROWS.lane } : row;
      const own = finePeaks(row.lane);
      drawWave(g, own || row.lane.peaks, waveRow, on ? "rgba(90, 169, 255, .8)" : "rgba(90, 169, 255, .2)");
      if (notes.length) drawNotes(g, notes, { y: row.y + ROWS.lane - 4, h: 18 }, on);
      g.font = FONT;
      g.textBaseline = "top";
      const label = row.lane.name;
      g.fillStyle = "rgba(13, 16, 21, .8)";
      g.fillRect(2, row.y + 3, g.measureText(label).width + 8, 16);
      g.fillStyle = on ? "#e6e9ef" : "#6b7383";
      g.fillText(label, 6, row.y + 5);
      drawn.lanes.push({ name: label, top: row.y, height: row.h, notes: notes.length, sharp: !!own });
    }
  }
  const { cues, comments } = marks();
  for (const cue of cues) {
    if (cue.at < state.view.start || cue.at > state.view.start + state.view.span) continue;
    lineAt(g, x(cue.at), 0, t.height, cue.colour, 2);
    drawn.cues++;
  }
  for (const at of comments) {
    if (at < state.view.start || at > state.view.start + state.view.span) continue;
    g.fillStyle = "#ff7a59";
    g.beginPath();
    g.arc(x(at), ROWS.ruler / 2, 5, 0, 2 * Math.PI);
    g.fill();
    drawn.comments++;
  }
  t.drawn = drawn;
}

// A lane of notes, lowest at the bottom, louder brighter.
function drawNotes(g, notes, box, on) {
  const pitches = notes.map((n) => n[2]);
  const low = Math.min(...pitches), high = Math.max(...pitches);
  const lane = box.h / (high - low + 1);
  for (const [start, end, pitch, velocity] of notes) {
    if (end < state.view.start || start > state.view.start + state.view.span) continue;
    g.fillStyle = on ? `rgba(232, 195, 90, ${0.45 + Math.min(1, velocity / 127) * 0.55})` : "rgba(232, 195, 90, .25)";
    g.fillRect(x(start), box.y + (high - pitch) * lane, Math.max(1, x(end) - x(start)), Math.max(1, lane - 0.5));
  }
}

// What moves: the loop (or the one being dragged) and the playhead, over the base.
function draw() {
  const g = t.canvas.getContext("2d");
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.drawImage(t.base, 0, 0);
  g.setTransform(t.ratio, 0, 0, t.ratio, 0, 0);
  const mixer = engine();
  const loop = t.preview || (mixer && mixer.loop);
  if (loop) {
    g.fillStyle = "rgba(255, 122, 89, .2)";
    g.fillRect(x(loop.start), 0, x(loop.end) - x(loop.start), t.height);
    lineAt(g, x(loop.start), 0, t.height, "rgba(255, 122, 89, .9)", 1);
    lineAt(g, x(loop.end), 0, t.height, "rgba(255, 122, 89, .9)", 1);
  }
  const at = position();
  const px = x(at);
  // Where a chord's box is too narrow for its name, the one under the playhead says it anyway.
  const chords = t.rows.find((r) => r.kind === "chords");
  if (chords && px >= 0 && px <= t.width) {
    const i = follow() ? follow().at(t.data.chords, at) : -1;
    const run = t.data.chords[i];
    if (run && x(run[1]) - x(run[0]) < 40) {
      const shift = follow().semitones();
      const name = shift ? follow().transpose(run[2], shift) : run[2];
      g.font = "bold " + FONT;
      g.textBaseline = "middle";
      const w = g.measureText(name).width + 8;
      const left = Math.max(0, Math.min(t.width - w, px - w / 2));
      g.fillStyle = "#0d1015";
      g.fillRect(left, chords.y + 2, w, chords.h - 4);
      g.fillStyle = "#fff";
      g.fillText(name, left + 4, chords.y + chords.h / 2);
      t.drawn.current = name;
    }
  }
  lineAt(g, px, 0, t.height, "#ff7a59", 2);
}

// -- the frame loop: draw what changed, follow the playhead ----------------------------------------------

function signature() {
  const mixer = engine();
  const loop = t.preview || (mixer && mixer.loop);
  return [Math.round(x(position())), loop ? `${loop.start},${loop.end}` : "",
          follow() ? follow().semitones() : 0].join("|");
}

function baseSignature() {
  const mixer = engine();
  const mask = mixer ? mixer.stems.map((s) => (mixer.audible(s) ? 1 : 0) + (s.full ? 2 : 0)).join("") : "";
  return [state.view.start, state.view.span, t.width, mask, follow() ? follow().semitones() : 0].join("|");
}

function playing() {
  const mixer = engine();
  const player = document.getElementById("player");
  return (mixer && mixer.playing) || (player && !player.paused);
}

function frame() {
  requestAnimationFrame(frame);
  if (!t || !t.canvas.isConnected || !t.width) return;
  const at = position();
  // Playing past the view's edge: the view turns the page, the playhead near its left.
  if (playing() && !t.drag && (at > state.view.start + state.view.span || at < state.view.start)) {
    setView(at - state.view.span * 0.1, state.view.span);
  }
  const base = baseSignature();
  if (t.dirty || base !== t.baseDrawn) { drawBase(); t.baseDrawn = base; t.dirty = false; t.drawnAt = null; }
  const moving = signature();
  if (moving !== t.drawnAt) { draw(); t.drawnAt = moving; }
  const second = Math.floor(at);
  if (second !== t.said) {  // what a screen reader hears of the position, once a second at most
    t.said = second;
    t.canvas.setAttribute("aria-valuenow", String(second));
    const bar = follow() ? follow().at(t.data.bars, at) : -1;
    t.canvas.setAttribute("aria-valuetext", clock(at) + (bar >= 0 ? `, bar ${t.data.bars[bar][1]}` : ""));
  }
}

// -- gestures --------------------------------------------------------------------------------------------

function seek(at) {
  const mixer = engine();
  if (mixer) mixer.seek(at);
  const player = document.getElementById("player");
  if (player && (!mixer || !player.paused)) player.currentTime = at;
  document.dispatchEvent(new CustomEvent("soundforge:pick", { detail: { at } }));
  t.drawnAt = null;
}

function snapped(a, b) {
  const mixer = engine();
  const [from, to] = [a, b].sort((p, q) => p - q);
  return { start: mixer.snapped(from, false), end: mixer.snapped(to, true) };
}

function localX(event) {
  return event.clientX - t.canvas.getBoundingClientRect().left;
}

function bindGestures(canvas) {
  const pointers = new Map();
  canvas.addEventListener("pointerdown", (event) => {
    pointers.set(event.pointerId, event.clientX);
    canvas.setPointerCapture(event.pointerId);
    if (pointers.size === 2) {  // a pinch: two fingers apart zoom in
      const [p, q] = [...pointers.values()];
      t.pinch = { distance: Math.abs(p - q) || 1, span: state.view.span, at: timeAt((p + q) / 2 - canvas.getBoundingClientRect().left) };
      t.drag = null;
      t.preview = null;
    } else {
      t.drag = { x: event.clientX, from: timeAt(localX(event)), moved: false };
    }
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId)) return;
    pointers.set(event.pointerId, event.clientX);
    if (t.pinch && pointers.size === 2) {
      const [p, q] = [...pointers.values()];
      const span = t.pinch.span * (t.pinch.distance / (Math.abs(p - q) || 1));
      zoom(state.view.span / span, t.pinch.at);
      return;
    }
    const drag = t.drag;
    if (!drag || (!drag.moved && Math.abs(event.clientX - drag.x) < DRAG_PX) || !engine()) return;
    drag.moved = true;
    t.preview = snapped(drag.from, timeAt(localX(event)));
  });
  const end = (event) => {
    pointers.delete(event.pointerId);
    if (pointers.size < 2) t.pinch = null;
    const drag = t.drag;
    t.drag = null;
    t.preview = null;
    if (!drag || event.type === "pointercancel") return;
    if (drag.moved) {
      const loop = snapped(drag.from, timeAt(localX(event)));
      engine().setLoop(loop.start, loop.end);
    } else {
      seek(drag.from);
    }
    canvas.focus({ preventScroll: true });
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("wheel", (event) => {
    if (event.ctrlKey || event.metaKey) {  // a trackpad's pinch arrives so too
      event.preventDefault();
      zoom(Math.exp(-event.deltaY * 0.01), timeAt(localX(event)));
    } else if (state.view.span < duration() && (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY))) {
      event.preventDefault();
      const delta = event.shiftKey && !event.deltaX ? event.deltaY : event.deltaX;
      setView(state.view.start + (delta / t.width) * state.view.span, state.view.span);
    }
  }, { passive: false });
  canvas.addEventListener("keydown", (event) => {
    if (key(event)) { event.preventDefault(); event.stopPropagation(); }  // not the mixer's keys too
  });
}

// The next (or previous) bar or beat from the playhead.
function step(points, forward) {
  const at = position();
  if (forward) return points.find((p) => p > at + 0.01) ?? duration();
  return [...points].reverse().find((p) => p < at - 0.01) ?? 0;
}

function key(event) {
  const mixer = engine();
  const grid = event.shiftKey || !t.data.downbeats.length ? t.data.beats : t.data.downbeats;
  const at = position();
  switch (event.key) {
    case "+": case "=": zoom(2); return true;
    case "-": case "_": zoom(0.5); return true;
    case "0": setView(0, duration()); return true;
    case "ArrowRight": seek(grid.length ? step(grid, true) : at + 5); return true;
    case "ArrowLeft": seek(grid.length ? step(grid, false) : at - 5); return true;
    case "Home": seek(0); return true;
    case "End": seek(Math.max(0, duration() - 0.05)); return true;
    case "[": case "]": {
      if (!mixer) return false;
      const loop = mixer.loop;
      if (event.key === "[") {
        const start = mixer.snapped(at, false);
        mixer.setLoop(start, loop && loop.end > start ? loop.end : mixer.snapped(start + 0.01, true));
      } else {
        const end = mixer.snapped(at, true);
        mixer.setLoop(loop && loop.start < end ? loop.start : mixer.snapped(Math.max(0, end - 0.01), false), end);
      }
      return true;
    }
    case "Escape":
      if (!mixer || !mixer.loop) return false;
      mixer.setLoop(0, 0);
      return true;
    default: return false;
  }
}

// -- binding -----------------------------------------------------------------------------------------------

function measure() {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round(t.canvas.parentElement.getBoundingClientRect().width);
  const layout = rows(json("lanes-data") || []);
  const key = [width, ratio, ...layout.list.map((row) => row.kind + row.h)].join(" ");
  if (key === t.layout) return;
  Object.assign(t, { layout: key, width, height: layout.height, ratio, rows: layout.list, dirty: true });
  t.canvas.style.height = layout.height + "px";
  for (const canvas of [t.canvas, t.base]) {
    canvas.width = Math.max(1, Math.round(width * ratio));
    canvas.height = Math.round(layout.height * ratio);
  }
}

function bind() {
  const root = document.querySelector("[data-timeline]");
  const data = json("timeline-data");
  if (!root || !data) { t = null; return; }
  if (!t || t.root !== root) {
    const canvas = root.querySelector("[data-timeline-canvas]");
    t = { root, canvas, base: document.createElement("canvas"), width: 0, height: 0, dirty: true, drawn: {} };
    bindGestures(canvas);
    root.querySelector("[data-zoom=in]").addEventListener("click", () => zoom(2));
    root.querySelector("[data-zoom=out]").addEventListener("click", () => zoom(0.5));
    root.querySelector("[data-zoom=all]").addEventListener("click", () => setView(0, duration()));
    root.querySelector("[data-timeline-scroll]").addEventListener("input", (event) => {
      setView((parseInt(event.target.value, 10) / 1000) * (duration() - state.view.span), state.view.span);
    });
    if (window.ResizeObserver) new ResizeObserver(() => t && t.root === root && measure()).observe(root);
  }
  if (t.data !== data) Object.assign(t, { data, downbeats: new Set(data.downbeats) });
  if (!state.view) state.view = { start: 0, span: data.duration };
  measure();
  setView(state.view.start, state.view.span);  // within a new analysis's length; drawn again (a push came)
}

document.addEventListener("DOMContentLoaded", () => { bind(); requestAnimationFrame(frame); });
document.addEventListener("htmx:load", () => { if (document.readyState !== "loading") bind(); });
// For scripts and tests: the view, and what was drawn where.
window.SoundForgeTimeline = {
  view: () => state.view && { ...state.view },
  drawn: () => t && t.drawn,
  x: (time) => (t ? x(time) : 0),
  zoom, setView,
};

// One engine per separation: every stem of it plays in sync through Web Audio (one AudioBufferSourceNode
// per stem, all started at the same context time), each through its own gain and stereo panner.
//
// It plays the stems' listening copies (Ogg Opus, a tenth of the lossless size) and starts before they are
// whole: once the first HEAD_BYTES of every stem are in, those complete Ogg pages are decoded and play while
// the rest downloads; each stem's whole buffer then takes over on the same sample (sources scheduled at one
// context time), and playback waits, saying so, if it catches up with what has arrived. "Lossless" plays the
// original stems instead, each downloaded whole first.
//
// Speed (50-150 %) and transpose (±12 semitones) change in real time. At 100 % and no transpose the stems
// play as they are; otherwise every stem and the click play through their own Signalsmith Stretch node (an
// AudioWorklet running WASM, static/vendor/signalsmith-stretch, loaded the first time it is needed), and all
// of them get the same schedule (context time, song position, rate, semitones, loop): the nodes map context
// time to song time alike, so the stems stay on one sample through seeks, loops and changes.
//
// What the panel shows, and how its controls reach the engine, is controls.js's (mixed into the class).
import { clickTrack, countIn } from "./click.js";
import { restore, restoreLevels, saved } from "./practice.js";
import { HEAD_BYTES, MIDDLE_BYTES, channels, joined, loadScript, wholePages } from "./stream.js";

const MARGIN_S = 0.3;  // how close playback may come to the end of what has arrived
const AHEAD_S = 0.05;  // how far ahead sources are scheduled, so that all start on the same sample

// The song's sections as [start, end, title], from the follow panel (static/js/follow.js reads it once).
export function sections() {
  return window.SoundForgeFollow ? window.SoundForgeFollow.sections() : [];
}

function announce(name, detail) {
  document.dispatchEvent(new CustomEvent("soundforge:mixer", { detail: { event: name, at: performance.now(), ...detail } }));
}

export class Engine {
  constructor(root) {
    this.duration = parseFloat(root.dataset.duration) || 0;
    this.mixUrl = root.dataset.mixUrl;
    this.stems = Array.from(root.querySelectorAll("[data-stem]:not([data-click])")).map((strip) => ({
      name: strip.dataset.stem, src: strip.dataset.src, listen: strip.dataset.listen || strip.dataset.src,
      gain: 1, pan: 0, mute: false, solo: false, buffer: null, full: false, received: 0, total: 0,
      source: null, gainNode: null, panNode: null, stretch: null, fed: null, stretching: false,
    }));
    this.stretchUrl = root.dataset.stretchUrl;
    this.rate = 1;        // speed: 0.5 to 1.5
    this.semitones = 0;   // transpose: -12 to 12
    this.stretchLatency = 0;
    this.lossless = false;
    this.generation = 0;  // a new load (lossless switched) makes the older one's downloads moot
    this.waiting = false;  // paused until more has arrived
    this.click = null;  // the metronome strip, once the track has beats (see syncClick)
    this.ctx = null;
    this.loading = null;
    this.playing = false;
    this.offset = 0;      // position (s) while paused
    this.startedAt = 0;   // ctx.currentTime at which position 0 would have played
    this.root = null;
    this.loop = null;     // {start, end} (s): every source loops there, the click with them
    this.snap = "bar";    // what a dragged loop snaps to: beat, bar or section
    this.countIn = false; // one bar of clicks before Play
    restore(this, saved());  // as this person last left it (practice.js)
  }

  position() {
    return this.playing ? this.songAt(this.ctx.currentTime) : this.offset;
  }

  // Where in the song playback is (or will be) at context time ``t``.
  songAt(t) {
    return this.wrapped((t - this.startedAt) * this.rate);
  }

  stretched() {
    return this.rate !== 1 || this.semitones !== 0;
  }

  // Where playback is, ``elapsed`` seconds of song after position 0: past a loop's end, back inside it.
  wrapped(elapsed) {
    const loop = this.loop;
    if (loop && elapsed >= loop.end) return loop.start + ((elapsed - loop.start) % (loop.end - loop.start));
    return Math.min(this.duration, elapsed);
  }

  // The analysis's grid: beats and downbeats (the click strip's), section starts (the follow panel's).
  grid(unit) {
    if (unit === "section") return [...sections().map((s) => s[0]), this.duration];
    const points = !this.click ? [] : unit === "beat" ? this.click.beats : [...this.click.downbeats];
    return points.length ? [0, ...points, this.duration] : [];
  }

  // Snap a time to the nearest grid point (``up``: the next one at or after it).
  snapped(t, up) {
    const points = this.grid(this.snap);
    if (!points.length) return t;
    let best = points[0];
    for (const p of points) {
      if (up ? p >= t - 0.001 && (best < t - 0.001 || p < best) : Math.abs(p - t) < Math.abs(best - t)) best = p;
    }
    return best;
  }

  setLoop(start, end) {
    const loop = end - start >= 0.25 ? { start: Math.max(0, start), end: Math.min(this.duration, end) } : null;
    this.loop = loop;
    if (loop && (this.offset < loop.start || this.offset >= loop.end)) this.offset = loop.start;
    if (this.playing) this.seek(loop && (this.position() < loop.start || this.position() >= loop.end)
      ? loop.start : this.position());
    this.render();
  }

  // The count-in's bar before ``from`` (click.js), at the speed the song will play.
  countInBuffer(from) {
    return this.click ? countIn(this.ctx, this.click.beats, [...this.click.downbeats], from, this.rate) : null;
  }

  audioStems() {
    return this.stems.filter((s) => !s.beats);
  }

  // Resolves once every stem can start (its first seconds, or all of it); the rest keeps arriving.
  load() {
    if (this.loading) return this.loading;
    this.ctx = this.ctx || new (window.AudioContext || window.webkitAudioContext)();
    const generation = ++this.generation;
    for (const stem of this.stems) {
      if (!stem.gainNode) this.connect(stem);
      if (stem.beats) { stem.buffer = this.clickBuffer(stem); stem.full = true; }
    }
    const audio = this.audioStems();
    this.showProgress();
    announce("loading", { lossless: this.lossless });
    // Every stem's first seconds are decoded before any whole file is: on a busy machine, or where the whole
    // files arrive at once (localhost), the whole decodes would otherwise hold up the first sound.
    let settle;
    const firstSeconds = this.lossless ? Promise.resolve() : new Promise((done) => { settle = done; });
    const settled = () => { if (settle && audio.every((s) => s.head && s.head !== "decoding")) settle(); };
    this.loading = new Promise((resolve, reject) => {
      const check = () => { settled(); if (audio.every((s) => s.buffer)) resolve(); };
      Promise.all(audio.map((stem) => this.fetchStem(stem, generation, check, firstSeconds))).then(() => {
        if (generation !== this.generation) return;
        this.showProgress();
        announce("loaded", { bytes: audio.reduce((n, s) => n + s.received, 0) });
        resolve();
        this.resume();
        this.readyStretch(false).catch(() => {});  // the stretcher's code and nodes, for a first change
      }, (error) => {
        if (generation !== this.generation) return;
        this.loading = null;
        this.status("Could not load the stems: " + error.message);
        reject(error);
      });
    }).then(() => this.apply());
    return this.loading;
  }

  async fetchStem(stem, generation, ready, firstSeconds) {
    stem.buffer = null; stem.full = false; stem.received = 0; stem.total = 0; stem.head = null;
    const response = await fetch(this.lossless ? stem.src : stem.listen, { credentials: "same-origin" });
    if (!response.ok) throw new Error(stem.name + ": HTTP " + response.status);
    stem.total = parseInt(response.headers.get("Content-Length"), 10) || 0;
    const reader = response.body.getReader();
    const download = { chunks: [], arrived: false, waiting: null };
    // A listening copy plays from its first seconds, then its first minute, then all of it (decodeStages);
    // a WAV or FLAC is decoded whole.
    const stages = this.lossless ? null : this.decodeStages(stem, generation, ready, firstSeconds, download);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (generation !== this.generation) { reader.cancel(); return; }
      download.chunks.push(value);
      stem.received += value.length;
      this.showProgress();
      if (download.waiting && stem.received >= download.waiting.bytes) download.waiting.resolve();
    }
    download.arrived = true;
    if (download.waiting) download.waiting.resolve();
    if (stages) return stages;
    const buffer = await this.ctx.decodeAudioData(joined(download.chunks).buffer);
    if (generation !== this.generation) return;
    this.upgrade(stem, buffer, true);
    ready();
  }

  // The first HEAD_BYTES of a listening copy (about 8 s) are decoded and play; once every stem's have been,
  // its first MIDDLE_BYTES (about a minute) take over, then the whole file once it is in. Decoding the
  // whole at once first would hold up the first sound where the file arrives at once (localhost) or the
  // machine is busy; the first seconds alone could run out before the whole is decoded.
  async decodeStages(stem, generation, ready, firstSeconds, download) {
    const reach = (bytes) => new Promise((resolve) => {
      if (download.arrived || stem.received >= bytes) resolve(); else download.waiting = { bytes, resolve };
    });
    // The complete Ogg pages of the first ``bytes``; null where the file is not much longer (the whole
    // will do) or its beginning does not decode alone.
    const partial = async (bytes) => {
      if (stem.total && stem.total <= bytes * 1.5) return null;
      await reach(bytes);
      if (download.arrived && stem.received <= bytes * 1.5) return null;
      try {
        return await this.ctx.decodeAudioData(wholePages(joined(download.chunks).subarray(0, bytes)));
      } catch {
        return null;
      }
    };
    stem.head = "decoding";
    const head = await partial(HEAD_BYTES);
    if (generation !== this.generation) return;
    stem.head = head ? "done" : "none";
    if (head) {
      stem.buffer = head;
      announce("head", { stem: stem.name, seconds: head.duration });
    }
    ready();
    await firstSeconds;
    const middle = await partial(MIDDLE_BYTES);
    if (generation !== this.generation) return;
    if (middle && !stem.full) this.upgrade(stem, middle, false);
    await reach(Infinity);
    const buffer = await this.ctx.decodeAudioData(joined(download.chunks).buffer);
    if (generation !== this.generation) return;
    this.upgrade(stem, buffer, true);
    ready();
  }

  // A stem's longer (or whole) buffer takes over from its beginning: at one context time, from the same
  // position, so every stem stays on the same sample whichever arrives first.
  upgrade(stem, buffer, full) {
    const wasPlaying = this.playing && stem.source;
    stem.buffer = buffer;
    stem.full = full;
    if (wasPlaying) {
      const old = stem.source;
      const when = this.ctx.currentTime + AHEAD_S;
      this.startSource(stem, when, this.songAt(when));
      old.stop(when);
      old.onended = () => old.disconnect();
    }
    if (stem.stretch) this.feed(stem);  // a prepared or playing node goes on at the same song time
    this.resume();
  }

  // Seconds of the song every stem has (Infinity once all are whole).
  available() {
    return Math.min(...this.audioStems().map((s) => (s.full ? Infinity : s.buffer ? s.buffer.duration : 0)));
  }

  resume() {
    if (this.waiting && this.available() > Math.min(this.duration, this.offset + 2)) {
      this.waiting = false;
      this.play();
    }
  }

  setLossless(on) {
    if (on === this.lossless) return;
    this.lossless = on;
    if (!this.loading) return;
    // Start again from the other files, where the song was.
    const wasPlaying = this.playing || this.waiting;
    this.pause();
    this.generation++;
    this.loading = null;
    for (const stem of this.audioStems()) { stem.buffer = null; stem.full = false; }
    if (wasPlaying) this.play(); else this.load();
  }

  connect(stem) {
    stem.gainNode = this.ctx.createGain();
    stem.panNode = this.ctx.createStereoPanner();
    stem.gainNode.connect(stem.panNode).connect(this.ctx.destination);
  }

  clickBuffer(click) {
    return clickTrack(this.ctx, click.beats, click.downbeats, this.duration);
  }

  // The click strip follows the newest analysis: a new one (its job id in data-click) brings new beats.
  syncClick(root) {
    const strip = root.querySelector("[data-click]");
    if (!strip || (this.click && this.click.version === strip.dataset.click)) return;
    const numbers = (text) => (text ? text.split(",").map(parseFloat) : []);
    const fresh = !this.click;
    if (fresh) {
      this.click = { name: "click", gain: 0.6, pan: 0, mute: true, solo: false, buffer: null, source: null,
                     gainNode: null, panNode: null };
      restoreLevels([this.click], saved());
      this.stems.push(this.click);
    }
    Object.assign(this.click, { version: strip.dataset.click, beats: numbers(strip.dataset.beats),
                                downbeats: new Set(numbers(strip.dataset.downbeats)) });
    if (!this.ctx || !this.loading) return;  // built with the stems on the first play
    if (!this.click.gainNode) this.connect(this.click);
    this.click.buffer = this.clickBuffer(this.click);
    if (this.playing && this.click.stretching) {
      this.seek(this.position());  // through its stretch node, fed again on the way
    } else if (this.playing) {
      if (this.click.source) { this.click.source.stop(); this.click.source.disconnect(); }
      this.startSource(this.click, this.ctx.currentTime, this.position());  // loops like the stems
    }
    this.apply();
  }

  startSource(stem, when, offset) {
    const source = this.ctx.createBufferSource();
    source.buffer = stem.buffer;
    // Every source loops at the same samples (a stem's first seconds only once they reach the loop's end).
    if (this.loop && stem.buffer.duration >= this.loop.end - 0.001) {
      source.loop = true;
      source.loopStart = this.loop.start;
      source.loopEnd = this.loop.end;
    }
    source.connect(stem.gainNode);
    source.start(when, offset);
    stem.source = source;
  }

  // The stretch nodes, one per stem and the click, each holding its stem's samples (the first time, the
  // library is loaded and its worklet module added).
  // (``feed`` false: the nodes only, without the stems' samples, which the worklet keeps a copy of.) One
  // call at a time makes the nodes, so two never make two nodes for a stem.
  readyStretch(feed = true) {
    this.making = (this.making || Promise.resolve()).then(() => this.makeStretch());
    return this.making.then(() => {
      if (feed) for (const stem of this.stems) if (stem.buffer && stem.fed !== stem.buffer) this.feed(stem);
    });
  }

  async makeStretch() {
    if (!window.SignalsmithStretch) await loadScript(this.stretchUrl);
    // The worklet loads the same file, not a blob: module (the CSP allows scripts from this site only).
    window.SignalsmithStretch.moduleUrl = this.stretchUrl;
    for (const stem of this.stems) {
      if (!stem.stretch) {
        stem.stretch = await window.SignalsmithStretch(this.ctx);
        this.stretchLatency = await stem.stretch.latency();
      }
    }
  }

  // Every node has its stem's samples: a change to a stretched setting can hand over at once.
  stretchFed() {
    return this.stems.every((s) => s.stretch && s.buffer && s.fed === s.buffer);
  }

  // Give a stem's node its (new) samples; the node keeps its song time. Messages reach the worklet in order,
  // so a schedule sent after this plays these samples.
  feed(stem) {
    stem.fed = stem.buffer;
    stem.stretch.dropBuffers();
    stem.stretch.addBuffers(channels(stem.buffer));
  }

  startStretch(stem, when, offset) {
    if (stem.fed !== stem.buffer) this.feed(stem);
    const loop = this.loop && stem.buffer.duration >= this.loop.end - 0.001 ? this.loop : null;
    stem.stretch.connect(stem.gainNode);
    stem.stretch.schedule({ output: when, active: true, input: offset, rate: this.rate, semitones: this.semitones,
                            loopStart: loop ? loop.start : 0, loopEnd: loop ? loop.end : 0 });
    stem.stretching = true;
  }

  // A new speed or pitch. Playing, the song never stops for it: between two stretched settings every node
  // changes at the same context time; to or from the recording as it is, the stems hand over on one sample
  // (handOver); where the stretcher is not ready yet, the song goes on as it was until it is, the change
  // waiting (``pendingTempo``, what the controls show meanwhile).
  setTempo(rate, semitones) {
    rate = Math.max(0.5, Math.min(1.5, rate));
    semitones = Math.max(-12, Math.min(12, Math.round(semitones) || 0));
    const target = this.pendingTempo || this;
    if (rate === target.rate && semitones === target.semitones) return;
    const stretched = rate !== 1 || semitones !== 0;
    if (this.pendingTempo) {
      this.pendingTempo = { rate, semitones };
    } else if (this.playing && this.stems.every((s) => s.stretching) && stretched) {
      const when = this.ctx.currentTime + AHEAD_S;
      const at = this.songAt(when);
      for (const stem of this.stems) stem.stretch.schedule({ output: when, rate, semitones });
      this.rate = rate;
      this.semitones = semitones;
      this.startedAt = when - at / rate;
    } else if (this.playing && (!stretched || this.stretchFed())) {
      this.handOver(rate, semitones);
    } else if (this.playing) {
      this.pendingTempo = { rate, semitones };
      this.readyStretch().then(() => this.applyPending(), (error) => {
        this.pendingTempo = null;
        this.status("Speed and transpose are not available in this browser: " + error.message);
        this.renderTempo();
      });
    } else {
      this.rate = rate;
      this.semitones = semitones;
    }
    this.renderTempo();
  }

  // The change that waited for the stretcher, now that it is ready (or, paused meanwhile, the setting).
  applyPending() {
    const pending = this.pendingTempo;
    this.pendingTempo = null;
    if (pending) this.setTempo(pending.rate, pending.semitones);
  }

  // From the recording as it is to the stretch nodes (or back) while playing, on one sample: what plays now
  // stops at the context time the other starts, from the song position it has reached by then.
  handOver(rate, semitones) {
    const stretched = rate !== 1 || semitones !== 0;
    const when = this.ctx.currentTime + AHEAD_S + (stretched ? this.stretchLatency : 0);
    // Just after a stretched start the song has not reached its first sample by ``when`` (the stretcher's
    // latency): a source cannot start before it (a negative offset throws, and the hand-over stopped half-way).
    const at = Math.max(0, this.songAt(when));
    for (const stem of this.stems) {
      const old = stem.source;
      if (old) { old.stop(when); old.onended = () => old.disconnect(); stem.source = null; }
      if (stem.stretching) {
        const node = stem.stretch;
        node.stop(when);
        setTimeout(() => { if (!stem.stretching) node.disconnect(); }, (when - this.ctx.currentTime) * 1000 + 200);
        stem.stretching = false;
      }
    }
    this.rate = rate;
    this.semitones = semitones;
    for (const stem of this.stems) {
      if (stretched) this.startStretch(stem, when, at); else this.startSource(stem, when, at);
    }
    this.startedAt = when - at / rate;
    announce("retimed", { sounds: performance.now() + (when - this.ctx.currentTime) * 1000, gap: 0 });
  }

  // The stretch nodes made and given the stems before the first speed or pitch change (a person's pointer
  // or focus on those controls says one is coming), so that it costs no gap (handOver).
  prepareStretch() {
    if (this.ctx && this.loading) this.loading.then(() => this.readyStretch()).catch(() => {});
  }

  // Play as a person asks for it: after a bar of count-in when that is on.
  async start() {
    await this.play(this.countIn);
  }

  async play(countIn = false) {
    this.waiting = false;
    if (this.pendingTempo) { this.rate = this.pendingTempo.rate; this.semitones = this.pendingTempo.semitones; }
    this.pendingTempo = null;
    await this.load();
    if (this.ctx.state === "suspended") await this.ctx.resume();
    if (this.stretched()) {
      try {
        await this.readyStretch();
      } catch (error) {
        this.rate = 1;
        this.semitones = 0;
        this.renderTempo();
        this.status("Speed and transpose are not available in this browser: " + error.message);
      }
    }
    if (this.playing) return;
    if (this.offset >= this.duration) this.offset = 0;
    if (this.offset > this.available() - MARGIN_S) {  // a seek past what has arrived
      this.waiting = true;
      this.showProgress();
      return;
    }
    const stretched = this.stretched();
    // A moment ahead, so every source starts on the same sample (a stretch node's latency more).
    let when = this.ctx.currentTime + AHEAD_S + (stretched ? this.stretchLatency : 0);
    const lead = countIn ? this.countInBuffer(this.offset) : null;
    if (lead) {
      const count = this.ctx.createBufferSource();
      count.buffer = lead.buffer;
      const level = this.ctx.createGain();
      level.gain.value = 0.8;
      count.connect(level).connect(this.ctx.destination);
      count.start(when);
      count.onended = () => count.disconnect();
      when += lead.lead;
    }
    for (const stem of this.stems) {
      if (stretched) this.startStretch(stem, when, this.offset); else this.startSource(stem, when, this.offset);
    }
    this.startedAt = when - this.offset / this.rate;
    this.playing = true;
    announce("playing", { sounds: performance.now() + (when - this.ctx.currentTime) * 1000,
                          whole: this.audioStems().every((s) => s.full) });
    this.render();
    this.tick();
  }

  pause() {
    this.waiting = false;
    if (!this.playing) return;
    this.offset = this.position();
    this.stopSources();
    this.playing = false;
    this.render();
  }

  stopSources() {
    for (const stem of this.stems) {
      if (stem.source) { stem.source.stop(); stem.source.disconnect(); stem.source = null; }
      // Disconnected, an idle node is not run at all.
      if (stem.stretching) { stem.stretch.stop(); stem.stretch.disconnect(); stem.stretching = false; }
    }
  }

  seek(seconds) {
    const wasPlaying = this.playing;
    if (wasPlaying) { this.stopSources(); this.playing = false; }
    this.offset = Math.max(0, Math.min(this.duration, seconds));
    if (this.loop && (this.offset < this.loop.start || this.offset >= this.loop.end)) this.offset = this.loop.start;
    if (wasPlaying) this.play(); else this.render();
  }

  // Soloing a stem leaves the metronome as it is, as in a DAW.
  audible(stem) {
    if (stem.beats) return !stem.mute || stem.solo;
    const soloing = this.stems.some((s) => s.solo && !s.beats);
    return !stem.mute && (!soloing || stem.solo);
  }

  // The gains the listener hears; the same numbers go to the server for "download this mix".
  apply() {
    for (const stem of this.stems) {
      if (!stem.gainNode) continue;
      stem.gainNode.gain.setTargetAtTime(this.audible(stem) ? stem.gain : 0, this.ctx.currentTime, 0.01);
      stem.panNode.pan.setTargetAtTime(stem.pan, this.ctx.currentTime, 0.01);
    }
    this.render();
  }

  mixHref() {
    const query = new URLSearchParams();
    for (const stem of this.stems) {
      if (stem.beats) continue;  // the metronome is the browser's own, not a stem the server has
      query.set("gain_" + stem.name, (this.audible(stem) ? stem.gain : 0).toFixed(3));
      query.set("pan_" + stem.name, stem.pan.toFixed(3));
    }
    return this.mixUrl + "?" + query.toString();
  }

  tick() {
    if (!this.playing) return;
    if (this.position() > this.available() - MARGIN_S) {  // caught up with the download: wait for it
      this.pause();
      this.waiting = true;
      this.showProgress();
      announce("waiting", { at: this.offset });
      return;
    }
    if (this.position() >= this.duration) {
      this.stopSources();
      this.playing = false;
      this.offset = 0;
      this.render();
      return;
    }
    this.renderPosition();
    requestAnimationFrame(() => this.tick());
  }
}

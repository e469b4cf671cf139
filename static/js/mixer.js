// The stem mixer: every stem of one separation plays in sync through Web Audio (one AudioBufferSourceNode
// per stem, all started at the same context time), each through its own gain and stereo panner.
//
// The page's markup may be swapped by the server's pushes at any time, so the state lives here, in one
// engine per separation keyed by the mixer's id, and a freshly swapped mixer is bound to its engine again
// (the music keeps playing and the controls show where they were).
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
(function () {
  "use strict";

  const engines = new Map();
  const HEAD_BYTES = 256 * 1024;  // about 16 s of a stem at 128 kbit/s
  const MARGIN_S = 0.3;  // how close playback may come to the end of what has arrived
  const AHEAD_S = 0.05;  // how far ahead sources are scheduled, so that all start on the same sample

  function joined(chunks) {
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) { bytes.set(chunk, at); at += chunk.length; }
    return bytes;
  }

  // The complete Ogg pages at the start of a partial download (each page begins "OggS"); anything else (an
  // MP3, whose frames stand alone) as it is.
  function wholePages(bytes) {
    for (let i = bytes.length - 4; i > 0; i--) {
      if (bytes[i] === 0x4f && bytes[i + 1] === 0x67 && bytes[i + 2] === 0x67 && bytes[i + 3] === 0x53) {
        return bytes.slice(0, i).buffer;
      }
    }
    return bytes.slice().buffer;
  }

  // One metronome click into ``data`` at sample ``start``: higher and louder when ``accented``.
  function addClick(data, start, accented, rate) {
    const length = Math.round(0.03 * rate);
    for (let i = 0; i < length && start + i < data.length; i++) {
      data[start + i] += (accented ? 0.9 : 0.5) * Math.sin(2 * Math.PI * (accented ? 1600 : 1000) * i / rate) * Math.exp(-i / (0.006 * rate));
    }
  }

  // The song's sections as [start, end, title], from the follow panel (static/js/follow.js reads it once).
  function sections() {
    return window.SoundForgeFollow ? window.SoundForgeFollow.sections() : [];
  }

  // A script of this site's (the CSP allows no other), once.
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = src;
      tag.onload = resolve;
      tag.onerror = () => reject(new Error("could not load " + src));
      document.head.appendChild(tag);
    });
  }

  function channels(buffer) {
    return Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
  }

  function megabytes(n) {
    return (n / 1e6).toFixed(1) + " MB";
  }

  function announce(name, detail) {
    document.dispatchEvent(new CustomEvent("soundforge:mixer", { detail: { event: name, at: performance.now(), ...detail } }));
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  class Engine {
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

    // One bar of clicks on the song's grid, the first accented, ending one beat before the first beat at or
    // after ``from``; returns the buffer and how long after its start the song must start.
    countInBuffer(from) {
      const beats = this.click ? this.click.beats : [];
      const downbeats = this.click ? [...this.click.downbeats] : [];
      if (beats.length < 2) return null;
      const gaps = beats.slice(1).map((b, i) => b - beats[i]).sort((a, b) => a - b);
      const songBeat = gaps[gaps.length >> 1];
      const beat = songBeat / this.rate;  // at the speed the song will play
      const perBar = downbeats.length > 1  // counted in the song's own time
        ? Math.max(2, Math.round((downbeats[downbeats.length - 1] - downbeats[0]) / (downbeats.length - 1) / songBeat)) : 4;
      const next = beats.find((b) => b >= from - 0.001);
      const phase = next === undefined ? 0 : (next - from) / this.rate;
      const rate = this.ctx.sampleRate;
      const buffer = this.ctx.createBuffer(1, Math.ceil((perBar * beat + 0.05) * rate), rate);
      const data = buffer.getChannelData(0);
      for (let j = 0; j < perBar; j++) addClick(data, Math.round(j * beat * rate), j === 0, rate);
      return { buffer, lead: perBar * beat - phase };
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
      this.loading = new Promise((resolve, reject) => {
        const check = () => { if (audio.every((s) => s.buffer)) resolve(); };
        Promise.all(audio.map((stem) => this.fetchStem(stem, generation, check))).then(() => {
          if (generation !== this.generation) return;
          this.showProgress();
          announce("loaded", { bytes: audio.reduce((n, s) => n + s.received, 0) });
          resolve();
          this.resume();
        }, (error) => {
          if (generation !== this.generation) return;
          this.loading = null;
          this.status("Could not load the stems: " + error.message);
          reject(error);
        });
      }).then(() => this.apply());
      return this.loading;
    }

    async fetchStem(stem, generation, ready) {
      stem.buffer = null; stem.full = false; stem.received = 0; stem.total = 0;
      const response = await fetch(this.lossless ? stem.src : stem.listen, { credentials: "same-origin" });
      if (!response.ok) throw new Error(stem.name + ": HTTP " + response.status);
      stem.total = parseInt(response.headers.get("Content-Length"), 10) || 0;
      const reader = response.body.getReader();
      const chunks = [];
      let head = !this.lossless;  // a WAV or FLAC is decoded whole
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (generation !== this.generation) { reader.cancel(); return; }
        chunks.push(value);
        stem.received += value.length;
        this.showProgress();
        if (head && stem.received >= HEAD_BYTES && stem.received < stem.total) {
          head = false;
          this.ctx.decodeAudioData(wholePages(joined(chunks))).then((buffer) => {
            if (generation !== this.generation || stem.full) return;
            stem.buffer = buffer;
            ready();
          }, () => {});  // a beginning that does not decode on its own: the whole file will
        }
      }
      const buffer = await this.ctx.decodeAudioData(joined(chunks).buffer);
      if (generation !== this.generation) return;
      this.upgrade(stem, buffer);
      ready();
    }

    // A stem's whole buffer takes over from its beginning: at one context time, from the same position, so
    // every stem stays on the same sample whichever arrives first.
    upgrade(stem, buffer) {
      const wasPlaying = this.playing && stem.source;
      stem.buffer = buffer;
      stem.full = true;
      if (wasPlaying) {
        const old = stem.source;
        const when = this.ctx.currentTime + AHEAD_S;
        this.startSource(stem, when, this.songAt(when));
        old.stop(when);
        old.onended = () => old.disconnect();
      }
      if (this.playing && stem.stretching) this.feed(stem);  // the node goes on at the same song time
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

    // A click a beat, higher and louder on downbeats, rendered once into a buffer as long as the song, so
    // it starts, seeks, mutes and pans exactly like a stem and stays on the same sample clock.
    clickBuffer(click) {
      const rate = this.ctx.sampleRate;
      const buffer = this.ctx.createBuffer(1, Math.max(1, Math.ceil(this.duration * rate)), rate);
      const data = buffer.getChannelData(0);
      for (const at of click.beats) addClick(data, Math.round(at * rate), click.downbeats.has(at), rate);
      return buffer;
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
    async readyStretch() {
      if (!window.SignalsmithStretch) await loadScript(this.stretchUrl);
      // The worklet loads the same file, not a blob: module (the CSP allows scripts from this site only).
      window.SignalsmithStretch.moduleUrl = this.stretchUrl;
      for (const stem of this.stems) {
        if (!stem.stretch) {
          stem.stretch = await window.SignalsmithStretch(this.ctx);
          this.stretchLatency = await stem.stretch.latency();
        }
        if (stem.buffer && stem.fed !== stem.buffer) this.feed(stem);
      }
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

    // A new speed or pitch. Between two stretched settings every node changes at the same context time and
    // the song goes on; to or from the recording as it is, playback starts again where it was.
    setTempo(rate, semitones) {
      rate = Math.max(0.5, Math.min(1.5, rate));
      semitones = Math.max(-12, Math.min(12, Math.round(semitones) || 0));
      if (rate === this.rate && semitones === this.semitones) return;
      const stretching = this.playing && this.stems.every((s) => s.stretching);
      if (stretching && (rate !== 1 || semitones !== 0)) {
        const when = this.ctx.currentTime + AHEAD_S;
        const at = this.songAt(when);
        for (const stem of this.stems) stem.stretch.schedule({ output: when, rate, semitones });
        this.rate = rate;
        this.semitones = semitones;
        this.startedAt = when - at / rate;
      } else {
        const at = this.position();
        this.rate = rate;
        this.semitones = semitones;
        if (this.playing) this.seek(at);
      }
      this.renderTempo();
    }

    // Play as a person asks for it: after a bar of count-in when that is on.
    async start() {
      await this.play(this.countIn);
    }

    async play(countIn = false) {
      this.waiting = false;
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

    status(text) {
      const line = this.root && this.root.querySelector("[data-mixer-status]");
      if (line) line.textContent = text || line.dataset.help;
    }

    tick() {
      if (!this.playing) return;
      if (this.position() > this.available() - MARGIN_S) {  // caught up with the download: wait for it
        this.pause();
        this.waiting = true;
        this.showProgress();
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

    renderPosition() {
      if (!this.root) return;
      const at = this.position();
      const time = this.root.querySelector("[data-time]");
      if (time) time.textContent = clock(at);
      const seek = this.root.querySelector("[data-seek]");
      if (seek && document.activeElement !== seek) seek.value = at;
      const x = this.duration ? (at / this.duration) * 1000 : 0;
      this.root.querySelectorAll(".playhead").forEach((line) => {
        line.setAttribute("x1", x); line.setAttribute("x2", x);
      });
    }

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
      const download = this.root.querySelector("[data-mix-download]");
      if (download) download.href = this.mixHref();
      this.renderLoop();
      this.renderTempo();
      this.renderPosition();
    }

    // "124 → 99 BPM, A minor → G minor": what the song has become.
    renderTempo() {
      if (!this.root) return;
      const percent = Math.round(this.rate * 100);
      const slider = this.root.querySelector("[data-rate]");
      if (slider) { slider.value = percent; slider.setAttribute("aria-valuetext", percent + " %"); }
      const output = this.root.querySelector("[data-rate-text]");
      if (output) output.textContent = percent + " %";
      const semitones = this.root.querySelector("[data-semitones]");
      if (semitones && document.activeElement !== semitones) semitones.value = this.semitones;
      const reset = this.root.querySelector('[data-action="tempo-reset"]');
      if (reset) reset.hidden = !this.stretched();
      const parts = [];
      if (this.tempo && this.rate !== 1) {
        parts.push(`${Math.round(this.tempo)} \u2192 ${Math.round(this.tempo * this.rate)} BPM`);
      }
      if (this.keys.length === 25 && this.semitones) parts.push(`${this.keys[12]} \u2192 ${this.keys[12 + this.semitones]}`);
      else if (this.semitones) parts.push(`${this.semitones > 0 ? "+" : "\u2212"}${Math.abs(this.semitones)} semitones`);
      const text = this.root.querySelector("[data-tempo-text]");
      if (text) text.textContent = parts.join(", ");
    }

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
    }

    // A click on a waveform seeks there; a drag sets a loop over what it covers, snapped to the grid.
    bindWave(wave) {
      if (!wave) return;
      const time = (e) => {
        const box = wave.getBoundingClientRect();
        return Math.max(0, Math.min(1, (e.clientX - box.left) / box.width)) * this.duration;
      };
      let drag = null;
      wave.addEventListener("pointerdown", (e) => {
        drag = { x: e.clientX, from: time(e), moved: false };
        wave.setPointerCapture(e.pointerId);
      });
      wave.addEventListener("pointermove", (e) => {
        if (!drag || (!drag.moved && Math.abs(e.clientX - drag.x) < 6)) return;
        drag.moved = true;
        const [a, b] = [drag.from, time(e)].sort((x, y) => x - y);
        this.renderLoop({ start: this.snapped(a, false), end: this.snapped(b, true) });
      });
      wave.addEventListener("pointerup", (e) => {
        if (!drag) return;
        const [a, b] = [drag.from, time(e)].sort((x, y) => x - y);
        if (drag.moved) this.setLoop(this.snapped(a, false), this.snapped(b, true));
        else this.seek(drag.from);
        drag = null;
      });
    }

    // The loop as a band on every waveform, and in words beside the transport.
    renderLoop(loop = this.loop) {
      if (!this.root) return;
      this.root.querySelectorAll(".stem-wave").forEach((svg) => {
        let band = svg.querySelector(".loop-band");
        if (!band) {
          band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
          band.setAttribute("class", "loop-band");
          band.setAttribute("y", "0");
          band.setAttribute("height", "48");
          svg.insertBefore(band, svg.firstChild);
        }
        band.setAttribute("x", loop ? (loop.start / this.duration) * 1000 : 0);
        band.setAttribute("width", loop ? ((loop.end - loop.start) / this.duration) * 1000 : 0);
      });
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
    }

    // A control of the mixer's (a select or a checkbox): shows the engine's setting, changes it.
    bindSetting(root, selector, property, value, change) {
      const control = root.querySelector(selector);
      if (!control) return;
      control[property] = value;
      control.addEventListener("change", (e) => change(e.target[property]));
    }

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
      this.bindSetting(root, "[data-count-in]", "checked", this.countIn, (on) => { this.countIn = on; });
      this.bindSetting(root, "[data-lossless]", "checked", this.lossless, (on) => this.setLossless(on));
      const rate = root.querySelector("[data-rate]");
      if (rate) rate.addEventListener("input", (e) => this.setTempo(parseInt(e.target.value, 10) / 100, this.semitones));
      const semitones = root.querySelector("[data-semitones]");
      if (semitones) semitones.addEventListener("input", (e) => {
        if (e.target.value !== "" && e.target.value !== "-") this.setTempo(this.rate, parseInt(e.target.value, 10));
      });
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
        strip.querySelectorAll(".stem-wave").forEach((svg) => this.bindWave(svg));  // its waveform, its notes
      }
      this.render();
    }
  }

  // What a screen reader reads for a slider: "−3.0 dB" rather than "0.71"; "20 % left" rather than "-0.2".
  function decibels(gain) {
    if (gain <= 0.0001) return "silent";
    const db = 20 * Math.log10(gain);
    return (db < -0.05 ? "\u2212" : db > 0.05 ? "+" : "") + Math.abs(db).toFixed(1) + " dB";
  }

  function panned(pan) {
    const percent = Math.round(Math.abs(pan) * 100);
    return percent === 0 ? "centre" : `${percent} % ${pan < 0 ? "left" : "right"}`;
  }

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
  // Access to the track ended (static/js/live.js): silence.
  document.addEventListener("soundforge:stop", () => engines.forEach((engine) => engine.pause()));
  document.addEventListener("DOMContentLoaded", () => bindAll(document));
  window.SoundForgeMixer = { engines };
})();

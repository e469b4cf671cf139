// A person's practice settings for this track: speed, transpose, loop, each stem's level, pan, mute and solo,
// the click and the count-in. The page carries how they last left it (#practice-data, theirs alone: never in
// a pushed panel); the engine starts from it, and every change is kept on the server a moment after it is
// made (one request for a burst of changes), for their next visit. A link holder has no account: nothing
// is kept (the page has no #practice-url).
const SAVE_AFTER_MS = 800;

export function saved() {
  const data = document.getElementById("practice-data");
  try {
    return data ? JSON.parse(data.textContent) || {} : {};
  } catch (error) {
    return {};
  }
}

// The engine's settings as the server keeps them (tracks/music/practice.py).
export function settings(engine) {
  const { rate, semitones } = engine.pendingTempo || engine;
  const stems = {};
  for (const stem of engine.stems) {
    stems[stem.name] = { gain: stem.gain, pan: stem.pan, mute: stem.mute, solo: stem.solo };
  }
  return { rate, semitones, count_in: engine.countIn,
           loop: engine.loop ? [engine.loop.start, engine.loop.end] : null, stems };
}

// The saved settings on a new engine, before it first plays: as if the person had set them again.
export function restore(engine, kept) {
  if (!kept || !Object.keys(kept).length) return;
  engine.rate = Math.max(0.5, Math.min(1.5, Number(kept.rate) || 1));
  engine.semitones = Math.max(-12, Math.min(12, Math.round(Number(kept.semitones) || 0)));
  engine.countIn = !!kept.count_in;
  if (Array.isArray(kept.loop) && kept.loop[1] - kept.loop[0] >= 0.25) {
    engine.loop = { start: Math.max(0, kept.loop[0]), end: Math.min(engine.duration || kept.loop[1], kept.loop[1]) };
    engine.offset = engine.loop.start;
  }
  restoreLevels(engine.stems, kept);
}

// The stems' levels (the click's too, once it appears: the beats are known).
export function restoreLevels(stems, kept) {
  const levels = (kept && kept.stems) || {};
  for (const stem of stems) {
    const level = levels[stem.name];
    if (!level) continue;
    Object.assign(stem, { gain: Number(level.gain), pan: Number(level.pan), mute: !!level.mute, solo: !!level.solo });
  }
}

// A JSON body posted as the page's own script (its CSRF header from the body's hx-headers).
function postJSON(url, body) {
  const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  return fetch(url, { method: "POST", body, credentials: "same-origin",
                      headers: { ...headers, "Content-Type": "application/json" } });
}

// Keep the settings a moment after the last change, if they changed since they were last kept.
export function remember(engine) {
  const target = document.getElementById("practice-url");
  if (!target) return;
  const now = JSON.stringify(settings(engine));
  if (engine.practiceKept === undefined) engine.practiceKept = now;  // the first look: what it started from
  if (now === engine.practiceKept) return;
  clearTimeout(engine.practiceTimer);
  engine.practiceTimer = setTimeout(() => {
    const body = JSON.stringify(settings(engine));
    postJSON(target.dataset.url, body)
      .then((response) => {
        if (response.ok) {
          engine.practiceKept = body;
          document.dispatchEvent(new CustomEvent("soundforge:practice-kept", { detail: JSON.parse(body) }));
        }
      }, () => {});  // offline: the next change tries again
  }, SAVE_AFTER_MS);
}

// "Agree these settings for everyone" on a song opened from a setlist (its #setlist-bar): the mixer's
// settings become where everyone who opens it from there starts (views/crates.py: crate_agree).
export function agree(engine, button) {
  const status = button.parentElement.querySelector("[data-agree-status]");
  const say = (text) => { if (status) status.textContent = text; };
  if (!engine) { say("Separate the song first: its speed and key are set in the stems' mixer."); return; }
  postJSON(button.dataset.url, JSON.stringify(settings(engine)))
    .then((response) => (response.ok ? response.json() : response.text().then((text) => Promise.reject(text))))
    .then((answer) => {
      const summary = document.getElementById("agreed-summary");
      if (summary) summary.textContent = answer.summary ? `agreed: ${answer.summary}` : "agreed: the song as it is";
      say("Agreed: everyone who opens it from here starts there.");
    }, (text) => say(typeof text === "string" && text ? text : "Not kept: try again."));
}

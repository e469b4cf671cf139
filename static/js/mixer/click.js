// The metronome: a click a beat (higher and louder on downbeats) as long as the song, and the count-in's bar.

// One metronome click into ``data`` at sample ``start``: higher and louder when ``accented``.
function addClick(data, start, accented, rate) {
  const length = Math.round(0.03 * rate);
  for (let i = 0; i < length && start + i < data.length; i++) {
    data[start + i] += (accented ? 0.9 : 0.5) * Math.sin(2 * Math.PI * (accented ? 1600 : 1000) * i / rate) * Math.exp(-i / (0.006 * rate));
  }
}

// A click a beat, higher and louder on downbeats, rendered once into a buffer as long as the song, so it
// starts, seeks, mutes and pans exactly like a stem and stays on the same sample clock.
export function clickTrack(ctx, beats, downbeats, duration) {
  const rate = ctx.sampleRate;
  const buffer = ctx.createBuffer(1, Math.max(1, Math.ceil(duration * rate)), rate);
  const data = buffer.getChannelData(0);
  for (const at of beats) addClick(data, Math.round(at * rate), downbeats.has(at), rate);
  return buffer;
}

// The typical gap between successive points (a beat, a bar): their median; undefined for fewer than two.
export function medianGap(points) {
  const gaps = points.slice(1).map((p, i) => p - points[i]).sort((a, b) => a - b);
  return gaps[gaps.length >> 1];
}

// One bar of clicks on the song's grid, the first accented, ending one beat before the first beat at or
// after ``from``, at ``speed``; returns the buffer and how long after its start the song must start.
export function countIn(ctx, beats, downbeats, from, speed) {
  if (beats.length < 2) return null;
  const songBeat = medianGap(beats);
  const beat = songBeat / speed;  // at the speed the song will play
  const perBar = downbeats.length > 1  // counted in the song's own time
    ? Math.max(2, Math.round((downbeats[downbeats.length - 1] - downbeats[0]) / (downbeats.length - 1) / songBeat)) : 4;
  const next = beats.find((b) => b >= from - 0.001);
  const phase = next === undefined ? 0 : (next - from) / speed;
  const rate = ctx.sampleRate;
  const buffer = ctx.createBuffer(1, Math.ceil((perBar * beat + 0.05) * rate), rate);
  const data = buffer.getChannelData(0);
  for (let j = 0; j < perBar; j++) addClick(data, Math.round(j * beat * rate), j === 0, rate);
  return { buffer, lead: perBar * beat - phase };
}

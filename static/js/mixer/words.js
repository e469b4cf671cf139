// How the mixer says its numbers: a clock, decibels, a pan, a size.

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

// What a screen reader reads for a slider: "−3.0 dB" rather than "0.71"; "20 % left" rather than "-0.2".
export function decibels(gain) {
  if (gain <= 0.0001) return "silent";
  const db = 20 * Math.log10(gain);
  return (db < -0.05 ? "\u2212" : db > 0.05 ? "+" : "") + Math.abs(db).toFixed(1) + " dB";
}

export function panned(pan) {
  const percent = Math.round(Math.abs(pan) * 100);
  return percent === 0 ? "centre" : `${percent} % ${pan < 0 ? "left" : "right"}`;
}

export function megabytes(n) {
  return (n / 1e6).toFixed(1) + " MB";
}

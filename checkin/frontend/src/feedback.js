// Sounds for the three outcomes, made with Web Audio (no files to cache). Browsers only
// allow sound after a user gesture, so the context is resumed on the first tap or key.
let context = null;

export function unlockAudio() {
  try {
    context = context || new (window.AudioContext || window.webkitAudioContext)();
    if (context.state === "suspended") context.resume();
  } catch (error) {
    context = null;
  }
}

function tone(frequency, start, duration, type = "sine") {
  const osc = context.createOscillator();
  const gain = context.createGain();
  osc.type = type;
  osc.frequency.value = frequency;
  gain.gain.setValueAtTime(0.25, context.currentTime + start);
  gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + start + duration);
  osc.connect(gain).connect(context.destination);
  osc.start(context.currentTime + start);
  osc.stop(context.currentTime + start + duration);
}

export function beep(kind) {
  if (!context || context.state !== "running") return;
  if (kind === "ok") {
    tone(1320, 0, 0.12);
  } else if (kind === "warn") {
    tone(660, 0, 0.1);
    tone(660, 0.15, 0.1);
  } else {
    tone(180, 0, 0.35, "square");
  }
  if (navigator.vibrate) navigator.vibrate(kind === "ok" ? 40 : [80, 60, 80]);
}

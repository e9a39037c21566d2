// melodygan studio: the page. Plain JavaScript, no libraries; talks to the JSON API of the server
// that served it (see /docs). Everything the page shows comes from clips: JSON with the notes of
// the melody and voices and the chord symbols, in steps of the clip's grid.
"use strict";

const $ = (id) => document.getElementById(id);
// the melody strong and outlined, the chord voicings (which share its register) a lighter blue
const COLORS = { melody: "#d9682b", Chords: "#9dbbe8", Bass: "#3a9d57", Alto: "#5b7fd0", Tenor: "#9467bd", other: "#b4b8bf" };
const ROLL = { left: 40, barRow: 18, chordRow: 24, bottom: 6, height: 380, minStepPx: 3.5 };  // longer clips scroll

const state = {
  info: null, clip: null, history: [], selection: null, job: null, busy: false,
  playing: null, // {mode, start, ctx, nodes}
  dragFrom: null, recorder: null,
};

// --- talking to the server -----------------------------------------------------------------------
async function api(path, options = {}) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    const msg = body && body.error ? body.error : `the server answered ${res.status} ${res.statusText}`;
    throw new Error(msg);
  }
  return body;
}

function postJSON(path, data) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
}

// Start a job and follow it to its end, showing its stage and progress in the header.
async function runJob(label, start) {
  if (state.busy) throw new Error("one thing at a time: wait for the current job or cancel it");
  state.busy = true;
  updateButtons();
  const t0 = performance.now();
  showJob(label, 0, null, 0);
  try {
    let job = await start();
    state.job = job;
    while (job.status === "queued" || job.status === "running") {
      const stage = job.status === "queued" ? "waiting for the job before it" : job.stage || label;
      showJob(stage, job.progress, job.expected_s, (performance.now() - t0) / 1000);
      await sleep(150);
      job = await api(`/api/jobs/${job.id}`);
      state.job = job;
    }
    if (job.status === "error") throw new Error(job.error);
    if (job.status === "cancelled") throw new Error("cancelled");
    job.roundtrip_s = (performance.now() - t0) / 1000;
    return job;
  } finally {
    state.busy = false;
    state.job = null;
    $("job").hidden = true;
    updateButtons();
  }
}

function showJob(stage, fraction, expected, elapsed) {
  $("job").hidden = false;
  $("job-stage").textContent = stage + "…";
  $("job-time").textContent = elapsed >= 0.5 ? `${elapsed.toFixed(1)} s` : "";
  let f = fraction || 0;
  if (expected) f = Math.max(f, Math.min(0.95, elapsed / expected));
  else f = Math.max(f, Math.min(0.9, 1 - Math.exp(-elapsed / 8)));
  $("job-bar").style.width = `${Math.round(100 * f)}%`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function say(text, kind = "error") {
  const box = $("message");
  if (!text) { box.hidden = true; return; }
  box.textContent = text;
  box.className = "message" + (kind === "info" ? " info" : "");
  box.hidden = false;
}

async function act(label, start) {
  say(null);
  try {
    const job = await runJob(label, start);
    const clips = job.result.clips;
    for (const c of clips) c.roundtrip_s = job.roundtrip_s;
    showClip(clips[clips.length - 1]);
    return clips;
  } catch (e) {
    if (e.message !== "cancelled") say(e.message);
    else say("Cancelled.", "info");
    return null;
  }
}

// --- controls --------------------------------------------------------------------------------
function fillSelect(sel, values, labels = {}) {
  sel.innerHTML = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = v; o.textContent = labels[v] || v;
    sel.appendChild(o);
  }
}

async function init() {
  state.info = await api("/api/info");
  const keySel = $("key");
  for (const k of state.info.keys) {
    const o = document.createElement("option"); o.value = k; o.textContent = k; keySel.appendChild(o);
  }
  fillSelect($("meter"), state.info.meters);
  fillSelect($("accompaniment"), state.info.accompaniments);
  fillSelect($("bass"), state.info.basses);
  fillSelect($("chord-rate"), state.info.chord_rates);
  fillSelect($("harmony-style"), state.info.harmony_styles || ["leadsheet"],
             { leadsheet: "chords + accompaniment", chorale: "four-part chorale (SATB)" });
  $("bars").max = state.info.max_bars;
  bind();
  draw();
}

function arrangement() {
  return { accompaniment: $("accompaniment").value, bass: $("bass").value };
}

function generateRequest() {
  return {
    engine: $("engine").value, genre: $("genre").value, key: $("key").value || null, meter: $("meter").value,
    tempo_bpm: Number($("tempo").value) || 110, bars: Number($("bars").value) || 8,
    chords: $("chords").value.trim() || null, seed: Number($("seed").value) || 0, ...arrangement(),
  };
}

function bind() {
  $("gen-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act("generating", () => postJSON("/api/generate", generateRequest()));
  });
  $("dice").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 100000); });
  $("job-cancel").addEventListener("click", () => {
    if (state.job) api(`/api/jobs/${state.job.id}`, { method: "DELETE" }).catch(() => {});
  });
  for (const id of ["accompaniment", "bass"]) {
    $(id).addEventListener("change", () => {
      if (state.clip && state.clip.chords.length && !state.busy)
        act("arranging", () => postJSON("/api/arrange", { clip: state.clip.id, ...arrangement() }));
    });
  }
  $("file").addEventListener("change", () => {
    const f = $("file").files[0];
    if (f) uploadMelody(f);
    $("file").value = "";
  });
  $("harmonize").addEventListener("click", harmonizeCurrent);
  $("record").addEventListener("click", toggleRecording);
  $("play").addEventListener("click", () => (state.playing ? stop() : play()));
  $("regen").addEventListener("click", regenerate);
  $("vary").addEventListener("click", () => {
    act("writing a variation", () => postJSON("/api/vary",
      { clip: state.clip.id, seed: Math.floor(Math.random() * 100000) }));
  });
  $("back").addEventListener("click", () => {
    const i = state.history.findIndex((c) => c.id === state.clip.id);
    const parent = state.clip.parent && state.history.find((c) => c.id === state.clip.parent);
    showClip(parent || state.history[Math.max(0, i - 1)], false);
  });
  $("sel").addEventListener("change", () => {
    const m = $("sel").value.trim().match(/^(\d+)\s*(?:[-–]\s*(\d+))?$/);
    state.selection = m ? [Number(m[1]), Number(m[2] || m[1])].sort((a, b) => a - b) : null;
    draw(); updateButtons();
  });
  const drag = $("drag");
  drag.addEventListener("dragstart", (e) => {
    if (!state.clip) return;
    const url = new URL(state.clip.urls.midi + "?download=1", location.href).href;
    e.dataTransfer.setData("DownloadURL", `audio/midi:${state.clip.filename}:${url}`);
    e.dataTransfer.setData("text/uri-list", url);
    e.dataTransfer.setData("text/plain", url);
  });
  const canvas = $("roll");
  canvas.addEventListener("mousedown", (e) => {
    const bar = barAt(e.offsetX);
    if (bar === null) return;
    state.dragFrom = bar; setSelection(bar, bar);
  });
  canvas.addEventListener("mousemove", (e) => {
    if (state.dragFrom === null) return;
    const bar = barAt(e.offsetX);
    if (bar !== null) setSelection(state.dragFrom, bar);
  });
  window.addEventListener("mouseup", () => { state.dragFrom = null; });
  window.addEventListener("resize", () => draw());
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space" && !/INPUT|SELECT|TEXTAREA|BUTTON/.test(document.activeElement.tagName) && state.clip) {
      e.preventDefault(); state.playing ? stop() : play();
    }
  });
  $("player").addEventListener("ended", () => stop());
}

function setSelection(a, b) {
  state.selection = [Math.min(a, b), Math.max(a, b)];
  $("sel").value = state.selection[0] === state.selection[1] ? `${state.selection[0]}` : state.selection.join("-");
  draw(); updateButtons();
}

function updateButtons() {
  const c = state.clip, busy = state.busy;
  $("generate").disabled = busy;
  $("harmonize").disabled = busy || !c || !c.melody.length;
  $("play").disabled = !c;
  $("regen").disabled = busy || !c || !state.selection;
  $("vary").disabled = busy || !c || !c.chords.length;
  $("back").disabled = busy || !c || state.history.length < 2;
  $("record").disabled = busy && !state.recorder;
  for (const id of ["dl-midi", "dl-wav", "dl-xml", "drag"]) $(id).classList.toggle("disabled", !c);
}

// --- jobs from the page ---------------------------------------------------------------------------
async function uploadMelody(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const tempo = Number($("hum-tempo").value);
  if (tempo && /\.(wav|flac|mp3|ogg)$/i.test(file.name)) form.append("tempo_bpm", String(tempo));
  const clips = await act(/\.(wav|flac|mp3|ogg)$/i.test(file.name) ? "listening to the recording" : "reading the file",
    () => api("/api/upload", { method: "POST", body: form }));
  if (!clips) return;
  const clip = clips[0];
  if (!clip.melody.length) return say("The file has chords but no melody to harmonize.", "info");
  if ($("auto-harmonize").checked) await harmonizeCurrent();
  else say(`Read ${clip.melody.length} notes. Press “Harmonize this melody” to add chords.`, "info");
}

function harmonizeCurrent() {
  if (!state.clip) return null;
  return act("harmonizing", () => postJSON("/api/harmonize", {
    clip: state.clip.id, chord_rate: $("chord-rate").value, style: $("harmony-style").value, ...arrangement(),
  }));
}

function regenerate() {
  if (!state.clip || !state.selection) return;
  const [a, b] = state.selection;
  act(`rewriting bars ${a}–${b}`, () => postJSON("/api/infill", {
    clip: state.clip.id, bars: `${a}-${b}`, part: $("part").value, seed: Math.floor(Math.random() * 100000),
  }));
}

// --- the current clip -----------------------------------------------------------------------------
function showClip(clip, remember = true) {
  stop();
  state.clip = clip;
  if (remember && !state.history.some((c) => c.id === clip.id)) state.history.push(clip);
  if (clip.kind !== "infill" || (state.selection && state.selection[1] > clip.num_bars)) {
    state.selection = null; $("sel").value = "";
  }
  $("dl-midi").href = clip.urls.midi + "?download=1";
  $("dl-wav").href = clip.urls.wav + "?download=1";
  $("dl-xml").href = clip.urls.musicxml + "?download=1";
  $("drag").href = clip.urls.midi + "?download=1";
  for (const id of ["dl-midi", "dl-wav", "dl-xml", "drag"]) $(id).setAttribute("download", "");
  const player = $("player");
  player.src = clip.urls.wav;
  player.load();
  const kinds = { generate: "Generated", upload: "Read", harmonize: "Harmonized", infill: "Regenerated bars",
    vary: "Variation", arrange: "Re-arranged" };
  const chords = clip.chords.map((c) => c.symbol).join(" ");
  const s = $("summary");
  s.innerHTML = "";
  const head = document.createElement("b");
  head.textContent = `${kinds[clip.kind] || clip.kind}${clip.title ? " · " + clip.title : ""}`;
  s.append(head, ` — ${clip.key}, ${clip.meter.join("/")}, ${Math.round(clip.tempo_bpm)} bpm, ${clip.num_bars} bars, ` +
    `${clip.melody.length} melody notes` + (clip.roundtrip_s ? `, ready in ${clip.roundtrip_s.toFixed(1)} s` : ""));
  if (chords) {
    const c = document.createElement("div");
    c.className = "chords"; c.textContent = chords;
    s.append(c);
  }
  $("notes").textContent = (clip.notes || []).join(" · ");
  renderHistory();
  updateButtons();
  draw();
}

function renderHistory() {
  const ol = $("history");
  ol.innerHTML = "";
  state.history.forEach((c, i) => {
    const li = document.createElement("li");
    if (state.clip && c.id === state.clip.id) li.className = "current";
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${i + 1}. ${c.kind}${c.changed_bars ? " " + c.changed_bars.join("–") : ""} · ${c.key}`;
    b.addEventListener("click", () => showClip(c, false));
    li.appendChild(b);
    ol.appendChild(li);
  });
}

// --- the piano roll -------------------------------------------------------------------------------
function geometry() {
  const box = $("roll-box");
  const clip = state.clip;
  const end = clip ? clip.end_steps : 8 * 16;
  const width = Math.max(box.clientWidth - 2, Math.ceil(ROLL.left + end * ROLL.minStepPx + 10));
  const x0 = ROLL.left, x1 = width - 8;
  const x = (step) => x0 + (step / end) * (x1 - x0);
  return { width, height: ROLL.height, end, x, x0, x1 };
}

function barStart(clip, bar) { // bar 1 starts after the pickup; bar 0 is the pickup
  return bar === 0 ? 0 : clip.pickup_steps + (bar - 1) * clip.bar_steps;
}

function barAt(px) {
  const clip = state.clip;
  if (!clip) return null;
  const g = geometry();
  if (px < g.x0 || px > g.x1) return null;
  const step = ((px - g.x0) / (g.x1 - g.x0)) * g.end;
  if (step < clip.pickup_steps) return 0;
  return Math.min(clip.num_bars, Math.floor((step - clip.pickup_steps) / clip.bar_steps) + 1);
}

function barX(bar) { // for scripts and tests: the middle of a bar on the canvas, in CSS pixels
  const clip = state.clip, g = geometry();
  return g.x(barStart(clip, bar) + (bar === 0 ? clip.pickup_steps : clip.bar_steps) / 2);
}

function tracks(clip) {
  const out = [];
  for (const [name, notes] of Object.entries(clip.voices)) {
    out.push({ name, notes, color: COLORS[name] || (/bass/i.test(name) ? COLORS.Bass : COLORS.other) });
  }
  out.push({ name: "melody", notes: clip.melody, color: COLORS.melody });
  return out;
}

function draw(playStep = null) {
  const canvas = $("roll"), g = geometry(), dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(g.width * dpr) || canvas.height !== Math.round(g.height * dpr)) {
    canvas.width = Math.round(g.width * dpr); canvas.height = Math.round(g.height * dpr);
    canvas.style.width = `${g.width}px`; canvas.style.height = `${g.height}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, g.width, g.height);
  const clip = state.clip;
  const top = ROLL.barRow + ROLL.chordRow, bottom = g.height - ROLL.bottom;
  ctx.font = "12px system-ui, sans-serif";
  if (!clip) {
    ctx.fillStyle = "#9a9ea6"; ctx.textAlign = "center";
    ctx.fillText("Your clip appears here: melody, chords and bass, bar by bar.", g.width / 2, g.height / 2);
    ctx.textAlign = "left";
    return;
  }
  const all = tracks(clip).flatMap((t) => t.notes);
  let lo = Math.min(...all.map((n) => n[2]), 60) - 1, hi = Math.max(...all.map((n) => n[2]), 72) + 1;
  if (!all.length) { lo = 48; hi = 84; }
  const rowH = (bottom - top) / (hi - lo + 1);
  const y = (pitch) => top + (hi - pitch) * rowH;
  // black-key rows and octave labels
  for (let p = lo; p <= hi; p++) {
    if ([1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12)) {
      ctx.fillStyle = "#f4f3f0"; ctx.fillRect(g.x0, y(p), g.x1 - g.x0, rowH);
    }
    if (p % 12 === 0) {
      ctx.fillStyle = "#9a9ea6"; ctx.fillText(`C${p / 12 - 1}`, 6, y(p) + rowH - 1);
      ctx.fillStyle = "#e6e4df"; ctx.fillRect(g.x0, y(p) + rowH - 0.5, g.x1 - g.x0, 1);
    }
  }
  // selection and freshly rewritten bars
  const span = (a, b) => [g.x(barStart(clip, a)), g.x(b === 0 ? clip.pickup_steps : barStart(clip, b) + clip.bar_steps)];
  if (clip.changed_bars) {
    const [xa, xb] = span(...clip.changed_bars);
    ctx.fillStyle = "rgba(74, 127, 212, 0.07)"; ctx.fillRect(xa, 0, xb - xa, g.height);
  }
  if (state.selection) {
    const [xa, xb] = span(...state.selection);
    ctx.fillStyle = "rgba(240, 180, 20, 0.22)"; ctx.fillRect(xa, 0, xb - xa, g.height);
    ctx.strokeStyle = "#e0a800"; ctx.lineWidth = 1.5; ctx.strokeRect(xa + 0.75, 0.75, xb - xa - 1.5, g.height - 1.5);
  }
  // beat and bar lines, bar numbers
  for (let s = clip.pickup_steps % clip.beat_steps; s <= clip.end_steps; s += clip.beat_steps) {
    const onBar = (s - clip.pickup_steps) % clip.bar_steps === 0;
    ctx.fillStyle = onBar ? "#b9b6ae" : "#ebe9e4";
    ctx.fillRect(Math.round(g.x(s)) - (onBar ? 0.5 : 0), onBar ? 0 : top, onBar ? 1 : 1, g.height);
  }
  ctx.fillStyle = "#6b7078";
  const firstBar = clip.pickup_steps ? 0 : 1;
  for (let b = firstBar; b <= clip.num_bars; b++) ctx.fillText(String(b), g.x(barStart(clip, b)) + 4, 13);
  ctx.fillStyle = "#e6e4df"; ctx.fillRect(g.x0, ROLL.barRow, g.x1 - g.x0, 1); ctx.fillRect(g.x0, top, g.x1 - g.x0, 1);
  // chord symbols
  ctx.font = "600 12px system-ui, sans-serif";
  for (const c of clip.chords) {
    if (c.symbol === "N.C." && c.duration < clip.beat_steps) continue;
    const xa = g.x(c.start), xb = g.x(c.start + c.duration);
    ctx.save(); ctx.beginPath(); ctx.rect(xa, ROLL.barRow, xb - xa - 2, ROLL.chordRow); ctx.clip();
    ctx.fillStyle = "#2c5aa6"; ctx.fillText(c.symbol, xa + 4, ROLL.barRow + 16);
    ctx.restore();
  }
  ctx.font = "12px system-ui, sans-serif";
  // notes: accompaniment first, the melody on top
  for (const t of tracks(clip)) {
    ctx.fillStyle = t.color;
    for (const [start, dur, pitch] of t.notes) {
      const xa = g.x(start) + 0.5, w = Math.max(2, g.x(start + dur) - g.x(start) - 1);
      roundRect(ctx, xa, y(pitch) + 0.5, w, Math.max(2, rowH - 1), Math.min(3, rowH / 3));
      if (t.name === "melody") { ctx.strokeStyle = "#8f3c0e"; ctx.lineWidth = 1; ctx.stroke(); }
    }
  }
  if (playStep !== null) {
    const px = g.x(playStep);
    ctx.fillStyle = "#c9302c"; ctx.fillRect(px - 1, 0, 2, g.height);
  }
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y); ctx.arcTo(x + w, y, x + w, y + h, r); ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r); ctx.arcTo(x, y, x + w, y, r); ctx.closePath(); ctx.fill();
}

// --- playback: the rendered WAV, or a small Web Audio synth from the notes -------------------------
function clock(seconds) {
  const total = state.clip ? state.clip.end_steps * state.clip.seconds_per_step : 0;
  const f = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
  $("clock").textContent = `${f(seconds)} / ${f(total)}`;
}

async function play() {
  if (!state.clip) return;
  stop();
  const mode = $("playback").value;
  if (mode === "wav") {
    const player = $("player");
    try {
      player.currentTime = 0;
      await player.play();
      state.playing = { mode: "wav" };
    } catch (e) {
      say("The WAV could not be played here; playing with the browser synth instead.", "info");
      $("playback").value = "synth";
      return play();
    }
  } else {
    state.playing = playSynth(state.clip);
  }
  $("play").textContent = "■ Stop";
  requestAnimationFrame(tick);
}

function position() {
  const p = state.playing;
  if (!p) return 0;
  return p.mode === "wav" ? $("player").currentTime : p.ctx.currentTime - p.start;
}

function tick() {
  if (!state.playing) return;
  const seconds = position(), clip = state.clip;
  const step = seconds / clip.seconds_per_step;
  if (step > clip.end_steps + 2) return stop();
  draw(Math.min(step, clip.end_steps));
  clock(seconds);
  const box = $("roll-box"), px = geometry().x(step);  // keep the playhead in view on a long clip
  if (px < box.scrollLeft || px > box.scrollLeft + box.clientWidth - 40) box.scrollLeft = Math.max(0, px - 60);
  requestAnimationFrame(tick);
}

function stop() {
  const p = state.playing;
  state.playing = null;
  if (p && p.mode === "wav") $("player").pause();
  if (p && p.mode === "synth") p.ctx.close().catch(() => {});
  $("play").textContent = "▶ Play";
  if (p) { draw(); clock(0); }
}

function playSynth(clip) {
  const ctx = new (window.AudioContext || window.webkitAudioContext)();
  const start = ctx.currentTime + 0.1, master = ctx.createGain();
  master.gain.value = 0.25; master.connect(ctx.destination);
  for (const t of tracks(clip)) {
    const type = t.name === "melody" ? "triangle" : t.name === "Bass" ? "sine" : "sine";
    const level = t.name === "melody" ? 0.5 : 0.18;
    for (const [s, d, pitch, vel] of t.notes) {
      const t0 = start + s * clip.seconds_per_step, t1 = t0 + d * clip.seconds_per_step;
      const osc = ctx.createOscillator(), env = ctx.createGain();
      osc.type = type; osc.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
      env.gain.setValueAtTime(0, t0);
      env.gain.linearRampToValueAtTime(level * vel / 127, t0 + 0.01);
      env.gain.setTargetAtTime(level * vel / 254, t0 + 0.02, 0.15);
      env.gain.setTargetAtTime(0, t1, 0.04);
      osc.connect(env); env.connect(master);
      osc.start(t0); osc.stop(t1 + 0.3);
    }
  }
  return { mode: "synth", ctx, start };
}

// --- recording a hummed melody: MediaRecorder, decoded and sent as a WAV ---------------------------
async function toggleRecording() {
  if (state.recorder) { state.recorder.stop(); return; }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    return say("This browser cannot record here (it needs a microphone and a page on localhost or https).");
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    return say(`No microphone: ${e.message || e.name}.`);
  }
  const chunks = [], recorder = new MediaRecorder(stream), t0 = performance.now();
  state.recorder = recorder;
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  const timer = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    $("rec-time").textContent = `${s.toFixed(1)} s`;
    if (s > 30) recorder.stop();
  }, 100);
  recorder.onstop = async () => {
    clearInterval(timer);
    stream.getTracks().forEach((t) => t.stop());
    state.recorder = null;
    $("record").classList.remove("recording");
    $("record").textContent = "● Record a hum";
    $("rec-time").textContent = "";
    updateButtons();
    try {
      const wav = await toWav(new Blob(chunks, { type: recorder.mimeType }));
      await uploadMelody(new File([wav], "hum.wav", { type: "audio/wav" }));
    } catch (e) {
      say(`The recording could not be read: ${e.message || e}`);
    }
  };
  recorder.start(250);
  $("record").classList.add("recording");
  $("record").textContent = "■ Stop recording";
  say("Recording: hum or sing one melody line, then press Stop (30 s at most).", "info");
}

async function toWav(blob) {
  const ctx = new (window.OfflineAudioContext || window.webkitOfflineAudioContext)(1, 1, 22050);
  const audio = await ctx.decodeAudioData(await blob.arrayBuffer());
  const rate = 22050, frames = Math.ceil(audio.duration * rate);
  const mix = new OfflineAudioContext(1, frames, rate), src = mix.createBufferSource();
  src.buffer = audio; src.connect(mix.destination); src.start();
  return encodeWav((await mix.startRendering()).getChannelData(0), rate);
}

function encodeWav(samples, rate) {
  const buf = new ArrayBuffer(44 + samples.length * 2), v = new DataView(buf);
  const text = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  text(0, "RIFF"); v.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE"); text(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true); text(36, "data");
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + 2 * i, Math.max(-1, Math.min(1, samples[i])) * 32767, true);
  return buf;
}

window.studio = { state, barX, barAt, draw, encodeWav, uploadMelody };
init().catch((e) => say(`The studio could not start: ${e.message}`));

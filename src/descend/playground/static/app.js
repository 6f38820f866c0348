// The playground page: the state, the calls of the server's API, the animation, and the
// wiring of every input. Every change asks the server again (one request at a time, the
// latest state winning), so what is drawn is always what descend's minimize returned.

import { COLOURS, MAX_RUNS, contourRequest, firstVisit, fromHash, runRequest, toHash } from "./state.js";
import { drawContours, drawLoss, pointAt } from "./plots.js";
import { renderOutcome, renderParts, runCard, startInputs } from "./controls.js";
import { commandLine, python } from "./snippets.js";

const GRID = 200; // contour grid points a side
const ANIMATION_SECONDS = 4; // a long run plays in about this time; a short one at 30 updates/s
const TYPING_PAUSE_MS = 250; // a formula is sent once typing pauses this long
const NEW_RUN_METHODS = ["adam", "momentum", "nesterov", "rmsprop", "lbfgs", "adagrad", "gd"];

const $ = (id) => document.getElementById(id);
const page = {
  methods: [], functions: [], state: null, results: null, grid: null, gridKey: "",
  frame: 0, playing: false, drawn: [], busy: false, pending: false, changedAt: 0,
  latency: null, requests: 0,
};

async function call(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw Object.assign(new Error(answer.error), { answer });
  return answer;
}

const lastFrame = () => Math.max(0, ...(page.results?.runs ?? []).map((run) => run.x.length - 1));
const testFunction = () => page.functions.find((f) => f.name === page.state.objective);
const variables = () => page.results?.variables ?? testFunction()?.variables ?? ["x", "y"];

function saveHash() {
  history.replaceState(null, "", `#${toHash(page.state)}`);
}

// Any edit: save it in the URL and ask the server again.
function changed() {
  page.state.frame = null;
  page.changedAt = performance.now();
  saveHash();
  refresh();
}

async function refresh() {
  if (page.busy) {
    page.pending = true;
    return;
  }
  page.busy = true;
  try {
    await fetchAll();
  } finally {
    page.busy = false;
    if (page.pending) {
      page.pending = false;
      refresh();
    }
  }
}

async function fetchAll() {
  const state = page.state;
  const gridBody = contourRequest(state, GRID);
  const gridKey = JSON.stringify(gridBody);
  const wantGrid = gridKey !== page.gridKey;
  page.requests += 1;
  const [runs, grid] = await Promise.allSettled([
    call("/api/run", runRequest(state)),
    wantGrid ? call("/api/contours", gridBody) : Promise.resolve(page.grid),
  ]);
  if (state !== page.state) return;
  showErrors(runs.status === "rejected" ? runs.reason : null);
  if (wantGrid) {
    page.gridKey = gridKey;
    page.grid = grid.status === "fulfilled" ? grid.value : null;
    const objectiveError = grid.status === "rejected" && grid.reason.answer?.column !== undefined;
    $("contour-note").textContent = grid.status === "fulfilled" || objectiveError
      ? "Paths over the objective's contours; click the plot to start elsewhere."
      : grid.reason.message;
  }
  if (runs.status === "rejected") {
    const sized = runs.reason.answer?.variables;
    if (sized && sized.length !== state.x0.length) { // a formula of another dimension
      state.x0 = sized.map((_, i) => state.x0[i] ?? 0);
      page.pending = true;
    }
    page.results = null;
  } else {
    page.results = runs.value;
    const frame = state.frame === null ? lastFrame() : Math.min(state.frame, lastFrame());
    page.frame = page.playing ? 0 : frame;
  }
  renderStart();
  renderOutcomes();
  draw();
  if (page.results) page.latency = performance.now() - page.changedAt; // to the first frame
}

function showErrors(error) {
  const answer = error?.answer ?? (error ? { error: `the server did not answer: ${error.message}` } : null);
  const formula = answer?.column !== undefined;
  const box = $("objective-error");
  box.hidden = !formula;
  $("objective").setAttribute("aria-invalid", String(formula));
  if (formula) {
    const text = page.state.objective;
    const at = Math.min(Math.max(answer.column - 1, 0), text.length);
    const mark = document.createElement("mark");
    mark.textContent = text.slice(at, at + 1) || " ";
    const line = document.createElement("span");
    line.className = "formula";
    line.append(text.slice(0, at), mark, text.slice(at + 1));
    box.replaceChildren(line, answer.error.split("\n")[0]);
  }
  const other = answer && !formula && !answer.variables;
  $("request-error").hidden = !other;
  $("request-error").textContent = other ? answer.error : "";
  const invalid = other ? /^runs\[(\d+)\]/.exec(answer.error)?.[1] : undefined;
  document.querySelectorAll(".run").forEach((card) => {
    card.dataset.invalid = String(card.dataset.run === invalid);
  });
}

function draw() {
  const state = page.state;
  const flat = variables().length === 2;
  const runs = page.results?.runs ?? [];
  page.drawn = drawContours($("contours"), {
    grid: page.grid, bounds: state.bounds, runs: flat ? runs : [], frame: page.frame,
    colours: COLOURS, start: flat ? state.x0 : [], names: variables(),
    minima: testFunction() && flat ? testFunction().minima : [],
  });
  drawLoss($("loss"), runs, page.frame, COLOURS);
  renderParts($("parts"), page.results, page.frame, COLOURS);
  const scrubber = $("frame");
  scrubber.max = String(lastFrame());
  scrubber.value = String(page.frame);
  $("frame-label").textContent = `${page.frame} of ${lastFrame()}`;
  $("contours").dataset.frame = String(page.frame);
  const play = $("play");
  play.textContent = page.playing ? "‖ Pause" : "▶ Play";
  play.setAttribute("aria-pressed", String(page.playing));
}

// The animation ------------------------------------------------------------------------

function setFrame(frame) {
  page.playing = false;
  page.frame = Math.min(Math.max(0, frame), lastFrame());
  page.state.frame = page.frame === lastFrame() ? null : page.frame;
  saveHash();
  draw();
}

function play() {
  if (page.playing) {
    setFrame(page.frame);
    return;
  }
  if (page.frame >= lastFrame()) page.frame = 0;
  page.playing = true;
  const from = page.frame;
  const rate = Math.max(30, lastFrame() / ANIMATION_SECONDS); // updates per second
  let started = null;
  const tick = (time) => {
    if (!page.playing) return;
    started ??= time;
    page.frame = Math.min(lastFrame(), from + Math.floor(((time - started) / 1000) * rate));
    if (page.frame >= lastFrame()) {
      setFrame(lastFrame());
      return;
    }
    draw();
    requestAnimationFrame(tick);
  };
  draw();
  requestAnimationFrame(tick);
}

// The inputs ---------------------------------------------------------------------------

function renderStart() {
  startInputs($("x0"), variables(), page.state.x0, (i, value) => {
    page.state.x0[i] = value;
    changed();
  });
}

function renderProblem() {
  const state = page.state;
  $("objective").value = state.objective;
  $("test-function").value = testFunction() ? state.objective : "";
  ["x-low", "x-high", "y-low", "y-high"].forEach((id, k) => {
    $(id).value = String(state.bounds[k >> 1][k & 1]);
  });
  $("max-iter").value = String(state.maxIter);
  renderStart();
}

function renderRuns() {
  const state = page.state;
  $("runs").replaceChildren(...state.runs.map((run, i) => runCard(run, i, page.methods, COLOURS[i], {
    change: changed,
    remove: () => {
      state.runs.splice(i, 1);
      renderRuns();
      changed();
    },
    method: (name) => {
      state.runs[i] = { method: name, lr: page.methods.find((m) => m.name === name).lr, hyperparameters: {} };
      renderRuns();
      changed();
    },
  })));
  $("add-run").disabled = state.runs.length >= MAX_RUNS;
  document.querySelectorAll(".run .remove").forEach((b) => { b.disabled = state.runs.length === 1; });
  renderOutcomes();
}

function renderOutcomes() {
  document.querySelectorAll(".run").forEach((card, i) => {
    renderOutcome(card, page.results?.runs[i], (lr) => {
      page.state.runs[i].lr = lr;
      renderRuns();
      changed();
    });
  });
}

function addRun() {
  const used = new Set(page.state.runs.map((run) => run.method));
  const name = NEW_RUN_METHODS.find((m) => !used.has(m)) ?? "gd";
  page.state.runs.push({ method: name, lr: page.methods.find((m) => m.name === name).lr, hyperparameters: {} });
  renderRuns();
  changed();
}

// A clicked point to about a thousandth of the window, so that the URL stays readable.
function snapped(value, range) {
  const digits = Math.max(0, 3 - Math.floor(Math.log10(range)));
  return Number(value.toFixed(digits));
}

function moveStart(point) {
  const [[x0, x1], [y0, y1]] = page.state.bounds;
  page.state.x0 = [snapped(point[0], x1 - x0), snapped(point[1], y1 - y0)];
  renderStart();
  changed();
}

function wire() {
  let typing = null;
  $("objective").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      page.state.objective = $("objective").value.trim();
      $("test-function").value = testFunction() ? page.state.objective : "";
      changed();
    }, TYPING_PAUSE_MS);
  });
  $("test-function").addEventListener("change", () => {
    const fn = page.functions.find((f) => f.name === $("test-function").value);
    if (!fn) return;
    Object.assign(page.state, { objective: fn.name, x0: fn.x0.slice(), bounds: fn.window.map((s) => s.slice()) });
    renderProblem();
    changed();
  });
  ["x-low", "x-high", "y-low", "y-high"].forEach((id) => $(id).addEventListener("change", () => {
    const [a, b, c, d] = ["x-low", "x-high", "y-low", "y-high"].map((k) => Number($(k).value));
    const good = [a, b, c, d].every(Number.isFinite) && a < b && c < d;
    ["x-low", "x-high", "y-low", "y-high"].forEach((k) => $(k).setAttribute("aria-invalid", String(!good)));
    if (!good) return;
    page.state.bounds = [[a, b], [c, d]];
    changed();
  }));
  $("max-iter").addEventListener("change", () => {
    const value = Number($("max-iter").value);
    const good = Number.isInteger(value) && value >= 1 && value <= 100000;
    $("max-iter").setAttribute("aria-invalid", String(!good));
    if (!good) return;
    page.state.maxIter = value;
    changed();
  });
  const canvas = $("contours");
  canvas.addEventListener("click", (event) => {
    const point = pointAt(canvas, page.state.bounds, event.clientX, event.clientY);
    if (point && variables().length === 2) moveStart(point);
  });
  canvas.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    const move = moves[event.key];
    if (!move || variables().length !== 2) return;
    event.preventDefault();
    const [[x0, x1], [y0, y1]] = page.state.bounds;
    moveStart([page.state.x0[0] + move[0] * 0.02 * (x1 - x0), page.state.x0[1] + move[1] * 0.02 * (y1 - y0)]);
  });
  $("play").addEventListener("click", play);
  $("to-start").addEventListener("click", () => setFrame(0));
  $("to-end").addEventListener("click", () => setFrame(lastFrame()));
  $("step-back").addEventListener("click", () => setFrame(page.frame - 1));
  $("step-forward").addEventListener("click", () => setFrame(page.frame + 1));
  $("frame").addEventListener("input", () => setFrame(Number($("frame").value)));
  $("add-run").addEventListener("click", addRun);
  $("copy-python").addEventListener("click", () => copy(python(page.state, page.functions)));
  $("copy-command").addEventListener("click", () => copy(commandLine(page.state, page.methods)));
  window.addEventListener("hashchange", () => load());
  new ResizeObserver(() => draw()).observe(canvas);
}

async function copy(text) {
  $("snippet").value = text;
  try {
    await navigator.clipboard.writeText(text);
    $("copy-status").textContent = "Copied.";
  } catch {
    $("snippet").select();
    $("copy-status").textContent = "Selected below: press Ctrl-C to copy.";
  }
}

function load() {
  page.state = fromHash(location.hash, firstVisit(page.functions), page.methods);
  renderProblem();
  renderRuns();
  saveHash();
  page.changedAt = performance.now();
  refresh();
}

async function start() {
  [page.methods, page.functions] = await Promise.all([call("/api/methods"), call("/api/functions")]);
  const picker = $("test-function");
  for (const fn of page.functions) picker.append(new Option(fn.name, fn.name));
  wire();
  load();
}

// For tests and the curious: the state, the answers, and the points drawn for each run.
window.playground = {
  get state() { return page.state; },
  get results() { return page.results; },
  get frame() { return page.frame; },
  get playing() { return page.playing; },
  get idle() { return !page.busy && !page.pending; },
  get latency() { return page.latency; },
  get requests() { return page.requests; },
  drawnPaths: () => page.drawn,
};

start();

// The page's whole state, and its text in the URL's hash, so that a link shares it and
// a reload restores it. Numbers are written with String(), the shortest text that reads
// back to the same double, so a shared link reruns exactly the same runs.

export const MAX_RUNS = 6;
export const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];

// What a first visit shows: plain GD, momentum and Adam in Rosenbrock's valley.
const FIRST_VISIT = {
  objective: "rosenbrock",
  maxIter: 500,
  runs: [
    { method: "gd", lr: 0.0015, hyperparameters: {} },
    { method: "momentum", lr: 0.0003, hyperparameters: {} },
    { method: "adam", lr: 0.05, hyperparameters: {} },
  ],
};

export function firstVisit(functions) {
  const fn = functions.find((f) => f.name === FIRST_VISIT.objective);
  return {
    objective: fn.name,
    x0: fn.x0.slice(),
    bounds: fn.window.map((side) => side.slice()),
    maxIter: FIRST_VISIT.maxIter,
    runs: FIRST_VISIT.runs.map((run) => ({ ...run, hyperparameters: {} })),
    frame: null, // null: the last update
  };
}

function numbers(text, count) {
  if (text === null) return null;
  const values = text.split(",").map(Number);
  const fits = values.every(Number.isFinite) && (count === undefined || values.length === count);
  return fits && values.length > 0 ? values : null;
}

function settingText(value) {
  return value === null ? "null" : String(value);
}

function settingValue(text) {
  if (text === "true" || text === "false") return text === "true";
  if (text === "null") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

// "adam,lr=0.05,beta1=0.8" <-> {method: "adam", lr: 0.05, hyperparameters: {beta1: 0.8}}
function runText(run) {
  const settings = Object.entries(run.hyperparameters).map(([k, v]) => `${k}=${settingText(v)}`);
  const lr = run.lr === null ? [] : [`lr=${run.lr}`];
  return [run.method, ...lr, ...settings].join(",");
}

function runFromText(text, methods) {
  const [method, ...settings] = text.split(",");
  const known = methods.find((m) => m.name === method);
  if (!known) return null;
  const run = { method, lr: known.lr, hyperparameters: {} };
  for (const setting of settings) {
    const [key, raw] = setting.split("=");
    const value = settingValue(raw ?? "");
    if (value === undefined) continue;
    if (key === "lr") run.lr = value;
    else if (known.hyperparameters.some((h) => h.name === key)) run.hyperparameters[key] = value;
  }
  return run;
}

// Commas and equals signs stay as they are (URLSearchParams would escape them), so that
// the hash reads as run=adam,lr=0.05,beta1=0.8.
const readable = (text) => encodeURIComponent(text).replace(/%2C/g, ",").replace(/%3D/g, "=");

export function toHash(state) {
  const entries = [
    ["objective", state.objective],
    ["x0", state.x0.join(",")],
    ["bounds", state.bounds.flat().join(",")],
    ["max_iter", String(state.maxIter)],
    ...state.runs.map((run) => ["run", runText(run)]),
    ...(state.frame === null ? [] : [["frame", String(state.frame)]]),
  ];
  return entries.map(([key, value]) => `${key}=${readable(value)}`).join("&");
}

// The state a hash describes; whatever it lacks or garbles comes from `fallback`.
export function fromHash(hash, fallback, methods) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const state = structuredClone(fallback);
  if (!params.has("objective")) return state;
  state.objective = params.get("objective");
  state.x0 = numbers(params.get("x0")) ?? state.x0;
  const bounds = numbers(params.get("bounds"), 4);
  if (bounds && bounds[0] < bounds[1] && bounds[2] < bounds[3]) {
    state.bounds = [bounds.slice(0, 2), bounds.slice(2)];
  }
  const maxIter = Number(params.get("max_iter"));
  if (Number.isInteger(maxIter) && maxIter >= 1) state.maxIter = maxIter;
  const runs = params.getAll("run").map((text) => runFromText(text, methods)).filter(Boolean);
  if (runs.length) state.runs = runs.slice(0, MAX_RUNS);
  const frame = Number(params.get("frame"));
  state.frame = params.has("frame") && Number.isInteger(frame) && frame >= 0 ? frame : null;
  return state;
}

// The body of POST /api/run for this state.
export function runRequest(state) {
  return {
    objective: state.objective,
    x0: state.x0,
    max_iter: state.maxIter,
    explain: true,
    runs: state.runs.map((run) => ({
      method: run.method,
      lr: run.lr,
      hyperparameters: run.hyperparameters,
    })),
  };
}

export function contourRequest(state, n) {
  return { objective: state.objective, bounds: state.bounds, n };
}

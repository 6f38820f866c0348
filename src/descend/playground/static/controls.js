// The page's inputs and readouts built from data: a card per run (method, lr on a log
// slider, the other hyperparameters), the start point's inputs, the parts of the update
// at the current step and each run's outcome with its diagnosis.

const LR_RANGE = [-6, 1]; // the slider's span, in powers of ten

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

// Three significant digits, for a value set by the slider (typed ones stay as typed).
function rounded(value) {
  return Number(value.toPrecision(3));
}

function numberOrNull(text) {
  if (text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

let serial = 0; // unique ids for labels

function settingInput(setting, run, onChange) {
  const id = `setting-${++serial}`;
  const given = Object.hasOwn(run.hyperparameters, setting.name);
  const value = given ? run.hyperparameters[setting.name] : setting.default;
  const store = (next) => {
    if (next === setting.default) delete run.hyperparameters[setting.name];
    else run.hyperparameters[setting.name] = next;
    onChange();
  };
  if (setting.kind === "bool") {
    const box = element("input", { id, type: "checkbox" });
    box.checked = value;
    box.addEventListener("change", () => store(box.checked));
    return element("label", { for: id }, setting.name, box);
  }
  const placeholder = setting.default === null ? (setting.kind === "optional" ? "none" : "∞") : "";
  const input = element("input", { id, type: "number", step: setting.kind === "int" ? "1" : "any", placeholder });
  input.value = value === null ? "" : String(value);
  input.addEventListener("change", () => {
    const next = numberOrNull(input.value);
    input.setAttribute("aria-invalid", String(next === undefined));
    if (next !== undefined) store(next);
  });
  return element("label", { for: id }, setting.name, input);
}

function lrRow(run, onChange) {
  const sliderId = `lr-slider-${++serial}`;
  const numberId = `lr-${serial}`;
  const slider = element("input", {
    id: sliderId, type: "range", min: LR_RANGE[0], max: LR_RANGE[1], step: "0.01",
    "aria-label": "learning rate, log scale", "data-role": "lr-slider",
  });
  const number = element("input", { id: numberId, type: "number", step: "any", min: "0", "data-role": "lr" });
  const show = () => {
    slider.value = String(Math.log10(run.lr));
    number.value = String(run.lr);
  };
  slider.addEventListener("input", () => {
    run.lr = rounded(10 ** Number(slider.value));
    number.value = String(run.lr);
    onChange();
  });
  number.addEventListener("change", () => {
    const value = Number(number.value);
    const good = Number.isFinite(value) && value > 0;
    number.setAttribute("aria-invalid", String(!good));
    if (!good) return;
    run.lr = value;
    slider.value = String(Math.log10(value));
    onChange();
  });
  show();
  return element("div", { class: "row" }, element("label", { for: numberId, text: "lr" }), slider, number);
}

// One run's card. `handlers`: change() after any edit, remove(), method(name).
export function runCard(run, index, methods, colour, handlers) {
  const method = methods.find((m) => m.name === run.method);
  const selectId = `method-${++serial}`;
  const select = element("select", { id: selectId, "data-role": "method" });
  for (const m of methods) {
    const option = element("option", { value: m.name, text: m.name, title: m.when });
    option.selected = m.name === run.method;
    select.append(option);
  }
  select.addEventListener("change", () => handlers.method(select.value));
  const remove = element("button", { type: "button", class: "remove", text: "Remove", "aria-label": `Remove run ${index + 1}`, onclick: handlers.remove });
  const settings = element("div", { class: "settings" },
    ...method.hyperparameters.map((h) => settingInput(h, run, handlers.change)));
  const details = element("details", {}, element("summary", { text: "Other hyperparameters" }), settings);
  details.open = Object.keys(run.hyperparameters).length > 0 || method.hyperparameters.length <= 3;
  const card = element("section", { class: "run", "aria-label": `Run ${index + 1}`, "data-run": String(index) },
    element("h3", {}, element("span", { class: "swatch", "aria-hidden": "true" }), `Run ${index + 1}`, remove),
    element("div", { class: "row" }, element("label", { for: selectId, text: "Method" }), select),
    element("p", { class: "when", text: method.when }),
    lrRow(run, handlers.change),
    details,
    element("div", { class: "outcome", "aria-live": "polite" }));
  card.style.setProperty("--run", colour);
  return card;
}

// The start point's inputs, one per variable.
export function startInputs(container, variables, x0, onChange) {
  container.replaceChildren(...variables.map((name, i) => {
    const input = element("input", { type: "number", step: "any", "data-role": "x0" });
    input.value = String(x0[i]);
    input.addEventListener("change", () => {
      const value = Number(input.value);
      const good = input.value.trim() !== "" && Number.isFinite(value);
      input.setAttribute("aria-invalid", String(!good));
      if (good) onChange(i, value);
    });
    return element("label", {}, name, input);
  }));
}

function shown(value, variables) {
  if (value === null) return "–";
  if (!Array.isArray(value)) return String(Number(value.toPrecision(4)));
  const entries = value.filter((v) => v !== null).map((v) => String(Number(v.toPrecision(4))));
  if (value.length !== variables.length) return entries.join(", ");
  return value.map((v, i) => `${variables[i]}=${v === null ? "–" : Number(v.toPrecision(4))}`).join(", ");
}

// For the current frame, each run's parts of the update that reached that point.
export function renderParts(container, results, frame, colours) {
  if (!results) {
    container.replaceChildren();
    return;
  }
  container.replaceChildren(...results.runs.map((run, i) => {
    const update = Math.min(frame, run.nit);
    const swatch = element("span", { "aria-hidden": "true", text: "● " });
    swatch.style.color = colours[i]; // through the CSSOM: the page's policy forbids style=""
    const caption = element("caption", {}, swatch,
      `${run.method}: ${update === 0 ? "the start" : `update ${update}`}`);
    const rows = [element("tr", {}, element("th", { scope: "row", text: "f" }),
      element("td", { text: shown(run.f[update], results.variables) }))];
    if (update > 0) {
      for (const [name, values] of Object.entries(run.parts ?? {})) {
        rows.push(element("tr", {}, element("th", { scope: "row", text: name }),
          element("td", { text: shown(values[update - 1], results.variables) })));
      }
    }
    return element("table", {}, caption, element("tbody", {}, ...rows));
  }));
}

// A run's outcome on its card: status, message, and for a failed run the diagnosis with a
// button that applies the learning rate it suggests.
export function renderOutcome(card, run, onApplyLr) {
  const outcome = card.querySelector(".outcome");
  if (!run) {
    outcome.replaceChildren();
    return;
  }
  const bad = run.status !== "converged";
  const parts = [
    element("div", { class: `status${bad ? " bad" : ""}`, text: `${run.status} after ${run.nit} updates` }),
  ];
  if (!run.diagnosis) parts.push(element("p", { text: run.message }));
  else {
    parts.push(element("div", { class: "diagnosis", text: run.diagnosis.text }));
    if (run.diagnosis.lr !== null) {
      parts.push(element("button", {
        type: "button", "data-role": "apply-lr",
        text: `Apply suggested lr = ${run.diagnosis.lr}`,
        onclick: () => onApplyLr(run.diagnosis.lr),
      }));
    }
  }
  outcome.replaceChildren(...parts);
}

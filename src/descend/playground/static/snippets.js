// "Copy as Python" and "copy as command line": the runs on the page as code that makes
// the same calls of minimize, number for number. String(number) is the shortest text
// that reads back to the same double in JavaScript and in Python alike.

function pythonValue(value) {
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  return String(value);
}

function objectiveCode(state, functions) {
  const known = functions.some((f) => f.name === state.objective);
  return known ? `dd.functions.${state.objective}` : JSON.stringify(state.objective);
}

export function python(state, functions) {
  const calls = state.runs.map((run) => {
    const settings = Object.entries(run.hyperparameters).map(([k, v]) => `, ${k}=${pythonValue(v)}`);
    const lr = run.lr === null ? "" : `, lr=${pythonValue(run.lr)}`;
    return `    dd.minimize(objective, x0, ${JSON.stringify(run.method)}${lr}, ` +
      `max_iter=${state.maxIter}, explain=True${settings.join("")}),`;
  });
  return [
    "import descend as dd",
    "",
    `objective = ${objectiveCode(state, functions)}`,
    `x0 = [${state.x0.map(pythonValue).join(", ")}]`,
    "runs = [",
    ...calls,
    "]",
    "for res in runs:",
    "    print(res.method, res.status, res.fun)",
    "",
  ].join("\n");
}

function shellQuoted(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

// One `descend minimize` per run. Its -o takes numbers as floats, so a setting that must
// be an integer or true/false is left to the Python version, and said so.
export function commandLine(state, methods) {
  const lines = [];
  for (const run of state.runs) {
    const kinds = Object.fromEntries(
      (methods.find((m) => m.name === run.method)?.hyperparameters ?? []).map((h) => [h.name, h.kind]),
    );
    const options = ["--x0", state.x0.map(String).join(","), "--method", run.method];
    if (run.lr !== null) options.push("--lr", String(run.lr));
    options.push("--max-iter", String(state.maxIter), "--explain");
    const left = [];
    for (const [name, value] of Object.entries(run.hyperparameters)) {
      if (typeof value === "number" && kinds[name] !== "int") options.push("-o", `${name}=${value}`);
      else left.push(name);
    }
    if (left.length) lines.push(`# ${left.join(", ")}: not settable by -o; see "Copy as Python"`);
    const formula = shellQuoted(state.objective);
    // A formula that starts with "-" would read as an option: it goes after "--".
    const words = state.objective.startsWith("-")
      ? ["descend", "minimize", ...options, "--", formula]
      : ["descend", "minimize", formula, ...options];
    lines.push(words.join(" "));
  }
  return lines.join("\n") + "\n";
}

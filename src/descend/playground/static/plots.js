// Drawing on canvases: filled contours from the server's grid with the runs' paths over
// them, and the loss curves on a log axis. Everything is in data coordinates until the
// last step, so what is drawn is exactly the points the server sent.

const MARGIN = { left: 52, right: 14, top: 12, bottom: 38 };
// Sequential and light where f is low, so that the paths stand out where runs end.
const PALETTE = [[252, 251, 245], [226, 232, 226], [196, 212, 222], [150, 174, 199], [96, 118, 150]];
const NO_VALUE = [235, 235, 235];

// Fit the canvas's pixels to its size on screen; returns the plot area in pixels.
function fit(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return {
    ratio,
    left: MARGIN.left * ratio,
    top: MARGIN.top * ratio,
    width: width - (MARGIN.left + MARGIN.right) * ratio,
    height: height - (MARGIN.top + MARGIN.bottom) * ratio,
  };
}

// About `count` round numbers between lo and hi.
function ticks(lo, hi, count) {
  const raw = (hi - lo) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const values = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return values;
}

function label(value) {
  return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3)
    ? value.toExponential(0)
    : String(Number(value.toPrecision(4)));
}

function colour(t) {
  const x = Math.min(1, Math.max(0, t)) * (PALETTE.length - 1);
  const i = Math.min(PALETTE.length - 2, Math.floor(x));
  const u = x - i;
  return PALETTE[i].map((c, k) => c + u * (PALETTE[i + 1][k] - c));
}

// Bilinear interpolation of the grid's f at fractional grid coordinates (gx, gy).
function sample(f, n, gx, gy) {
  const i = Math.min(n - 2, Math.floor(gy));
  const j = Math.min(n - 2, Math.floor(gx));
  const u = gx - j;
  const v = gy - i;
  const a = f[i][j], b = f[i][j + 1], c = f[i + 1][j], d = f[i + 1][j + 1];
  if (a === null || b === null || c === null || d === null) {
    const nearest = f[Math.round(gy)][Math.round(gx)];
    return nearest === null ? NaN : nearest;
  }
  return (1 - v) * ((1 - u) * a + u * b) + v * ((1 - u) * c + u * d);
}

function band(levels, value) {
  let lo = 0;
  let hi = levels.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (levels[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The filled contours as an image of the plot area: one band per pair of levels, with a
// darker pixel where the band changes (the contour lines).
function contourImage(context, grid, area) {
  const width = Math.max(1, Math.round(area.width));
  const height = Math.max(1, Math.round(area.height));
  const image = context.createImageData(width, height);
  const n = grid.xs.length;
  const bands = new Int16Array(width * height);
  const count = Math.max(1, grid.levels.length);
  for (let py = 0; py < height; py++) {
    const gy = ((height - py - 0.5) / height) * (n - 1); // the top row is the largest y
    for (let px = 0; px < width; px++) {
      const value = sample(grid.f, n, ((px + 0.5) / width) * (n - 1), gy);
      bands[py * width + px] = Number.isNaN(value) ? -1 : band(grid.levels, value);
    }
  }
  const palette = Array.from({ length: count + 1 }, (_, b) => colour(b / count));
  for (let p = 0; p < width * height; p++) {
    const b = bands[p];
    const edge = (p % width > 0 && bands[p - 1] !== b) || (p >= width && bands[p - width] !== b);
    const rgb = b < 0 ? NO_VALUE : palette[b];
    const shade = edge ? 0.9 : 1;
    image.data[4 * p] = rgb[0] * shade;
    image.data[4 * p + 1] = rgb[1] * shade;
    image.data[4 * p + 2] = rgb[2] * shade;
    image.data[4 * p + 3] = 255;
  }
  return image;
}

function axes(context, area, xRange, yRange, names) {
  context.save();
  context.fillStyle = "#5b6372";
  context.strokeStyle = "#9aa1ad";
  context.font = `${12 * area.ratio}px system-ui, sans-serif`;
  context.lineWidth = area.ratio;
  context.strokeRect(area.left, area.top, area.width, area.height);
  context.textAlign = "center";
  context.textBaseline = "top";
  for (const value of xRange.ticks) {
    const x = xRange.pixel(value);
    context.fillText(xRange.text(value), x, area.top + area.height + 5 * area.ratio);
  }
  context.fillText(names[0], area.left + area.width / 2, area.top + area.height + 20 * area.ratio);
  context.textAlign = "right";
  context.textBaseline = "middle";
  for (const value of yRange.ticks) {
    context.fillText(yRange.text(value), area.left - 5 * area.ratio, yRange.pixel(value));
  }
  context.save();
  context.translate(12 * area.ratio, area.top + area.height / 2);
  context.rotate(-Math.PI / 2);
  context.textAlign = "center";
  context.fillText(names[1], 0, 0);
  context.restore();
  context.restore();
}

function linear(lo, hi, start, length, flip) {
  return (value) => start + ((flip ? hi - value : value - lo) / (hi - lo)) * length;
}

function polyline(context, points, toPixel) {
  context.beginPath();
  let open = false;
  for (const point of points) {
    if (point === null || point.some((v) => v === null)) {
      open = false; // a point that is not finite breaks the line
      continue;
    }
    const [x, y] = toPixel(point);
    if (open) context.lineTo(x, y);
    else context.moveTo(x, y);
    open = true;
  }
}

function dot(context, [x, y], radius, fill, stroke, width) {
  context.beginPath();
  context.arc(x, y, radius, 0, 2 * Math.PI);
  if (fill) {
    context.fillStyle = fill;
    context.fill();
  }
  context.strokeStyle = stroke;
  context.lineWidth = width;
  context.stroke();
}

// The contours and each run's first `frame + 1` points; returns the points drawn per run.
export function drawContours(canvas, view) {
  const { grid, bounds, runs, frame, colours, start, minima, names } = view;
  const context = canvas.getContext("2d");
  const area = fit(canvas);
  context.clearRect(0, 0, canvas.width, canvas.height);
  const [[x0, x1], [y0, y1]] = bounds;
  const px = linear(x0, x1, area.left, area.width, false);
  const py = linear(y0, y1, area.top, area.height, true);
  const toPixel = ([x, y]) => [px(x), py(y)];
  if (grid) {
    const key = `${area.width}x${area.height}`;
    if (grid.image?.key !== key) grid.image = { key, data: contourImage(context, grid, area) };
    context.putImageData(grid.image.data, Math.round(area.left), Math.round(area.top));
  }
  const text = (v) => label(v);
  axes(context, area, { ticks: ticks(x0, x1, 6), pixel: px, text },
    { ticks: ticks(y0, y1, 6), pixel: py, text }, names);
  context.save();
  context.beginPath();
  context.rect(area.left, area.top, area.width, area.height);
  context.clip();
  const r = area.ratio;
  for (const minimum of minima) {
    const [mx, my] = toPixel(minimum);
    context.strokeStyle = "#1f2430";
    context.lineWidth = 1.5 * r;
    context.beginPath();
    context.moveTo(mx - 5 * r, my - 5 * r); context.lineTo(mx + 5 * r, my + 5 * r);
    context.moveTo(mx - 5 * r, my + 5 * r); context.lineTo(mx + 5 * r, my - 5 * r);
    context.stroke();
  }
  const drawn = runs.map((run) => (run.x ? run.x.slice(0, frame + 1) : []));
  drawn.forEach((points, i) => {
    polyline(context, points, toPixel);
    context.lineJoin = "round";
    context.strokeStyle = "rgba(255, 255, 255, 0.85)";
    context.lineWidth = 4.5 * r;
    context.stroke();
    context.strokeStyle = colours[i];
    context.lineWidth = 2 * r;
    context.stroke();
    const last = points.filter((p) => p.every((v) => v !== null)).at(-1);
    if (last) dot(context, toPixel(last), 4.5 * r, colours[i], "#ffffff", 1.5 * r);
  });
  if (start.length === 2) dot(context, toPixel(start), 6 * r, null, "#1f2430", 2 * r);
  context.restore();
  return drawn;
}

// The data point under a click (client coordinates), or null outside the plot area.
export function pointAt(canvas, bounds, clientX, clientY) {
  const box = canvas.getBoundingClientRect();
  const u = (clientX - box.left - MARGIN.left) / (box.width - MARGIN.left - MARGIN.right);
  const v = (clientY - box.top - MARGIN.top) / (box.height - MARGIN.top - MARGIN.bottom);
  if (u < 0 || u > 1 || v < 0 || v > 1) return null;
  const [[x0, x1], [y0, y1]] = bounds;
  return [x0 + u * (x1 - x0), y1 - v * (y1 - y0)];
}

// The smallest and largest of many numbers (spreading 100,000 arguments overflows the stack).
function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

// What the loss axis shows: log10 f when every f is positive, else log10 (f - min f).
function lossScale(runs) {
  const values = runs.flatMap((run) => run.f ?? []).filter((v) => v !== null);
  const [lowest] = extent(values);
  const shift = lowest > 0 ? 0 : lowest;
  const floor = lowest > 0 ? 0 : Math.max(Math.abs(lowest) * 1e-15, 1e-300);
  return {
    title: shift === 0 ? "f (log axis)" : "f − min f (log axis)",
    of: (v) => (v === null ? null : Math.log10(Math.max(v - shift, floor))),
  };
}

export function drawLoss(canvas, runs, frame, colours) {
  const context = canvas.getContext("2d");
  const area = fit(canvas);
  context.clearRect(0, 0, canvas.width, canvas.height);
  const scale = lossScale(runs);
  const curves = runs.map((run) => (run.f ?? []).map(scale.of));
  const logs = curves.flat().filter((v) => v !== null && Number.isFinite(v));
  const length = Math.max(2, ...runs.map((run) => (run.f ?? []).length));
  const [least, most] = extent(logs);
  let lo = logs.length ? Math.floor(least) : 0;
  let hi = logs.length ? Math.ceil(most) : 1;
  if (hi - lo < 1) hi = lo + 1;
  const px = linear(0, length - 1, area.left, area.width, false);
  const py = linear(lo, hi, area.top, area.height, true);
  const decades = ticks(lo, hi, 6).filter((v) => Number.isInteger(v));
  context.strokeStyle = "#eceef2";
  context.lineWidth = area.ratio;
  for (const d of decades) {
    context.beginPath();
    context.moveTo(area.left, py(d)); context.lineTo(area.left + area.width, py(d));
    context.stroke();
  }
  axes(context, area, { ticks: ticks(0, length - 1, 6), pixel: px, text: label },
    { ticks: decades, pixel: py, text: (d) => `1e${d}` }, ["update", scale.title]);
  context.save();
  context.beginPath();
  context.rect(area.left, area.top, area.width, area.height);
  context.clip();
  curves.forEach((curve, i) => {
    polyline(context, curve.map((v, k) => (v === null ? null : [k, v])), ([k, v]) => [px(k), py(v)]);
    context.strokeStyle = colours[i];
    context.lineWidth = 2 * area.ratio;
    context.stroke();
  });
  context.strokeStyle = "#1f2430";
  context.setLineDash([4 * area.ratio, 4 * area.ratio]);
  context.beginPath();
  context.moveTo(px(frame), area.top); context.lineTo(px(frame), area.top + area.height);
  context.stroke();
  context.restore();
}
